import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { StepUpProvider } from '../access/step-up';
import { SELLER, SignedIn, sessionAnswer } from '../records/records-test-kit';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import TrashPage, { daysUntilPurge } from './trash-page';

const DAY = 86_400_000;
const OTHER = '0190a000-0000-7000-8000-000000000002';
const daysAgo = (days: number) => new Date(Date.now() - days * DAY).toISOString();
const daysOn = (days: number) => new Date(Date.now() + days * DAY).toISOString();

const entry = (n: number, title: string, deletedDaysAgo: number, deletedBy: { id: string; name: string } | null, ownerId = SELLER.id) => ({
  id: `0190a000-0000-7000-8000-00000000030${n}`,
  ownerId,
  teamId: null,
  title,
  deletedAt: daysAgo(deletedDaysAgo),
  deletedBy,
  purgeAt: daysOn(30 - deletedDaysAgo),
});
const trashed = [entry(2, 'Li Na', 29.5, { id: SELLER.id, name: 'Ana' }, OTHER), entry(1, 'Wei Zhang', 2, { id: OTHER, name: 'Bo' }), entry(3, 'Bo Chen', 1, null)];

const summary = {
  retentionDays: 30,
  lastRetentionRunAt: '2026-12-03T01:00:00.000Z',
  types: [
    { type: 'companies', count: 0, oldestDeletedAt: null, nextPurgeAt: null, daysUntilPurge: null },
    { type: 'contacts', count: 3, oldestDeletedAt: trashed[0]!.deletedAt, nextPurgeAt: trashed[0]!.purgeAt, daysUntilPurge: 1 },
  ],
};

function access(actions: Record<string, string>, permissions: string[] = []) {
  return { permissions, records: { companies: { actions, fields: { name: 'write' } }, contacts: { actions, fields: { firstName: 'write', lastName: 'write' } } }, stepUpUntil: null };
}

function answers(extra: Parameters<typeof answerWith>[0] = {}, grant = access({ read: 'team', delete: 'own', restore: 'own' })) {
  return answerWith({
    ...sessionAnswer,
    'GET /api/v1/auth/access': { body: grant },
    'GET /api/v1/trash/summary': { body: summary },
    'GET /api/v1/bulk-changes': { body: { items: [], nextCursor: null } },
    'GET /api/v1/trash/companies': { body: { items: [], nextCursor: null } },
    'GET /api/v1/trash/contacts': { body: { items: trashed, nextCursor: null } },
    ...extra,
  });
}

const APPROVED = '0190a000-0000-7000-8000-0000000a0009';
const PENDING = '0190a000-0000-7000-8000-0000000a0010';
function waiting(approvalId: string, kind: string, status: string, fields: string[] = []) {
  return { approvalId, kind, type: 'contacts', records: 80, fields, status, requestedAt: '2026-12-03T10:00:00Z', expiresAt: '2026-12-04T10:05:00Z' };
}

