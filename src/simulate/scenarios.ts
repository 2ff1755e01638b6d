import { randomBytes } from 'node:crypto';
import { totpCode } from '../modules/mfa/totp.js';
import { type Agent, type Answer, SimulationError } from './client.js';
import { nextWorkdayAt, type WorkingHours } from './clock.js';
import { ATTACK_BROWSERS, CORPUS_SOURCE, type SimUser, type Simulation } from './environment.js';
import { SCENARIOS, type ScenarioName } from './names.js';
import { AlertWatch, Detector, type Subject } from './watch.js';

export { SCENARIOS, type ScenarioName };

/** One run of a scenario: whether it was seen, how fast, and whether the attacker was stopped. */
export interface ScenarioResult {
  readonly scenario: ScenarioName;
  readonly detected: boolean;
  /** The rule whose alert showed the attack first. */
  readonly rule: string | null;
  readonly alertId: string | null;
  /** Wall-clock ms from the request that made the attack detectable to the alert being visible through the API. */
  readonly detectMs: number | null;
  readonly contained: boolean;
  /** Wall-clock ms from the alert being visible to the attacker's next request being refused. */
  readonly containMs: number | null;
  /** The refusal that showed containment (request.address_blocked, auth.session_expired…). */
  readonly containedBy: string | null;
  readonly note: string | null;
}

/** An attack, ready to go: the rules that should see it, who it concerns, the attack itself and the attacker's probe. */
interface Attack {
  readonly rules: readonly string[];
  readonly subject: Subject;
  /** Sends the attack; calls `detector.markDetectable()` at the request from which it is detectable. */
  run(detector: Detector): Promise<void>;
  /** The attacker's next ordinary request, refused once contained; null when they have none left to send. */
  probe(): Promise<Answer | null>;
  /** What to say when it ends, besides the figures. */
  note?: () => string | null;
}

/**
 * Runs an attack while watching the alerts; once the alert shows, the attacker's probe runs until
 * refused. An attack that never marks its detectable moment is measured from its end.
 */
async function measure(sim: Simulation, scenario: ScenarioName, attack: Attack): Promise<ScenarioResult> {
  const enabled = attack.rules.filter((key) => sim.rule(key)?.enabled !== false);
  if (enabled.length === 0) {
    return { scenario, detected: false, rule: null, alertId: null, detectMs: null, contained: false, containMs: null, containedBy: null, note: `rule ${attack.rules.join(', ')} is disabled` };
  }
  const detector = new Detector(new AlertWatch(sim.admin, enabled, () => attack.subject), () => attack.probe(), sim.waits.containMs);
  await detector.start();
  try {
    await attack.run(detector);
    detector.markDetectable();
    await detector.waitFor(sim.waits.detectMs);
  } finally {
    await detector.finish();
  }
  const t = detector.timeline;
  const early = t.detectedAt !== null && t.detectableAt !== null && t.detectedAt < t.detectableAt;
  const detectMs = t.detectedAt !== null && t.detectableAt !== null ? Math.max(0, t.detectedAt - t.detectableAt) : null;
  const notes = [attack.note?.() ?? null, early ? 'raised before the pattern was complete' : null].filter((n): n is string => n !== null);
  const containMs = t.containedAt !== null && t.detectedAt !== null ? Math.max(0, t.containedAt - t.detectedAt) : null;
  return {
    scenario,
    detected: t.alert !== null,
    rule: t.alert?.rule ?? null,
    alertId: t.alert?.id ?? null,
    detectMs,
    contained: detector.contained,
    containMs,
    containedBy: t.containedBy,
    note: notes.length > 0 ? notes.join('; ') : null,
  };
}

/** A request that anyone may make and that only a block refuses: the setup status. */
function anonymousProbe(agent: Agent): () => Promise<Answer> {
  return () => agent.get('/api/v1/setup');
}

/** An ordinary read with the attacker's session, while they still hold one. */
function sessionProbe(agent: Agent, path = '/api/v1/contacts?limit=1'): () => Promise<Answer | null> {
  return async () => (agent.signedIn ? agent.get(path) : null);
}

