import { randomBytes, randomInt } from 'node:crypto';
import { defaultRules } from '../detection/rules.js';
import { Admin, Agent, Http, SimulationError, pause } from './client.js';
import { ServerClock } from './clock.js';

/** A user the simulation made, with the password only it knows. */
export interface SimUser {
  readonly id: string;
  readonly email: string;
  readonly password: string;
  readonly roles: readonly string[];
  readonly teamId: string | null;
  /** Where the person usually works from, and with what browser. */
  readonly address: string;
  readonly userAgent: string;
}

/** A detection rule as the instance runs it (GET /api/v1/detection/rules). */
export interface RuleView {
  readonly key: string;
  readonly enabled: boolean;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly automatic: readonly string[];
}

/** Browsers people use at work; each simulated person keeps one. */
const WORK_BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
];

/** What attackers' tools and machines announce themselves as. */
export const ATTACK_BROWSERS = {
  script: 'python-requests/2.31.0',
  linux: 'Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0',
  scanner: 'sqlmap/1.8.4#stable (https://sqlmap.org)',
};

/**
 * Contacts the simulation keeps for the reading scenarios, found by their source without counting
 * them. They are imported in chunks; the last row of each names its chunk in its city, so finding
 * it means the whole chunk went in.
 */
export const CORPUS_SOURCE = 'simulation-corpus';
const CORPUS_CHUNK = 1000;

/** The longest wait for the engine to catch up between phases. */
const SETTLE_MS = 10_000;
/** Simulated days a run of `simulate all` with its defaults takes (about 40), with room to spare. */
const TOKEN_DAYS_WANTED = 60;

/**
 * A simulation run against one instance: the administrator's token, the instance's clock and
 * rules, and the users, teams and addresses the run made. Every name carries the run's id, so
 * runs never collide and their traces are easy to find afterwards.
 */
export class Simulation {
  readonly runId = randomBytes(3).toString('hex');
  readonly clock: ServerClock;
  private readonly teams = new Map<string, string>();
  private readonly usedAddresses = new Set<string>();
  private rules = new Map<string, RuleView>();
  private userCount = 0;
  private readonly madeUsers: string[] = [];
  private readonly decoys: string[] = [];
  simulatedClock = false;
  /** How long to wait for an alert once an attack is over, and for containment once the alert shows. */
  waits = { detectMs: 20_000, containMs: 15_000 };

  private constructor(
    readonly http: Http,
    readonly admin: Admin,
    readonly log: (line: string) => void,
  ) {
    this.clock = new ServerClock(admin);
  }

  /** Checks the token can do what the simulation needs, and reads the rules in force. */
  static async connect(url: string, token: string, log: (line: string) => void = () => {}): Promise<Simulation> {
    const http = new Http(url);
    const admin = new Admin(http, token);
    const sim = new Simulation(http, admin, log);
    const probe = await admin.send('GET', '/api/v1/alerts?limit=1');
    if (probe.status === 401) throw new SimulationError('The token was refused (auth.unauthenticated): create one with `rampart token create --user ADMIN --name simulate`');
    if (probe.status === 403) throw new SimulationError('The token may not read alerts: it must belong to a user holding alerts.handle and users.manage (an administrator)');
    if (probe.status === 404) throw new SimulationError('This instance has no alerts API; it predates breach detection');
    if (probe.status !== 200) throw new SimulationError(`GET /api/v1/alerts answered ${probe.status}${probe.code ? ` ${probe.code}` : ''}`);
    await sim.requireTrustedForwarding();
    sim.simulatedClock = await sim.clock.available();
    await sim.readRules();
    if (sim.simulatedClock) await sim.warnOfExpiry(token);
    return sim;
  }

