import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { AlertsPage } from './alerts-page';
import { ACCESS_HANDLER, ACCESS_HANDLER_NO_AUDIT, ACTOR_ID, ALERT_ID, alertDetail, openAlert, probeAlert } from './detection-test-kit';

const detailPath = `/api/v1/alerts/${ALERT_ID}`;

describe('the alerts list', () => {
  it('shows each alert with its severity and status, and sends the filters chosen', async () => {
    const sent = answerWith({
      'GET /api/v1/alerts': ({ url }) => ({ body: { items: url.searchParams.get('severity') === 'critical' ? [probeAlert] : [openAlert, probeAlert], nextCursor: null } }),
    });
    const { location } = renderWithApp(<AlertsPage />, { path: '/alerts' });
    const table = await screen.findByRole('table', { name: 'Alerts, newest first' }, { timeout: 5000 });
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(rows[1]).toHaveTextContent('High');
    expect(rows[1]).toHaveTextContent('Records read far above normal');
    expect(rows[1]).toHaveTextContent('1,240 records read in one hour');
    expect(rows[1]).toHaveTextContent('Open');
    expect(rows[2]).toHaveTextContent('Critical');
    expect(rows[2]).toHaveTextContent('Acknowledged');
    expect(rows[2]).toHaveTextContent('198.51.100.23');
    // The list opens on what still needs someone.
    expect(sent[0]!.url.searchParams.get('status')).toBe('open,acknowledged');

    await userEvent.selectOptions(screen.getByLabelText('Status'), 'open');
    await userEvent.selectOptions(screen.getByLabelText('Severity'), 'critical');
    await userEvent.selectOptions(screen.getByLabelText('Rule'), 'request.probe');
    await userEvent.type(screen.getByLabelText('Since'), '2026-11-29T08:00');
    await userEvent.click(screen.getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(sent.some((r) => r.url.searchParams.get('severity') === 'critical')).toBe(true));
    const query = sent.find((r) => r.url.searchParams.get('severity') === 'critical')!.url.searchParams;
    expect(query.get('status')).toBe('open');
    expect(query.get('rule')).toBe('request.probe');
    expect(query.get('since')).toBe(new Date('2026-11-29T08:00').toISOString());
    expect(query.get('limit')).toBe('50');
    await waitFor(() => expect(within(screen.getByRole('table', { name: 'Alerts, newest first' })).getAllByRole('row')).toHaveLength(2));
    expect(location.history.join(' ')).not.toContain('critical');

    await userEvent.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(sent.at(-1)!.url.searchParams.get('severity')).toBeNull());
    expect(sent.at(-1)!.url.searchParams.get('status')).toBe('open,acknowledged');
  });

  it('pages with the cursor the server gave, and back', async () => {
    const sent = answerWith({
      'GET /api/v1/alerts': ({ url }) => (url.searchParams.get('cursor') === 'next-1' ? { body: { items: [probeAlert], nextCursor: null } } : { body: { items: [openAlert], nextCursor: 'next-1' } }),
    });
    renderWithApp(<AlertsPage />, { path: '/alerts' });
    expect(await screen.findByText('1,240 records read in one hour; own baseline 40, role peers 55')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Newer' })).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Older' }));
    expect(await screen.findByText('38 probe requests from one address in 60 s')).toBeInTheDocument();
    expect(sent.at(-1)!.url.searchParams.get('cursor')).toBe('next-1');
    expect(screen.getByText('Page 2')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Older' })).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Newer' }));
    expect(await screen.findByText('Page 1')).toBeInTheDocument();
  });

  it('opens an alert at its own address', async () => {
    answerWith({
      'GET /api/v1/alerts': { body: { items: [openAlert], nextCursor: null } },
      [`GET ${detailPath}`]: { body: alertDetail },
      'GET /api/v1/auth/access': { body: ACCESS_HANDLER },
    });
    const { location } = renderWithApp(<AlertsPage />, { path: '/alerts' });
    await userEvent.click(await screen.findByRole('link', { name: 'Records read far above normal' }));
    expect(location.history.at(-1)).toBe(`/alerts/${ALERT_ID}`);
  });

  it('speaks Chinese', async () => {
    answerWith({ 'GET /api/v1/alerts': { body: { items: [openAlert], nextCursor: null } } });
    renderWithApp(<AlertsPage />, { path: '/alerts', language: 'zh-CN' });
    expect(await screen.findByRole('link', { name: '读取记录数远超平常' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: '应用' })).toBeInTheDocument();
    expect(within(screen.getByRole('table')).getByText('未处理')).toBeInTheDocument();
  });
});

