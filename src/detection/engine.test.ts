import { describe, expect, it } from 'vitest';
import { DetectionEngine, type Directory, type DirectoryRole, type Finding } from './engine.js';
import { detectionEvent, eventFromAudit, networkOf, type DetectionEvent } from './events.js';
import { defaultRules, validateSettings, ruleDefinition, RULES, RULE_KEYS, type ActiveRule } from './rules.js';
import { profileFromJson } from './profile.js';
import { IntMap, keyHash, SlidingCount, SlidingDistinct } from './windows.js';
import { OrganisationCalendar } from './calendar.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A Monday, 09:00 UTC. */
const MONDAY = Date.UTC(2026, 0, 5, 9, 0, 0);
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

const role = (r: Partial<DirectoryRole> = {}): DirectoryRole => ({ admin: false, exports: false, reveals: false, permissions: [], ...r });

function directory(users: Record<string, string[]>, honeytokens: string[] = [], disabled: Record<string, number> = {}): Directory {
  return {
    users: new Map(Object.entries(users).map(([id, roles]) => [id, { roles, disabledAt: disabled[id] ?? null }])),
    roles: new Map([
      ['admin', role({ admin: true, exports: true, reveals: true, permissions: ['users.manage', 'roles.manage'] })],
      ['sales', role()],
      ['exporter', role({ exports: true })],
      ['revealer', role({ reveals: true })],
    ]),
    honeytokens: new Set(honeytokens),
  };
}

let seq = 0;
const ev = (fields: Partial<DetectionEvent> & Pick<DetectionEvent, 'action' | 'at'>): DetectionEvent => detectionEvent({ seq: ++seq, ...fields });
const read = (user: string, at: number, ids: string[], action = 'record.read'): DetectionEvent => ev({ action, at, actorKind: 'user', actorId: user, sessionId: `s-${user}`, address: '10.0.0.5', recordType: 'contacts', recordIds: ids });
const failed = (at: number, account: string | null, address: string, reason = 'wrong password'): DetectionEvent =>
  ev({ action: 'auth.login_failed', at, actorKind: 'anonymous', actorId: account, address, outcome: 'failure', details: { reason } });