  /**
   * Attackers play their addresses through X-Forwarded-For. An instance that ignores it sees every
   * one of them at this machine's own address, and would block it: the simulation, and whoever
   * else works from here, would be locked out.
   */
  private async requireTrustedForwarding(): Promise<void> {
    const answer = await this.admin.send('GET', '/api/v1/settings');
    if (answer.status !== 200) return;
    const groups = (answer.body as { groups: { settings: { id: string; value: unknown }[] }[] }).groups;
    const trusted = groups.flatMap((g) => g.settings).find((setting) => setting.id === 'trustProxy')?.value;
    if (trusted === false) {
      throw new SimulationError(
        "The instance does not trust X-Forwarded-For: every simulated attacker would come from this machine's own address, and blocking it would lock the simulation out. Start the rehearsal instance with RAMPART_TRUST_PROXY=true",
      );
    }
  }

  /**
   * Each run moves the clock weeks ahead, while a token made on the command line counts its
   * lifetime from real time: say so before the token runs out in the middle of a run.
   */
  private async warnOfExpiry(token: string): Promise<void> {
    const answer = await this.admin.send('GET', '/api/v1/tokens');
    if (answer.status !== 200) return;
    const own = (answer.body as { items: { prefix: string; expiresAt: string }[] }).items.find((t) => token.startsWith(t.prefix));
    if (!own) return;
    const days = (new Date(own.expiresAt).getTime() - (await this.clock.now()).getTime()) / 86_400_000;
    if (days < TOKEN_DAYS_WANTED) {
      this.log(`Warning: the token expires in ${Math.max(0, Math.floor(days))} days of the server's simulated time, and a run of simulate all moves the clock about six weeks; make one with --expires 366d.`);
    }
  }

  async readRules(): Promise<void> {
    const answer = await this.admin.send('GET', '/api/v1/detection/rules');
    const items: RuleView[] =
      answer.status === 200
        ? (answer.body as { items: RuleView[] }).items
        : defaultRules().map((r) => ({ key: r.key, enabled: r.enabled, settings: r.settings, automatic: r.automatic }));
    this.rules = new Map(items.map((r) => [r.key, r]));
  }

  rule(key: string): RuleView | undefined {
    return this.rules.get(key);
  }

  /** A numeric setting of a rule as the instance runs it, or the shipped default. */
  setting(key: string, name: string): number {
    const value = this.rules.get(key)?.settings[name] ?? defaultRules().find((r) => r.key === key)?.settings[name];
    if (typeof value !== 'number') throw new SimulationError(`Rule ${key} has no numeric setting ${name}`);
    return value;
  }

  /** A team for this run's people of one kind. */
  async team(kind: string): Promise<string> {
    const known = this.teams.get(kind);
    if (known) return known;
    const team = await this.admin.must<{ id: string }>('POST', '/api/v1/teams', { name: `Simulation ${this.runId} ${kind}` });
    this.teams.set(kind, team.id);
    return team.id;
  }

  /** An address no one in this run has used: attackers come from the benchmarking range 198.18.0.0/15. */
  attackerAddress(): string {
    return this.freshAddress(() => `198.${18 + randomInt(2)}.${randomInt(256)}.${1 + randomInt(254)}`);
  }

  /** An office or home address for an ordinary user (private ranges, as behind a company's gateway). */
  workAddress(): string {
    return this.freshAddress(() => `10.${randomInt(256)}.${randomInt(256)}.${1 + randomInt(254)}`);
  }

  private freshAddress(make: () => string): string {
    for (;;) {
      const address = make();
      if (!this.usedAddresses.has(address)) {
        this.usedAddresses.add(address);
        return address;
      }
    }
  }

  /** An anonymous browser at an address. */
  agent(address: string, userAgent: string): Agent {
    return new Agent(this.http, address, userAgent);
  }

  /** The browser a user works with, at their usual address. */
  agentOf(user: SimUser): Agent {
    return new Agent(this.http, user.address, user.userAgent);
  }

