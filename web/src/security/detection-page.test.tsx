import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { answerWith, type Answer } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { DetectionPage } from './detection-page';
import { ruleBody, ruleValues } from './detection-rules';
import { ACTOR_ID, blocks, engineStatus, honeytokens, lockdown, lockedAccounts, rules } from './detection-test-kit';

type Answers = Record<string, Answer | ((request: { url: URL; body: unknown }) => Answer)>;

function detectionAnswers(extra: Answers = {}): Answers {
  return {
    'GET /api/v1/detection/status': { body: engineStatus },
    'GET /api/v1/detection/lockdown': { body: { lockdown: null } },
    'GET /api/v1/detection/rules': { body: rules },
    'GET /api/v1/detection/blocks': { body: blocks },
    'GET /api/v1/detection/locked-accounts': { body: lockedAccounts },
    'GET /api/v1/honeytokens': { body: honeytokens },
    'GET /api/v1/auth/access': { body: { records: {}, permissions: ['alerts.handle'], stepUpUntil: null, lockdown: false } },
    ...extra,
  };
}

const writes = (sent: ReturnType<typeof answerWith>) => sent.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.url.pathname}`);

describe('the rules editor', () => {
  it('turns the settings into fields and back into the shapes the server gave', () => {
    const rule = rules.items[1]!;
    const values = ruleValues(rule, rule.schema);
    expect(values.settings).toEqual({ timeZone: 'UTC', workDays: ['1', '2', '3', '4', '5'], roleDailyCaps: 'sales=5000' });
    const body = ruleBody(rule as never, { ...values, settings: { timeZone: 'Asia/Shanghai', workDays: ['6', '1', '0'], roleDailyCaps: 'sales=6000, support = 2000' } });
    expect(body).toEqual({ enabled: true, severity: 'medium', settings: { timeZone: 'Asia/Shanghai', workDays: [0, 1, 6], roleDailyCaps: { sales: 6000, support: 2000 } }, automatic: ['notify'], suggested: ['step_up'], version: 0 });
  });

  it('edits working days with a box per day', async () => {
    const sent = answerWith(detectionAnswers({ 'PUT /api/v1/detection/rules/data.off_hours': ({ body }) => ({ body: { ...rules.items[1], ...(body as object), version: 1 } }) }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    await userEvent.click(await screen.findByRole('button', { name: 'Edit the rule Personal data read off hours' }, { timeout: 5000 }));
    const dialog = await screen.findByRole('dialog', { name: 'Rule: Personal data read off hours' });
    const days = within(dialog).getByRole('group', { name: 'Working days' });
    expect(within(days).getByLabelText('Monday')).toBeChecked();
    expect(within(days).getByLabelText('Saturday')).not.toBeChecked();
    await userEvent.click(within(days).getByLabelText('Saturday'));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(writes(sent)).toEqual(['PUT /api/v1/detection/rules/data.off_hours']));
    expect((sent.find((r) => r.method === 'PUT')!.body as { settings: { workDays: number[] } }).settings.workDays).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('lists every rule and saves an edited one with its version', async () => {
    const sent = answerWith(detectionAnswers({ 'PUT /api/v1/detection/rules/data.read_spike': ({ body }) => ({ body: { ...rules.items[0], ...(body as object), version: 3 } }) }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const table = await screen.findByRole('table', { name: 'Rules' }, { timeout: 5000 });
    const rows = within(table).getAllByRole('row');
    expect(rows[1]).toHaveTextContent('Records read far above normal');
    expect(rows[1]).toHaveTextContent('Notify alert handlers, Require a second factor again');
    expect(rows[3]).toHaveTextContent('Off');

    await userEvent.click(within(table).getByRole('button', { name: 'Edit the rule Records read far above normal' }));
    const dialog = await screen.findByRole('dialog', { name: 'Rule: Records read far above normal' });
    const floor = within(dialog).getByLabelText('Floor');
    expect(floor).toHaveValue('400');
    await userEvent.clear(floor);
    await userEvent.type(floor, '500');
    await userEvent.selectOptions(within(dialog).getByLabelText('Severity'), 'critical');
    const automatic = within(dialog).getByRole('group', { name: /^Automatic responses/ });
    await userEvent.click(within(automatic).getByLabelText('Lock the account'));
    // Lock the account is suggested already: one or the other.
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect(await within(dialog).findByText('A response is either automatic or suggested, not both.')).toBeInTheDocument();
    const suggested = within(dialog).getByRole('group', { name: /^Suggested responses/ });
    await userEvent.click(within(suggested).getByLabelText('Lock the account'));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(writes(sent)).toEqual(['PUT /api/v1/detection/rules/data.read_spike']));
    expect(sent.find((r) => r.method === 'PUT')!.body).toEqual({
      enabled: true,
      severity: 'critical',
      settings: { floor: 500, factor: 3, windowMinutes: 60 },
      automatic: ['notify', 'step_up', 'lock_account'],
      suggested: ['end_sessions'],
      version: 2,
    });
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it("shows the server's word beside the setting it refused, and restores the defaults", async () => {
    answerWith(detectionAnswers({
      'PUT /api/v1/detection/rules/data.read_spike': { status: 400, body: { error: { code: 'detection.invalid_rule', message: 'The rule settings are invalid', fields: [{ field: 'settings.factor', message: 'must be at least 1.5' }] } } },
    }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    await userEvent.click(await screen.findByRole('button', { name: 'Edit the rule Records read far above normal' }, { timeout: 5000 }));
    const dialog = await screen.findByRole('dialog', { name: 'Rule: Records read far above normal' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save' }));
    expect(await within(dialog).findByText('Must be at least 1.5')).toBeInTheDocument();
    expect(within(dialog).getByRole('alert')).toHaveTextContent('These rule settings are not valid.');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Restore defaults' }));
    expect(within(dialog).getByLabelText('Floor')).toHaveValue('300');
  });
});

describe('the lockdown switch', () => {
  it('needs a reason, asks once more, then starts the lockdown', async () => {
    let on = false;
    const sent = answerWith(detectionAnswers({
      'GET /api/v1/detection/lockdown': () => ({ body: { lockdown: on ? { ...lockdown, reason: 'Read spike' } : null } }),
      'PUT /api/v1/detection/lockdown': () => {
        on = true;
        return { body: { ...lockdown, reason: 'Read spike' } };
      },
    }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const panel = await screen.findByRole('region', { name: 'Lockdown' }, { timeout: 5000 });
    await userEvent.click(await within(panel).findByRole('button', { name: 'Start lockdown' }, { timeout: 5000 }));
    expect(await within(panel).findByText('Give a reason: everyone sees it.')).toBeInTheDocument();
    await userEvent.type(within(panel).getByLabelText('Reason'), 'Read spike');
    await userEvent.click(within(panel).getByRole('button', { name: 'Start lockdown' }));
    const confirm = await screen.findByRole('dialog', { name: 'Start the lockdown?' });
    expect(writes(sent)).toEqual([]);
    await userEvent.click(within(confirm).getByRole('button', { name: 'Start lockdown' }));
    await waitFor(() => expect(writes(sent)).toEqual(['PUT /api/v1/detection/lockdown']));
    expect(sent.find((r) => r.method === 'PUT')!.body).toEqual({ reason: 'Read spike' });
    expect(await within(panel).findByText('In force')).toBeInTheDocument();
    expect(within(panel).getByRole('button', { name: 'Lift lockdown' })).toBeInTheDocument();
  });

  it('lifts it after asking', async () => {
    const sent = answerWith(detectionAnswers({
      'GET /api/v1/detection/lockdown': { body: { lockdown } },
      'DELETE /api/v1/detection/lockdown': { body: { lifted: true } },
    }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const panel = await screen.findByRole('region', { name: 'Lockdown' }, { timeout: 5000 });
    expect(await within(panel).findByText('Investigating a read spike', {}, { timeout: 5000 })).toBeInTheDocument();
    await userEvent.click(within(panel).getByRole('button', { name: 'Lift lockdown' }));
    await userEvent.click(within(await screen.findByRole('dialog', { name: 'Lift the lockdown?' })).getByRole('button', { name: 'Lift lockdown' }));
    await waitFor(() => expect(writes(sent)).toEqual(['DELETE /api/v1/detection/lockdown']));
  });
});

describe('containment', () => {
  it('lifts a block and adds one', async () => {
    const sent = answerWith(detectionAnswers({
      [`DELETE /api/v1/detection/blocks/${blocks.items[0]!.id}`]: { body: { ...blocks.items[0], liftedAt: '2026-11-30T08:30:00.000Z', liftedBy: ACTOR_ID } },
      'POST /api/v1/detection/blocks': { status: 201, body: { ...blocks.items[0], id: 'new', address: '192.0.2.4' } },
    }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const panel = await screen.findByRole('region', { name: 'Blocked addresses' }, { timeout: 5000 });
    await userEvent.click(await within(panel).findByRole('button', { name: 'Lift the block on 198.51.100.23' }, { timeout: 5000 }));
    await waitFor(() => expect(writes(sent)).toEqual([`DELETE /api/v1/detection/blocks/${blocks.items[0]!.id}`]));

    await userEvent.click(within(panel).getByRole('button', { name: 'Block address' }));
    expect(writes(sent)).toHaveLength(1);
    await userEvent.type(within(panel).getByLabelText('Source address'), '192.0.2.4');
    await userEvent.type(within(panel).getByLabelText('Reason'), 'Scanning the sign-in page');
    await userEvent.click(within(panel).getByRole('button', { name: 'Block address' }));
    await waitFor(() => expect(writes(sent)).toHaveLength(2));
    expect(sent.find((r) => r.method === 'POST')!.body).toEqual({ address: '192.0.2.4', minutes: 60, reason: 'Scanning the sign-in page' });
  });

  it('unlocks a locked account', async () => {
    const sent = answerWith(detectionAnswers({ [`DELETE /api/v1/detection/locked-accounts/${ACTOR_ID}`]: { body: { unlocked: true } } }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const panel = await screen.findByRole('region', { name: 'Locked accounts' }, { timeout: 5000 });
    expect(await within(panel).findByText('Sam Seller', {}, { timeout: 5000 })).toBeInTheDocument();
    await userEvent.click(within(panel).getByRole('button', { name: 'Unlock the account of Sam Seller' }));
    await waitFor(() => expect(writes(sent)).toEqual([`DELETE /api/v1/detection/locked-accounts/${ACTOR_ID}`]));
  });

  it('shows whether the engine keeps up', async () => {
    answerWith(detectionAnswers());
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const panel = await screen.findByRole('region', { name: 'Engine' }, { timeout: 5000 });
    expect(await within(panel).findByText('Running', {}, { timeout: 5000 })).toBeInTheDocument();
    expect(panel).toHaveTextContent('entry 1,200 of 1,210');
  });
});

describe('the honeytokens', () => {
  it('plants the number asked for and removes one', async () => {
    const sent = answerWith(detectionAnswers({
      'POST /api/v1/honeytokens': { status: 201, body: { items: [] } },
      [`DELETE /api/v1/honeytokens/${honeytokens.items[0]!.recordId}`]: { status: 204 },
    }));
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const panel = await screen.findByRole('region', { name: 'Honeytokens' }, { timeout: 5000 });
    expect(await within(panel).findByText(honeytokens.items[0]!.recordId, {}, { timeout: 5000 })).toBeInTheDocument();
    await userEvent.selectOptions(within(panel).getByLabelText('Record type'), 'companies');
    const count = within(panel).getByLabelText('How many');
    await userEvent.clear(count);
    await userEvent.type(count, '5');
    await userEvent.click(within(panel).getByRole('button', { name: 'Plant' }));
    expect(await within(panel).findByText('5 decoy records planted among Companies.')).toBeInTheDocument();
    expect(sent.find((r) => r.method === 'POST')!.body).toEqual({ recordType: 'companies', count: 5 });
    await userEvent.click(within(panel).getByRole('button', { name: `Remove the honeytoken ${honeytokens.items[0]!.recordId}` }));
    await waitFor(() => expect(writes(sent)).toEqual(['POST /api/v1/honeytokens', `DELETE /api/v1/honeytokens/${honeytokens.items[0]!.recordId}`]));
  });

  it('asks for a count from 1 to 50 before asking the server', async () => {
    const sent = answerWith(detectionAnswers());
    renderWithApp(<DetectionPage />, { path: '/detection' });
    const panel = await screen.findByRole('region', { name: 'Honeytokens' }, { timeout: 5000 });
    await userEvent.clear(within(panel).getByLabelText('How many'));
    await userEvent.click(within(panel).getByRole('button', { name: 'Plant' }));
    expect(await within(panel).findByText('From 1 to 50.')).toBeInTheDocument();
    expect(writes(sent)).toEqual([]);
  });

  it('speaks Chinese', async () => {
    answerWith(detectionAnswers());
    renderWithApp(<DetectionPage />, { path: '/detection', language: 'zh-CN' });
    expect(await screen.findByRole('region', { name: '蜜罐记录' }, { timeout: 5000 })).toBeInTheDocument();
    expect(await screen.findByRole('button', { name: '编辑规则：读取记录数远超平常' })).toBeInTheDocument();
  });
});