describe('an alert in the drawer', () => {
  const openDrawer = async (answers: Parameters<typeof answerWith>[0], access = ACCESS_HANDLER) => {
    const sent = answerWith({
      'GET /api/v1/alerts': { body: { items: [openAlert], nextCursor: null } },
      'GET /api/v1/auth/access': { body: access },
      ...answers,
    });
    const rendered = renderWithApp(<AlertsPage alertId={ALERT_ID} />, { path: `/alerts/${ALERT_ID}` });
    const drawer = await screen.findByRole('dialog', { name: 'Records read far above normal' }, { timeout: 5000 });
    await within(drawer).findByText('1,240 records read in one hour; own baseline 40, role peers 55', {}, { timeout: 5000 });
    return { sent, drawer, ...rendered };
  };

  it('shows the summary, the figures and the evidence entries as links into the audit log', async () => {
    const { drawer } = await openDrawer({ [`GET ${detailPath}`]: { body: alertDetail } });
    expect(drawer).toHaveTextContent('Records read1,240');
    expect(drawer).toHaveTextContent(ACTOR_ID);
    const evidence = within(drawer).getByRole('list', { name: 'Audit entries behind this alert' });
    const link = await within(evidence).findByRole('link', { name: 'Open entry 118' });
    expect(link).toHaveAttribute('href', '/audit/118');
    expect(within(evidence).getAllByRole('link')).toHaveLength(3);
  });

  it('names the user for someone who may read users, and gives only the id otherwise', async () => {
    const { drawer, sent } = await openDrawer(
      {
        [`GET ${detailPath}`]: { body: alertDetail },
        [`GET /api/v1/users/${ACTOR_ID}`]: { body: { id: ACTOR_ID, name: 'Sam Seller', email: 'sam@example.com', roles: ['sales'], teamId: null, status: 'active', locale: 'en', createdAt: '', updatedAt: '', lastLoginAt: null } },
      },
      { ...ACCESS_HANDLER, permissions: ['alerts.handle', 'users.read'] },
    );
    expect(await within(drawer).findAllByText('Sam Seller', {}, { timeout: 5000 })).not.toHaveLength(0);
    // One look-up serves the actor and every response aimed at them.
    expect(sent.filter((r) => r.url.pathname === `/api/v1/users/${ACTOR_ID}`)).toHaveLength(1);
  });

  it('gives only the id to someone who may not read users', async () => {
    const { drawer, sent } = await openDrawer({ [`GET ${detailPath}`]: { body: alertDetail } });
    expect(drawer).toHaveTextContent(ACTOR_ID);
    expect(drawer).not.toHaveTextContent('Sam Seller');
    expect(sent.some((r) => r.url.pathname.startsWith('/api/v1/users/'))).toBe(false);
  });

  it('lists the evidence entries without links for someone who may not read the audit log', async () => {
    const { drawer } = await openDrawer({ [`GET ${detailPath}`]: { body: alertDetail } }, ACCESS_HANDLER_NO_AUDIT);
    await within(drawer).findByText('Reading these entries needs the permission to read the audit log.');
    expect(within(within(drawer).getByRole('list', { name: 'Audit entries behind this alert' })).queryAllByRole('link')).toHaveLength(0);
    expect(drawer).toHaveTextContent('#118');
  });

  it('acknowledges with the version read and the note typed', async () => {
    let acknowledged = false;
    const { sent, drawer } = await openDrawer({
      [`GET ${detailPath}`]: () => ({ body: acknowledged ? { ...alertDetail, status: 'acknowledged', version: 4, note: 'Looking into it' } : alertDetail }),
      [`POST ${detailPath}/acknowledge`]: () => {
        acknowledged = true;
        return { body: { ...openAlert, status: 'acknowledged', version: 4, note: 'Looking into it' } };
      },
    });
    await userEvent.type(within(drawer).getByLabelText(/^Note/), 'Looking into it');
    await userEvent.click(within(drawer).getByRole('button', { name: 'Acknowledge' }));
    expect(await within(drawer).findByText('Acknowledged.')).toBeInTheDocument();
    expect(sent.find((r) => r.method === 'POST')!.body).toEqual({ version: 3, note: 'Looking into it' });
    // Acknowledged, it can still be resolved but not acknowledged again.
    await waitFor(() => expect(within(drawer).queryByRole('button', { name: 'Acknowledge' })).not.toBeInTheDocument());
    expect(within(drawer).getByRole('button', { name: 'Resolve' })).toBeInTheDocument();
  });

  it('asks for a note before marking a false positive, then sends it', async () => {
    const { sent, drawer } = await openDrawer({
      [`GET ${detailPath}`]: { body: alertDetail },
      [`POST ${detailPath}/false-positive`]: { body: { ...openAlert, status: 'false_positive', version: 4 } },
    });
    await userEvent.click(within(drawer).getByRole('button', { name: 'Mark false positive' }));
    expect(await within(drawer).findByText('Say why this is a false positive.')).toBeInTheDocument();
    expect(sent.filter((r) => r.method === 'POST')).toHaveLength(0);
    await userEvent.type(within(drawer).getByLabelText(/^Note/), 'Quarter-end report, planned');
    await userEvent.click(within(drawer).getByRole('button', { name: 'Mark false positive' }));
    expect(await within(drawer).findByText('Marked as a false positive.')).toBeInTheDocument();
    expect(sent.find((r) => r.method === 'POST')!.body).toEqual({ version: 3, note: 'Quarter-end report, planned' });
  });

  it("says why a transition was refused, in the reader's words", async () => {
    const { drawer } = await openDrawer({
      [`GET ${detailPath}`]: { body: alertDetail },
      [`POST ${detailPath}/resolve`]: { status: 409, body: { error: { code: 'record.version_conflict', message: 'stale' } } },
    });
    await userEvent.click(within(drawer).getByRole('button', { name: 'Resolve' }));
    expect(await within(drawer).findByRole('alert')).toHaveTextContent('Someone changed this in the meantime. Reload to see their change.');
  });

  it('offers no transitions on a closed alert', async () => {
    const { drawer } = await openDrawer({ [`GET ${detailPath}`]: { body: { ...alertDetail, status: 'resolved', handledBy: ACTOR_ID, handledAt: '2026-11-30T10:00:00.000Z', note: 'Done' } } });
    expect(within(drawer).getByText('This alert is closed.')).toBeInTheDocument();
    expect(within(drawer).queryByRole('button', { name: 'Resolve' })).not.toBeInTheDocument();
    expect(within(drawer).queryByRole('button', { name: 'Mark false positive' })).not.toBeInTheDocument();
  });

  it('links an incident and unlinks it', async () => {
    let incidentId: string | null = null;
    const { sent, drawer } = await openDrawer({
      [`GET ${detailPath}`]: () => ({ body: { ...alertDetail, incidentId } }),
      [`PUT ${detailPath}/incident`]: ({ body }) => {
        incidentId = (body as { incidentId: string | null }).incidentId;
        return { body: { ...openAlert, incidentId, version: 4 } };
      },
    });
    await userEvent.type(within(drawer).getByLabelText(/^Incident/), 'INC-2026-014');
    await userEvent.click(within(drawer).getByRole('button', { name: 'Link incident' }));
    expect(await within(drawer).findByText('Incident linked.')).toBeInTheDocument();
    expect(sent.find((r) => r.method === 'PUT')!.body).toEqual({ incidentId: 'INC-2026-014', version: 3 });
    await userEvent.clear(within(drawer).getByLabelText(/^Incident/));
    await userEvent.click(within(drawer).getByRole('button', { name: 'Unlink incident' }));
    expect(await within(drawer).findByText('Incident unlinked.')).toBeInTheDocument();
    expect(sent.filter((r) => r.method === 'PUT').at(-1)!.body).toMatchObject({ incidentId: null });
  });

  it('executes a suggested response through its own route, after asking', async () => {
    let executed = false;
    const { sent, drawer } = await openDrawer({
      [`GET ${detailPath}`]: () => ({ body: { ...alertDetail, responses: alertDetail.responses.map((r) => (r.id === 'r-lock' && executed ? { ...r, state: 'done', executedAt: '2026-11-30T09:30:00.000Z' } : r)) } }),
      [`POST ${detailPath}/responses/r-lock/execute`]: () => {
        executed = true;
        return { body: { ...alertDetail.responses[2], state: 'done' } };
      },
    });
    const responses = within(drawer).getByRole('table', { name: 'Responses' });
    // The suggested one can be executed and the step-up reversed; a notice cannot be taken back.
    expect(within(responses).getAllByRole('button').map((b) => b.getAttribute('aria-label'))).toEqual(['Reverse: Require a second factor again', 'Execute: Lock the account']);
    expect(responses).toHaveTextContent('Notify alert handlers');
    await userEvent.click(within(responses).getByRole('button', { name: 'Execute: Lock the account' }));
    const confirm = await screen.findByRole('dialog', { name: 'Execute: Lock the account' });
    expect(confirm).toHaveTextContent(`Lock the account ${ACTOR_ID}`);
    await userEvent.click(within(confirm).getByRole('button', { name: 'Execute' }));
    await waitFor(() => expect(sent.some((r) => r.method === 'POST' && r.url.pathname === `${detailPath}/responses/r-lock/execute`)).toBe(true));
    expect(await within(responses).findByRole('button', { name: 'Reverse: Lock the account' })).toBeInTheDocument();
    expect(sent.filter((r) => r.method === 'POST').map((r) => r.url.pathname)).toEqual([`${detailPath}/responses/r-lock/execute`]);
  });

  it('reverses a done response through its own route', async () => {
    const done = { ...alertDetail, responses: [{ ...alertDetail.responses[2], state: 'done', executedAt: '2026-11-30T08:01:00.000Z' }] };
    const { sent, drawer } = await openDrawer({
      [`GET ${detailPath}`]: { body: done },
      [`POST ${detailPath}/responses/r-lock/reverse`]: { status: 409, body: { error: { code: 'detection.not_reversible', message: 'already reversed' } } },
    });
    await userEvent.click(within(drawer).getByRole('button', { name: 'Reverse: Lock the account' }));
    const confirm = await screen.findByRole('dialog', { name: 'Reverse: Lock the account' });
    await userEvent.click(within(confirm).getByRole('button', { name: 'Reverse' }));
    expect(await within(confirm).findByRole('alert')).toHaveTextContent('This response cannot be reversed, or it was already.');
    expect(sent.filter((r) => r.method === 'POST').map((r) => r.url.pathname)).toEqual([`${detailPath}/responses/r-lock/reverse`]);
  });

  it('asks again every few seconds while open', async () => {
    const { sent } = await openDrawer({ [`GET ${detailPath}`]: { body: alertDetail } });
    const before = sent.filter((r) => r.url.pathname === detailPath).length;
    await waitFor(() => expect(sent.filter((r) => r.url.pathname === detailPath).length).toBeGreaterThan(before), { timeout: 7000 });
  });
});