async function signInOrFail(agent: Agent, user: SimUser): Promise<Answer> {
  const answer = await agent.signIn(user.email, user.password);
  if (answer.status !== 200) throw new SimulationError(`A simulated sign-in answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}`);
  return answer;
}

/**
 * Reads contacts of the reading corpus a page at a time, as a list screen or a script would,
 * counting the distinct records seen.
 */
export class CorpusReader {
  private cursor: string | null = null;
  readonly seen = new Set<string>();

  constructor(private readonly agent: Agent) {}

  /**
   * Reads one page of `size`; answers how many records it had not seen yet, or -1 when refused.
   * After the last page it starts again from the first.
   */
  async page(size: number): Promise<number> {
    const query = `source=${CORPUS_SOURCE}&sort=createdAt&limit=${size}${this.cursor ? `&cursor=${encodeURIComponent(this.cursor)}` : ''}`;
    const answer = await this.agent.get(`/api/v1/contacts?${query}`);
    if (answer.status !== 200) return -1;
    const page = answer.body as { items: { id: string }[]; nextCursor: string | null };
    const before = this.seen.size;
    for (const item of page.items) this.seen.add(item.id);
    this.cursor = page.nextCursor;
    return this.seen.size - before;
  }
}

async function credentialStuffing(sim: Simulation): Promise<ScenarioResult> {
  const failures = sim.setting('auth.credential_stuffing', 'failures');
  const accounts = sim.setting('auth.credential_stuffing', 'accounts');
  // A few accounts on the list really exist; most of a leaked list does not.
  const team = await sim.team('sales');
  const real = [await sim.user('stuffed', ['sales'], { teamId: team }), await sim.user('stuffed', ['sales'], { teamId: team })];
  const attacker = sim.agent(sim.attackerAddress(), ATTACK_BROWSERS.script);
  const tag = randomBytes(3).toString('hex');
  const emails = [...real.map((u) => u.email)];
  const attempts = Math.max(failures, accounts) * 2;
  for (let i = emails.length; i < attempts; i++) emails.push(`leaked.${tag}.${i}@mail.example.org`);
  let sent = 0;
  return measure(sim, 'credential-stuffing', {
    rules: ['auth.credential_stuffing'],
    subject: { actorIds: [], addresses: [attacker.address] },
    async run(detector) {
      const tried = new Set<string>();
      for (const email of emails) {
        if (detector.detected) break;
        // The attempt that makes the count is the one from which the attack is detectable.
        if (sent + 1 >= failures && new Set([...tried, email]).size >= accounts) detector.markDetectable();
        const answer = await attacker.signIn(email, `Summer2024!${randomBytes(2).toString('hex')}`);
        sent += 1;
        tried.add(email);
        if (answer.code === 'request.address_blocked') break;
      }
    },
    probe: anonymousProbe(attacker),
    note: () => `${sent} sign-ins tried`,
  });
}

async function scanner(sim: Simulation): Promise<ScenarioResult> {
  const probes = sim.setting('request.probe', 'probes');
  const agent = sim.agent(sim.attackerAddress(), ATTACK_BROWSERS.scanner);
  // Probe paths as scanners send them, raw: fetch would resolve `..` segments, so they are encoded.
  const probePaths = [
    '/api/v1/contacts?q=%27%20OR%20%271%27%3D%271',
    '/.env',
    '/api/v1/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    '/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/wp-login.php',
    '/.git/config',
    '/api/v1/companies?name=1%27%3B%20DROP%20TABLE%20users--',
    '/phpmyadmin/index.php',
  ];
  let sent = 0;
  return measure(sim, 'scanner', {
    rules: ['request.probe'],
    subject: { actorIds: [], addresses: [agent.address] },
    async run(detector) {
      let probesSent = 0;
      for (const path of probePaths) {
        if (detector.detected) return;
        if (probesSent + 1 >= probes) detector.markDetectable();
        const answer = await agent.get(path);
        sent += 1;
        probesSent += 1;
        if (answer.code === 'request.address_blocked') return;
      }
      // Then a burst of missing pages, as a directory scanner makes.
      for (let i = 0; i < 60 && !detector.detected; i++) {
        const answer = await agent.get(`/api/v1/${randomBytes(4).toString('hex')}`);
        sent += 1;
        if (answer.code === 'request.address_blocked') return;
      }
    },
    probe: anonymousProbe(agent),
    note: () => `${sent} requests sent`,
  });
}

