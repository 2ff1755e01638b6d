import { randomInt } from 'node:crypto';
import { type Agent, type Answer, CONTAINMENT_CODES, SimulationError } from './client.js';
import { nextWorkdayAt, type WorkingHours } from './clock.js';
import type { SimUser, Simulation } from './environment.js';
import { STEP_MINUTES, workingHoursOf } from './scenarios.js';
import { concerns, type AlertView, type Subject } from './watch.js';

export interface NormalOptions {
  readonly users: number;
  readonly days: number;
  /** How many people act at the same moment (requests in flight). */
  readonly concurrency?: number;
  readonly onDay?: (day: number, days: number) => void;
}

export interface NormalResult {
  readonly users: number;
  readonly days: number;
  readonly userDays: number;
  readonly requests: number;
  /** Alerts about the simulated people: every one is false, for they only did ordinary work. */
  readonly falseAlerts: readonly AlertView[];
  readonly perHundredUserDays: number;
  /** Alerts raised during the run about anyone else (other traffic on the instance). */
  readonly otherAlerts: number;
  /** Times an ordinary person was refused by a response to an alert and had to sign in again. */
  readonly interruptions: number;
  readonly realMs: number;
}

/** What a person does in a day, on average; each day varies around it. */
interface Habits {
  readonly kind: 'sales' | 'marketing';
  /** Records of their own they look at, and lists they open. */
  readonly opens: number;
  readonly lists: number;
  readonly updates: number;
  readonly creates: number;
  /** The chance of exporting their own leads on a given day (marketing). */
  readonly exportChance: number;
  /** Minutes after the office opens they arrive, and before it closes they leave. */
  readonly arrive: number;
  readonly leave: number;
  /** The chance of working from home on a given day, with the same laptop, for those who do. */
  readonly homeChance: number;
}

/** How often someone mistypes their password once before getting it right. */
const TYPO_CHANCE = 1 / 40;

interface Worker {
  readonly user: SimUser;
  /** The laptop at the office, and at home for those who sometimes work there; `agent` is today's. */
  readonly office: Agent;
  readonly home: Agent | null;
  agent: Agent;
  readonly habits: Habits;
  readonly own: { id: string; version: number }[];
  /** Times a response to an alert refused this person; and whether they gave up for the day. */
  interruptions: number;
  away: boolean;
  /** Today's plan: slot index → actions; arrival and leaving slot. */
  plan: { from: number; to: number; actions: Map<number, Action[]> };
}

type Action = 'list' | 'open' | 'update' | 'create' | 'export';

const around = (mean: number): number => Math.max(0, Math.round(mean * (0.6 + Math.random() * 0.8)));

export const NEEDS_CLOCK = 'Normal traffic spans days: start the server with RAMPART_SIMULATED_CLOCK=on';

export function checkNormalOptions(options: { users: number; days: number }): void {
  if (!Number.isInteger(options.users) || options.users < 1 || options.users > 500) throw new SimulationError('--users must be 1 to 500');
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 60) throw new SimulationError('--days must be 1 to 60');
}

/**
 * Many people working ordinary days: each signs in with their own laptop at the office (some days,
 * for some, at home), now and then after mistyping the password once, looks at their records,
 * updates and creates a few, exports their own leads now and then (within every cap), keeps the
 * session alive as the web app does, and signs out at the end of the day. Weekends are skipped.
 * Every alert about them is a false alarm.
 */
