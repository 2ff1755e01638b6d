import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { TracePage } from './trace-panel';

const candidate = {
  exportId: '0190b000-0000-7000-8000-000000000011',
  exportNo: 11,
  exporter: 'lea@example.com',
  requestedBy: '0190a000-0000-7000-8000-000000000001',
  type: 'contacts',
  format: 'csv',
  exportedAt: '2026-12-01T09:00:00.000Z',
  downloadedAt: '2026-12-01T09:30:00.000Z',
  rowsWritten: 4200,
  confidence: 'certain',
  evidence: { canaryRows: 2, canaryHints: 0, markedRows: 37, markChunks: [1, 2, 3] },
};

describe('tracing a found file', () => {
  it('sends the file as it is and names the export it came from, with the evidence', async () => {
    const sent = answerWith({ 'POST /api/v1/exports/trace': { body: { format: 'json', rows: 40, markedRows: 37, candidates: [candidate] } } });
    renderWithApp(<TracePage />);
    expect(screen.getByRole('heading', { name: 'Trace a file', level: 1 })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Trace' }));
    expect(await screen.findByText('Choose a file first.')).toBeInTheDocument();
    expect(sent).toHaveLength(0);

    const file = new File(['[{"email":"someone@example.com"}]'], 'found.json', { type: 'application/json' });
    // Mantine's file input is a button over a hidden <input type="file">.
    await userEvent.upload(document.querySelector<HTMLInputElement>('input[type="file"]')!, file);
    await userEvent.click(screen.getByRole('button', { name: 'Trace' }));
    const table = await screen.findByRole('table', { name: 'Exports the file may come from' });
    const row = within(table).getAllByRole('row')[1]!;
    expect(row).toHaveTextContent('Certain');
    expect(row).toHaveTextContent('#11');
    expect(row).toHaveTextContent('lea@example.com');
    expect(row).toHaveTextContent('Contacts, CSV');
    expect(row).toHaveTextContent('4,200');
    expect(row).toHaveTextContent('2 canary rows');
    expect(row).toHaveTextContent('37 rows with the keyed mark');
    expect(screen.getByText('Read 40 rows as JSON; 37 carry an export mark.')).toBeInTheDocument();
    expect(sent[0]!.headers.get('content-type')).toBe('application/json');
    expect(sent[0]!.body).toEqual([{ email: 'someone@example.com' }]);
  });

  it('says plainly when the file carries no fingerprint', async () => {
    answerWith({ 'POST /api/v1/exports/trace': { body: { format: 'json', rows: 3, markedRows: 0, candidates: [] } } });
    renderWithApp(<TracePage />, { language: 'zh-CN' });
    expect(screen.getByLabelText('文件')).toBeInTheDocument();
    await userEvent.upload(document.querySelector<HTMLInputElement>('input[type="file"]')!, new File(['[]'], 'other.json', { type: 'application/json' }));
    await userEvent.click(screen.getByRole('button', { name: '追踪' }));
    await waitFor(() => expect(screen.getByRole('status')).toHaveTextContent('未发现指纹。'));
  });
});