describe('the trash page', () => {
  it('counts whole days to the automatic purge, 0 meaning the next run', () => {
    const now = Date.parse('2026-12-03T12:00:00Z');
    expect(daysUntilPurge('2026-12-31T12:00:00Z', now)).toBe(28);
    expect(daysUntilPurge('2026-12-31T11:00:00Z', now)).toBe(28);
    expect(daysUntilPurge('2026-12-03T12:00:00Z', now)).toBe(0);
    expect(daysUntilPurge('2026-11-01T12:00:00Z', now)).toBe(0);
  });

  it('lists the trashed records per type with who deleted them and when they go for good, and restores one', async () => {
    const sent = answers({ [`POST /api/v1/contacts/${trashed[1]!.id}/restore`]: { body: { id: trashed[1]!.id, version: 3, firstName: 'Wei', lastName: 'Zhang', deletedAt: null } } });
    renderWithApp(<SignedIn><TrashPage /></SignedIn>, { path: '/trash' });
    expect(await screen.findByText(/Deleted records stay here for 30 days/)).toBeInTheDocument();
    expect(screen.getByRole('tab', { name: 'Companies (0)' })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('tab', { name: 'Contacts (3)' }));
    const table = await screen.findByRole('table', { name: 'Contacts in the trash' });
    const row = (name: string) => within(table).getByRole('row', { name: new RegExp(name) });
    await waitFor(() => expect(row('Wei Zhang')).toHaveTextContent('in 28 days'));
    expect(row('Wei Zhang')).toHaveTextContent('Bo');
    expect(row('Li Na')).toHaveTextContent('in 1 day');
    expect(row('Li Na')).toHaveTextContent('Ana');
    expect(row('Bo Chen')).toHaveTextContent('The system or command line');
    // Longest in the trash first, as the server answers.
    expect(within(table).getAllByRole('row')[1]).toHaveTextContent('Li Na');
    // Nobody here may purge, and restoring reaches only the seller's own records.
    expect(screen.queryByRole('button', { name: /Purge/ })).toBeNull();
    expect(within(row('Li Na')).queryByRole('button', { name: 'Restore Li Na' })).toBeNull();
    expect(screen.getByText(/The oldest went to the trash on .* and is purged automatically in 1 day/)).toBeInTheDocument();

    await userEvent.click(within(row('Wei Zhang')).getByRole('button', { name: 'Restore Wei Zhang' }));
    expect(await screen.findByText('Wei Zhang is back in its list.')).toBeInTheDocument();
    expect(sent.some((r) => r.method === 'POST' && r.url.pathname === `/api/v1/contacts/${trashed[1]!.id}/restore`)).toBe(true);
    // The list and the counts are read again.
    await waitFor(() => expect(sent.filter((r) => r.url.pathname === '/api/v1/trash/summary').length).toBeGreaterThan(1));
  });

  it('purges a record for good after a confirmation and a second factor, for holders of trash.purge', async () => {
    let steppedUp = false;
    const sent = answers(
      {
        'POST /api/v1/auth/step-up': () => {
          steppedUp = true;
          return { body: { stepUpUntil: '2999-01-01T00:00:00Z' } };
        },
        'POST /api/v1/trash/purge': () => (steppedUp ? { body: { purged: 1, attached: 2, unlinked: 0 } } : { status: 403, body: { error: { code: 'auth.step_up_required', message: 'Confirm it is you' } } }),
      },
      access({ read: 'all', delete: 'all', restore: 'all' }, ['trash.purge']),
    );
    renderWithApp(<SignedIn><StepUpProvider><TrashPage /></StepUpProvider></SignedIn>, { path: '/trash' });
    await userEvent.click(await screen.findByRole('tab', { name: 'Contacts (3)' }));
    await userEvent.click(await screen.findByRole('button', { name: 'Purge Li Na' }));
    const confirm = await screen.findByRole('dialog', { name: 'Purge Li Na for good?' });
    expect(confirm).toHaveTextContent('It cannot be restored afterwards.');
    await userEvent.click(within(confirm).getByRole('button', { name: 'Purge for good' }));
    const factor = await screen.findByRole('dialog', { name: 'Confirm it is you' });
    await userEvent.type(within(factor).getByRole('textbox', { name: /code/i }), '123456');
    await userEvent.click(within(factor).getByRole('button', { name: 'Verify' }));
    expect(await screen.findByText('Li Na was purged.')).toBeInTheDocument();
    const purges = sent.filter((r) => r.url.pathname === '/api/v1/trash/purge');
    expect(purges).toHaveLength(2);
    expect(purges[1]!.body).toEqual({ type: 'contacts', ids: [trashed[0]!.id] });
  });

  it('lists the user\'s own mass changes waiting on approval, runs an approved one and withdraws another', async () => {
    let listed = [waiting(APPROVED, 'bulk_update', 'approved', ['ownerId']), waiting(PENDING, 'bulk_delete', 'pending')];
    const sent = answers({
      'GET /api/v1/bulk-changes': () => ({ body: { items: listed, nextCursor: null } }),
      [`POST /api/v1/bulk-changes/${APPROVED}/run`]: () => {
        listed = listed.filter((c) => c.approvalId !== APPROVED);
        return { body: { approvalId: APPROVED, kind: 'bulk_update', type: 'contacts', records: 80 } };
      },
      [`POST /api/v1/approvals/${PENDING}/cancel`]: () => {
        listed = listed.filter((c) => c.approvalId !== PENDING);
        return { body: {} };
      },
    });
    renderWithApp(<SignedIn><TrashPage /></SignedIn>, { path: '/trash' });
    const table = await screen.findByRole('table', { name: /Mass changes you asked for/ });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('Change owner of 80 contacts');
    expect(rows[0]).toHaveTextContent('Approved');
    expect(rows[1]).toHaveTextContent('Move 80 contacts to the trash');
    expect(rows[1]).toHaveTextContent('Awaiting approval');
    expect(within(rows[1]!).queryByRole('button', { name: /Run approved change/ })).toBeNull();

    await userEvent.click(within(rows[0]!).getByRole('button', { name: 'Run approved change: Change owner of 80 contacts' }));
    expect(await screen.findByText('The approved change ran: 80 records.')).toBeInTheDocument();
    // The run names only the approval: the server runs the batch it kept.
    expect(sent.find((r) => r.url.pathname === `/api/v1/bulk-changes/${APPROVED}/run`)!.body).toBeUndefined();
    await waitFor(() => expect(within(table).getAllByRole('row')).toHaveLength(2));

    await userEvent.click(screen.getByRole('button', { name: 'Withdraw: Move 80 contacts to the trash' }));
    await waitFor(() => expect(screen.queryByRole('table', { name: /Mass changes you asked for/ })).toBeNull());
    expect(sent.some((r) => r.method === 'POST' && r.url.pathname === `/api/v1/approvals/${PENDING}/cancel`)).toBe(true);
  });

  it('is not offered to a role that may restore nothing', async () => {
    answers({}, access({ read: 'team' }));
    renderWithApp(<SignedIn><TrashPage /></SignedIn>, { path: '/trash' });
    expect(await screen.findByText('Your role does not allow this. Ask an administrator if you need it.')).toBeInTheDocument();
    expect(screen.queryByRole('tab')).toBeNull();
  });

  it('speaks Chinese', async () => {
    answers();
    renderWithApp(<SignedIn><TrashPage /></SignedIn>, { path: '/trash', language: 'zh-CN' });
    expect(await screen.findByText(/已删除的记录在此保留 30 天/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('tab', { name: '联系人（3）' }));
    const table = await screen.findByRole('table', { name: '回收站中的联系人' });
    await waitFor(() => expect(within(table).getByRole('button', { name: '恢复 Wei Zhang' })).toBeInTheDocument());
    expect(within(table).getByRole('row', { name: /Wei Zhang/ })).toHaveTextContent('28 天后');
  });
});
