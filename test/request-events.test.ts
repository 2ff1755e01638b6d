import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import type { RequestEventsTable } from '../src/db/schema.js';
import { EVENTS_PER_ADDRESS_PER_SECOND, EVENTS_PER_SECOND, probeClassOf, pruneRequestEvents } from '../src/http/request-events.js';
import { liftLockdown, startLockdown } from '../src/modules/detection/containment.service.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';

const clock = { at: Date.UTC(2026, 11, 3, 10, 0, 0), now: () => new Date(clock.at) };

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('probe patterns', () => {
  it.each([
    ["/api/v1/contacts?q=' OR 1=1 --", 'sql'],
    ['/api/v1/contacts?q=1%20UNION%20SELECT%20password_hash%20FROM%20users', 'sql'],
    ["/api/v1/contacts?q=x'%3Bdrop table users", 'sql'],
    ['/api/v1/contacts?id=1 AND SLEEP(5)', 'sql'],
    ['/api/v1/contacts?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E', 'script'],
    ['/search?q=<img src=x onerror=alert(1)>', 'script'],
    ['/api/v1/contacts?next=javascript:alert(document.cookie)', 'script'],
    ['/assets/..%2f..%2f..%2fetc%2fpasswd', 'traversal'],
    ['/download?file=../../../../etc/shadow', 'traversal'],
    ['/api/v1/contacts?f=%252e%252e%252fwin.ini', 'traversal'],
    ['/.env', 'scanner'],
    ['/.git/config', 'scanner'],
    ['/wp-admin/setup-config.php', 'scanner'],
    ['/wp-login.php', 'scanner'],
    ['/phpmyadmin/index.php', 'scanner'],
    ['/cgi-bin/luci', 'scanner'],
    ['/backup.sql', 'scanner'],
  ])('%s is a %s probe', (url, kind) => {
    expect(probeClassOf(url, 'Mozilla/5.0')).toBe(kind);
  });

  it('knows scanners by their User-Agent', () => {
    expect(probeClassOf('/', 'sqlmap/1.8#stable (https://sqlmap.org)')).toBe('scanner');
    expect(probeClassOf('/api/v1/contacts', 'Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))')).toBe('scanner');
  });

  it.each([
    "/api/v1/contacts?q=O'Brien",
    '/api/v1/contacts?q=Smith%20%26%20Sons&sort=-updatedAt',
    "/api/v1/companies?q=rock'n'roll%20records",
    '/api/v1/contacts?email=ana%40example.com&limit=50',
    '/api/v1/contacts/0190f5a4-8b2c-7d3e-9f10-123456789abc',
    '/api/v1/deals?q=and%20or%20select%20from',
    '/assets/index-4f2a9c.js',
    '/security/alerts/0190f5a4-8b2c-7d3e-9f10-123456789abc',
    '/api/v1/contacts?q=%E5%BC%A0%E4%BC%9F',
    '/api/v1/tickets?q=price%20%3E%20100',
  ])('%s is ordinary', (url) => {
    expect(probeClassOf(url, 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0')).toBeNull();
  });
});

describe(`request events on ${testDialect}`, () => {
  let t: TestApp;
  let token: string;
  let sellerToken: string;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '3' }, { clock });
    ({ token } = await t.makeUser({ roles: ['admin'] }));
    ({ token: sellerToken } = await t.makeUser({ roles: ['sales'] }));
  });
  afterAll(async () => t.close());

  const from = (address: string, url: string, options: { token?: string; method?: string; agent?: string; body?: unknown } = {}) =>
    t.app.inject({
      method: (options.method ?? 'GET') as 'GET',
      url,
      remoteAddress: address,
      headers: { 'user-agent': options.agent ?? 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
      ...(options.body !== undefined ? { payload: options.body as object } : {}),
    });
  const eventsOf = (address: string) => t.deps.db.selectFrom('request_events').selectAll().where('source_address', '=', address).orderBy('id').execute();
  const settled = (address: string, count: number) => eventually(() => eventsOf(address), (rows) => rows.reduce((n, r) => n + 1 + r.repeats, 0) >= count);

  it('records probes, refusals, missing addresses and rate limits, and nothing for ordinary answers', async () => {
    const address = '203.0.113.10';
    clock.at += 10_000;
    expect((await from(address, '/api/v1/contacts', { token })).statusCode).toBe(200);
    expect((await from(address, '/api/v1/contacts?q=Smith', { token })).statusCode).toBe(200);
    expect((await from(address, '/api/v1/contacts?email=ana%40example.com', { token })).statusCode).toBe(200);
    clock.at += 1000;
    expect((await from(address, "/api/v1/contacts?q=ana%40example.com' OR 1=1 --", { token })).statusCode).toBe(200);
    // The web app answers any other path with its page; a probe is recorded whatever the answer.
    const envStatus = (await from(address, '/.env')).statusCode;
    clock.at += 1000;
    expect((await from(address, '/api/v1/contacts')).statusCode).toBe(401);
    expect((await from(address, '/api/v1/no-such-thing?token=abc', { token })).statusCode).toBe(404);
    expect((await from(address, '/api/v1/users', { token: sellerToken })).statusCode).toBe(403);
    const rows = await settled(address, 5);
    expect(rows.map((r) => [r.kind, r.status, r.probe, r.method, r.path])).toEqual([
      ['probe', 200, 'sql', 'GET', '/api/v1/contacts'],
      ['probe', envStatus, 'scanner', 'GET', '/.env'],
      ['refused', 401, null, 'GET', '/api/v1/contacts'],
      // A path no route knows keeps only its first segment.
      ['not_found', 404, null, 'GET', '/api'],
      ['refused', 403, null, 'GET', '/api/v1/users'],
    ]);
    expect(rows.every((r) => r.repeats === 0)).toBe(true);
    // Who was refused is kept when they were known.
    expect(rows[4]).toMatchObject({ actor_kind: 'token' });
    expect(rows[4]!.actor_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(rows[0]!.occurred_at).toBe(new Date(clock.at - 1000).toISOString());
    // No query string, and so nothing of what was searched for, is ever stored.
    const stored = JSON.stringify(rows);
    for (const secret of ['ana', 'example.com', 'OR 1=1', 'Smith', 'token=abc', '?']) expect(stored).not.toContain(secret);

    const limited = '203.0.113.11';
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) answers.push((await from(limited, '/api/v1/auth/login', { method: 'POST', body: { email: `nobody${i}@example.com`, password: 'wrong password here' } })).statusCode);
    expect(answers).toEqual([401, 401, 401, 429, 429]);
    clock.at += 1000;
    const limits = await settled(limited, 5);
    expect(limits.map((r) => r.kind)).toContain('rate_limited');
  });

  it('stores a few events per address and second and counts the rest, without losing any', async () => {
    const noisy = '198.51.100.40';
    const quiet = '198.51.100.41';
    clock.at += 5000;
    for (let i = 0; i < 20; i++) await from(noisy, `/wp-admin/${i}.php`);
    // Another address has its own allowance.
    await from(quiet, '/.git/config');
    expect((await eventually(() => eventsOf(noisy), (rows) => rows.length >= EVENTS_PER_ADDRESS_PER_SECOND)).length).toBe(EVENTS_PER_ADDRESS_PER_SECOND);
    expect((await eventually(() => eventsOf(quiet), (rows) => rows.length >= 1)).length).toBe(1);
    // The rest waits for its second to end, whatever the batches written meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await eventsOf(noisy)).length).toBe(EVENTS_PER_ADDRESS_PER_SECOND);
    expect((await eventsOf(noisy)).map((r) => r.path)).toEqual(['/wp-admin', '/wp-admin', '/wp-admin']);

    // Once the second is over, what was only counted goes out with the last of those requests.
    clock.at += 1000;
    const rows = await settled(noisy, 20);
    expect(rows).toHaveLength(EVENTS_PER_ADDRESS_PER_SECOND + 1);
    expect(rows.reduce((n, r) => n + 1 + r.repeats, 0)).toBe(20);
    expect(rows.at(-1)).toMatchObject({ kind: 'probe', probe: 'scanner', repeats: 20 - EVENTS_PER_ADDRESS_PER_SECOND - 1 });

    // A burst followed by more in the next second: the count rides on the next stored event.
    clock.at += 5000;
    for (let i = 0; i < 5; i++) await from(noisy, '/phpmyadmin/');
    clock.at += 1000;
    await from(noisy, '/phpmyadmin/');
    const after = await settled(noisy, 26);
    expect(after.reduce((n, r) => n + 1 + r.repeats, 0)).toBe(26);
    expect(after.length).toBeLessThanOrEqual(EVENTS_PER_ADDRESS_PER_SECOND + 1 + EVENTS_PER_ADDRESS_PER_SECOND + 2);
  });

  it('stores at most EVENTS_PER_SECOND a second from any number of addresses, and counts the rest', async () => {
    clock.at += 5000;
    const start = new Date(clock.at).toISOString();
    const addresses = Array.from({ length: 200 }, (_, i) => `2001:db8:77:${i.toString(16)}::1`);
    for (const address of addresses) await from(address, '/.env');
    clock.at += 1000;
    const flood = () => t.deps.db.selectFrom('request_events').selectAll().where('occurred_at', '>=', start).where('path', '=', '/.env').execute();
    const rows = await eventually(flood, (found) => found.reduce((n, r) => n + 1 + r.repeats, 0) >= 200);
    expect(rows.reduce((n, r) => n + 1 + r.repeats, 0)).toBe(200);
    // This second's allowance, the next one's for the counts carried over, and one row for the rest.
    expect(rows.length).toBeLessThanOrEqual(2 * EVENTS_PER_SECOND + 1);
    const rest = rows.find((r) => r.source_address === null)!;
    expect(rest).toMatchObject({ kind: 'probe', probe: 'scanner', repeats: 200 - 2 * EVENTS_PER_SECOND - 1 });
  });

  it('believes no probe that another site made a browser send, and records refusals in lockdown', async () => {
    const address = '203.0.113.12';
    clock.at += 5000;
    const crossSite = await t.app.inject({ method: 'GET', url: "/api/v1/contacts?q=' OR 1=1 --", remoteAddress: address, headers: { authorization: `Bearer ${token}`, 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.statusCode).toBe(200);
    const sameSite = await t.app.inject({ method: 'GET', url: "/api/v1/contacts?q=' OR 2=2 --", remoteAddress: address, headers: { authorization: `Bearer ${token}`, 'sec-fetch-site': 'same-origin' } });
    expect(sameSite.statusCode).toBe(200);
    await startLockdown(t.deps, cliContext('test'), { reason: 'test' });
    try {
      const refused = await from(address, '/api/v1/contacts', { token: sellerToken, method: 'POST', body: { lastName: 'Locked out' } });
      expect(refused.statusCode).toBe(423);
    } finally {
      await liftLockdown(t.deps, cliContext('test'));
    }
    // Addresses no route knows keep one plain segment at most.
    clock.at += 1000;
    await from(address, '/ana.lopez@example.com');
    await from(address, '/13800138000.vcf');
    await from(address, '/contacts/13800138000.vcf');
    clock.at += 1000;
    const rows = await settled(address, 5);
    expect(rows.map((r) => [r.kind, r.status, r.path])).toEqual([
      ['probe', 200, '/api/v1/contacts'],
      ['refused', 423, '/api/v1/contacts'],
      ['not_found', 404, '(unmatched)'],
      ['not_found', 404, '(unmatched)'],
      ['not_found', 404, '/contacts'],
    ]);
    expect(JSON.stringify(rows)).not.toContain('ana.lopez');
    expect(JSON.stringify(rows)).not.toContain('13800138000');
  });

  it('prunes events older than a given time', async () => {
    const address = '203.0.113.13';
    clock.at += 5000;
    await from(address, '/.env');
    clock.at += 1000;
    await settled(address, 1);
    const cutoff = new Date(clock.at);
    clock.at += 1000;
    await from(address, '/.git/config');
    clock.at += 1000;
    await settled(address, 2);
    const older = await t.deps.db.selectFrom('request_events').select('id').where('occurred_at', '<', cutoff.toISOString()).execute();
    expect(older.length).toBeGreaterThan(0);
    expect(await pruneRequestEvents(t.deps, cutoff)).toBe(older.length);
    expect((await eventsOf(address)).map((r) => r.path)).toEqual(['/.git']);
    expect(await pruneRequestEvents(t.deps, cutoff)).toBe(0);
  });

  it('writes what it only counted when the app closes', async () => {
    const other = await createTestApp({}, { clock });
    const address = '198.51.100.50';
    for (let i = 0; i < 8; i++) await other.app.inject({ method: 'GET', url: '/.env', remoteAddress: address });
    await other.app.close();
    const rows = (await other.deps.db.selectFrom('request_events').selectAll().where('source_address', '=', address).execute()) as RequestEventsTable[];
    expect(rows.reduce((n, r) => n + 1 + r.repeats, 0)).toBe(8);
    await other.testDb.cleanup();
  });
});

describe(`trusted proxies (RAMPART_TRUST_PROXY) on ${testDialect}`, () => {
  const problemsOf = (value: string): string[] => {
    try {
      loadConfig({ env: { RAMPART_DATA_DIR: os.tmpdir(), RAMPART_TRUST_PROXY: value }, cwd: os.tmpdir() });
      return [];
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
  };
  const trustOf = (value: string) => loadConfig({ env: { RAMPART_DATA_DIR: os.tmpdir(), RAMPART_TRUST_PROXY: value }, cwd: os.tmpdir() }).trustProxy;

  it('takes true or false, a hop count, or the proxies’ addresses and ranges', () => {
    expect(trustOf('true')).toBe(true);
    expect(trustOf('false')).toBe(false);
    expect(trustOf('0')).toBe(false);
    expect(trustOf('2')).toBe(2);
    expect(trustOf('10.0.0.5, 10.1.0.0/16,2001:db8::/32, loopback')).toEqual(['10.0.0.5', '10.1.0.0/16', '2001:db8::/32', 'loopback']);
    for (const bad of ['maybe', '11', '10.0.0.5, proxy.example.com', '10.0.0.0/33']) expect(problemsOf(bad).join('\n'), bad).toContain('RAMPART_TRUST_PROXY');
  });

  let t: TestApp;
  const extra: { app: { close(): Promise<void> }; dir: string }[] = [];
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    for (const e of extra) {
      await e.app.close();
      fs.rmSync(e.dir, { recursive: true, force: true });
    }
    await t.close();
  });

  /** Another server on the same database with this trust setting, and what it logged at start. */
  const serverTrusting = async (trust: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-proxy-'));
    const lines: string[] = [];
    const built = await buildApp(loadConfig({ env: { RAMPART_DATA_DIR: dir, RAMPART_LOG_LEVEL: 'warn', RAMPART_DETECTION: 'off', RAMPART_TRUST_PROXY: trust }, cwd: dir }), {
      database: t.testDb.database,
      migrated: true,
      keyring: t.testDb.keyring,
      logStream: { write: (line: string) => lines.push(line) },
    });
    extra.push({ app: built.app, dir });
    return { app: built.app, lines };
  };
  /** The address a probe sent through `via` (claiming `forwarded`) was recorded from. */
  const seenAs = async (app: FastifyInstance, via: string, forwarded: string, path: string) => {
    await app.inject({ method: 'GET', url: path, remoteAddress: via, headers: { 'x-forwarded-for': forwarded } });
    const row = await eventually(() => t.deps.db.selectFrom('request_events').select('source_address').where('path', '=', path).executeTakeFirst(), (r) => r !== undefined);
    return row?.source_address;
  };

  it('believes X-Forwarded-For only from the listed proxies, and warns at start when it believes anyone', async () => {
    const listed = await serverTrusting('10.9.0.0/16');
    expect(await seenAs(listed.app, '10.9.3.4', '203.0.113.61', '/.env.listed-1')).toBe('203.0.113.61');
    // A client that reaches the server directly cannot choose its address.
    expect(await seenAs(listed.app, '198.51.100.61', '203.0.113.62', '/.env.listed-2')).toBe('198.51.100.61');
    expect(listed.lines.join('\n')).not.toContain('RAMPART_TRUST_PROXY');

    const hops = await serverTrusting('2');
    expect(await seenAs(hops.app, '10.9.3.4', '203.0.113.70, 203.0.113.63, 10.0.0.1', '/.env.hops')).toBe('203.0.113.63');
    expect(hops.lines.join('\n')).toContain('RAMPART_TRUST_PROXY=2');

    // Rehearsals play many addresses from one machine this way; the log says what it costs.
    const anyone = await serverTrusting('true');
    expect(await seenAs(anyone.app, '127.0.0.1', '203.0.113.64', '/.env.anyone')).toBe('203.0.113.64');
    const warning = anyone.lines.map((line) => JSON.parse(line) as { level: number; msg: string }).find((line) => line.msg.includes('RAMPART_TRUST_PROXY=true'));
    expect(warning?.level).toBe(40);
    expect(warning?.msg).toContain('choose the address');
  });
});