async function honeytoken(sim: Simulation): Promise<ScenarioResult> {
  const team = await sim.team('field');
  const colleague = await sim.user('colleague', ['sales'], { teamId: team });
  const thief = await sim.user('thief', ['sales'], { teamId: team });
  const decoy = (await sim.plantDecoys(colleague.id, 3))[0];
  if (!decoy) throw new SimulationError('Planting honeytokens answered no record');
  const agent = sim.agentOf(thief);
  await signInOrFail(agent, thief);
  // An ordinary look at the team's list first: nothing should happen yet.
  await agent.get(`/api/v1/contacts?limit=5&ownerId=${thief.id}`);
  return measure(sim, 'honeytoken', {
    rules: ['honeytoken.touched'],
    subject: { actorIds: [thief.id], addresses: [] },
    async run(detector) {
      detector.markDetectable();
      const answer = await agent.get(`/api/v1/contacts/${decoy}`);
      if (answer.status !== 200) throw new SimulationError(`Opening the decoy answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}`);
    },
    probe: sessionProbe(agent),
  });
}

async function accountTakeover(sim: Simulation): Promise<ScenarioResult> {
  const floor = sim.setting('data.read_spike', 'floor');
  const target = Math.ceil(floor * 1.5);
  await sim.ensureCorpus(target);
  const team = await sim.team('support');
  const victim = await sim.user('victim', ['support'], { teamId: team });
  // The victim's own ordinary day: their device and network become known.
  const own = sim.agentOf(victim);
  await signInOrFail(own, victim);
  const reader = new CorpusReader(own);
  await reader.page(10);
  await own.signOut();
  await sim.settle();

  const attacker = sim.agent(sim.attackerAddress(), ATTACK_BROWSERS.linux);
  const stolen = new CorpusReader(attacker);
  return measure(sim, 'account-takeover', {
    rules: ['auth.new_device', 'data.read_spike', 'session.hijack', 'auth.success_after_failures'],
    subject: { actorIds: [victim.id], addresses: [] },
    async run(detector) {
      detector.markDetectable();
      await signInOrFail(attacker, victim);
      // The mass read, as fast as the pages come, until refused or all is read.
      while (stolen.seen.size < target) {
        if ((await stolen.page(200)) <= 0) break;
      }
    },
    probe: sessionProbe(attacker),
    note: () => `${stolen.seen.size} records read by the attacker`,
  });
}

async function privilegeEscalation(sim: Simulation): Promise<ScenarioResult> {
  const role = await ensureHelpdeskRole(sim);
  const manager = await sim.user('helpdesk', [role]);
  const accomplice = await sim.user('accomplice', ['sales']);
  const agent = sim.agentOf(manager);
  // The helpdesk account signs in with its second factor, as its role requires.
  const first = await signInOrFail(agent, manager);
  const stage = (first.body as { stage: string }).stage;
  if (stage !== 'enrol') throw new SimulationError(`The helpdesk sign-in reached stage ${stage}, not enrol`);
  const factor = await agent.post('/api/v1/auth/mfa/totp', { label: 'phone', password: manager.password });
  if (factor.status !== 200) throw new SimulationError(`Setting up an authenticator answered ${factor.status}${factor.code ? ` ${factor.code}` : ''}`);
  const { factorId, secret } = factor.body as { factorId: string; secret: string };
  const serverNow = sim.simulatedClock ? await sim.clock.now() : new Date();
  const confirmed = await agent.post('/api/v1/auth/mfa/totp/confirm', { factorId, code: await totpCode(secret, Math.floor(serverNow.getTime() / 1000)) });
  if (confirmed.status !== 200) throw new SimulationError(`Confirming the authenticator answered ${confirmed.status}${confirmed.code ? ` ${confirmed.code}` : ''}`);

  let granted: Answer | null = null;
  const result = await measure(sim, 'privilege-escalation', {
    rules: ['access.privilege_escalation'],
    subject: { actorIds: [manager.id], addresses: [] },
    async run(detector) {
      detector.markDetectable();
      granted = await agent.patch(`/api/v1/users/${accomplice.id}`, { roles: ['admin'] });
      if (granted.status !== 200) throw new SimulationError(`Making the new administrator answered ${granted.status}${granted.code ? ` ${granted.code}` : ''}`);
    },
    probe: sessionProbe(agent, '/api/v1/users'),
  });
  // The new administrator is the simulation's own: it does not outlive the run.
  await sim.admin.send('POST', `/api/v1/users/${accomplice.id}/disable`);
  return result;
}

