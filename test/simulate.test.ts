import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { SimulatedClock } from '../src/shared/simulated-clock.js';
import { runSimulation } from '../src/simulate/run.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';

describe('the simulated clock route', () => {
  let t: TestApp;
  let plain: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_SIMULATED_CLOCK: 'on' });
    plain = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
    await plain?.close();
  });

  it('does not exist unless the server runs a simulated clock', async () => {
    const { token } = await plain.makeUser({ roles: ['admin'] });
    expect((await plain.call('GET', '/api/v1/simulation/clock', { token })).statusCode).toBe(404);
    const moved = await plain.call('POST', '/api/v1/simulation/clock', { token, body: { advanceSeconds: 60 } });
    expect(moved.statusCode).toBe(404);
    expect(plain.deps.clock).not.toBeInstanceOf(SimulatedClock);
    // Nor is it in the API document.
    expect(JSON.stringify(plain.app.swagger())).not.toContain('/api/v1/simulation/clock');
  });

  it('moves the clock forward for settings.manage, audited, and never back', async () => {
    const { user, token } = await t.makeUser({ roles: ['admin'] });
    const before = await t.call('GET', '/api/v1/simulation/clock', { token });
    expect(before.statusCode, before.body).toBe(200);
    const start = new Date(before.json().now).getTime();
    const moved = await t.call('POST', '/api/v1/simulation/clock', { token, body: { advanceSeconds: 2 * 86_400 } });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(Object.keys(moved.json()).sort()).toEqual(['now', 'offsetSeconds']);
    expect(moved.json().offsetSeconds).toBe(2 * 86_400);
    expect(new Date(moved.json().now).getTime() - start).toBeGreaterThanOrEqual(2 * 86_400_000);
    // What Rampart stamps follows the simulated time.
    expect(t.deps.clock.now().getTime() - Date.now()).toBeGreaterThan(2 * 86_400_000 - 5_000);

    const entry = await t.deps.db.selectFrom('audit_entries').selectAll().where('action', '=', 'simulation.clock_advanced').executeTakeFirstOrThrow();
    expect(entry.actor_id).toBe(user.id);
    expect(JSON.parse(entry.details)).toMatchObject({ advanceSeconds: 2 * 86_400 });
    // Stamped before the jump: the step is recorded at the time it was taken from.
    expect(new Date(entry.occurred_at).getTime()).toBeLessThan(new Date(moved.json().now).getTime() - 86_400_000);

    for (const advanceSeconds of [0, -5, 1.5, 30 * 86_400 + 1, '60']) {
      const bad = await t.call('POST', '/api/v1/simulation/clock', { token, body: { advanceSeconds } });
      expect(bad.statusCode, String(advanceSeconds)).toBe(400);
      expect(bad.json().error.code).toBe('request.invalid');
    }
    expect((await t.call('POST', '/api/v1/simulation/clock', { token, body: {} })).statusCode).toBe(400);
    expect((await t.call('GET', '/api/v1/simulation/clock', { token })).json().offsetSeconds).toBe(2 * 86_400);
  });

  it('refuses whoever may not manage settings, and strangers, and writes nothing', async () => {
    const { token } = await t.makeUser({ roles: ['sales'] });
    const entries = async () => (await t.deps.db.selectFrom('audit_entries').select('seq').where('action', '=', 'simulation.clock_advanced').execute()).length;
    const count = await entries();
    const offset = (t.deps.clock as SimulatedClock).offset;
    const refused = await t.call('POST', '/api/v1/simulation/clock', { token, body: { advanceSeconds: 60 } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('auth.forbidden');
    expect((await t.call('GET', '/api/v1/simulation/clock', { token })).statusCode).toBe(403);
    expect((await t.call('POST', '/api/v1/simulation/clock', { body: { advanceSeconds: 60 } })).statusCode).toBe(401);
    expect((t.deps.clock as SimulatedClock).offset).toBe(offset);
    expect(await entries()).toBe(count);
  });

  it('refuses to play attackers against an instance that would see them all at its own address', async () => {
    const { token } = await plain.makeUser({ roles: ['admin'] });
    await plain.app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(plain.app.server.address() as { port: number }).port}`;
    await expect(runSimulation({ url, token, scenarios: ['scanner'], repeats: 1, normal: null })).rejects.toThrow(/RAMPART_TRUST_PROXY=true/);
    expect(await plain.deps.db.selectFrom('users').select('id').where('email', 'like', 'sim-%').execute()).toEqual([]);
  });

  it('resumes after a restart from the newest audit entry, so time does not run backwards', async () => {
    const newest = await t.deps.db.selectFrom('audit_entries').select('occurred_at').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    const config = loadConfig({ env: { RAMPART_DATA_DIR: t.dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_SIMULATED_CLOCK: 'on' }, cwd: t.dataDir });
    const again = await buildApp(config, { database: t.testDb.database, migrated: true, keyring: t.testDb.keyring });
    try {
      expect(again.deps.clock.now().getTime()).toBeGreaterThan(new Date(newest.occurred_at).getTime());
      expect((again.deps.clock as SimulatedClock).offset).toBeGreaterThan(86_400_000);
    } finally {
      await again.app.close();
    }
  });
});

/**
 * The simulation end to end: a real server on a free port (trusting X-Forwarded-For, with the
 * simulated clock and the detection engine), driven over HTTP by the same code as
 * `rampart simulate`.
 */
describe('rampart simulate against a running server', () => {
  let t: TestApp;
  let url: string;
  let token: string;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_SIMULATED_CLOCK: 'on', RAMPART_TRUST_PROXY: 'true', RAMPART_DETECTION: 'on' });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
    token = (await t.makeUser({ roles: ['admin'] })).token;
  });
  afterAll(async () => t?.close());

  it('detects and contains the fast attacks within the targets', { timeout: 180_000 }, async () => {
    const report = await runSimulation({ url, token, scenarios: ['scanner', 'credential-stuffing', 'honeytoken', 'privilege-escalation', 'account-takeover'], repeats: 1, normal: null });
    for (const summary of report.scenarios) {
      const run = summary.runs[0]!;
      expect(run, summary.scenario).toMatchObject({ detected: true, contained: true });
      expect(run.detectMs!, summary.scenario).toBeLessThan(5_000);
      expect(run.containMs!, summary.scenario).toBeLessThan(5_000);
    }
    expect(Object.fromEntries(report.scenarios.map((s) => [s.scenario, s.runs[0]!.containedBy]))).toMatchObject({
      scanner: 'request.address_blocked',
      'credential-stuffing': 'request.address_blocked',
      honeytoken: expect.stringMatching(/^auth\.(session_expired|account_locked)$/),
      'privilege-escalation': 'auth.mfa_required',
    });
    expect(report.scenarios.find((s) => s.scenario === 'honeytoken')!.runs[0]!.rule).toBe('honeytoken.touched');
    expect(report.passed).toBe(true);
    // The people the run made cannot sign in afterwards.
    const made = await t.deps.db.selectFrom('users').select(['status']).where('email', 'like', `sim-${report.runId}-%`).execute();
    expect(made.length).toBeGreaterThan(5);
    expect(made.every((u) => u.status === 'disabled')).toBe(true);
    // And its decoys are taken away again.
    expect((await t.call('GET', '/api/v1/honeytokens', { token })).json().items).toEqual([]);
  });

  it('catches the slow insider over simulated days, and leaves ordinary days alone', { timeout: 240_000 }, async () => {
    const report = await runSimulation({ url, token, scenarios: ['insider-exfiltration'], repeats: 1, normal: { users: 4, days: 2 } });
    const insider = report.scenarios[0]!.runs[0]!;
    expect(insider, insider.note ?? '').toMatchObject({ detected: true, rule: 'data.slow_exfiltration', contained: true });
    expect(report.normal!.userDays).toBe(8);
    expect(report.normal!.falseAlerts).toEqual([]);
    expect(report.normal!.interruptions).toBe(0);
    // Days went by on the server: its clock ran ahead of real time.
    expect(t.deps.clock.now().getTime() - Date.now()).toBeGreaterThan(4 * 86_400_000);
  });

  it('runs as `rampart simulate` and answers with the exit status of the verdicts', { timeout: 120_000 }, async () => {
    const ran = await runCli(['simulate', 'honeytoken', '--url', url, '--token-stdin', '--repeats', '2', '--json'], { input: `${token}\n` });
    expect(ran.code, ran.stderr).toBe(0);
    const report = JSON.parse(ran.stdout) as { passed: boolean; scenarios: { scenario: string; detected: number; contained: number; detectP95Ms: number }[] };
    expect(report.passed).toBe(true);
    expect(report.scenarios).toMatchObject([{ scenario: 'honeytoken', detected: 2, contained: 2 }]);
    expect(ran.stdout).not.toContain(token);

    const table = await runCli(['simulate', 'scanner', '--url', url, '--token', token, '--repeats', '1']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^scanner\s+1\/1\s+request\.probe/m);
    expect(table.stdout).toContain('PASS  every scenario is detected');

    const unknown = await runCli(['simulate', 'phishing', '--url', url, '--token', token]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('Unknown scenario phishing');
    const refused = await runCli(['simulate', 'scanner', '--url', url, '--token', 'rpt_not-a-real-token']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('The token was refused');
    expect((await runCli(['simulate', 'scanner', '--url', url])).code).toBe(1);
  });

  it('reports a miss, and no containment, when the attack goes unseen', { timeout: 60_000 }, async () => {
    type Rule = { key: string; enabled: boolean; severity: string; settings: Record<string, unknown>; automatic: string[]; suggested: string[]; version: number };
    const probeRule = async () => ((await t.call('GET', '/api/v1/detection/rules', { token })).json().items as Rule[]).find((r) => r.key === 'request.probe')!;
    const change = async (settings: Record<string, unknown>) => {
      const { severity, automatic, suggested, version, enabled } = await probeRule();
      const answer = await t.call('PUT', '/api/v1/detection/rules/request.probe', { token, body: { enabled, severity, settings, automatic, suggested, version } });
      expect(answer.statusCode, answer.body).toBe(200);
    };
    const shipped = (await probeRule()).settings;
    // Thresholds no scan of this size reaches: the rule stays on, and sees nothing.
    await change({ ...shipped, probes: 100_000, refusals: 100_000 });
    try {
      const report = await runSimulation({ url, token, scenarios: ['scanner'], repeats: 1, normal: null, waits: { detectMs: 2_000, containMs: 1_000 } });
      expect(report.scenarios[0]!.runs[0]).toMatchObject({ detected: false, detectMs: null, contained: false, containMs: null });
      expect(report.passed).toBe(false);
      expect(report.verdicts.map((v) => v.passed)).toEqual([false, false, false]);
      expect(report.verdicts[0]!.detail).toContain('missed: scanner');
    } finally {
      await change(shipped);
    }
  });
});
