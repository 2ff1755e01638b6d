import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecords } from '../src/data/record-store.js';
import { differingTableOf } from '../src/modules/backup/backup-drill.js';
import { runDrill, runFolderBackup, tryBackupLease } from '../src/modules/backup/backup-runs.service.js';
import { AppError } from '../src/shared/errors.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';
import { signInFully } from './support/sign-in.js';

const ctx = cliContext('drill-test');
const folders: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  folders.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of folders) fs.rmSync(dir, { recursive: true, force: true });
});

function scratchFolders(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('rampart-drill-'));
}

async function drillAudit(t: TestApp): Promise<{ outcome: string; details: Record<string, unknown> }[]> {
  const rows = await t.database.db.selectFrom('audit_entries').select(['outcome', 'details']).where('action', '=', 'backup.drill').orderBy('seq').execute();
  return rows.map((r) => ({ outcome: r.outcome, details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details }));
}

describe('restore drills', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('rampart-drill-test-');
    t = await createTestApp({ RAMPART_BACKUP_DIR: dir, RAMPART_BACKUP_DRILL: 'off' });
    await createRecords(t.deps, ctx, 'contacts', [
      { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com' },
      { firstName: '伟', lastName: '张', email: 'wei@example.com', phone: '+86 138 0013 0001' },
    ]);
  });
  afterAll(async () => t.close());

  it('restores the newest backup into a scratch database, finds every table matching, and leaves nothing behind', async () => {
    const backup = await runFolderBackup(t.deps, ctx, { dir });
    expect(backup.run.status).toBe('ok');
    const before = new Set(scratchFolders());
    const run = await runDrill(t.deps, ctx, {});
    expect(run).toMatchObject({ kind: 'drill', status: 'ok', file: backup.run.file, backupId: backup.run.backupId, rows: backup.run.rows, contentSha256: backup.run.contentSha256, drill: { matched: true, differingTables: [] }, error: null });
    expect(run.verifiedAt).not.toBeNull();
    expect(scratchFolders().filter((name) => !before.has(name))).toEqual([]);
    const audit = await drillAudit(t);
    expect(audit.at(-1)).toMatchObject({ outcome: 'success', details: { runId: run.id, file: backup.run.file, matched: true, differingTables: [] } });
    expect(JSON.stringify(audit)).not.toContain('grace@example.com');
    expect(JSON.stringify(audit)).not.toContain(dir);
  }, 60_000);

  it.runIf(testDialect === 'postgres')('restores into a schema of its own in a scratch PostgreSQL database, and drops it', async () => {
    const url = process.env.RAMPART_TEST_DATABASE_URL!;
    const run = await runDrill(t.deps, ctx, { target: { dialect: 'postgres', url } });
    expect(run).toMatchObject({ status: 'ok', drill: { matched: true } });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const left = await client.query(`select nspname from pg_namespace where nspname like 'rampart_drill_%'`);
    await client.end();
    expect(left.rows).toEqual([]);
  }, 60_000);

  it('records a failure for a tampered backup and one under another key, and restores nothing', async () => {
    const good = path.join(dir, fs.readdirSync(dir).sort().at(-1)!);
    const bytes = fs.readFileSync(good);
    bytes[bytes.length - 50]! ^= 0x01;
    const tampered = path.join(tempDir('rampart-drill-bad-'), 'tampered.rbk');
    fs.writeFileSync(tampered, bytes);
    const before = new Set(scratchFolders());
    const run = await runDrill(t.deps, ctx, { file: tampered });
    expect(run).toMatchObject({ kind: 'drill', status: 'failed', file: 'tampered.rbk', drill: null, error: { code: 'backup.invalid' } });
    expect(scratchFolders().filter((name) => !before.has(name))).toEqual([]);
    expect((await drillAudit(t)).at(-1)).toMatchObject({ outcome: 'failure', details: { runId: run.id, errorCode: 'backup.invalid' } });

    // A backup another installation wrote: its key file is not this one.
    const other = await createTestApp({ RAMPART_BACKUP_DIR: tempDir('rampart-drill-other-') });
    try {
      const foreign = await runFolderBackup(other.deps, ctx, { dir: other.deps.config.backup.dir! });
      const refused = await runDrill(t.deps, ctx, { file: path.join(other.deps.config.backup.dir!, foreign.run.file!) });
      expect(refused).toMatchObject({ status: 'failed', error: { code: 'backup.wrong_key' } });
    } finally {
      await other.close();
    }
  }, 60_000);

  it('names the table a restore found differing, and tells differences from other refusals', () => {
    expect(differingTableOf(new AppError('backup.incompatible', 'The restored table contacts does not read back as the backup holds it (2 of 3 rows). Nothing was restored.'))).toBe('contacts');
    expect(differingTableOf(new AppError('backup.incompatible', 'The restored table audit_entries holds 9 rows where the backup holds 10. Nothing was restored.'))).toBe('audit_entries');
    expect(differingTableOf(new AppError('backup.incompatible', 'Nothing was restored.', [{ field: 'tables.custom_values', message: 'differs' }]))).toBe('custom_values');
    expect(differingTableOf(new AppError('backup.incompatible', "The target's tables differ from the backup's (x). Nothing was restored."))).toBeNull();
    expect(differingTableOf(new AppError('backup.invalid', 'The restored table contacts does not read back'))).toBeNull();
    expect(differingTableOf(new Error('The restored table contacts does not read back'))).toBeNull();
  });

  it('refuses a second drill or backup while one is running, and a drill with nothing to drill', async () => {
    const lease = (await tryBackupLease(t.deps))!;
    try {
      await expect(runDrill(t.deps, ctx, {})).rejects.toMatchObject({ code: 'backup.already_running' });
      await expect(runFolderBackup(t.deps, ctx, { dir })).rejects.toMatchObject({ code: 'backup.already_running' });
    } finally {
      await lease.release();
    }
    await expect(runDrill(t.deps, ctx, { file: path.join(dir, 'missing.rbk') })).rejects.toMatchObject({ code: 'backup.no_backup' });
    const empty = await createTestApp({ RAMPART_BACKUP_DIR: tempDir('rampart-drill-empty-') });
    try {
      await expect(runDrill(empty.deps, ctx, {})).rejects.toMatchObject({ code: 'backup.no_backup' });
    } finally {
      await empty.close();
    }
  }, 60_000);
});

