import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../src/config/config.js';
import { createRecords } from '../src/data/record-store.js';
import { backupFileName, backupFileTime, type BackupFileTime } from '../src/modules/backup/backup-schedule.js';
import { BackupScheduler } from '../src/modules/backup/backup-scheduler.js';
import { applyOffsiteRetention, backupStatus, runDrill, runFolderBackup, runScheduledBackup, type BackupRunDeps } from '../src/modules/backup/backup-runs.service.js';
import { verifyBackup } from '../src/modules/backup/backup.service.js';
import {
  deleteBackupObject,
  getBackupObject,
  listBackupObjects,
  MAX_SINGLE_PUT_BYTES,
  OffsiteError,
  parseOffsiteUrl,
  putBackupObject,
  signS3Request,
  type OffsiteStore,
} from '../src/modules/backup/offsite-s3.js';
import type { Clock } from '../src/shared/clock.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { expectedKept } from './support/retention-oracle.js';

const ctx = cliContext('offsite-test');
const SECRET = 'Rampart/Offsite+Secret0123456789abcdefXYZ';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const created: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('signing (AWS Signature Version 4)', () => {
  const example = { region: 'us-east-1', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
  const at = new Date('2013-05-24T00:00:00Z');

  it("matches the AWS documentation's published example for a GET object", () => {
    const signed = signS3Request(example, { method: 'GET', host: 'examplebucket.s3.amazonaws.com', path: '/test.txt', headers: { range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256 }, at });
    expect(signed.headers['x-amz-date']).toBe('20130524T000000Z');
    expect(signed.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it('matches the published examples for a PUT object and a bucket list with a query', () => {
    const put = signS3Request(example, {
      method: 'PUT',
      host: 'examplebucket.s3.amazonaws.com',
      path: '/test$file.text',
      headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY', 'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072' },
      at,
    });
    expect(put.headers.authorization).toMatch(/SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd$/);
    const list = signS3Request(example, { method: 'GET', host: 'examplebucket.s3.amazonaws.com', path: '/?max-keys=2&prefix=J', headers: { 'x-amz-content-sha256': EMPTY_SHA256 }, at });
    expect(list.headers.authorization).toMatch(/Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7$/);
    // Another secret, another signature: the secret really is what signs.
    expect(signS3Request({ ...example, secretAccessKey: 'x' }, { method: 'GET', host: 'examplebucket.s3.amazonaws.com', path: '/test.txt', headers: { 'x-amz-content-sha256': EMPTY_SHA256 }, at }).headers.authorization).not.toContain('f0e8bdb8');
  });
});

/** What a real store does with a signature: works it out again from the request as it arrived. */
function signatureOf(request: { method: string; url: string; headers: http.IncomingHttpHeaders }, secret: string): { ok: boolean; problem?: string } {
  const auth = String(request.headers.authorization ?? '');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, problem: 'shape' };
  const [, , day, region, signedHeaders, signature] = m;
  const [rawPath, rawQuery = ''] = request.url.split('?');
  const strict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const query = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => p.split('=').map((x) => strict(decodeURIComponent(x.replace(/\+/g, ' ')))) as [string, string?])
    .map(([k, v]) => `${k}=${v ?? ''}`)
    .sort()
    .join('&');
  const names = signedHeaders!.split(';');
  const canonical = [request.method, rawPath, query, names.map((n) => `${n}:${String(request.headers[n] ?? '').trim()}\n`).join(''), signedHeaders, String(request.headers['x-amz-content-sha256'])].join('\n');
  const amzDate = String(request.headers['x-amz-date']);
  const toSign = ['AWS4-HMAC-SHA256', amzDate, `${day}/${region}/s3/aws4_request`, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(day!).digest();
  for (const part of [region!, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex') === signature ? { ok: true } : { ok: false, problem: 'signature' };
}

/**
 * A small S3-compatible store that, unlike s3rver, checks every signature and payload hash the way
 * S3 does, and pages its lists with opaque continuation tokens. A refusal's body echoes the
 * request's headers back, as real stores' error documents can.
 */
async function strictStore(secret: string): Promise<{ url: string; objects: Map<string, Buffer>; requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[]; close(): Promise<void> }> {
  const objects = new Map<string, Buffer>();
  const requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method!, url: req.url!, headers: req.headers };
      requests.push(request);
      const body = Buffer.concat(chunks);
      const fail = (status: number, code: string) => {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0"?><Error><Code>${code}</Code><Message>no</Message><Echo>${JSON.stringify(req.headers)}</Echo></Error>`);
      };
      const check = signatureOf(request, secret);
      if (!check.ok) return fail(403, check.problem === 'shape' ? 'AuthorizationHeaderMalformed' : 'SignatureDoesNotMatch');
      if (createHash('sha256').update(body).digest('hex') !== req.headers['x-amz-content-sha256']) return fail(400, 'XAmzContentSHA256Mismatch');
      const url = new URL(req.url!, 'http://store');
      const [, bucket, ...rest] = url.pathname.split('/');
      if (bucket !== 'strict') return fail(404, 'NoSuchBucket');
      const key = decodeURIComponent(rest.join('/'));
      if (req.method === 'PUT') {
        if (req.headers['transfer-encoding']) return fail(411, 'MissingContentLength');
        objects.set(key, body);
        return res.writeHead(200, { etag: '"x"' }).end();
      }
      if (req.method === 'HEAD') return objects.has(key) ? res.writeHead(200, { 'content-length': objects.get(key)!.length }).end() : res.writeHead(404).end();
      if (req.method === 'DELETE') {
        objects.delete(key);
        return res.writeHead(204).end();
      }
      if (key === '' && url.searchParams.get('list-type') === '2') {
        const prefix = url.searchParams.get('prefix') ?? '';
        const max = Number(url.searchParams.get('max-keys') ?? 1000);
        const token = url.searchParams.get('continuation-token');
        const after = token ? Buffer.from(token, 'base64').toString('utf8').replace(/^after:/, '') : '';
        const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && k > after && !k.slice(prefix.length).includes('/')).sort();
        const page = keys.slice(0, max);
        const truncated = keys.length > max;
        // Tokens with + / = in them, XML-escaped as stores do.
        const next = truncated ? Buffer.from(`after:${page.at(-1)}\u00ff\u00fe`, 'utf8').toString('base64') : null;
        res.writeHead(200, { 'content-type': 'application/xml' });
        return res.end(
          `<ListBucketResult><IsTruncated>${truncated}</IsTruncated>${page.map((k) => `<Contents><Key>${k.replace(/&/g, '&amp;')}</Key><Size>${objects.get(k)!.length}</Size></Contents>`).join('')}${next ? `<NextContinuationToken>${next.replace(/\+/g, '&#43;')}</NextContinuationToken>` : ''}</ListBucketResult>`,
        );
      }
      if (req.method === 'GET') return objects.has(key) ? res.writeHead(200).end(objects.get(key)) : fail(404, 'NoSuchKey');
      fail(400, 'InvalidRequest');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    objects,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('requests on the wire', () => {
  let store: Awaited<ReturnType<typeof strictStore>>;
  let location: OffsiteStore;
  beforeAll(async () => {
    store = await strictStore(SECRET);
    location = { endpoint: store.url, bucket: 'strict', prefix: 'site/a/', region: 'eu-central-1', accessKeyId: 'AKIDRAMPART', secretAccessKey: SECRET };
  });
  afterAll(async () => store.close());

  it('signs every request so a store that checks signatures and payload hashes accepts it, and streams the upload with its length', async () => {
    const file = path.join(tempDir('rampart-offsite-wire-'), 'blob');
    fs.writeFileSync(file, Buffer.alloc(3_000_001, 0x5a));
    const result = await putBackupObject(location, 'rampart-backup-20260310T023000Z.rbk', file);
    expect(result.sha256).toBe(createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    const put = store.requests.find((r) => r.method === 'PUT')!;
    expect(put.url).toBe('/strict/site/a/rampart-backup-20260310T023000Z.rbk');
    expect(put.headers['content-length']).toBe('3000001');
    expect(put.headers['transfer-encoding']).toBeUndefined();
    expect(put.headers['x-amz-content-sha256']).toBe(result.sha256);
    expect(put.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDRAMPART\/\d{8}\/eu-central-1\/s3\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(store.objects.get('site/a/rampart-backup-20260310T023000Z.rbk')!.equals(fs.readFileSync(file))).toBe(true);
    for (const r of store.requests) expect(JSON.stringify(r.headers)).not.toContain(SECRET);
    // A wrong secret is refused by the store, and the refusal's body (echoing headers) stays out of the error.
    const error = await putBackupObject({ ...location, secretAccessKey: 'not-the-secret' }, 'rampart-backup-20260311T023000Z.rbk', file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OffsiteError);
    expect(error).toMatchObject({ code: 'backup.offsite_refused', reason: 'SignatureDoesNotMatch' });
    expect((error as Error).message).toBe('The backup store refused to take the copy (SignatureDoesNotMatch, HTTP 403).');
  });

  it('lists page after page with continuation tokens, and only objects directly under the prefix', async () => {
    store.objects.clear();
    const names = Array.from({ length: 7 }, (_, i) => backupFileName(new Date(Date.UTC(2026, 2, 1 + i, 2, 30))));
    for (const name of names) store.objects.set(`site/a/${name}`, Buffer.from(name));
    store.objects.set('site/a/notes & plans.txt', Buffer.from('x'));
    store.objects.set('site/a/older/rampart-backup-20200101T000000Z.rbk', Buffer.from('x'));
    store.objects.set('site/b/rampart-backup-20200101T000000Z.rbk', Buffer.from('x'));
    store.requests.length = 0;
    const listed = await listBackupObjects(location, { pageSize: 2 });
    expect(listed.map((o) => o.name).sort()).toEqual([...names, 'notes & plans.txt'].sort());
    expect(store.requests.filter((r) => r.url.includes('continuation-token'))).toHaveLength(3);
    expect((await listBackupObjects(location)).length).toBe(8);
    await deleteBackupObject(location, names[0]!);
    expect(store.objects.has(`site/a/${names[0]}`)).toBe(false);
    const copy = path.join(tempDir('rampart-offsite-get-'), 'copy');
    expect(await getBackupObject(location, names[1]!, copy)).toBe(names[1]!.length);
    expect(fs.statSync(copy).mode & 0o777).toBe(0o600);
  });

  it('refuses a file too large for one upload before reading it', async () => {
    const file = path.join(tempDir('rampart-offsite-big-'), 'big.rbk');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, MAX_SINGLE_PUT_BYTES + 1); // sparse: no disk used
    store.requests.length = 0;
    await expect(putBackupObject(location, 'rampart-backup-20260310T023000Z.rbk', file)).rejects.toMatchObject({ code: 'backup.offsite_too_large' });
    expect(store.requests).toEqual([]);
  });
});

describe('settings', () => {
  const base = { RAMPART_BACKUP_DIR: 'backups', RAMPART_BACKUP_S3_ACCESS_KEY_ID: 'AKIDRAMPART', RAMPART_BACKUP_S3_SECRET_ACCESS_KEY: SECRET };
  const load = (env: Record<string, string>) => loadConfig({ env, cwd: os.tmpdir() });
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      load(env);
      return [];
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain(SECRET);
      return (error as ConfigError).problems;
    }
  };

  it('reads endpoint, bucket and prefix from one URL, with a default region, and keeps the secret out of sight', () => {
    const config = load({ ...base, RAMPART_BACKUP_S3_URL: 'https://s3.example.org/rampart-backups/prod/eu/' });
    expect(config.backup.offsite).toMatchObject({ endpoint: 'https://s3.example.org', bucket: 'rampart-backups', prefix: 'prod/eu/', region: 'us-east-1', accessKeyId: 'AKIDRAMPART' });
    expect(config.backup.offsite!.secretAccessKey).toBe(SECRET);
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(load({ ...base, RAMPART_BACKUP_S3_URL: 'http://127.0.0.1:9000/b3k', RAMPART_BACKUP_S3_REGION: 'eu-west-3' }).backup.offsite).toMatchObject({ endpoint: 'http://127.0.0.1:9000', bucket: 'b3k', prefix: '', region: 'eu-west-3' });
    expect(load({}).backup.offsite).toBeUndefined();
    expect(parseOffsiteUrl('https://s3.example.org/bucket/a//b')).toEqual({ problem: expect.stringContaining('prefix') });
  });

  it('names each problem, without repeating the URL or the keys', () => {
    expect(problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'http://s3.example.org/bucket' })).toEqual(['RAMPART_BACKUP_S3_URL must be an https:// URL (or http:// to this machine)']);
    expect(problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'https://s3.example.org/' })[0]).toMatch(/must name a bucket/);
    expect(problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'https://s3.example.org/Bad_Bucket' })[0]).toMatch(/must name a bucket/);
    expect(problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'https://s3.example.org/bucket/../x' })).toHaveLength(1);
    const withUser = problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'https://AKID:hunter2secret@s3.example.org/bucket' });
    expect(withUser).toEqual([expect.stringMatching(/must not hold credentials/)]);
    expect(withUser.join()).not.toContain('hunter2secret');
    expect(problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'https://s3.example.org/bucket?x=1' })).toHaveLength(1);
    expect(problemsOf({ RAMPART_BACKUP_S3_URL: 'https://s3.example.org/bucket' })).toEqual([
      'RAMPART_BACKUP_S3_URL needs RAMPART_BACKUP_DIR: the store gets a copy of each backup taken into the folder',
      'RAMPART_BACKUP_S3_ACCESS_KEY_ID is required with RAMPART_BACKUP_S3_URL',
      'RAMPART_BACKUP_S3_SECRET_ACCESS_KEY is required with RAMPART_BACKUP_S3_URL',
    ]);
    expect(problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'https://s3.example.org/bucket', RAMPART_BACKUP_S3_SECRET_ACCESS_KEY: `${SECRET} with spaces` })).toEqual([expect.stringMatching(/SECRET_ACCESS_KEY must be/)]);
    expect(problemsOf({ ...base, RAMPART_BACKUP_S3_URL: 'https://s3.example.org/bucket', RAMPART_BACKUP_S3_REGION: 'EU West' })).toEqual([expect.stringMatching(/RAMPART_BACKUP_S3_REGION/)]);
    expect(problemsOf(base)).toEqual(['RAMPART_BACKUP_S3_ACCESS_KEY_ID, RAMPART_BACKUP_S3_SECRET_ACCESS_KEY need RAMPART_BACKUP_S3_URL']);
  });
});

class ManualClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
}

async function offsiteAudit(t: TestApp): Promise<{ action: string; outcome: string; details: Record<string, unknown> }[]> {
  const rows = await t.database.db.selectFrom('audit_entries').select(['action', 'outcome', 'details']).where('action', 'like', 'backup.offsite%').orderBy('seq').execute();
  return rows.map((r) => ({ action: r.action, outcome: r.outcome, details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details }));
}

/** The same installation pointed at another store (another configuration, the same database). */
function withStore(t: TestApp, env: Record<string, string>): BackupRunDeps {
  const config: Config = loadConfig({ env: { RAMPART_DATA_DIR: t.dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_DETECTION: 'off', ...env }, cwd: t.dataDir });
  return { ...t.deps, config };
}

describe('copies in an S3-compatible store (s3rver)', () => {
  let t: TestApp;
  let s3: S3rver;
  let port: number;
  let dir: string;
  let storeEnv: Record<string, string>;
  let store: OffsiteStore;
  const clock = new ManualClock(new Date('2026-03-10T02:30:00Z'));
  const policy = { daily: 3, weekly: 2, monthly: 1 };

  beforeAll(async () => {
    s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: tempDir('rampart-s3rver-'), configureBuckets: [{ name: 'backups' }] });
    ({ port } = await s3.run());
    dir = tempDir('rampart-offsite-folder-');
    storeEnv = {
      RAMPART_BACKUP_DIR: dir,
      RAMPART_BACKUP_SCHEDULE: '02:30',
      RAMPART_BACKUP_KEEP_DAILY: String(policy.daily),
      RAMPART_BACKUP_KEEP_WEEKLY: String(policy.weekly),
      RAMPART_BACKUP_KEEP_MONTHLY: String(policy.monthly),
      RAMPART_BACKUP_DRILL: 'off',
      RAMPART_BACKUP_S3_URL: `http://127.0.0.1:${port}/backups/rampart/prod`,
      RAMPART_BACKUP_S3_ACCESS_KEY_ID: 'S3RVER',
      RAMPART_BACKUP_S3_SECRET_ACCESS_KEY: SECRET,
    };
    t = await createTestApp(storeEnv, { clock });
    store = t.deps.config.backup.offsite!;
    await createRecords(t.deps, ctx, 'contacts', [{ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' }]);
  });
  afterAll(async () => {
    await t.close();
    await s3.close();
  });

  it('copies each backup to the store under its own name; the copy downloads and verifies', async () => {
    const result = await runScheduledBackup(t.deps);
    expect(result.outcome).toBe('ran');
    const run = result.backup!.run;
    expect(run).toMatchObject({ status: 'ok', offsite: { status: 'ok', error: null, reason: null, prunedAt: null } });
    expect(run.offsite!.at).toBe('2026-03-10T02:30:00.000Z');
    expect((await listBackupObjects(store)).map((o) => o.name)).toEqual([run.file]);
    const copy = path.join(tempDir('rampart-offsite-copy-'), run.file!);
    await getBackupObject(store, run.file!, copy);
    const verified = await verifyBackup(copy, { kek: t.deps.keyring.kek });
    const local = await verifyBackup(path.join(dir, run.file!), { kek: t.deps.keyring.kek });
    expect(verified).toMatchObject({ backupId: run.backupId, bytes: run.bytes, contentSha256: run.contentSha256, sha256: local.sha256 });
    const audit = await offsiteAudit(t);
    expect(audit).toEqual([{ action: 'backup.offsite_copied', outcome: 'success', details: { runId: run.id, file: run.file, bytes: run.bytes, sha256: local.sha256 } }]);
    const status = await backupStatus(t.deps, ctx);
    expect(status.offsite).toEqual({ configured: true, lastCopyAt: '2026-03-10T02:30:00.000Z', lastStatus: 'ok', lastError: null, fresh: true });
  });

  it('applies the same retention to the store over a calendar, never touching objects of other names', async () => {
    const foreign = ['rampart/prod/notes.txt', 'rampart/prod/rampart-backup-20260301T000000Z.rbk.partial', 'rampart/prod/keep/rampart-backup-20200101T000000Z.rbk', 'rampart/rampart-backup-20200101T000000Z.rbk'];
    const file = path.join(tempDir('rampart-offsite-foreign-'), 'x');
    fs.writeFileSync(file, 'not a backup');
    for (const key of foreign) await putBackupObject({ ...store, prefix: '', secretAccessKey: SECRET }, key, file);
    const taken: BackupFileTime[] = [{ name: 'rampart-backup-20260310T023000Z.rbk', at: new Date('2026-03-10T02:30:00Z') }];
    const days = [...Array.from({ length: 21 }, (_, i) => `2026-03-${String(11 + i).padStart(2, '0')}`), '2026-04-01', '2026-04-02'];
    for (const day of days) {
      clock.set(`${day}T02:30:00Z`);
      const result = await runScheduledBackup(t.deps);
      expect(result.backup?.run.offsite?.status, day).toBe('ok');
      taken.push({ name: result.backup!.run.file!, at: clock.now() });
    }
    const expected = expectedKept(taken, policy);
    const inStore = (await listBackupObjects(store)).map((o) => o.name);
    expect(new Set(inStore.filter((n) => backupFileTime(n) !== null))).toEqual(expected);
    expect(new Set(fs.readdirSync(dir))).toEqual(expected);
    // Other names, and anything outside the prefix or below it, are still there.
    expect(inStore).toEqual(expect.arrayContaining(['notes.txt', 'rampart-backup-20260301T000000Z.rbk.partial']));
    expect((await listBackupObjects({ ...store, prefix: 'rampart/prod/keep/', secretAccessKey: SECRET })).map((o) => o.name)).toEqual(['rampart-backup-20200101T000000Z.rbk']);
    expect((await listBackupObjects({ ...store, prefix: 'rampart/', secretAccessKey: SECRET })).map((o) => o.name)).toEqual(['rampart-backup-20200101T000000Z.rbk']);
    // Runs say which copies were pruned; the deletions are audited by name.
    const rows = await t.database.db.selectFrom('backup_runs').select(['file', 'offsite_status', 'offsite_pruned_at']).execute();
    for (const row of rows) expect(row.offsite_pruned_at === null, row.file!).toBe(expected.has(row.file!));
    const pruned = (await offsiteAudit(t)).filter((a) => a.action === 'backup.offsite_pruned').flatMap((a) => a.details.objects as string[]);
    expect(new Set(pruned)).toEqual(new Set(taken.map((f) => f.name).filter((n) => !expected.has(n))));
  }, 180_000);

  it('drills the newest copy in the store, downloaded to a temporary file', async () => {
    const scratch = () => new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('rampart-store-drill-')));
    const before = scratch();
    const run = await runDrill(t.deps, ctx, { fromStore: true });
    expect(run).toMatchObject({ kind: 'drill', status: 'ok', file: 'rampart-backup-20260402T023000Z.rbk', drill: { matched: true }, error: null });
    expect([...scratch()].filter((n) => !before.has(n))).toEqual([]);
    expect((await t.database.db.selectFrom('audit_entries').select('details').where('action', '=', 'backup.drill').execute()).length).toBe(1);
  }, 60_000);

  it('records a failed copy when the store cannot be reached or refuses, and the backup in the folder stays good', async () => {
    const unreachable = withStore(t, { ...storeEnv, RAMPART_BACKUP_S3_URL: `http://127.0.0.1:${await closedPort()}/backups/rampart/prod` });
    clock.set('2026-04-03T02:30:00Z');
    const warnings: string[] = [];
    const scheduler = new BackupScheduler(unreachable, { warn: (m) => warnings.push(m) }, { firstLookMs: 0, pollMs: 600_000 });
    scheduler.start();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await t.database.db.selectFrom('backup_runs').select('id').where('started_at', '=', '2026-04-03T02:30:00.000Z').where('status', '!=', 'running').execute()).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await scheduler.stop();
    const row = await t.database.db.selectFrom('backup_runs').selectAll().where('started_at', '=', '2026-04-03T02:30:00.000Z').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'ok', offsite_status: 'failed', offsite_error: 'backup.offsite_unreachable', offsite_reason: 'ECONNREFUSED' });
    expect(warnings).toEqual([expect.stringMatching(/^copying the scheduled backup to the store failed \(backup\.offsite_unreachable, ECONNREFUSED\); the backup in the folder is good/)]);
    expect((await verifyBackup(path.join(dir, row.file!), { kek: t.deps.keyring.kek })).backupId).toBe(row.backup_id);
    // Nothing was deleted from the store on a failed copy.
    expect((await listBackupObjects(store)).map((o) => o.name)).not.toContain(row.file);
    expect((await offsiteAudit(t)).at(-1)).toEqual({ action: 'backup.offsite_failed', outcome: 'failure', details: { runId: row.id, file: row.file, stage: 'copy', errorCode: 'backup.offsite_unreachable', reason: 'ECONNREFUSED' } });
    const status = await backupStatus(unreachable, ctx);
    expect(status.fresh).toBe(true);
    expect(status.offsite).toEqual({ configured: true, lastCopyAt: '2026-04-02T02:30:00.000Z', lastStatus: 'failed', lastError: 'backup.offsite_unreachable', fresh: true });

    // A bucket that is not there: refused, with the store's code name only.
    clock.set('2026-04-03T03:00:00Z');
    const missing = await runFolderBackup(withStore(t, { ...storeEnv, RAMPART_BACKUP_S3_URL: `http://127.0.0.1:${port}/no-such-bucket` }), ctx, { dir });
    expect(missing.run).toMatchObject({ status: 'ok', offsite: { status: 'failed', error: 'backup.offsite_refused', reason: 'NoSuchBucket' } });
    // An unknown key id: s3rver's answer echoes it back; only the code name is kept.
    clock.set('2026-04-03T03:30:00Z');
    const unknown = await runFolderBackup(withStore(t, { ...storeEnv, RAMPART_BACKUP_S3_ACCESS_KEY_ID: 'AKIDUNKNOWN' }), ctx, { dir });
    expect(unknown.run.offsite).toMatchObject({ status: 'failed', error: 'backup.offsite_refused', reason: 'InvalidAccessKeyId' });
    await expect(runDrill(unreachable, ctx, { fromStore: true })).rejects.toMatchObject({ code: 'backup.offsite_unreachable' });
  }, 120_000);

  it('keeps the newest good copy even when a stray object with a later name outranks it', async () => {
    const aside: OffsiteStore = { ...store, prefix: 'stray-test/', secretAccessKey: SECRET };
    const file = path.join(tempDir('rampart-offsite-stray-'), 'x');
    fs.writeFileSync(file, 'x');
    const names = ['rampart-backup-20250101T000000Z.rbk', 'rampart-backup-20260402T023000Z.rbk', 'rampart-backup-20990101T000000Z.rbk'];
    for (const name of names) await putBackupObject(aside, name, file);
    expect(await applyOffsiteRetention(t.deps, ctx, aside, { daily: 1, weekly: 0, monthly: 0 }, 'rampart-backup-20260402T023000Z.rbk')).toEqual(['rampart-backup-20250101T000000Z.rbk']);
    expect((await listBackupObjects(aside)).map((o) => o.name).sort()).toEqual(names.slice(1));
  });

  it('never shows the secret key: not in runs, audit, status, API answers, errors or the configuration', async () => {
    const { token } = await t.makeUser({ roles: ['admin'] });
    const status = await t.call('GET', '/api/v1/backups/status', { token });
    expect(status.statusCode).toBe(200);
    expect(status.json().offsite).toMatchObject({ configured: true, lastStatus: 'failed' });
    const runs = await t.call('GET', '/api/v1/backups/runs?limit=200', { token });
    expect(runs.statusCode).toBe(200);
    const failed = (runs.json().items as { offsite: { status: string } | null }[]).filter((r) => r.offsite?.status === 'failed');
    expect(failed).toHaveLength(3);
    const error = await runDrill(withStore(t, { ...storeEnv, RAMPART_BACKUP_S3_URL: `http://127.0.0.1:${port}/no-such-bucket` }), ctx, { fromStore: true }).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'backup.offsite_refused' });
    const everything = [
      status.body,
      runs.body,
      JSON.stringify(await t.database.db.selectFrom('backup_runs').selectAll().execute()),
      JSON.stringify(await t.database.db.selectFrom('audit_entries').select(['action', 'details']).execute()),
      JSON.stringify(t.deps.config),
      String(error),
      JSON.stringify(error),
    ].join('\n');
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('AWS4-HMAC-SHA256');
  });
});
