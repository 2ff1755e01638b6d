import { useState } from 'react';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { renderWithApp } from '../test/render';
import { ColumnMapping, missingRequired } from './column-mapping';
import type { ImportField, Mapping } from './transfer-api';

const fields: ImportField[] = [
  { key: 'firstName', label: 'First name', required: false },
  { key: 'lastName', label: 'Last name', required: true },
  { key: 'email', label: 'Email', required: false },
  { key: 'company', label: 'Company', required: false },
];

function Harness({ initial, onChange }: { initial: Mapping; onChange?: (mapping: Mapping) => void }) {
  const [mapping, setMapping] = useState(initial);
  return (
    <ColumnMapping
      header={['Given name', 'Surname', 'E-Mail']}
      fields={fields}
      mapping={mapping}
      onChange={(next) => {
        setMapping(next);
        onChange?.(next);
      }}
    />
  );
}

describe('the column mapping step', () => {
  it("starts from the server's suggestion, one labelled select per column", () => {
    renderWithApp(<Harness initial={['firstName', null, 'email']} />);
    expect(screen.getByRole('table', { name: 'Columns of the file and the fields they feed' })).toBeInTheDocument();
    expect(screen.getByLabelText('Field for column “Given name”')).toHaveValue('firstName');
    expect(screen.getByLabelText('Field for column “Surname”')).toHaveValue('');
    expect(screen.getByLabelText('Field for column “E-Mail”')).toHaveValue('email');
    // The required last name is fed by no column yet.
    expect(screen.getByRole('status')).toHaveTextContent('Last name');
  });

  it('changes the mapping, never offers a field another column feeds, and can skip a column', async () => {
    const onChange = vi.fn();
    renderWithApp(<Harness initial={['firstName', null, 'email']} onChange={onChange} />);
    const surname = screen.getByLabelText('Field for column “Surname”');
    expect(within(surname).queryByRole('option', { name: 'First name' })).toBeNull();
    await userEvent.selectOptions(surname, 'lastName');
    expect(onChange).toHaveBeenLastCalledWith(['firstName', 'lastName', 'email']);
    expect(screen.queryByRole('status')).toBeNull();
    await userEvent.selectOptions(screen.getByLabelText('Field for column “E-Mail”'), 'Skip this column');
    expect(onChange).toHaveBeenLastCalledWith(['firstName', 'lastName', null]);
  });

  it('speaks Chinese', () => {
    renderWithApp(<Harness initial={[null, null, null]} />, { language: 'zh-CN' });
    expect(screen.getByLabelText('列“Surname”对应的字段')).toBeInTheDocument();
    expect(screen.getAllByRole('option', { name: '跳过此列' })).toHaveLength(3);
  });

  it('names the required fields no column feeds', () => {
    expect(missingRequired(fields, ['lastName', null]).map((f) => f.key)).toEqual([]);
    expect(missingRequired(fields, [null, 'email']).map((f) => f.key)).toEqual(['lastName']);
  });
});