describe('the backups API', () => {
  let t: TestApp;
  let dir: string;
  let admin: string;
  let sales: string;

  beforeAll(async () => {
    dir = path.join(tempDir('rampart-api-backups-'), 'vault');
    t = await createTestApp({ RAMPART_BACKUP_DIR: dir, RAMPART_BACKUP_SCHEDULE: '6h', RAMPART_BACKUP_KEEP_MONTHLY: '6' });
    ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
    ({ token: sales } = await t.makeUser({ roles: ['sales'] }));
  });
  afterAll(async () => t.close());

  async function settled(id: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 300; i++) {
      const row = await t.database.db.selectFrom('backup_runs').select('status').where('id', '=', id).executeTakeFirstOrThrow();
      if (row.status !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const items = (await t.call('GET', '/api/v1/backups/runs', { token: admin })).json().items as Record<string, unknown>[];
    return items.find((r) => r.id === id)!;
  }

  it('reports the schedule and no backup yet before the first one', async () => {
    const res = await t.call('GET', '/api/v1/backups/status', { token: admin });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      configured: true,
      folder: 'vault',
      schedule: '6h',
      nextRunAt: expect.any(String),
      fresh: false,
      running: false,
      lastBackup: null,
      lastDrill: null,
      retention: { daily: 7, weekly: 4, monthly: 6 },
      drill: 'weekly',
      filesKept: 0,
      offsite: { configured: false, lastCopyAt: null, lastStatus: null, lastError: null, fresh: false },
    });
  });

  it('starts a backup and a drill in the background, one at a time, and lists them', async () => {
    const started = await t.call('POST', '/api/v1/backups/runs', { token: admin, body: { kind: 'backup' } });
    expect(started.statusCode, started.body).toBe(202);
    expect(started.json()).toMatchObject({ kind: 'manual', status: 'running', file: null, finishedAt: null });
    const backup = await settled(started.json().id);
    expect(backup).toMatchObject({ kind: 'manual', status: 'ok', error: null, tier: 'daily' });
    expect(fs.readdirSync(dir)).toEqual([backup.file]);

    const drillStart = await t.call('POST', '/api/v1/backups/runs', { token: admin, body: { kind: 'drill' } });
    expect(drillStart.statusCode, drillStart.body).toBe(202);
    expect(drillStart.json()).toMatchObject({ kind: 'drill', status: 'running', file: backup.file });
    const drill = await settled(drillStart.json().id);
    expect(drill).toMatchObject({ status: 'ok', drill: { matched: true, differingTables: [] } });

    const status = (await t.call('GET', '/api/v1/backups/status', { token: admin })).json();
    expect(status).toMatchObject({ fresh: true, running: false, lastBackup: { at: backup.startedAt, bytes: backup.bytes, verifiedAt: backup.verifiedAt, file: backup.file }, lastDrill: { at: drill.startedAt, status: 'ok', matched: true }, filesKept: 1 });

    // Newest first, paged.
    const first = (await t.call('GET', '/api/v1/backups/runs?limit=1', { token: admin })).json();
    expect(first.items.map((r: { id: string }) => r.id)).toEqual([drill.id]);
    const second = (await t.call('GET', `/api/v1/backups/runs?limit=1&cursor=${first.nextCursor}`, { token: admin })).json();
    expect(second.items.map((r: { id: string }) => r.id)).toEqual([backup.id]);
    expect(second.nextCursor).toBeNull();
    expect((await t.call('GET', '/api/v1/backups/runs?cursor=nonsense', { token: admin })).json().error.code).toBe('request.invalid_cursor');
    expect((await t.call('GET', '/api/v1/backups/runs?limit=0', { token: admin })).statusCode).toBe(400);

    // Held by another process: refused, nothing recorded.
    const count = (await t.database.db.selectFrom('backup_runs').select('id').execute()).length;
    const lease = (await tryBackupLease(t.deps))!;
    try {
      const refused = await t.call('POST', '/api/v1/backups/runs', { token: admin, body: { kind: 'backup' } });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().error.code).toBe('backup.already_running');
      expect((await t.call('GET', '/api/v1/backups/status', { token: admin })).json().running).toBe(true);
    } finally {
      await lease.release();
    }
    expect((await t.database.db.selectFrom('backup_runs').select('id').execute()).length).toBe(count);
  }, 90_000);

  it('refuses callers without backups.manage, anonymous callers and bad requests, and starts nothing', async () => {
    const count = (await t.database.db.selectFrom('backup_runs').select('id').execute()).length;
    for (const [method, url, body] of [
      ['GET', '/api/v1/backups/status', undefined],
      ['GET', '/api/v1/backups/runs', undefined],
      ['POST', '/api/v1/backups/runs', { kind: 'backup' }],
    ] as const) {
      const refused = await t.call(method, url, { token: sales, ...(body ? { body } : {}) });
      expect(refused.statusCode, url).toBe(403);
      expect(refused.json().error.code).toBe('auth.forbidden');
      expect((await t.call(method, url, body ? { body } : {})).statusCode, url).toBe(401);
    }
    for (const body of [{ kind: 'restore' }, {}, { kind: 'backup', dir: '/tmp' }]) {
      const res = await t.call('POST', '/api/v1/backups/runs', { token: admin, body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await t.database.db.selectFrom('backup_runs').select('id').execute()).length).toBe(count);
  });

  it('asks a browser session for a recent second factor before starting one', async () => {
    const { user, password } = await t.makeUser({ roles: ['admin'] });
    const session = await signInFully(t, user.email, password);
    await t.database.db.updateTable('sessions').set({ mfa_at: '2000-01-01T00:00:00.000Z' }).where('user_id', '=', user.id).execute();
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
    const res = await t.call('POST', '/api/v1/backups/runs', { headers, body: { kind: 'backup' } });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('auth.step_up_required');
    expect((await t.call('GET', '/api/v1/backups/status', { headers })).statusCode).toBe(200);
  });

  it('says when backups to a folder are not set up', async () => {
    const bare = await createTestApp();
    try {
      const { token } = await bare.makeUser({ roles: ['admin'] });
      const status = (await bare.call('GET', '/api/v1/backups/status', { token })).json();
      expect(status).toMatchObject({ configured: false, folder: null, nextRunAt: null, fresh: false, lastBackup: null, filesKept: 0 });
      const res = await bare.call('POST', '/api/v1/backups/runs', { token, body: { kind: 'backup' } });
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('backup.not_configured');
    } finally {
      await bare.close();
    }
  });
});

