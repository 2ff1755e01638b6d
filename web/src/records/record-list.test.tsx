import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it } from 'vitest';
import { forgetAskedChange } from '../trash/trash-api';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { RecordList, columnsStorageKey } from './record-list';
import { SELLER, SignedIn, accessAnswer, sessionAnswer } from './records-test-kit';

const companies = [
  { id: '0190a000-0000-7000-8000-000000000101', version: 1, name: 'Lantern Works', industry: 'Crafts', city: 'Hangzhou', country: 'CN', createdAt: '2026-01-02T03:04:05Z', updatedAt: '2026-01-02T03:04:05Z', customFields: {}, tagIds: [] },
];

function answers() {
  return answerWith({
    ...sessionAnswer,
    ...accessAnswer('companies', { read: 'team', create: 'own' }),
    'GET /api/v1/companies': { body: { items: companies, nextCursor: null } },
    'GET /api/v1/views': { body: { items: [], nextCursor: null } },
  });
}

describe('a record list', () => {
  it('asks the server to sort by the column header clicked, ascending then descending', async () => {
    const sent = answers();
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    const table = await screen.findByRole('table', { name: 'Companies you can see' });
    expect(await within(table).findByRole('link', { name: 'Lantern Works' })).toBeInTheDocument();
    const lists = () => sent.filter((r) => r.url.pathname === '/api/v1/companies');
    expect(lists()[0]!.url.searchParams.get('sort')).toBeNull();

    await userEvent.click(screen.getByRole('button', { name: 'Sort by Name' }));
    await waitFor(() => expect(lists().at(-1)!.url.searchParams.get('sort')).toBe('name'));
    expect(screen.getByRole('columnheader', { name: /Name/ })).toHaveAttribute('aria-sort', 'ascending');
    await userEvent.click(screen.getByRole('button', { name: 'Sort by Name' }));
    await waitFor(() => expect(lists().at(-1)!.url.searchParams.get('sort')).toBe('-name'));
    // A field the API cannot sort by offers no sort.
    await userEvent.click(screen.getByRole('button', { name: 'Columns' }));
    await userEvent.click(await screen.findByRole('checkbox', { name: 'Domain' }));
    expect(await screen.findByRole('columnheader', { name: 'Domain' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Sort by Domain' })).toBeNull();
  });

  it('keeps the column choice in this browser as column keys only', async () => {
    answers();
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    await screen.findByRole('link', { name: 'Lantern Works' });
    expect(screen.getByRole('columnheader', { name: /City/ })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Columns' }));
    await userEvent.click(await screen.findByRole('checkbox', { name: 'City' }));
    await waitFor(() => expect(screen.queryByRole('columnheader', { name: /City/ })).toBeNull());
    const stored = JSON.parse(localStorage.getItem(columnsStorageKey('companies'))!);
    expect(stored).toEqual(['name', 'industry', 'country', 'createdAt']);
    // Nothing of the records themselves is kept.
    expect(Object.values({ ...localStorage }).join(' ')).not.toMatch(/Lantern|Hangzhou/);
  });

  it('sends filters and search words as the list\'s query, never through the address', async () => {
    const sent = answers();
    const { location } = renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>, { path: '/companies' });
    await screen.findByRole('link', { name: 'Lantern Works' });
    await userEvent.type(screen.getByRole('textbox', { name: 'Search this list' }), 'lantern');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(sent.at(-1)!.url.searchParams.get('q')).toBe('lantern'));
    expect(location.history).toEqual(['/companies']);
  });
});

const OTHER = '0190a000-0000-7000-8000-000000000002';
const mine = (n: number, name: string) => ({ id: `0190a000-0000-7000-8000-00000000020${n}`, version: 1, name, industry: 'Crafts', city: 'Hangzhou', country: 'CN', ownerId: SELLER.id, teamId: SELLER.teamId, createdAt: '2026-01-02T03:04:05Z', updatedAt: '2026-01-02T03:04:05Z', customFields: {}, tagIds: [] });
const owned = [mine(1, 'Lantern Works'), mine(2, 'Kite Makers'), mine(3, 'Paper Mill')];
const APPROVAL_ID = '0190a000-0000-7000-8000-0000000a0001';

function approval(status: string) {
  return {
    id: APPROVAL_ID,
    kind: 'bulk_delete',
    status,
    requestedBy: { id: SELLER.id, name: 'Ana' },
    requestedAt: '2026-12-03T10:00:00Z',
    reason: 'Duplicates from the fair',
    summary: { type: 'companies', records: 2, fields: [] },
    recordCount: 2,
    decidedBy: status === 'pending' ? null : { id: OTHER, name: 'Bo Approver' },
    decidedAt: status === 'pending' ? null : '2026-12-03T10:05:00Z',
    decisionNote: null,
    expiresAt: '2026-12-04T10:05:00Z',
    usedAt: null,
  };
}

function selectionAnswers(extra: Parameters<typeof answerWith>[0] = {}, actions: Record<string, string> = { read: 'team', delete: 'own', update: 'own', assign: 'own' }, permissions: string[] = []) {
  const grant = accessAnswer('companies', actions)['GET /api/v1/auth/access'];
  return answerWith({
    ...sessionAnswer,
    'GET /api/v1/auth/access': { body: { ...grant.body, permissions } },
    'GET /api/v1/companies': { body: { items: owned, nextCursor: null } },
    'GET /api/v1/views': { body: { items: [], nextCursor: null } },
    ...extra,
  });
}

describe('selecting records in a list for a bulk action', () => {
  afterEach(() => forgetAskedChange(APPROVAL_ID));

  it('offers no selection to a role that may neither delete nor reassign', async () => {
    answers();
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    await screen.findByRole('link', { name: 'Lantern Works' });
    expect(screen.queryByRole('checkbox', { name: /Select/ })).toBeNull();
  });

  it('selects rows or the whole page, names the count, and moves them to the trash after a confirmation', async () => {
    const sent = selectionAnswers({ 'POST /api/v1/companies/bulk-delete': ({ body }) => ({ body: { deleted: (body as { ids: string[] }).ids.length } }) });
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    await userEvent.click(await screen.findByRole('checkbox', { name: 'Select Kite Makers' }));
    expect(screen.getByRole('group', { name: 'With the selected records' })).toHaveTextContent('1 selected');
    const page = screen.getByRole('checkbox', { name: 'Select every record on this page' });
    expect(page).toHaveProperty('indeterminate', true);
    await userEvent.click(page);
    expect(screen.getByRole('group', { name: 'With the selected records' })).toHaveTextContent('3 selected');
    expect(screen.getByRole('checkbox', { name: 'Select Paper Mill' })).toBeChecked();

    await userEvent.click(screen.getByRole('button', { name: 'Delete' }));
    const dialog = await screen.findByRole('dialog', { name: 'Move 3 companies to the trash?' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Move to the trash' }));
    expect(await screen.findByText('3 companies moved to the trash.')).toBeInTheDocument();
    const request = sent.find((r) => r.method === 'POST')!;
    expect(request.url.pathname).toBe('/api/v1/companies/bulk-delete');
    expect((request.body as { ids: string[] }).ids.sort()).toEqual(owned.map((c) => c.id).sort());
    expect(request.body).not.toHaveProperty('reason');
    // The selection is gone, and the list was asked for again.
    expect(screen.queryByRole('group', { name: 'With the selected records' })).toBeNull();
    await waitFor(() => expect(sent.filter((r) => r.url.pathname === '/api/v1/companies' && r.method === 'GET').length).toBeGreaterThan(1));
  });

  it('speaks Chinese', async () => {
    selectionAnswers();
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>, { language: 'zh-CN' });
    await userEvent.click(await screen.findByRole('checkbox', { name: '选择本页所有记录' }));
    expect(screen.getByRole('group', { name: '对所选记录' })).toHaveTextContent('已选 3 条');
    await userEvent.click(screen.getByRole('button', { name: '删除' }));
    expect(await screen.findByRole('dialog', { name: '将 3 条公司移入回收站？' })).toBeInTheDocument();
  });

  it('refuses to offer a delete when a selected record is out of the user\'s reach', async () => {
    answerWith({
      ...sessionAnswer,
      'GET /api/v1/auth/access': { body: { permissions: [], records: { companies: { actions: { read: 'team', delete: 'own' }, fields: { name: 'write' } } }, stepUpUntil: null } },
      'GET /api/v1/companies': { body: { items: [owned[0], { ...owned[1], ownerId: OTHER }], nextCursor: null } },
      'GET /api/v1/views': { body: { items: [], nextCursor: null } },
    });
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    await userEvent.click(await screen.findByRole('checkbox', { name: 'Select every record on this page' }));
    expect(screen.getByRole('button', { name: 'Delete' })).toBeDisabled();
    expect(screen.getByText('Some of the selected records are not yours to delete.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Change owner / team' })).toBeNull();
  });

  it('over the threshold asks a reason, then waits for approval, and runs the change once approved', async () => {
    let approvalStatus = 'pending';
    const sent = selectionAnswers({
      'POST /api/v1/companies/bulk-delete': ({ body }) => {
        if (!(body as { reason?: string }).reason) return { status: 409, body: { error: { code: 'bulk.approval_required', message: 'More than 1 records at once need approval; say why' } } };
        return { status: 202, body: { approval: approval('pending') } };
      },
      [`POST /api/v1/bulk-changes/${APPROVAL_ID}/run`]: { body: { approvalId: APPROVAL_ID, kind: 'bulk_delete', type: 'companies', records: 2 } },
      [`GET /api/v1/approvals/${APPROVAL_ID}`]: () => ({ body: approval(approvalStatus) }),
    });
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    await userEvent.click(await screen.findByRole('checkbox', { name: 'Select Lantern Works' }));
    await userEvent.click(screen.getByRole('checkbox', { name: 'Select Kite Makers' }));
    await userEvent.click(screen.getByRole('button', { name: 'Delete' }));
    const dialog = await screen.findByRole('dialog', { name: 'Move 2 companies to the trash?' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Move to the trash' }));
    const reason = await within(dialog).findByRole('textbox', { name: /Why/ });
    expect(dialog).toHaveTextContent('needs a second person\'s approval');
    await userEvent.type(reason, 'Duplicates from the fair');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Ask for approval' }));

    const waiting = await screen.findByText('Awaiting approval: Move 2 companies to the trash');
    expect(waiting.closest('[role="status"]')).toHaveTextContent('Once approved, you run it');
    expect(screen.queryByRole('button', { name: 'Run approved change' })).toBeNull();
    const asked = sent.filter((r) => r.method === 'POST').map((r) => r.body as { ids: string[]; reason?: string });
    expect(asked).toHaveLength(2);
    expect(asked[1]!.reason).toBe('Duplicates from the fair');
    expect(asked[1]!.ids.sort()).toEqual([owned[0]!.id, owned[1]!.id].sort());

    // Approved by someone else, which the notice learns when it asks again (every few seconds, or
    // now): the server runs the batch it kept under the approval.
    approvalStatus = 'approved';
    await userEvent.click(screen.getByRole('button', { name: 'Check now' }));
    const run = await screen.findByRole('button', { name: 'Run approved change' });
    expect(screen.getByText(/Approved by Bo Approver/)).toBeInTheDocument();
    await userEvent.click(run);
    expect(await screen.findByText('The approved change ran: 2 records.')).toBeInTheDocument();
    expect(sent.filter((r) => r.method === 'POST').at(-1)!.url.pathname).toBe(`/api/v1/bulk-changes/${APPROVAL_ID}/run`);
  });

  it('gives the selected records another owner and team', async () => {
    const sent = selectionAnswers(
      {
        'GET /api/v1/users': { body: { items: [{ ...SELLER, id: OTHER, name: 'Bo', email: 'bo@example.com' }], nextCursor: null } },
        'GET /api/v1/teams': { body: { items: [{ id: 'team-2', name: 'North', parentId: null, createdAt: '', updatedAt: '' }], nextCursor: null } },
        'POST /api/v1/companies/bulk-update': { body: { updated: 3 } },
      },
      undefined,
      ['users.read'],
    );
    renderWithApp(<SignedIn><RecordList type="companies" /></SignedIn>);
    await userEvent.click(await screen.findByRole('checkbox', { name: 'Select every record on this page' }));
    await userEvent.click(screen.getByRole('button', { name: 'Change owner / team' }));
    const dialog = await screen.findByRole('dialog', { name: 'Change the owner or team of 3 companies' });
    // Nothing chosen is nothing to send.
    await userEvent.click(within(dialog).getByRole('button', { name: 'Change 3 records' }));
    expect(within(dialog).getByRole('alert')).toHaveTextContent('Choose a new owner or team.');
    await waitFor(() => expect(within(dialog).getByRole('option', { name: 'Bo' })).toBeInTheDocument());
    await userEvent.selectOptions(within(dialog).getByRole('combobox', { name: 'Owner' }), 'Bo');
    await waitFor(() => expect(within(dialog).getByRole('option', { name: 'North' })).toBeInTheDocument());
    await userEvent.selectOptions(within(dialog).getByRole('combobox', { name: 'Team' }), 'North');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Change 3 records' }));
    expect(await screen.findByText('3 companies changed.')).toBeInTheDocument();
    const request = sent.find((r) => r.method === 'POST')!;
    expect(request.url.pathname).toBe('/api/v1/companies/bulk-update');
    expect((request.body as { changes: unknown }).changes).toEqual({ ownerId: OTHER, teamId: 'team-2' });
  });
});