/** A custom role that manages users and nothing else, with a second factor, as a helpdesk has. */
async function ensureHelpdeskRole(sim: Simulation): Promise<string> {
  const id = 'simulation_helpdesk';
  const existing = await sim.admin.send('GET', `/api/v1/roles/${id}`);
  if (existing.status === 200) return id;
  await sim.admin.must('POST', '/api/v1/roles', {
    id,
    name: 'Simulation helpdesk',
    description: 'Made by rampart simulate: manages users, reads no customer data.',
    definition: { records: {}, permissions: ['users.manage', 'users.read'], mfaRequired: true },
  });
  return id;
}

/** The organisation's working hours as the off-hours rule has them, so simulated people keep them. */
export function workingHoursOf(sim: Simulation, at: Date): WorkingHours {
  const settings = sim.rule('data.off_hours')?.settings ?? {};
  const zone = typeof settings.timeZone === 'string' ? settings.timeZone : 'UTC';
  const start = typeof settings.startHour === 'number' ? settings.startHour : 7;
  const end = typeof settings.endHour === 'number' ? settings.endHour : 20;
  const days = Array.isArray(settings.workDays) ? (settings.workDays as number[]) : [1, 2, 3, 4, 5];
  // Office hours well inside the organisation's, so nobody's ordinary day looks like off hours.
  const startMinute = Math.max(start * 60 + 60, 8 * 60);
  const endMinute = Math.min(end * 60 - 60, 18 * 60);
  return { utcOffsetMinutes: utcOffsetMinutes(zone, at), startMinute, endMinute: Math.max(endMinute, startMinute + 4 * 60), days };
}

function utcOffsetMinutes(zone: string, at: Date): number {
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const match = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
    if (!match) return 0;
    return (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3] ?? 0));
  } catch {
    return 0;
  }
}

/**
 * Minutes between clock steps within a working day: under the default idle limit of a session
 * (30 minutes), so that one sign-in lasts the day as long as each step sees a request.
 */
export const STEP_MINUTES = 25;

/**
 * Plays one working day of one reader: signs in in the morning (of `day`, or of the next working
 * day), reads `perDay` distinct records in even portions over the day, keeps the session alive,
 * and signs out in the evening. Answers false when refused midway. `stop` ends the day early,
 * `beforeLeaving` runs before signing out.
 */
async function readingDay(
  sim: Simulation,
  agent: Agent,
  user: SimUser,
  hours: WorkingHours,
  perDay: number,
  options: { day?: Date; stop?: () => boolean; beforePage?: (reader: CorpusReader, size: number) => void; beforeLeaving?: () => Promise<void> } = {},
): Promise<boolean> {
  await sim.clock.advanceTo(options.day ?? nextWorkdayAt(await sim.clock.now(), hours, hours.startMinute + 5));
  await signInOrFail(agent, user);
  const reader = new CorpusReader(agent);
  const slots = Math.floor((hours.endMinute - hours.startMinute - 10) / STEP_MINUTES);
  for (let slot = 0; slot < slots; slot++) {
    if (options.stop?.()) return true;
    const goal = Math.round(((slot + 1) * perDay) / slots);
    while (reader.seen.size < goal) {
      const size = Math.min(200, goal - reader.seen.size);
      options.beforePage?.(reader, size);
      const fresh = await reader.page(size);
      if (fresh < 0) return false;
      if (fresh === 0) break;
    }
    // The web app asks after the session now and then, which keeps it from idling out.
    if ((await agent.get('/api/v1/auth/session')).status !== 200) return false;
    await sim.clock.advance(STEP_MINUTES * 60);
  }
  await options.beforeLeaving?.();
  if (options.stop?.()) return true;
  await agent.signOut();
  return true;
}