describe('the command line', () => {
  it('takes a backup into a folder, drills it and reports the status, with --json', async () => {
    const { runCli } = await import('./support/cli.js');
    const root = tempDir('rampart-cli-backups-');
    const env = { RAMPART_DATA_DIR: path.join(root, 'data'), RAMPART_BACKUP_DIR: path.join(root, 'backups'), RAMPART_BACKUP_SCHEDULE: '12h' };
    const ran = await runCli(['backup', 'run', '--json'], { env });
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout) as { run: { status: string; file: string; kind: string }; pruned: string[] };
    expect(result).toMatchObject({ run: { kind: 'manual', status: 'ok' }, pruned: [] });
    expect(fs.statSync(path.join(root, 'backups', result.run.file)).mode & 0o077).toBe(0);

    const drilled = await runCli(['backup', 'drill', '--json'], { env });
    expect(drilled.code, drilled.stderr).toBe(0);
    expect(JSON.parse(drilled.stdout)).toMatchObject({ kind: 'drill', status: 'ok', file: result.run.file, drill: { matched: true } });

    const damaged = path.join(root, 'damaged.rbk');
    const bytes = fs.readFileSync(path.join(root, 'backups', result.run.file));
    bytes[bytes.length - 30]! ^= 0x40;
    fs.writeFileSync(damaged, bytes);
    const refused = await runCli(['backup', 'drill', '--file', damaged], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('backup.invalid');

    const status = await runCli(['backup', 'status', '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ configured: true, folder: 'backups', schedule: '12h', fresh: true, lastBackup: { file: result.run.file }, lastDrill: { status: 'failed', matched: null }, filesKept: 1 });
  }, 120_000);
});