  /** Creates a user through POST /api/v1/users with a long random password. */
  async user(label: string, roles: readonly string[], options: { teamId?: string | null; address?: string; userAgent?: string } = {}): Promise<SimUser> {
    this.userCount += 1;
    const email = `sim-${this.runId}-${label}-${this.userCount}@simulation.example.com`;
    const password = `${randomBytes(18).toString('base64url')}-${randomInt(1000, 9999)}`;
    const created = await this.admin.must<{ id: string }>('POST', '/api/v1/users', {
      email,
      name: `Simulated ${label} ${this.userCount}`,
      password,
      roles,
      teamId: options.teamId ?? null,
    });
    this.madeUsers.push(created.id);
    return {
      id: created.id,
      email,
      password,
      roles,
      teamId: options.teamId ?? null,
      address: options.address ?? this.workAddress(),
      userAgent: options.userAgent ?? WORK_BROWSERS[randomInt(WORK_BROWSERS.length)]!,
    };
  }

  /** Plants decoy contacts owned by `ownerId`; they are taken away again by `cleanUp`. */
  async plantDecoys(ownerId: string, count: number): Promise<string[]> {
    const planted = await this.admin.must<{ items: { recordId: string }[] }>('POST', '/api/v1/honeytokens', { recordType: 'contacts', count, ownerId });
    const ids = planted.items.map((item) => item.recordId);
    this.decoys.push(...ids);
    return ids;
  }

  /**
   * Undoes what the run left behind: its decoys are taken away and its users disabled, so that
   * nobody signs in with a simulated account afterwards. Alerts, blocks and audit entries stay,
   * as the record of the rehearsal.
   */
  async cleanUp(): Promise<void> {
    for (const id of this.decoys.splice(0)) await this.admin.send('DELETE', `/api/v1/honeytokens/${id}`).catch(() => undefined);
    for (const id of this.madeUsers.splice(0)) await this.admin.send('POST', `/api/v1/users/${id}/disable`).catch(() => undefined);
  }

  /** How many contacts of the reading corpus are known to exist. */
  corpusSize = 0;

  /** Makes sure the reading corpus holds at least `size` contacts, importing the chunks that are missing. */
  async ensureCorpus(size: number): Promise<void> {
    const chunks = Math.ceil(size / CORPUS_CHUNK);
    for (let chunk = 1; chunk <= chunks; chunk++) {
      const marker = `Simcity-end-${chunk}`;
      const found = await this.admin.must<{ items: unknown[] }>('GET', `/api/v1/contacts?source=${CORPUS_SOURCE}&city=${marker}&limit=1`);
      if (found.items.length === 0) {
        this.log(`Importing ${CORPUS_CHUNK} contacts for the reading scenarios…`);
        const lines = ['firstName,lastName,email,city,source'];
        const tag = randomBytes(3).toString('hex');
        for (let i = 0; i < CORPUS_CHUNK; i++) {
          lines.push(`Sample${i},Corpus${tag},corpus.${tag}.${i}@simulation.example.com,${i === CORPUS_CHUNK - 1 ? marker : 'Simcity'},${CORPUS_SOURCE}`);
        }
        const answer = await this.admin.upload('/api/v1/imports/contacts', `${lines.join('\n')}\n`);
        if (answer.status !== 200) throw new SimulationError(`Importing the reading corpus answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}`);
        const finished = String(answer.body).split('\n').find((l) => l.includes('"finished"'));
        const imported = finished ? (JSON.parse(finished) as { imported: number }).imported : 0;
        if (imported !== CORPUS_CHUNK) throw new SimulationError(`Importing the reading corpus wrote ${imported} of ${CORPUS_CHUNK} contacts`);
      }
      this.corpusSize = Math.max(this.corpusSize, chunk * CORPUS_CHUNK);
    }
  }

  /**
   * Waits until the engine has read everything written so far (GET /api/v1/detection/status), so
   * that what one phase did is not counted in the next.
   */
  async settle(maxMs = SETTLE_MS): Promise<void> {
    const deadline = performance.now() + maxMs;
    while (performance.now() < deadline) {
      const answer = await this.admin.send('GET', '/api/v1/detection/status');
      if (answer.status !== 200) return;
      const status = answer.body as { lagEntries?: number };
      if ((status.lagEntries ?? 0) === 0) return;
      await pause(100);
    }
  }
}
