import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { renderWithApp } from '../test/render';
import { RowErrors, SHOWN_ERRORS } from './row-errors';
import type { RejectedRow } from './transfer-api';

const labels = { email: 'Email', lastName: 'Last name' };

describe('the table of refused rows', () => {
  it('lists each refused row by line with its problems, fields by label, values never', () => {
    const rows: RejectedRow[] = [
      { line: 3, ok: false, problems: [{ field: 'email', message: 'is not a valid email address' }, { field: 'lastName', message: 'is required' }] },
      { line: 7, ok: false, problems: [{ field: 'row', message: 'has 2 values; the header has 3' }] },
    ];
    renderWithApp(<RowErrors rows={rows} total={2} labels={labels} />);
    const table = screen.getByRole('table', { name: 'Rows that were not imported and why' });
    const [, first, second] = within(table).getAllByRole('row');
    expect(within(first!).getByRole('rowheader')).toHaveTextContent('3');
    expect(first).toHaveTextContent('Email is not a valid email address');
    expect(first).toHaveTextContent('Last name is required');
    expect(within(second!).getByRole('rowheader')).toHaveTextContent('7');
    expect(second).toHaveTextContent('The row has 2 values; the header has 3');
    expect(screen.queryByText(/Showing the first/)).toBeNull();
  });

  it('shows a bounded number of rows and says how many there were', () => {
    const rows: RejectedRow[] = Array.from({ length: SHOWN_ERRORS + 5 }, (_, i) => ({ line: i + 2, ok: false, problems: [{ field: 'email', message: 'is required' }] }));
    renderWithApp(<RowErrors rows={rows} total={SHOWN_ERRORS + 20} labels={labels} />);
    expect(screen.getAllByRole('row')).toHaveLength(SHOWN_ERRORS + 1);
    expect(screen.getByText(`Showing the first ${SHOWN_ERRORS} of ${SHOWN_ERRORS + 20} refused rows.`)).toBeInTheDocument();
  });

  it('speaks Chinese', () => {
    renderWithApp(<RowErrors rows={[{ line: 4, ok: false, problems: [{ field: 'row', message: 'x' }] }]} total={1} labels={labels} />, { language: 'zh-CN' });
    expect(screen.getByRole('table', { name: '未导入的行及原因' })).toBeInTheDocument();
    expect(screen.getByText('整行')).toBeInTheDocument();
  });
});