const login = (user: string, at: number, address = '10.0.0.5', agent = CHROME): DetectionEvent => ev({ action: 'auth.login', at, actorKind: 'user', actorId: user, sessionId: `s-${user}`, address, userAgent: agent });
const ids = (prefix: string, n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${from + i}`);

function fired(findings: Finding[], rule: string): Finding[] {
  return findings.filter((f) => f.rule === rule);
}

describe('sliding windows', () => {
  it('counts exactly within the span and forgets what is older', () => {
    const w = new SlidingCount(10 * MIN);
    w.add(0, 2);
    w.add(5 * MIN, 3);
    expect(w.count(9 * MIN)).toBe(5);
    expect(w.count(10 * MIN)).toBe(3);
    expect(w.count(16 * MIN)).toBe(0);
    for (let i = 0; i < 5000; i += 1) w.add(20 * MIN + i);
    expect(w.count(20 * MIN + 5000)).toBe(5000);
  });

  it('counts distinct keys, keeping a key seen again until its last sighting expires', () => {
    const w = new SlidingDistinct(10 * MIN);
    w.add(0, keyHash('a'));
    w.add(MIN, keyHash('b'));
    w.add(8 * MIN, keyHash('a'));
    expect(w.count(9 * MIN)).toBe(2);
    expect(w.count(12 * MIN)).toBe(1);
    expect(w.count(19 * MIN)).toBe(0);
  });

  it('keeps an integer map that answers what a Map would, through growth and deletions', () => {
    let state = 7;
    const random = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) & 0x3fffffff) % n;
    const map = new IntMap();
    const reference = new Map<number, number>();
    let sizeDiffered = 0;
    for (let i = 0; i < 50_000; i += 1) {
      // Keys that share low bits, as positions in a ring do, and a few that are large.
      const key = random(10) === 0 ? random(0x3fffffff) : random(2000) * 1024;
      if (random(3) === 0) {
        map.delete(key);
        reference.delete(key);
      } else {
        map.set(key, i);
        reference.set(key, i);
      }
      if (map.size !== reference.size) sizeDiffered += 1;
    }
    expect(sizeDiffered).toBe(0);
    for (const [key, value] of reference) expect(map.get(key)).toBe(value);
    const wrong = Array.from({ length: 2000 }, (_, k) => k * 1024).filter((key) => map.get(key) !== (reference.get(key) ?? -1));
    expect(wrong).toEqual([]);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get(1024)).toBe(-1);
  });

  it('tells local hours, weekdays and days in the organisation time zone', () => {
    const utc = new OrganisationCalendar('UTC').at(MONDAY);
    expect(utc).toEqual({ hour: 9, weekday: 1, day: Math.floor(MONDAY / DAY) });
    const shanghai = new OrganisationCalendar('Asia/Shanghai').at(Date.UTC(2026, 0, 5, 20, 30));
    expect(shanghai.hour).toBe(4);
    expect(shanghai.weekday).toBe(2);
    expect(shanghai.day).toBe(Math.floor(Date.UTC(2026, 0, 6) / DAY));
  });

  it('reduces addresses to their sign-in networks', () => {
    expect(networkOf('203.0.113.7')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:1:2::5')).toBe('2001:db8:1::/48');
    expect(networkOf('not an address')).toBeNull();
  });
});

describe('rule settings', () => {
  it('ships every rule key with a description, a severity and valid defaults', () => {
    expect(RULES.map((r) => r.key)).toEqual([...RULE_KEYS]);
    for (const rule of RULES) {
      expect(rule.description.length).toBeGreaterThan(10);
      expect(validateSettings(rule, rule.settings).problems).toEqual([]);
      expect(rule.automatic.some((k) => rule.suggested.includes(k))).toBe(false);
      // Lockdown stops everyone's work: never taken on a rule's own say by default.
      expect(rule.automatic).not.toContain('lockdown');
    }
  });

  it('refuses unknown settings and values out of bounds, naming each', () => {
    const def = ruleDefinition('data.read_spike')!;
    const { problems } = validateSettings(def, { floor: 1, factor: 'x', nonsense: true });
    expect(problems.map((p) => p.field).sort()).toEqual(['settings.factor', 'settings.floor', 'settings.nonsense']);
    const hours = validateSettings(ruleDefinition('data.off_hours')!, { startHour: 18, endHour: 9 });
    expect(hours.problems).toEqual([{ field: 'settings.endHour', message: 'must be after startHour' }]);
    expect(validateSettings(ruleDefinition('data.off_hours')!, { timeZone: 'Mars/Olympus' }).problems).toHaveLength(1);
    expect(validateSettings(ruleDefinition('data.off_hours')!, { timeZone: 'Asia/Shanghai', workDays: [5, 1, 1] }).settings.workDays).toEqual([1, 5]);
  });
});

describe('events', () => {
  it('reads record ids as stored, and ids that need escaping too', () => {
    const row = { seq: 1, occurred_at: '2026-01-05T09:00:00.000Z', actor_kind: 'user', actor_id: 'u1', session_id: null, source_address: '::ffff:10.0.0.1', user_agent: null, action: 'record.read', record_type: 'contacts', outcome: 'success', details: '{}' };
    expect(eventFromAudit({ ...row, record_ids: '["a","b"]' }).recordIds).toEqual(['a', 'b']);
    expect(eventFromAudit({ ...row, record_ids: '["a\\"b"]' }).recordIds).toEqual(['a"b']);
    expect(eventFromAudit({ ...row, record_ids: '[]' }).recordIds).toEqual([]);
    expect(eventFromAudit({ ...row, record_ids: 'garbage' }).recordIds).toEqual([]);
    expect(eventFromAudit({ ...row, record_ids: '[]' })).toMatchObject({ at: MONDAY, address: '10.0.0.1', seq: 1 });
  });

  it('hashes record ids straight from the stored text as it would hash the ids, and counts them', () => {
    const row = { seq: 1, occurred_at: '2026-01-05T09:00:00.000Z', actor_kind: 'user', actor_id: 'u1', session_id: null, source_address: null, user_agent: null, action: 'record.read', record_type: 'contacts', outcome: 'success', details: '{}' };
    const cases: [string, string[]][] = [
      ['["0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","x","été"]', ['0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 'x', 'été']],
      ['["a\\"b","c"]', ['a"b', 'c']],
      ['[]', []],
      ['garbage', []],
    ];
    for (const [text, expected] of cases) {
      const event = eventFromAudit({ ...row, record_ids: text });
      const out: number[] = [];
      expect(event.recordCount).toBe(expected.length);
      expect(event.hashRecords(out)).toBe(expected.length);
      expect(out.slice(0, expected.length)).toEqual(expected.map(keyHash));
      expect(event.recordIds).toEqual(expected);
    }
  });

  it('reads how a read reached its records from its details, and only the modes there are', () => {
    const row = { seq: 1, occurred_at: '2026-01-05T09:00:00.000Z', actor_kind: 'user', actor_id: 'u1', session_id: null, source_address: null, user_agent: null, action: 'record.read', record_ids: '["a"]', outcome: 'success' };
    expect(eventFromAudit({ ...row, details: '{"masked":["email"],"mode":"open","subjects":["s1"]}' }).mode).toBe('open');
    expect(eventFromAudit({ ...row, details: '{"mode":"list"}' }).mode).toBe('list');
    expect(eventFromAudit({ ...row, details: '{"mode":"somewhere"}' }).mode).toBeNull();
    expect(eventFromAudit({ ...row, details: '{}' }).mode).toBeNull();
    expect(eventFromAudit({ ...row, details: '{}', mode: 'duplicates' }).mode).toBe('duplicates');
    expect(eventFromAudit({ ...row, action: 'record.export', details: '{"mode":"export"}' }).mode).toBe('export');
    expect(eventFromAudit({ ...row, action: 'record.update', details: '{"mode":"open"}' }).mode).toBeNull();
    // Details are parsed when a rule asks for them, not before.
    expect(eventFromAudit({ ...row, action: 'auth.login_failed', details: '{"reason":"wrong password"}' }).details).toEqual({ reason: 'wrong password' });
    expect(eventFromAudit({ ...row, action: 'auth.login_failed', details: 'not json' }).details).toEqual({});
  });
});

describe('detection engine', () => {
  const withRule = (key: string, change: Partial<ActiveRule>): ActiveRule[] => defaultRules().map((r) => (r.key === key ? { ...r, ...change } : r));

  it('brute force: fires at the eighth failure against one account within the window, not the seventh', () => {
    const engine = new DetectionEngine();
    const seven = Array.from({ length: 7 }, (_, i) => failed(MONDAY + i * MIN, 'u1', '198.51.100.1'));
    expect(fired(engine.observeAll(seven), 'auth.brute_force')).toHaveLength(0);
    const eighth = engine.observeAll([failed(MONDAY + 8 * MIN, 'u1', '198.51.100.1')]);
    const [alert] = fired(eighth, 'auth.brute_force');
    expect(alert).toMatchObject({ subjectKey: 'auth.brute_force:user:u1', severity: 'medium', actorId: 'u1', automatic: ['notify'] });
    expect(alert!.auditSeqs.length).toBe(8);
    expect(alert!.figures).toMatchObject({ observed: 8, threshold: 8 });
    // Spread over more than the window, the same failures are only a user who forgets.
    const slow = new DetectionEngine();
    expect(fired(slow.observeAll(Array.from({ length: 20 }, (_, i) => failed(MONDAY + i * 31 * MIN, 'u2', '198.51.100.1'))), 'auth.brute_force')).toHaveLength(0);
  });

  it('credential stuffing: many accounts from one address, counting unknown accounts too', () => {
    const engine = new DetectionEngine();
    const attempts = Array.from({ length: 10 }, (_, i) => failed(MONDAY + i * 1000, i % 2 === 0 ? `acct-${i}` : null, '203.0.113.66', i % 2 === 0 ? 'wrong password' : 'unknown account'));
    const found = fired(engine.observeAll(attempts), 'auth.credential_stuffing');
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]).toMatchObject({ subjectKey: 'auth.credential_stuffing:address:203.0.113.66', sourceAddress: '203.0.113.66', actorId: null, automatic: ['notify', 'block_address'] });
    // Ten failures on one account from one address is brute force, not stuffing.
    const single = new DetectionEngine();
    expect(fired(single.observeAll(Array.from({ length: 10 }, (_, i) => failed(MONDAY + i * 1000, 'u1', '203.0.113.67'))), 'auth.credential_stuffing')).toHaveLength(0);
  });

  it('password spraying: one account from many addresses', () => {
    const engine = new DetectionEngine();
    const found = engine.observeAll(Array.from({ length: 5 }, (_, i) => failed(MONDAY + i * MIN, 'victim', `198.51.100.${10 + i}`)));
    expect(fired(found, 'auth.password_spraying')).toHaveLength(1);
    expect(fired(found, 'auth.brute_force')).toHaveLength(0);
  });

  it('success after failures: a sign-in after six failures, and none after two typos', () => {
    const engine = new DetectionEngine();
    engine.observeAll([failed(MONDAY, 'u1', '10.0.0.5'), failed(MONDAY + 10_000, 'u1', '10.0.0.5'), login('u1', MONDAY + 20_000)]);
    const typos = engine.observeAll([failed(MONDAY + HOUR, 'u1', '10.0.0.5'), failed(MONDAY + HOUR + 1000, 'u1', '10.0.0.5'), login('u1', MONDAY + HOUR + 2000)]);
    expect(fired(typos, 'auth.success_after_failures')).toHaveLength(0);
    const attack = [...Array.from({ length: 6 }, (_, i) => failed(MONDAY + 2 * HOUR + i * 1000, 'u1', '203.0.113.9')), ev({ action: 'auth.password_accepted', at: MONDAY + 2 * HOUR + 10_000, actorKind: 'user', actorId: 'u1', address: '203.0.113.9' })];
    const [alert] = fired(engine.observeAll(attack), 'auth.success_after_failures');
    expect(alert).toMatchObject({ severity: 'high', actorId: 'u1', automatic: ['notify', 'step_up'] });
    // Stuffing that found a password: the account itself never failed, the address failed against many.
    const stuffed = [...Array.from({ length: 10 }, (_, i) => failed(MONDAY + 3 * HOUR + i * 1000, `other-${i}`, '203.0.113.10')), login('lucky', MONDAY + 3 * HOUR + 20_000, '203.0.113.10')];
    expect(fired(engine.observeAll(stuffed), 'auth.success_after_failures')[0]).toMatchObject({ actorId: 'lucky' });
    // One office address where two people mistyped ten times between them is not that.
    const office = [...Array.from({ length: 10 }, (_, i) => failed(MONDAY + 4 * HOUR + i * 1000, i % 2 ? 'a1' : 'a2', '198.51.100.200')), login('a3', MONDAY + 4 * HOUR + 20_000, '198.51.100.200')];
    expect(fired(engine.observeAll(office), 'auth.success_after_failures')).toHaveLength(0);
  });

  it('new device: silent at the first sign-in ever and from known places; low and notify-only from a new device and network', () => {
    const engine = new DetectionEngine();
    expect(fired(engine.observeAll([login('u1', MONDAY)]), 'auth.new_device')).toHaveLength(0);
    expect(fired(engine.observeAll([login('u1', MONDAY + DAY)]), 'auth.new_device')).toHaveLength(0);
    // A new network alone (home, a hotel) is what the user's own notice is for.
    expect(fired(engine.observeAll([login('u1', MONDAY + 2 * DAY, '192.0.2.1')]), 'auth.new_device')).toHaveLength(0);
    const [alert] = fired(engine.observeAll([login('u1', MONDAY + 3 * DAY, '203.0.113.200', FIREFOX)]), 'auth.new_device');
    expect(alert).toMatchObject({ severity: 'low', automatic: ['notify'], figures: { newDevice: true, newNetwork: true } });
    const either = new DetectionEngine({ rules: withRule('auth.new_device', { settings: { require: 'either' } }) });
    either.observeAll([login('u2', MONDAY)]);
    expect(fired(either.observeAll([login('u2', MONDAY + DAY, '192.0.2.1')]), 'auth.new_device')).toHaveLength(1);
  });

  it('session hijack: a cookie that changed browsers', () => {
    const engine = new DetectionEngine();
    const found = engine.observeAll([ev({ action: 'auth.session_ended', at: MONDAY, actorKind: 'user', actorId: 'u1', sessionId: 'h', outcome: 'denied', recordIds: ['u1'], details: { reason: 'browser changed', from: 'Chrome', to: 'curl' } })]);
    expect(fired(found, 'session.hijack')[0]).toMatchObject({ actorId: 'u1', sessionId: 'h', severity: 'high', figures: { from: 'Chrome', to: 'curl' } });
    expect(engine.observeAll([ev({ action: 'auth.session_ended', at: MONDAY, actorKind: 'user', actorId: 'u1', details: { reason: 'signed out elsewhere' } })])).toHaveLength(0);
  });

  it('read spike: a floor for newcomers, the own baseline for busy users, and peers', () => {
    const engine = new DetectionEngine({ directory: directory({ u1: ['sales'], busy: ['sales'] }) });
    const pages = (user: string, start: number, count: number, from = 0): DetectionEvent[] => Array.from({ length: Math.ceil(count / 25) }, (_, i) => read(user, start + i * 10_000, ids(user, Math.min(25, count - i * 25), from + i * 25)));
    expect(fired(engine.observeAll(pages('u1', MONDAY, 475)), 'data.read_spike')).toHaveLength(0);
    // Reading the same records again is not reading more.
    expect(fired(engine.observeAll(pages('u1', MONDAY + 5 * MIN, 475)), 'data.read_spike')).toHaveLength(0);
    const spike = fired(engine.observeAll(pages('u1', MONDAY + 10 * MIN, 50, 1000)), 'data.read_spike');
    expect(spike.length).toBeGreaterThan(0);
    expect(spike[0]).toMatchObject({ severity: 'high', automatic: ['notify', 'step_up'], suggested: ['end_sessions', 'lock_account'] });
    expect(spike[0]!.figures).toMatchObject({ threshold: 500, observed: 500 });

    // A user who reads 400 records an hour every working hour learns a bar above the floor.
    const busy = new DetectionEngine({ directory: directory({ busy: ['sales'] }) });
    for (let day = 0; day < 3; day += 1) {
      for (let hour = 0; hour < 8; hour += 1) busy.observeAll(pages('busy', MONDAY + day * DAY + hour * HOUR, 400, day * 100_000 + hour * 1000));
    }
    expect(busy.profileOf('busy')!.hourlyReads.n).toBeGreaterThanOrEqual(8);
    expect(fired(busy.observeAll(pages('busy', MONDAY + 3 * DAY, 450, 900_000)), 'data.read_spike')).toHaveLength(0);
    const big = fired(busy.observeAll(pages('busy', MONDAY + 3 * DAY + 2 * HOUR, 1400, 950_000)), 'data.read_spike');
    expect(big.length).toBeGreaterThan(0);
    expect(Number(big[0]!.figures.threshold)).toBeGreaterThan(1000);
  });

  it('read spike: a newcomer is measured against busy peers of the same role', () => {
    const users = { a: ['sales'], b: ['sales'], c: ['sales'], newcomer: ['sales'] };
    const engine = new DetectionEngine({ directory: directory(users) });
    const pages = (user: string, start: number, count: number, from: number): DetectionEvent[] => Array.from({ length: Math.ceil(count / 25) }, (_, i) => read(user, start + i * 5000, ids(user, 25, from + i * 25)));
    for (const peer of ['a', 'b', 'c']) {
      for (let hour = 0; hour < 10; hour += 1) engine.observeAll(pages(peer, MONDAY + hour * HOUR, 250, hour * 1000));
    }
    engine.observeAll([read('a', MONDAY + 11 * HOUR, ['x'])]);
    expect(engine.peerBaselines().get('sales')!.hourlyReads).toBeGreaterThan(200);
    // 600 within the hour: double the floor, within three times the peers' bar.
    expect(fired(engine.observeAll(pages('newcomer', MONDAY + 12 * HOUR, 600, 0)), 'data.read_spike')).toHaveLength(0);
  });

  it('slow exfiltration: day after day far above the daily baseline, under the hourly floor', () => {
    const engine = new DetectionEngine({ directory: directory({ insider: ['sales'] }) });
    let n = 0;
    const day = (d: number, perHour: number): DetectionEvent[] =>
      Array.from({ length: 8 }, (_, h) => Array.from({ length: perHour / 25 }, (_, p) => read('insider', MONDAY + d * DAY + h * HOUR + p * 60_000, ids('r', 25, (n += 25))))).flat();
    for (let d = 0; d < 5; d += 1) expect(fired(engine.observeAll(day(d, 50)), 'data.slow_exfiltration')).toHaveLength(0);
    expect(fired(engine.observeAll(day(7, 250)), 'data.slow_exfiltration')).toHaveLength(0);
    const found = engine.observeAll(day(8, 250));
    expect(fired(found, 'data.read_spike')).toHaveLength(0);
    const [alert] = fired(found, 'data.slow_exfiltration');
    expect(alert).toMatchObject({ severity: 'high', figures: { days: 2 } });
  });

  it('bulk export: one big export, repeated exports, and the daily cap of the role', () => {
    const engine = new DetectionEngine({ directory: directory({ u1: ['exporter'], u2: ['exporter'] }) });
    const exportPages = (user: string, at: number, rows: number, from = 0) => Array.from({ length: Math.ceil(rows / 200) }, (_, i) => read(user, at + i * 100, ids(user, 200, from + i * 200), 'record.export'));
    expect(fired(engine.observeAll(exportPages('u1', MONDAY, 1800)), 'data.bulk_export')).toHaveLength(0);
    expect(fired(engine.observeAll(exportPages('u1', MONDAY + MIN, 200, 5000)), 'data.bulk_export')[0]!.figures).toMatchObject({ kind: 'bulk' });
    const done = (at: number) => ev({ action: 'export.completed', at, actorKind: 'user', actorId: 'u2', details: { rows: 10 } });
    expect(fired(engine.observeAll([1, 2, 3, 4].map((i) => done(MONDAY + i * MIN))), 'data.bulk_export')).toHaveLength(0);
    expect(fired(engine.observeAll([done(MONDAY + 5 * MIN)]), 'data.bulk_export')[0]!.figures).toMatchObject({ kind: 'repeated' });

    const capped = new DetectionEngine({ directory: directory({ u3: ['exporter'] }), rules: withRule('data.bulk_export', { settings: { ...ruleDefinition('data.bulk_export')!.settings, roleDailyCaps: { exporter: 500 } } }) });
    expect(fired(capped.observeAll(exportPages('u3', MONDAY, 400)), 'data.bulk_export')).toHaveLength(0);
    expect(fired(capped.observeAll(exportPages('u3', MONDAY + 3 * HOUR, 200, 1000)), 'data.bulk_export')[0]!.figures).toMatchObject({ kind: 'daily cap', threshold: 500 });
  });

  it('off hours: a night of reading raises it; the day and the evening do not, nor a user who works nights', () => {
    const engine = new DetectionEngine({ directory: directory({ day: ['sales'], night: ['sales'] }) });
    const night = MONDAY + 14 * HOUR; // 23:00, after the working hours of 06:00 to 22:00
    const batch = (user: string, at: number, n: number, from = 0) => Array.from({ length: n }, (_, i) => read(user, at + i * MIN, ids(user, 5, from + i * 5)));
    expect(fired(engine.observeAll(batch('day', MONDAY, 30)), 'data.off_hours')).toHaveLength(0);
    expect(fired(engine.observeAll(batch('day', night - 2 * HOUR, 30, 200)), 'data.off_hours')).toHaveLength(0);
    const [alert] = fired(engine.observeAll(batch('day', night, 20, 500)), 'data.off_hours');
    expect(alert).toMatchObject({ severity: 'medium', figures: { hour: 23 } });
    // Someone whose own pattern is the night shift.
    for (let d = 0; d < 6; d += 1) engine.observeAll(batch('night', MONDAY + d * DAY + 13 * HOUR, 6, d * 1000));
    expect(fired(engine.observeAll(batch('night', MONDAY + 7 * DAY + 14 * HOUR, 20, 9000)), 'data.off_hours')).toHaveLength(0);
  });

  it('reveal spike: many reveals within the hour', () => {
    const engine = new DetectionEngine({ directory: directory({ u1: ['revealer'] }) });
    const reveals = Array.from({ length: 20 }, (_, i) => ev({ action: 'record.reveal', at: MONDAY + i * MIN, actorKind: 'user', actorId: 'u1', recordType: 'contacts', recordIds: [`c${i}`] }));
    const found = fired(engine.observeAll(reveals), 'data.reveal_spike');
    expect(found).toHaveLength(1);
    expect(found[0]!.figures).toMatchObject({ observed: 20, threshold: 20 });
  });

  it('privilege escalation: a new administrator, export granted, a role widened by its holder', () => {
    const engine = new DetectionEngine({ directory: directory({ boss: ['admin'], u1: ['sales'], holder: ['custom'] }) });
    const change = (before: string[], after: string[]) => ev({ action: 'user.change_access', at: MONDAY, actorKind: 'user', actorId: 'boss', recordType: 'users', recordIds: ['u1'], details: { roles: [before, after] } });
    expect(fired(engine.observeAll([change(['sales'], ['sales', 'admin'])]), 'access.privilege_escalation')[0]).toMatchObject({ actorId: 'boss', figures: { kind: 'new admin', targetUserId: 'u1' } });
    expect(fired(engine.observeAll([change(['sales'], ['exporter'])]), 'access.privilege_escalation')[0]!.figures).toMatchObject({ kind: 'export or reveal granted' });
    expect(fired(engine.observeAll([change(['exporter'], ['sales'])]), 'access.privilege_escalation')).toHaveLength(0);
    const widen = ev({
      action: 'role.update',
      at: MONDAY,
      actorKind: 'user',
      actorId: 'holder',
      recordIds: ['custom'],
      details: { before: { records: { contacts: { actions: { read: 'own' } } }, permissions: [] }, after: { records: { contacts: { actions: { read: 'all' , update: 'own' } } }, permissions: ['tags.manage'] } },
    });
    expect(fired(engine.observeAll([widen]), 'access.privilege_escalation')[0]!.figures).toMatchObject({ kind: 'self grant' });
    // The operator at the server's console is not watched by this rule.
    expect(fired(engine.observeAll([{ ...change(['sales'], ['admin']), actorKind: 'cli' }]), 'access.privilege_escalation')).toHaveLength(0);
  });

  it('dormant account: active again after thirty days', () => {
    const engine = new DetectionEngine();
    engine.observeAll([login('u1', MONDAY)]);
    expect(fired(engine.observeAll([login('u1', MONDAY + 20 * DAY)]), 'account.dormant_active')).toHaveLength(0);
    const [alert] = fired(engine.observeAll([login('u1', MONDAY + 51 * DAY)]), 'account.dormant_active');
    expect(alert!.figures).toMatchObject({ observed: 31, threshold: 30 });
    engine.seedLastActive('u2', MONDAY - 60 * DAY);
    expect(fired(engine.observeAll([login('u2', MONDAY)]), 'account.dormant_active')).toHaveLength(1);
  });

  it('disabled activity: a disabled account or a revoked token acting', () => {
    const engine = new DetectionEngine();
    expect(fired(engine.observeAll([failed(MONDAY, 'u1', '10.0.0.1', 'account disabled')]), 'account.disabled_activity')).toHaveLength(1);
    engine.observeAll([ev({ action: 'token.revoke', at: MONDAY, actorKind: 'user', actorId: 'boss', recordIds: ['tok1'] })]);
    const use = ev({ action: 'record.read', at: MONDAY + MIN, actorKind: 'token', actorId: 'u2', sessionId: 'tok1', recordIds: ['c1'] });
    expect(fired(engine.observeAll([use]), 'account.disabled_activity')[0]!.figures).toMatchObject({ reason: 'revoked token' });
    engine.observeAll([ev({ action: 'user.disable', at: MONDAY + 2 * MIN, actorKind: 'user', actorId: 'boss', recordIds: ['u3'] })]);
    expect(fired(engine.observeAll([read('u3', MONDAY + 3 * MIN, ['c2'])]), 'account.disabled_activity')).toHaveLength(1);
    expect(fired(engine.observeAll([read('u4', MONDAY + 3 * MIN, ['c2'])]), 'account.disabled_activity')).toHaveLength(0);
  });

  it('disabled activity: a refused token that names its user and why', () => {
    const engine = new DetectionEngine();
    const refused = (at: number, actorId: string | null, reason?: string) =>
      ev({ action: 'auth.token_refused', at, actorKind: 'anonymous', actorId, outcome: 'failure', address: '203.0.113.9', details: reason ? { reason, tokenId: 'tok9' } : { alsoRefusedBefore: 0 } });
    const [revoked] = fired(engine.observeAll([refused(MONDAY, 'u1', 'token revoked')]), 'account.disabled_activity');
    expect(revoked).toMatchObject({ actorId: 'u1', subjectKey: 'account.disabled_activity:user:u1', figures: { reason: 'token revoked', tokenId: 'tok9' } });
    expect(fired(engine.observeAll([refused(MONDAY, 'u2', 'account disabled')]), 'account.disabled_activity')[0]!.summary).toContain('disabled');
    expect(fired(engine.observeAll([refused(MONDAY, 'u3', 'account locked')]), 'account.disabled_activity')[0]!.summary).toContain('locked');
    // An expired token is a forgotten script; a token nobody has names nobody.
    expect(engine.observeAll([refused(MONDAY, 'u4', 'token expired'), refused(MONDAY, null), refused(MONDAY, null, 'token revoked')])).toHaveLength(0);
  });

  it('token new address', () => {
    const engine = new DetectionEngine();
    const [alert] = engine.observeAll([ev({ action: 'token.new_address', at: MONDAY, actorKind: 'token', actorId: 'u1', sessionId: 'tok', recordIds: ['tok'], address: '203.0.113.5', details: { knownAddresses: 1 } })]);
    expect(alert).toMatchObject({ rule: 'token.new_address', severity: 'low', subjectKey: 'token.new_address:token:tok' });
  });

  it('honeytoken: a read says how it reached the decoy; a list, a search or a duplicate check of one record alone is no opening', () => {
    const engine = new DetectionEngine({ directory: directory({ u1: ['sales'] }, ['decoy']) });
    const as = (mode: string | null, at: number, recordIds: string[]) => ev({ action: 'record.read', at, actorKind: 'user', actorId: 'u1', recordType: 'contacts', recordIds, mode });
    expect(fired(engine.observeAll([as('list', MONDAY, ['decoy'])]), 'honeytoken.touched')).toHaveLength(0);
    expect(fired(engine.observeAll([as('duplicates', MONDAY + MIN, ['decoy'])]), 'honeytoken.touched')).toHaveLength(0);
    expect(fired(engine.observeAll([as('list', MONDAY + 2 * MIN, ['c1', 'decoy'])]), 'honeytoken.touched')).toHaveLength(0);
    const [opened] = fired(engine.observeAll([as('open', MONDAY + 3 * MIN, ['decoy'])]), 'honeytoken.touched');
    expect(opened).toMatchObject({ figures: { how: 'opened', recordId: 'decoy' } });
    // An entry from before reads said how: one record alone was opened.
    expect(fired(engine.observeAll([as(null, MONDAY + 4 * MIN, ['decoy'])]), 'honeytoken.touched')[0]).toMatchObject({ figures: { how: 'opened' } });
    expect(fired(engine.observeAll([as(null, MONDAY + 5 * MIN, ['c1', 'decoy'])]), 'honeytoken.touched')).toHaveLength(0);
    // The mode comes with the details as the audit log keeps them.
    const listed = ev({ action: 'record.read', at: MONDAY + 6 * MIN, actorKind: 'user', actorId: 'u1', recordIds: ['decoy'], details: { mode: 'list' } });
    expect(listed.mode).toBe('list');
    expect(fired(engine.observeAll([listed]), 'honeytoken.touched')).toHaveLength(0);
    // Bulk reads still count whatever the mode: a decoy among many records read is a dump.
    const dump = new DetectionEngine({ directory: directory({ u2: ['sales'] }, ['decoy']) });
    const pages = Array.from({ length: 5 }, (_, i) => ev({ action: 'record.read', at: MONDAY + i * 1000, actorKind: 'user', actorId: 'u2', mode: 'list', recordIds: i === 2 ? [...ids('d', 199, i * 200), 'decoy'] : ids('d', 200, i * 200) }));
    expect(fired(dump.observeAll(pages), 'honeytoken.touched')[0]?.figures).toMatchObject({ how: 'bulk read' });
  });

  it('honeytoken: opening, revealing or exporting a decoy, or reading it among many; not one list page', () => {
    const engine = new DetectionEngine({ directory: directory({ u1: ['sales'] }, ['decoy']) });
    const page = [...ids('c', 24), 'decoy'];
    expect(fired(engine.observeAll([read('u1', MONDAY, page)]), 'honeytoken.touched')).toHaveLength(0);
    expect(fired(engine.observeAll([read('u1', MONDAY + 20 * MIN, page), read('u1', MONDAY + 21 * MIN, page)]), 'honeytoken.touched')).toHaveLength(0);
    expect(fired(engine.observeAll([read('u1', MONDAY + HOUR, ['decoy'])]), 'honeytoken.touched')[0]).toMatchObject({ severity: 'critical', figures: { how: 'opened' }, automatic: ['notify', 'end_sessions', 'lock_account'] });
    expect(fired(engine.observeAll([read('u1', MONDAY + HOUR, ['decoy'], 'record.reveal')]), 'honeytoken.touched')[0]!.figures).toMatchObject({ how: 'revealed' });
    expect(fired(engine.observeAll([read('u1', MONDAY + HOUR, page, 'record.export')]), 'honeytoken.touched')[0]!.figures).toMatchObject({ how: 'exported' });
    const dump = new DetectionEngine({ directory: directory({ u2: ['sales'] }, ['decoy']) });
    const pages = Array.from({ length: 5 }, (_, i) => read('u2', MONDAY + i * 1000, i === 2 ? [...ids('d', 199, i * 200), 'decoy'] : ids('d', 200, i * 200)));
    const found = fired(dump.observeAll(pages), 'honeytoken.touched');
    expect(found.length).toBeGreaterThan(0);
    expect(found[0]!.figures).toMatchObject({ how: 'bulk read' });
  });

  it('probes: a few injection probes, or a burst of refusals, from one address', () => {
    const engine = new DetectionEngine();
    const probe = (at: number, repeats = 0) => detectionEvent({ source: 'request', requestEventId: `req-${at}`, action: 'request.probe', at, address: '198.51.100.99', status: 404, probe: 'sql', repeats });
    expect(fired(engine.observeAll([probe(MONDAY), probe(MONDAY + 1000)]), 'request.probe')).toHaveLength(0);
    const [alert] = fired(engine.observeAll([probe(MONDAY + 2000)]), 'request.probe');
    expect(alert).toMatchObject({ severity: 'high', subjectKey: 'request.probe:address:198.51.100.99', automatic: ['notify', 'block_address'], requestEventIds: [`req-${MONDAY}`, `req-${MONDAY + 1000}`, `req-${MONDAY + 2000}`] });
    const scan = new DetectionEngine();
    const refusals = detectionEvent({ source: 'request', requestEventId: 'r1', action: 'request.not_found', at: MONDAY, address: '198.51.100.98', status: 404, repeats: 39 });
    expect(fired(scan.observeAll([refusals]), 'request.probe')[0]!.figures).toMatchObject({ kind: 'refusals', observed: 40 });
  });

  it('probes: refusals and missing pages of signed-in people do not add up behind a shared address', () => {
    const engine = new DetectionEngine();
    const answer = (at: number, actorKind: string | null, action = 'request.not_found') =>
      detectionEvent({ source: 'request', requestEventId: `r-${at}`, action, at, address: '198.51.100.50', status: action === 'request.refused' ? 403 : 404, actorKind, actorId: actorKind ? 'u1' : null, repeats: 9 });
    const office = [...Array.from({ length: 3 }, (_, i) => answer(MONDAY + i * 1000, 'user')), ...Array.from({ length: 3 }, (_, i) => answer(MONDAY + 5000 + i * 1000, 'token', 'request.refused'))];
    expect(fired(engine.observeAll(office), 'request.probe')).toHaveLength(0);
    const strangers = Array.from({ length: 4 }, (_, i) => answer(MONDAY + 10_000 + i * 1000, null));
    const found = fired(engine.observeAll(strangers), 'request.probe');
    expect(found).toHaveLength(1);
    // Counted: the strangers' forty, not the office's sixty before them.
    expect(found[0]!.figures).toMatchObject({ kind: 'refusals', observed: 40 });
  });

  it('audit verification failure and integrity failures', () => {
    const engine = new DetectionEngine();
    expect(engine.observeAll([ev({ action: 'audit.verify', at: MONDAY, actorKind: 'cli', actorId: 'op', outcome: 'success' })])).toHaveLength(0);
    const [alert] = engine.observeAll([ev({ action: 'audit.verify', at: MONDAY, actorKind: 'cli', actorId: 'op', outcome: 'failure', details: { problems: 2 } })]);
    expect(alert).toMatchObject({ rule: 'audit.verification_failed', severity: 'critical', subjectKey: 'audit.verification_failed:audit', suggested: ['lockdown'] });
    expect(engine.observeAll([ev({ action: 'integrity.failure', at: MONDAY, actorKind: 'system', actorId: 'integrity-check', outcome: 'failure' })])[0]!.rule).toBe('audit.verification_failed');
  });

  it('mass delete: fifty deletions within ten minutes', () => {
    const engine = new DetectionEngine();
    const del = (i: number) => ev({ action: 'record.delete', at: MONDAY + i * 5000, actorKind: 'user', actorId: 'u1', recordIds: [`c${i}`] });
    expect(fired(engine.observeAll(Array.from({ length: 49 }, (_, i) => del(i))), 'data.mass_delete')).toHaveLength(0);
    expect(fired(engine.observeAll([del(49)]), 'data.mass_delete')).toHaveLength(1);
  });

  it('ignores its own actions and the responses it took', () => {
    const engine = new DetectionEngine();
    const own = ['alert.raised', 'response.block_address', 'detection.honeytokens_listed'].map((action) => ev({ action, at: MONDAY, actorKind: 'user', actorId: 'u1', recordIds: ids('x', 500) }));
    expect(engine.observeAll(own)).toHaveLength(0);
    expect(engine.events).toBe(0);
  });

  it('learns silently while warming up, and raises nothing then', () => {
    const engine = new DetectionEngine();
    const attempts = Array.from({ length: 9 }, (_, i) => failed(MONDAY + i * 1000, 'u1', '198.51.100.1'));
    expect(engine.observeAll(attempts, { silent: true })).toHaveLength(0);
    // The windows are warm: the next failure fires at once.
    expect(fired(engine.observeAll([failed(MONDAY + 10_000, 'u1', '198.51.100.1')]), 'auth.brute_force')).toHaveLength(1);
  });

  it('stores what it learned, and learns nothing twice from history replayed after a restart', () => {
    const history = Array.from({ length: 3 }, (_, day) => Array.from({ length: 10 }, (_, hour) => read('u1', MONDAY + day * DAY + hour * HOUR, ids('r', 25, hour * 100)))).flat();
    const first = new DetectionEngine();
    first.observeAll(history);
    first.observeAll([login('u1', MONDAY + 3 * DAY)]);
    const [id, stored] = first.takeDirtyProfiles()[0]!;
    expect(id).toBe('u1');
    expect(stored.hourlyReads.n).toBeGreaterThan(20);
    expect(stored.devices).toEqual(['Chrome on Windows']);
    expect(first.takeDirtyProfiles()).toEqual([]);

    const second = new DetectionEngine();
    second.loadProfiles([['u1', profileFromJson(JSON.stringify(stored))]]);
    second.observeAll(history, { silent: true });
    expect(second.profileOf('u1')).toEqual(stored);
    expect(profileFromJson('not json')).toEqual(profileFromJson('{}'));
  });

  it('a disabled rule raises nothing; a tolerance lifts the bar for its subject only', () => {
    const off = new DetectionEngine({ rules: withRule('auth.brute_force', { enabled: false }) });
    expect(fired(off.observeAll(Array.from({ length: 12 }, (_, i) => failed(MONDAY + i * 1000, 'u1', '198.51.100.1'))), 'auth.brute_force')).toHaveLength(0);
    const tuned = new DetectionEngine();
    tuned.setTolerances(new Map([['auth.brute_force:user:u1', 2]]));
    expect(fired(tuned.observeAll(Array.from({ length: 12 }, (_, i) => failed(MONDAY + i * 1000, 'u1', '198.51.100.1'))), 'auth.brute_force')).toHaveLength(0);
    expect(fired(tuned.observeAll(Array.from({ length: 8 }, (_, i) => failed(MONDAY + i * 1000, 'u2', '198.51.100.2'))), 'auth.brute_force')).toHaveLength(1);
  });
});

/**
 * Ordinary work for many simulated days: users sign in each working morning (now and then from
 * home or after a typo), page through lists, open records, reveal a few values, export now and
 * then, delete a few records; some stay late. The rules must stay nearly silent.
 */
describe('false alerts on ordinary work', () => {
  it('stays under one alert per hundred user-days', () => {
    let state = 12345;
    const random = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
      return state / 0x7fffffff;
    };
    const USERS = 60;
    const DAYS = 40;
    const roleOf = (u: number) => (u % 3 === 0 ? 'sales' : u % 3 === 1 ? 'exporter' : 'revealer');
    const users: Record<string, string[]> = {};
    for (let u = 0; u < USERS; u += 1) users[`u${u}`] = [roleOf(u)];
    const engine = new DetectionEngine({ directory: directory(users, ['decoy-1', 'decoy-2']) });
    const alerts: Finding[] = [];
    let workdays = 0;
    for (let d = 0; d < DAYS; d += 1) {
      const dayStart = MONDAY - 9 * HOUR + d * DAY;
      const weekday = new Date(dayStart).getUTCDay();
      if (weekday === 0 || weekday === 6) continue;
      const events: DetectionEvent[] = [];
      for (let u = 0; u < USERS; u += 1) {
        if (random() < 0.05) continue; // a day off
        workdays += 1;
        const id = `u${u}`;
        const home = `10.${u}.0.7`;
        const address = random() < 0.1 ? `192.0.2.${u}` : home;
        let t = dayStart + (8 + random()) * HOUR;
        if (random() < 0.05) events.push(failed(t - 60_000, id, address), failed(t - 30_000, id, address));
        events.push(login(id, t, address, u % 2 === 0 ? CHROME : FIREFOX));
        const end = dayStart + (random() < 0.1 ? 21 : 17.5) * HOUR;
        const heavy = u % 10 === 0;
        while (t < end) {
          t += (heavy ? 1 : 3) * MIN + random() * 4 * MIN;
          const r = random();
          const pool = 400 + u * 20;
          if (r < 0.45) {
            // A list page of the user's own customers, now and then with a decoy among them.
            const start = Math.floor(random() * pool);
            const page = Array.from({ length: 25 }, (_, i) => `${id}-c${(start + i) % pool}`);
            if (random() < 0.02) page[3] = 'decoy-1';
            events.push(read(id, t, page));
          } else if (r < 0.85) events.push(read(id, t, [`${id}-c${Math.floor(random() * pool)}`]));
          else if (r < 0.9 && roleOf(u) === 'revealer') events.push(read(id, t, [`${id}-c${Math.floor(random() * pool)}`], 'record.reveal'));
          else if (r >= 0.9 && r < 0.905 && roleOf(u) === 'exporter') {
            const rows = 50 + Math.floor(random() * 150);
            events.push(read(id, t, Array.from({ length: rows }, (_, i) => `${id}-c${i}`), 'record.export'));
            events.push(ev({ action: 'export.completed', at: t + 1000, actorKind: 'user', actorId: id, details: { rows } }));
          } else if (r < 0.92) events.push(ev({ action: 'record.delete', at: t, actorKind: 'user', actorId: id, recordIds: [`${id}-c${Math.floor(random() * pool)}`] }));
        }
      }
      events.sort((a, b) => a.at - b.at);
      alerts.push(...engine.observeAll(events));
    }
    const distinct = new Set(alerts.map((a) => `${a.subjectKey}@${Math.floor(a.at / DAY)}`));
    const seen = new Set<string>();
    const summary = alerts.filter((a) => !seen.has(a.rule) && seen.add(a.rule)).map((a) => `${a.subjectKey} ${JSON.stringify(a.figures)}`).join("\n");
    expect(workdays).toBeGreaterThan(1500);
    expect(distinct.size, summary).toBeLessThan(workdays / 100);
  });
});