export async function simulateNormalTraffic(sim: Simulation, options: NormalOptions): Promise<NormalResult> {
  checkNormalOptions(options);
  if (!sim.simulatedClock) throw new SimulationError(NEEDS_CLOCK);
  const startedReal = performance.now();
  const sentBefore = sim.http.sent;
  const concurrency = options.concurrency ?? 4;

  const workers: Worker[] = [];
  const teams: string[] = [];
  for (let i = 0; i < options.users; i++) {
    if (i % 8 === 0) teams.push(await sim.team(`office ${teams.length + 1}`));
    const marketing = i % 5 === 4;
    const user = await sim.user(marketing ? 'marketing' : 'sales', [marketing ? 'marketing' : 'sales'], { teamId: teams[teams.length - 1]! });
    const office = sim.agentOf(user);
    // About a third also work from home now and then: the same laptop, another network.
    const home = i % 3 === 1 ? sim.agent(sim.workAddress(), user.userAgent) : null;
    workers.push({
      user,
      office,
      home,
      agent: office,
      habits: {
        kind: marketing ? 'marketing' : 'sales',
        opens: 6 + randomInt(15),
        lists: 2 + randomInt(5),
        updates: 1 + randomInt(4),
        creates: randomInt(3),
        exportChance: marketing ? 0.2 : 0,
        arrive: randomInt(60),
        leave: randomInt(60),
        homeChance: home ? 0.3 : 0,
      },
      own: [],
      interruptions: 0,
      away: false,
      plan: { from: 0, to: 0, actions: new Map() },
    });
  }
  await sim.settle();
  const subject: Subject = { actorIds: workers.map((w) => w.user.id), addresses: workers.flatMap((w) => [w.office.address, ...(w.home ? [w.home.address] : [])]) };
  const since = await sim.clock.now();

  for (let day = 0; day < options.days; day++) {
    options.onDay?.(day + 1, options.days);
    const hours = workingHoursOf(sim, await sim.clock.now());
    await workDay(sim, workers, hours, day === 0, concurrency);
  }
  await sim.settle();

  const alerts = await alertsSince(sim, since);
  const falseAlerts = alerts.filter((a) => concerns(a, subject));
  const userDays = options.users * options.days;
  return {
    users: options.users,
    days: options.days,
    userDays,
    requests: sim.http.sent - sentBefore,
    falseAlerts,
    perHundredUserDays: (falseAlerts.length * 100) / userDays,
    otherAlerts: alerts.length - falseAlerts.length,
    interruptions: workers.reduce((n, w) => n + w.interruptions, 0),
    realMs: performance.now() - startedReal,
  };
}

/** One working day for everyone, in steps of the simulated clock. */
async function workDay(sim: Simulation, workers: Worker[], hours: WorkingHours, first: boolean, concurrency: number): Promise<void> {
  const opening = nextWorkdayAt(await sim.clock.now(), hours, hours.startMinute);
  await sim.clock.advanceTo(opening);
  const slots = Math.floor((hours.endMinute - hours.startMinute) / STEP_MINUTES);
  for (const worker of workers) {
    worker.plan = planDay(worker, slots, first);
    worker.agent = worker.home && !first && Math.random() < worker.habits.homeChance ? worker.home : worker.office;
  }

  for (let slot = 0; slot <= slots; slot++) {
    await inParallel(workers, concurrency, async (worker) => {
      const { from, to, actions } = worker.plan;
      if (slot < from || slot > to || worker.away) return;
      if (slot === from && !(await signIn(worker))) return;
      const todo = actions.get(slot) ?? [];
      for (const action of todo) {
        if (!(await carryOn(worker, await act(worker, action)))) return;
      }
      if (slot === to) {
        await worker.agent.signOut();
        return;
      }
      // Without anything to do, the web app's periodic check keeps the session from idling out.
      if (todo.length === 0 && slot !== from) await carryOn(worker, await worker.agent.get('/api/v1/auth/session'));
    });
    if (slot < slots) await sim.clock.advance(STEP_MINUTES * 60);
  }
  for (const worker of workers) worker.away = false;
}

async function signIn(worker: Worker): Promise<boolean> {
  if (Math.random() < TYPO_CHANCE) await worker.agent.signIn(worker.user.email, worker.user.password.slice(0, -1));
  const answer = await worker.agent.signIn(worker.user.email, worker.user.password);
  if (answer.status === 200) return true;
  // Refused: a response to a false alert locked the account. They give up for the day.
  worker.interruptions += 1;
  worker.away = true;
  return false;
}

