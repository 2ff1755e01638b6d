import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { ExportButton } from '../transfer/export-button';
import { accessAnswer, pendingExport, readyExport } from './exports-test-kit';

const listQuery = { ownerId: '0190a000-0000-7000-8000-000000000001', 'createdAt[gte]': '2026-01-01T00:00:00Z', q: 'fair', sort: '-createdAt', limit: 50, cursor: 'abc' };
const estimate = (rows: number) => ({ body: { rows, maxRows: 100_000, approvalAboveRows: 1000, dailyRowsLeft: 90_000, needsApproval: rows > 1000, overCap: rows > 90_000 } });

describe('the export dialog', () => {
  let saved: string[];
  beforeEach(() => {
    saved = [];
    URL.createObjectURL = vi.fn(() => 'blob:export');
    URL.revokeObjectURL = vi.fn();
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      saved.push(this.download);
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('is offered only to those who may export the type', async () => {
    answerWith({ ...accessAnswer([], false) });
    renderWithApp(<ExportButton type="contacts" query={listQuery} />);
    await waitFor(() => expect(globalThis.fetch).toHaveBeenCalled());
    expect(screen.queryByRole('button', { name: 'Export' })).toBeNull();
  });

  it('says an export above the threshold needs approval, and asks for it with the reason, format and the list query', async () => {
    const sent = answerWith({
      ...accessAnswer(),
      'POST /api/v1/exports/estimate': estimate(4200),
      'POST /api/v1/exports': { status: 201, body: pendingExport },
    });
    renderWithApp(<ExportButton type="contacts" query={listQuery} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Export' }));
    const dialog = await screen.findByRole('dialog', { name: 'Export Contacts' });
    await waitFor(() => expect(within(dialog).getByText('About 4,200 rows.')).toBeInTheDocument());
    expect(dialog).toHaveTextContent('Exports of more than 1,000 rows need a second person’s approval.');
    expect(dialog).toHaveTextContent('The list as you have narrowed it now (2 filters, and your search if any).');
    expect(dialog).toHaveTextContent('You may export 90,000 more rows today.');
    // The estimate is asked with the query in the body, never in the address.
    const asked = sent.find((r) => r.url.pathname === '/api/v1/exports/estimate')!;
    expect(asked.url.search).toBe('');
    const narrowed = { ownerId: listQuery.ownerId, 'createdAt[gte]': '2026-01-01T00:00:00Z', q: 'fair', sort: '-createdAt' };
    expect(asked.body).toEqual({ type: 'contacts', query: narrowed });

    // A reason is required: nothing is sent without one.
    await userEvent.click(within(dialog).getByRole('button', { name: 'Request approval' }));
    expect(await within(dialog).findByText('Say why you need the export.')).toBeInTheDocument();
    expect(sent.filter((r) => r.method === 'POST' && r.url.pathname === '/api/v1/exports')).toHaveLength(0);

    await userEvent.click(within(dialog).getByLabelText('JSON'));
    await userEvent.type(within(dialog).getByLabelText(/^Reason/), 'Quarterly review with the auditors');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Request approval' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    const created = sent.find((r) => r.method === 'POST' && r.url.pathname === '/api/v1/exports')!;
    expect(created.body).toEqual({ type: 'contacts', format: 'json', reason: 'Quarterly review with the auditors', query: narrowed });
    expect(created.url.search).toBe('');
    // Pending: nothing is downloaded.
    expect(sent.some((r) => r.url.pathname.endsWith('/download'))).toBe(false);
    expect(saved).toEqual([]);
  });

  it('downloads a ready export at once through its one-time download', async () => {
    const sent = answerWith({
      ...accessAnswer(),
      'POST /api/v1/exports/estimate': estimate(12),
      'POST /api/v1/exports': { status: 201, body: readyExport },
      [`GET /api/v1/exports/${readyExport.id}/download`]: { body: 'id,name' },
    });
    renderWithApp(<ExportButton type="contacts" query={{}} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Export' }));
    const dialog = await screen.findByRole('dialog', { name: 'Export Contacts' });
    await waitFor(() => expect(dialog).toHaveTextContent('About 12 rows.'));
    expect(dialog).toHaveTextContent('It downloads as soon as you submit.');
    expect(dialog).toHaveTextContent('All Contacts you may export.');
    await userEvent.type(within(dialog).getByLabelText(/^Reason/), 'Mailing to the trade fair visitors');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Export and download' }));
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(sent.at(-1)!.url.pathname).toBe(`/api/v1/exports/${readyExport.id}/download`);
    expect((sent.find((r) => r.method === 'POST' && r.url.pathname === '/api/v1/exports')!.body as { format: string }).format).toBe('csv');
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
  });

  it('leaves a ready export whose download failed on the Exports page rather than asking for a second one', async () => {
    const sent = answerWith({
      ...accessAnswer(),
      'POST /api/v1/exports/estimate': estimate(12),
      'POST /api/v1/exports': { status: 201, body: readyExport },
      [`GET /api/v1/exports/${readyExport.id}/download`]: { status: 503, body: { error: { code: 'system.lockdown', message: 'Lockdown' } } },
    });
    renderWithApp(<ExportButton type="contacts" query={{}} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Export' }));
    const dialog = await screen.findByRole('dialog', { name: 'Export Contacts' });
    await userEvent.type(within(dialog).getByLabelText(/^Reason/), 'Mailing');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Export and download' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(sent.filter((r) => r.method === 'POST' && r.url.pathname === '/api/v1/exports')).toHaveLength(1);
    expect(saved).toEqual([]);
  });

  it('explains what may happen when the server gives no estimate, and shows a refusal in the reader’s words', async () => {
    answerWith({
      ...accessAnswer(),
      'POST /api/v1/exports/estimate': { status: 404, body: { error: { code: 'request.not_found', message: 'Route not found' } } },
      'POST /api/v1/exports': { status: 403, body: { error: { code: 'export.daily_cap_reached', message: 'This export would take you past your daily allowance' } } },
    });
    renderWithApp(<ExportButton type="contacts" query={{}} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Export' }));
    const dialog = await screen.findByRole('dialog', { name: 'Export Contacts' });
    await waitFor(() => expect(dialog).toHaveTextContent('Small exports download at once. Larger ones wait for a second person’s approval'));
    await userEvent.type(within(dialog).getByLabelText(/^Reason/), 'Year-end');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Export' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('This export would take you past the rows you may export today.');
  });

  it('refuses to send an export past the per-export cap, and reads in Chinese', async () => {
    answerWith({ ...accessAnswer(), 'POST /api/v1/exports/estimate': { body: { rows: 100_001, maxRows: 100_000, approvalAboveRows: 1000, dailyRowsLeft: 100_000, needsApproval: true, overCap: true } } });
    renderWithApp(<ExportButton type="contacts" query={{}} />, { language: 'zh-CN' });
    await userEvent.click(await screen.findByRole('button', { name: '导出' }));
    const dialog = await screen.findByRole('dialog', { name: '导出联系人' });
    await waitFor(() => expect(dialog).toHaveTextContent('超过了 100,000 行'));
    expect(within(dialog).getByRole('button', { name: '申请审批' })).toBeDisabled();
  });
});
