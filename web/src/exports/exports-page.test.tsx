import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import ExportsPages from './exports-pages';
import { accessAnswer, deniedDecision, deniedExport, downloadedExport, exportApproval, pendingExport, readyExport, sessionAnswer, SignedIn } from './exports-test-kit';

const exportsAnswer = { 'GET /api/v1/exports': { body: { items: [pendingExport, readyExport, deniedExport, downloadedExport], nextCursor: null } } };
const myApprovals = { 'GET /api/v1/approvals': ({ url }: { url: URL }) => ({ body: { items: url.searchParams.get('mine') === 'true' ? [deniedDecision] : [exportApproval], nextCursor: null } }) };

describe('the Exports page', () => {
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

  it('lists the user’s own exports with their status, downloads a ready one and cancels a pending one', async () => {
    const sent = answerWith({
      ...sessionAnswer,
      ...accessAnswer(),
      ...exportsAnswer,
      ...myApprovals,
      [`GET /api/v1/exports/${readyExport.id}/download`]: { body: 'id,name' },
      [`POST /api/v1/exports/${pendingExport.id}/cancel`]: { body: { ...pendingExport, status: 'cancelled' } },
    });
    renderWithApp(<SignedIn><ExportsPages /></SignedIn>, { path: '/' });
    const table = await screen.findByRole('table', { name: 'Your exports, newest first' }, { timeout: 5000 });
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(5);
    expect(rows[1]).toHaveTextContent('#11');
    expect(rows[1]).toHaveTextContent('Contacts, CSV');
    expect(rows[1]).toHaveTextContent('4,200');
    expect(rows[1]).toHaveTextContent('Pending approval');
    expect(rows[1]).toHaveTextContent('Quarterly review with the auditors');
    expect(rows[2]).toHaveTextContent('Ready');
    expect(rows[2]).toHaveTextContent('until');
    expect(rows[3]).toHaveTextContent('Contacts, JSON');
    expect(rows[3]).toHaveTextContent('Denied');
    await waitFor(() => expect(rows[3]).toHaveTextContent('Ivo Support: “Too broad; filter by region”'));
    expect(rows[4]).toHaveTextContent('Downloaded');
    // Only a ready export offers its download; only a pending one its cancelling.
    expect(within(rows[2]!).getByRole('button', { name: 'Download export #10' })).toBeInTheDocument();
    expect(within(rows[4]!).queryByRole('button')).toBeNull();
    expect(within(rows[3]!).queryByRole('button')).toBeNull();
    // The user's own list, whatever else they may oversee.
    expect(sent.find((r) => r.url.pathname === '/api/v1/exports')!.url.searchParams.get('mine')).toBe('true');
    // No approvals tab without approvals.decide.
    expect(screen.queryByRole('tab', { name: 'To approve' })).toBeNull();

    await userEvent.click(within(rows[2]!).getByRole('button', { name: 'Download export #10' }));
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(sent.some((r) => r.url.pathname === `/api/v1/exports/${readyExport.id}/download`)).toBe(true);

    await userEvent.click(within(rows[1]!).getByRole('button', { name: 'Cancel export #11' }));
    const confirm = await screen.findByRole('dialog', { name: 'Cancel export #11?' });
    await userEvent.click(within(confirm).getByRole('button', { name: 'Cancel export' }));
    await waitFor(() => expect(sent.some((r) => r.method === 'POST' && r.url.pathname === `/api/v1/exports/${pendingExport.id}/cancel`)).toBe(true));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
  });

  it('says a second download is refused, in the reader’s words', async () => {
    answerWith({
      ...sessionAnswer,
      ...accessAnswer(),
      'GET /api/v1/exports': { body: { items: [readyExport], nextCursor: null } },
      'GET /api/v1/approvals': { body: { items: [], nextCursor: null } },
      [`GET /api/v1/exports/${readyExport.id}/download`]: { status: 410, body: { error: { code: 'export.already_downloaded', message: 'The export was downloaded already' } } },
    });
    renderWithApp(<SignedIn><ExportsPages /></SignedIn>, { path: '/' });
    await userEvent.click(await screen.findByRole('button', { name: 'Download export #10' }, { timeout: 5000 }));
    expect(await screen.findByRole('alert')).toHaveTextContent('This export was downloaded already. Each export downloads once; ask for a new one if you need it again.');
    expect(saved).toEqual([]);
  });

  it('offers the To approve tab to holders of approvals.decide, at its own address, and reads in Chinese', async () => {
    answerWith({ ...sessionAnswer, ...accessAnswer(['approvals.decide']), ...exportsAnswer, ...myApprovals });
    const { location } = renderWithApp(<SignedIn><ExportsPages /></SignedIn>, { path: '/', language: 'zh-CN' });
    const tab = await screen.findByRole('tab', { name: '待审批' }, { timeout: 5000 });
    expect(await screen.findByRole('table', { name: '您的导出（最新在前）' })).toBeInTheDocument();
    expect(screen.getAllByText('等待审批').length).toBeGreaterThan(0);
    await userEvent.click(tab);
    await waitFor(() => expect(location.history.at(-1)).toBe('/approvals'));
    const inbox = await screen.findByRole('table', { name: '等待决定的申请（最新在前）' });
    expect(inbox).toHaveTextContent('联系人，CSV 格式，4,200 行');
  });
});