/** The mornings of `count` working days in a row with no day off between them, from the first such run after `after`. */
export function workdaysInARow(after: Date, hours: WorkingHours, count: number, minute: number): Date[] {
  let first = nextWorkdayAt(after, hours, minute);
  for (let tries = 0; tries < 14; tries++) {
    const run = [first];
    while (run.length < count) {
      const next = nextWorkdayAt(run[run.length - 1]!, hours, minute);
      if (next.getTime() - run[run.length - 1]!.getTime() !== 86_400_000) break;
      run.push(next);
    }
    if (run.length === count) return run;
    first = nextWorkdayAt(first, hours, minute);
  }
  throw new SimulationError(`The working hours have no ${count} working days in a row`);
}

async function insiderExfiltration(sim: Simulation): Promise<ScenarioResult> {
  if (!sim.simulatedClock) {
    return { scenario: 'insider-exfiltration', detected: false, rule: null, alertId: null, detectMs: null, contained: false, containMs: null, containedBy: null, note: 'needs RAMPART_SIMULATED_CLOCK=on' };
  }
  const dailyFloor = sim.setting('data.slow_exfiltration', 'dailyFloor');
  const factor = sim.setting('data.slow_exfiltration', 'factor');
  const days = sim.setting('data.slow_exfiltration', 'days');
  const history = sim.setting('data.slow_exfiltration', 'minHistoryDays');
  const hourlyFloor = sim.setting('data.read_spike', 'floor');
  const usual = 40;
  // The engine's bar: the floor, or the factor over the user's ordinary high (mean plus two deviations).
  const bar = Math.max(dailyFloor, factor * (usual + 10));
  const perDay = Math.ceil(bar * 1.2);
  await sim.ensureCorpus(perDay);
  const team = await sim.team('support');
  const insider = await sim.user('insider', ['support'], { teamId: team });
  const agent = sim.agentOf(insider);
  const hours = workingHoursOf(sim, await sim.clock.now());
  const slots = Math.floor((hours.endMinute - hours.startMinute - 10) / STEP_MINUTES);
  if ((perDay / slots) * (60 / STEP_MINUTES) >= hourlyFloor) throw new SimulationError('The working day is too short to read slowly under the hourly bar');

  // An ordinary baseline first: a few dozen customers looked up a day.
  for (let day = 0; day < history + 1; day++) {
    if (!(await readingDay(sim, agent, insider, hours, usual - 5 + ((day * 7) % 11)))) throw new SimulationError('The insider was refused during their ordinary days');
  }
  await sim.settle();

  // The theft runs over working days in a row, as the rule counts them; the last of them
  // completes the pattern once its reading passes the bar.
  const theftDays = workdaysInARow(await sim.clock.now(), hours, days, hours.startMinute + 5);
  let played = 0;
  return measure(sim, 'insider-exfiltration', {
    rules: ['data.slow_exfiltration', 'data.read_spike'],
    subject: { actorIds: [insider.id], addresses: [] },
    async run(detector) {
      for (const [index, day] of theftDays.entries()) {
        if (detector.detected) return;
        played = index + 1;
        const last = index === theftDays.length - 1;
        const ok = await readingDay(sim, agent, insider, hours, perDay, {
          day,
          stop: () => detector.detected,
          beforePage: (reader, size) => {
            if (last && reader.seen.size + size >= bar) detector.markDetectable();
          },
          // People do not leave the minute they stop reading: the day's traces reach the engine
          // while the session is still open.
          beforeLeaving: async () => {
            if (last) await detector.waitFor(3_000);
          },
        });
        if (!ok) return;
      }
    },
    probe: sessionProbe(agent),
    note: () => `${perDay} records a day for ${played} day(s) in a row after ${history + 1} ordinary days of ~${usual}`,
  });
}

export const SCENARIO_RUNNERS: Record<ScenarioName, (sim: Simulation) => Promise<ScenarioResult>> = {
  'credential-stuffing': credentialStuffing,
  'account-takeover': accountTakeover,
  'insider-exfiltration': insiderExfiltration,
  'privilege-escalation': privilegeEscalation,
  honeytoken,
  scanner,
};
