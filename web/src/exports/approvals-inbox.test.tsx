import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { StepUpProvider } from '../access/step-up';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { ApprovalsInbox } from './approvals-inbox';
import { deleteApproval, exportApproval, ME, ownApproval, updateApproval } from './exports-test-kit';

const pending = { 'GET /api/v1/approvals': { body: { items: [exportApproval, deleteApproval, updateApproval, ownApproval], nextCursor: null } } };

describe('the To approve tab', () => {
  it('lists pending requests of every kind with who, what, how many and why, and offers no decision on one’s own', async () => {
    const sent = answerWith(pending);
    renderWithApp(<ApprovalsInbox myId={ME.id} />);
    const table = await screen.findByRole('table', { name: 'Requests waiting for a decision, newest first' }, { timeout: 5000 });
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(5);
    expect(rows[1]).toHaveTextContent('Export');
    expect(rows[1]).toHaveTextContent('Ivo Support');
    expect(rows[1]).toHaveTextContent('4,200');
    expect(rows[1]).toHaveTextContent('Contacts as CSV, 4,200 rows');
    expect(rows[1]).toHaveTextContent('Quarterly review with the auditors');
    expect(rows[2]).toHaveTextContent('Mass delete');
    expect(rows[2]).toHaveTextContent('Move 120 Deals to the trash');
    expect(rows[3]).toHaveTextContent('Mass change');
    expect(rows[3]).toHaveTextContent('Change ownerId on 80 Contacts');
    expect(rows[3]).toHaveTextContent('Territory change');
    expect(within(rows[1]!).getByRole('button', { name: 'Approve the request of Ivo Support' })).toBeInTheDocument();
    expect(within(rows[4]!).queryByRole('button')).toBeNull();
    expect(rows[4]).toHaveTextContent('Your own request: someone else decides it.');
    expect(sent[0]!.url.searchParams.get('status')).toBe('pending');
  });

  it('approves after a step-up, with the note', async () => {
    let approvals = 0;
    const sent = answerWith({
      ...pending,
      [`POST /api/v1/approvals/${exportApproval.id}/approve`]: () => {
        approvals += 1;
        return approvals === 1
          ? { status: 403, body: { error: { code: 'auth.step_up_required', message: 'Confirm with your second factor' } } }
          : { body: { ...exportApproval, status: 'approved', decidedBy: { id: ME.id, name: ME.name }, decisionNote: 'Fine for the audit' } };
      },
      'POST /api/v1/auth/step-up': { body: { stepUpUntil: '2026-12-01T10:05:00.000Z' } },
      'GET /api/v1/auth/access': { body: { permissions: ['approvals.decide'], records: {}, stepUpUntil: null, lockdown: false } },
    });
    renderWithApp(
      <StepUpProvider>
        <ApprovalsInbox myId={ME.id} />
      </StepUpProvider>,
    );
    await userEvent.click((await screen.findAllByRole('button', { name: 'Approve the request of Ivo Support' }, { timeout: 5000 }))[0]!);
    const dialog = await screen.findByRole('dialog', { name: 'Approve this request?' });
    expect(dialog).toHaveTextContent('Contacts as CSV, 4,200 rows');
    expect(dialog).toHaveTextContent('Approving lets Ivo Support do this once within 24 hours.');
    await userEvent.type(within(dialog).getByLabelText('Note (optional)'), 'Fine for the audit');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Approve' }));
    const stepUp = await screen.findByRole('dialog', { name: /confirm/i });
    await userEvent.type(within(stepUp).getByLabelText(/code/i), '123456');
    await userEvent.click(within(stepUp).getByRole('button', { name: /verify/i }));
    await waitFor(() => expect(approvals).toBe(2));
    const approved = sent.filter((r) => r.url.pathname === `/api/v1/approvals/${exportApproval.id}/approve`);
    expect(approved.map((r) => r.body)).toEqual([{ note: 'Fine for the audit' }, { note: 'Fine for the audit' }]);
    expect(sent.find((r) => r.url.pathname === '/api/v1/auth/step-up')!.body).toEqual({ code: '123456' });
    await waitFor(() => expect(screen.queryByRole('dialog', { name: 'Approve this request?' })).toBeNull());
  });

  it('denies with a note, and shows a refusal in the reader’s words', async () => {
    const sent = answerWith({
      ...pending,
      [`POST /api/v1/approvals/${deleteApproval.id}/deny`]: { body: { ...deleteApproval, status: 'denied' } },
      [`POST /api/v1/approvals/${updateApproval.id}/deny`]: { status: 409, body: { error: { code: 'approval.not_pending', message: 'The request is not pending' } } },
    });
    renderWithApp(<ApprovalsInbox myId={ME.id} />);
    const table = await screen.findByRole('table', { name: 'Requests waiting for a decision, newest first' }, { timeout: 5000 });
    const rows = within(table).getAllByRole('row');
    await userEvent.click(within(rows[2]!).getByRole('button', { name: 'Deny the request of Ivo Support' }));
    let dialog = await screen.findByRole('dialog', { name: 'Deny this request?' });
    await userEvent.type(within(dialog).getByLabelText('Note (optional)'), 'Merge them instead');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Deny' }));
    await waitFor(() => expect(sent.some((r) => r.url.pathname === `/api/v1/approvals/${deleteApproval.id}/deny`)).toBe(true));
    expect(sent.find((r) => r.url.pathname === `/api/v1/approvals/${deleteApproval.id}/deny`)!.body).toEqual({ note: 'Merge them instead' });
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());

    await userEvent.click(within(within(screen.getByRole('table', { name: 'Requests waiting for a decision, newest first' })).getAllByRole('row')[3]!).getByRole('button', { name: 'Deny the request of Ivo Support' }));
    dialog = await screen.findByRole('dialog', { name: 'Deny this request?' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Deny' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('This request was already decided, withdrawn or used.');
    // Without a note, none is sent.
    expect(sent.find((r) => r.url.pathname === `/api/v1/approvals/${updateApproval.id}/deny`)!.body).toEqual({});
  });
});