/**
 * Whether the person can go on after an answer. A session ended, a second factor asked again or
 * a lock is a response to a false alert: counted, and the person signs in again as anyone would.
 */
async function carryOn(worker: Worker, answer: Answer | null): Promise<boolean> {
  if (answer === null || answer.status < 400) return true;
  if (answer.code !== null && CONTAINMENT_CODES.has(answer.code)) {
    worker.interruptions += 1;
    return signIn(worker);
  }
  throw new SimulationError(`An ordinary request answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}`);
}

/** Spreads a day's actions over the hours the person is in. */
function planDay(worker: Worker, slots: number, first: boolean): Worker['plan'] {
  const h = worker.habits;
  const from = Math.min(slots - 4, Math.floor(h.arrive / STEP_MINUTES) + randomInt(2));
  const to = Math.max(from + 3, slots - Math.floor(h.leave / STEP_MINUTES) - randomInt(2));
  const actions = new Map<number, Action[]>();
  const add = (action: Action, times: number) => {
    for (let i = 0; i < times; i++) {
      const slot = from + randomInt(to - from + 1);
      actions.set(slot, [...(actions.get(slot) ?? []), action]);
    }
  };
  // Someone new fills in their book of customers on the first day.
  const creates = first ? 8 + randomInt(5) : around(h.creates);
  // Records are made before they are worked on: creation comes first in the day's first slot.
  if (creates > 0) actions.set(from, Array<Action>(creates).fill('create'));
  add('list', around(h.lists));
  add('open', around(h.opens));
  add('update', around(h.updates));
  if (Math.random() < h.exportChance) add('export', 1);
  return { from, to, actions };
}

async function act(worker: Worker, action: Action): Promise<Answer | null> {
  const { agent, user, own } = worker;
  const type = worker.habits.kind === 'marketing' ? 'leads' : 'contacts';
  const pick = () => own[randomInt(own.length)];
  switch (action) {
    case 'create': {
      const n = own.length + 1;
      const answer = await agent.post(`/api/v1/${type}`, {
        firstName: `Client${n}`,
        lastName: `Normal${user.id.slice(-6)}`,
        email: `client${n}.${user.id.slice(-8)}@customers.example.com`,
        ...(type === 'leads' ? { companyName: `Prospect ${n}`, source: 'webinar' } : { city: 'Shanghai', jobTitle: 'Buyer' }),
      });
      if (answer.status === 201) {
        const record = answer.body as { id: string; version: number };
        own.push({ id: record.id, version: record.version });
      }
      return answer;
    }
    case 'list':
      return agent.get(`/api/v1/${type}?ownerId=${user.id}&limit=25`);
    case 'open': {
      const record = pick();
      return record ? agent.get(`/api/v1/${type}/${record.id}`) : null;
    }
    case 'update': {
      const record = pick();
      if (!record) return null;
      const answer = await agent.patch(`/api/v1/${type}/${record.id}`, { version: record.version, jobTitle: ['Buyer', 'Purchasing lead', 'Head of procurement', 'Owner'][randomInt(4)] });
      if (answer.status === 200) record.version = (answer.body as { version: number }).version;
      return answer;
    }
    case 'export': {
      // Asked for with a reason, then downloaded once: the one way records leave in bulk.
      const asked = await agent.post('/api/v1/exports', { type, format: 'csv', reason: 'My own customers for the week', query: { ownerId: user.id } });
      if (asked.status !== 201 || (asked.body as { status: string }).status !== 'ready') return asked;
      return agent.get(`/api/v1/exports/${(asked.body as { id: string }).id}/download`);
    }
  }
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

/** Every alert raised at or after `since` (server time), newest first. */
export async function alertsSince(sim: Simulation, since: Date): Promise<AlertView[]> {
  const all: AlertView[] = [];
  let cursor: string | null = null;
  do {
    const page: { items: AlertView[]; nextCursor: string | null } = await sim.admin.must('GET', `/api/v1/alerts?since=${encodeURIComponent(since.toISOString())}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null && all.length < 10_000);
  return all;
}
