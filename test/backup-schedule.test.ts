import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/database.js';
import {
  backupFileName,
  backupFileTime,
  isBackupDue,
  isDrillDue,
  isFresh,
  isoWeekKey,
  nextBackupAt,
  parseBackupSchedule,
  planRetention,
  slotAfter,
  slotAtOrBefore,
  type BackupFileTime,
} from '../src/modules/backup/backup-schedule.js';
import { BackupScheduler } from '../src/modules/backup/backup-scheduler.js';
import { runScheduledBackup, tryBackupLease } from '../src/modules/backup/backup-runs.service.js';
import { verifyBackup } from '../src/modules/backup/backup.service.js';
import { loadConfig, ConfigError } from '../src/config/config.js';
import type { Clock } from '../src/shared/clock.js';
import { cliContext } from '../src/shared/principal.js';
import { createRecords } from '../src/data/record-store.js';
import { createTestApp, type TestApp } from './support/app.js';
import { expectedKept } from './support/retention-oracle.js';

const at = (iso: string) => new Date(iso);
const daily = parseBackupSchedule('02:30')!;
const sixHours = parseBackupSchedule('6h')!;

describe('the schedule', () => {
  it('takes a daily UTC time or an interval that divides a day, and nothing else', () => {
    expect(daily).toMatchObject({ kind: 'daily', periodMinutes: 1440, offsetMinutes: 150 });
    expect(sixHours).toMatchObject({ kind: 'interval', periodMinutes: 360, offsetMinutes: 0 });
    expect(parseBackupSchedule('00:00')).toMatchObject({ offsetMinutes: 0 });
    expect(parseBackupSchedule('24h')).toMatchObject({ periodMinutes: 1440 });
    for (const bad of ['', '2:30', '24:00', '23:60', '02:30Z', '5h', '0h', '48h', '6 h', '6H', 'daily', '1d', ' 02:00']) expect(parseBackupSchedule(bad), bad).toBeNull();
    expect(loadConfig({ env: {}, cwd: os.tmpdir() }).backup).toMatchObject({ dir: undefined, schedule: { text: '02:00' }, keep: { daily: 7, weekly: 4, monthly: 12 }, drill: 'weekly' });
    expect(() => loadConfig({ env: { RAMPART_BACKUP_SCHEDULE: '7h' }, cwd: os.tmpdir() })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { RAMPART_BACKUP_KEEP_DAILY: '0' }, cwd: os.tmpdir() })).toThrow(/RAMPART_BACKUP_KEEP_DAILY/);
    expect(() => loadConfig({ env: { RAMPART_BACKUP_DRILL: 'monthly' }, cwd: os.tmpdir() })).toThrow(/RAMPART_BACKUP_DRILL/);
    expect(loadConfig({ env: { RAMPART_BACKUP_DIR: 'backups', RAMPART_BACKUP_KEEP_WEEKLY: '0' }, cwd: '/srv/rampart' }).backup).toMatchObject({ dir: '/srv/rampart/backups', keep: { weekly: 0 } });
  });

  it('finds the slot at or before a time and the one after it', () => {
    expect(slotAtOrBefore(daily, at('2026-03-10T02:30:00Z')).toISOString()).toBe('2026-03-10T02:30:00.000Z');
    expect(slotAtOrBefore(daily, at('2026-03-10T02:29:59Z')).toISOString()).toBe('2026-03-09T02:30:00.000Z');
    expect(slotAfter(daily, at('2026-03-10T02:30:00Z')).toISOString()).toBe('2026-03-11T02:30:00.000Z');
    expect(slotAtOrBefore(sixHours, at('2026-03-10T17:59:00Z')).toISOString()).toBe('2026-03-10T12:00:00.000Z');
    expect(slotAfter(sixHours, at('2026-03-10T18:00:00Z')).toISOString()).toBe('2026-03-11T00:00:00.000Z');
    // Across the end of a year and a leap day.
    expect(slotAfter(daily, at('2024-12-31T03:00:00Z')).toISOString()).toBe('2025-01-01T02:30:00.000Z');
    expect(slotAfter(daily, at('2024-02-28T03:00:00Z')).toISOString()).toBe('2024-02-29T02:30:00.000Z');
  });

  it('is due once per slot, catches up once after downtime, and says when it runs next', () => {
    expect(isBackupDue(daily, at('2026-03-10T10:00:00Z'), null)).toBe(true);
    expect(isBackupDue(daily, at('2026-03-10T10:00:00Z'), at('2026-03-10T02:30:01Z'))).toBe(false);
    expect(isBackupDue(daily, at('2026-03-11T02:29:00Z'), at('2026-03-10T02:30:01Z'))).toBe(false);
    expect(isBackupDue(daily, at('2026-03-11T02:30:00Z'), at('2026-03-10T02:30:01Z'))).toBe(true);
    // Down for five days: due at start, and not again once the catch-up ran.
    expect(isBackupDue(daily, at('2026-03-15T09:00:00Z'), at('2026-03-10T02:30:01Z'))).toBe(true);
    expect(isBackupDue(daily, at('2026-03-15T09:05:00Z'), at('2026-03-15T09:00:00Z'))).toBe(false);
    expect(nextBackupAt(daily, at('2026-03-15T09:05:00Z'), at('2026-03-15T09:00:00Z')).toISOString()).toBe('2026-03-16T02:30:00.000Z');
    expect(nextBackupAt(daily, at('2026-03-15T09:05:00Z'), null).toISOString()).toBe('2026-03-15T09:05:00.000Z');
  });

  it('counts a backup fresh within 26 hours on a daily schedule and two intervals otherwise', () => {
    const now = at('2026-03-10T12:00:00Z');
    expect(isFresh(daily, now, null)).toBe(false);
    expect(isFresh(daily, now, at('2026-03-09T10:00:00Z'))).toBe(true);
    expect(isFresh(daily, now, at('2026-03-09T09:59:00Z'))).toBe(false);
    expect(isFresh(sixHours, now, at('2026-03-10T00:00:00Z'))).toBe(true);
    expect(isFresh(sixHours, now, at('2026-03-09T23:59:00Z'))).toBe(false);
  });

  it('drills weekly, daily or never', () => {
    const now = at('2026-03-10T02:31:00Z');
    expect(isDrillDue('off', now, null)).toBe(false);
    expect(isDrillDue('weekly', now, null)).toBe(true);
    expect(isDrillDue('weekly', now, at('2026-03-03T02:33:00Z'))).toBe(true);
    expect(isDrillDue('weekly', now, at('2026-03-04T02:31:00Z'))).toBe(false);
    expect(isDrillDue('daily', now, at('2026-03-09T02:35:00Z'))).toBe(true);
    expect(isDrillDue('daily', now, at('2026-03-09T12:00:00Z'))).toBe(false);
  });

  it('names files by their UTC time and recognizes only its own names', () => {
    const when = at('2026-01-02T03:04:05.678Z');
    expect(backupFileName(when)).toBe('rampart-backup-20260102T030405Z.rbk');
    expect(backupFileTime('rampart-backup-20260102T030405Z.rbk')!.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    for (const other of ['rampart-backup-20261302T030405Z.rbk', 'rampart-backup-20260230T000000Z.rbk', 'rampart-backup-20260102T030405Z.rbk.partial', '.rampart-backup-20260102T030405Z.rbk.abc.partial', 'backup.rbk', 'rampart-backup-20260102T030405.rbk', 'notes.txt']) {
      expect(backupFileTime(other), other).toBeNull();
    }
  });

  it('numbers ISO weeks as ISO 8601 does', () => {
    expect(isoWeekKey(at('2026-01-01T00:00:00Z'))).toBe('2026-W01');
    expect(isoWeekKey(at('2024-12-30T00:00:00Z'))).toBe('2025-W01');
    expect(isoWeekKey(at('2021-01-03T23:59:00Z'))).toBe('2020-W53');
    expect(isoWeekKey(at('2021-01-04T00:00:00Z'))).toBe('2021-W01');
    expect(isoWeekKey(at('2026-03-08T12:00:00Z'))).toBe('2026-W10');
    expect(isoWeekKey(at('2026-03-09T12:00:00Z'))).toBe('2026-W11');
  });
});

function fileAt(iso: string): BackupFileTime {
  const when = at(iso);
  return { name: backupFileName(when), at: when };
}

describe('retention', () => {
  it('keeps the newest of each day, ISO week and month over a year and more of daily backups', () => {
    const policy = { daily: 7, weekly: 4, monthly: 12 };
    let folder: BackupFileTime[] = [];
    const all: BackupFileTime[] = [];
    const start = at('2025-01-01T02:00:00Z').getTime();
    for (let day = 0; day < 430; day++) {
      const file = { name: backupFileName(new Date(start + day * 86_400_000)), at: new Date(start + day * 86_400_000) };
      all.push(file);
      folder.push(file);
      const plan = planRetention(folder, policy);
      expect(plan.keep.size + plan.remove.length).toBe(folder.length);
      expect(plan.keep.has(file.name)).toBe(true);
      folder = folder.filter((f) => plan.keep.has(f.name));
      // Applied run after run, it keeps exactly what it would keep looking at every backup ever taken.
      expect(new Set(folder.map((f) => f.name))).toEqual(expectedKept(all, policy));
    }
    // 7 dailies; the 4 newest weeks' Sundays, some of them dailies; 12 month-ends, one of them this month's newest.
    const names = folder.map((f) => f.name).sort();
    expect(names.length).toBeLessThanOrEqual(7 + 4 + 12);
    expect(names.length).toBeGreaterThanOrEqual(12 + 7 - 1);
    expect(names.at(-1)).toBe(all.at(-1)!.name);
    expect(names).toContain('rampart-backup-20251231T020000Z.rbk');
    expect(names).toContain('rampart-backup-20250430T020000Z.rbk');
    expect(names).not.toContain('rampart-backup-20250331T020000Z.rbk');
    expect(names).not.toContain('rampart-backup-20250429T020000Z.rbk');
    expect(names).not.toContain('rampart-backup-20250101T020000Z.rbk');
  });

  it('keeps the newest of several backups a day, and names the rule that keeps each', () => {
    const files = ['2026-03-09T00:00:00Z', '2026-03-09T06:00:00Z', '2026-03-09T12:00:00Z', '2026-03-10T00:00:00Z', '2026-03-10T06:00:00Z'].map(fileAt);
    const plan = planRetention(files, { daily: 2, weekly: 0, monthly: 0 });
    expect([...plan.keep.entries()]).toEqual([
      ['rampart-backup-20260310T060000Z.rbk', 'daily'],
      ['rampart-backup-20260309T120000Z.rbk', 'daily'],
    ]);
    expect(plan.remove).toEqual(['rampart-backup-20260309T000000Z.rbk', 'rampart-backup-20260309T060000Z.rbk', 'rampart-backup-20260310T000000Z.rbk']);
    const weekly = planRetention(['2026-03-01T02:00:00Z', '2026-03-08T02:00:00Z', '2026-03-09T02:00:00Z'].map(fileAt), { daily: 1, weekly: 2, monthly: 1 });
    expect(Object.fromEntries(weekly.keep)).toEqual({ 'rampart-backup-20260309T020000Z.rbk': 'daily', 'rampart-backup-20260308T020000Z.rbk': 'weekly' });
  });

  it('never deletes the newest backup, and a long stop does not age every backup out', () => {
    const files = ['2026-01-05T02:00:00Z', '2026-01-06T02:00:00Z'].map(fileAt);
    expect([...planRetention(files, { daily: 0, weekly: 0, monthly: 0 }).keep.keys()]).toEqual(['rampart-backup-20260106T020000Z.rbk']);
    // Nothing for three months, then one backup: the days before the stop still count as the last days with a backup.
    const afterStop = [...files, fileAt('2026-04-20T02:00:00Z')];
    expect(planRetention(afterStop, { daily: 3, weekly: 0, monthly: 0 }).remove).toEqual([]);
    expect(planRetention([], { daily: 7, weekly: 4, monthly: 12 })).toEqual({ keep: new Map(), remove: [] });
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

const created: string[] = [];
function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

async function backupAudit(t: TestApp): Promise<{ action: string; outcome: string; details: Record<string, unknown> }[]> {
  const rows = await t.database.db.selectFrom('audit_entries').select(['action', 'outcome', 'details']).where('action', 'like', 'backup.%').orderBy('seq').execute();
  return rows.map((r) => ({ action: r.action, outcome: r.outcome, details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details }));
}

describe('scheduled backups into a folder', () => {
  let t: TestApp;
  let dir: string;
  const clock = new ManualClock(at('2026-03-10T01:00:00Z'));

  beforeAll(async () => {
    dir = path.join(tempDir('rampart-backups-'), 'nightly');
    t = await createTestApp({ RAMPART_BACKUP_DIR: dir, RAMPART_BACKUP_SCHEDULE: '02:30', RAMPART_BACKUP_KEEP_DAILY: '3', RAMPART_BACKUP_KEEP_WEEKLY: '2', RAMPART_BACKUP_KEEP_MONTHLY: '1', RAMPART_BACKUP_DRILL: 'off' }, { clock });
    await createRecords(t.deps, cliContext('test'), 'contacts', [{ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' }]);
  });
  afterAll(async () => t.close());

  it('writes a verified file named by its time, mode 0600, and records and audits it', async () => {
    const result = await runScheduledBackup(t.deps);
    expect(result.outcome).toBe('ran');
    const run = result.backup!.run;
    expect(run).toMatchObject({ kind: 'scheduled', status: 'ok', file: 'rampart-backup-20260310T010000Z.rbk', error: null, tier: 'daily', requestedBy: null });
    const file = path.join(dir, run.file!);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(run.verifiedAt).not.toBeNull();
    const verified = await verifyBackup(file, { kek: t.deps.keyring.kek });
    expect(verified).toMatchObject({ backupId: run.backupId, bytes: run.bytes, rows: run.rows, contentSha256: run.contentSha256 });
    expect(fs.readdirSync(dir)).toEqual([run.file]);
    const audit = await backupAudit(t);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'backup.created', outcome: 'success', details: { runId: run.id, file: run.file, kind: 'scheduled' } });
    // File names only: the folder never appears in the audit log or the run.
    expect(JSON.stringify(audit)).not.toContain(dir);
    expect(JSON.stringify(await t.database.db.selectFrom('backup_runs').selectAll().execute())).not.toContain(dir);
  });

  it('runs once per slot and catches up once after downtime', async () => {
    clock.set('2026-03-10T02:00:00Z');
    expect((await runScheduledBackup(t.deps)).outcome).toBe('not_due');
    clock.set('2026-03-10T02:30:00Z');
    expect((await runScheduledBackup(t.deps)).outcome).toBe('ran');
    expect((await runScheduledBackup(t.deps)).outcome).toBe('not_due');
    // Down from the 10th to the 14th in the evening: one backup on return, not four.
    clock.set('2026-03-14T19:00:00Z');
    expect((await runScheduledBackup(t.deps)).outcome).toBe('ran');
    clock.set('2026-03-14T19:10:00Z');
    expect((await runScheduledBackup(t.deps)).outcome).toBe('not_due');
    clock.set('2026-03-15T02:30:00Z');
    expect((await runScheduledBackup(t.deps)).outcome).toBe('ran');
    const runs = await t.database.db.selectFrom('backup_runs').select(['started_at', 'status']).orderBy('started_at').execute();
    expect(runs.map((r) => r.started_at)).toEqual(['2026-03-10T01:00:00.000Z', '2026-03-10T02:30:00.000Z', '2026-03-14T19:00:00.000Z', '2026-03-15T02:30:00.000Z']);
    expect(runs.every((r) => r.status === 'ok')).toBe(true);
  });

  it('applies retention over a calendar of runs, deleting only its own files', async () => {
    // Files it did not write: another name, and its own name pattern that no run recorded.
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
    fs.writeFileSync(path.join(dir, 'rampart-backup-20200101T000000Z.rbk'), 'not ours');
    const taken: BackupFileTime[] = (await t.database.db.selectFrom('backup_runs').select('file').execute()).map((r) => ({ name: r.file!, at: backupFileTime(r.file!)! }));
    for (let day = 16; day <= 31; day++) {
      clock.set(`2026-03-${day}T02:30:00Z`);
      const result = await runScheduledBackup(t.deps);
      expect(result.outcome).toBe('ran');
      taken.push({ name: result.backup!.run.file!, at: clock.now() });
    }
    for (const iso of ['2026-04-01T02:30:00Z', '2026-04-02T02:30:00Z']) {
      clock.set(iso);
      expect((await runScheduledBackup(t.deps)).outcome).toBe('ran');
      taken.push(fileAt(iso));
    }
    const policy = { daily: 3, weekly: 2, monthly: 1 };
    const expected = expectedKept(taken, policy);
    expect(new Set(fs.readdirSync(dir).filter((n) => !['notes.txt', 'rampart-backup-20200101T000000Z.rbk'].includes(n)))).toEqual(expected);
    expect(fs.readdirSync(dir)).toContain('notes.txt');
    expect(fs.readdirSync(dir)).toContain('rampart-backup-20200101T000000Z.rbk');
    // Runs say which are kept and by which rule, and when the others were pruned.
    const rows = await t.database.db.selectFrom('backup_runs').select(['file', 'tier', 'pruned_at']).execute();
    for (const row of rows) {
      if (expected.has(row.file!)) expect(row.tier, row.file!).not.toBeNull();
      else expect(row.pruned_at, row.file!).not.toBeNull();
    }
    expect(rows.find((r) => r.file === 'rampart-backup-20260331T023000Z.rbk')!.tier).toBe('daily');
    expect(rows.find((r) => r.file === 'rampart-backup-20260329T023000Z.rbk')!.tier).toBe('weekly');
    const pruned = (await backupAudit(t)).filter((a) => a.action === 'backup.pruned');
    expect(pruned.length).toBeGreaterThan(0);
    const prunedFiles = pruned.flatMap((a) => a.details.files as string[]);
    expect(new Set(prunedFiles)).toEqual(new Set(taken.map((f) => f.name).filter((n) => !expected.has(n))));
  }, 120_000);

  it('lets one of two schedulers sharing the database run, and takes over a lease its holder abandoned', async () => {
    const second: Database = t.testDb.dialect === 'sqlite' ? openDatabase({ dialect: 'sqlite', file: t.testDb.file! }) : openDatabase({ dialect: 'postgres', url: process.env.RAMPART_TEST_DATABASE_URL!, schema: t.testDb.schema! });
    try {
      const other = { ...t.deps, db: second.db };
      clock.set('2026-04-03T02:30:00Z');
      const before = await t.database.db.selectFrom('backup_runs').select('id').execute();
      const outcomes = (await Promise.all([runScheduledBackup(t.deps), runScheduledBackup(other)])).map((r) => r.outcome).sort();
      expect(outcomes.filter((o) => o === 'ran')).toHaveLength(1);
      expect(['busy', 'not_due']).toContain(outcomes.find((o) => o !== 'ran'));
      expect((await t.database.db.selectFrom('backup_runs').select('id').execute()).length).toBe(before.length + 1);

      // A process holds the lease (a backup under way elsewhere): the next slot waits for it.
      clock.set('2026-04-04T02:30:00Z');
      await second.db.updateTable('backup_lease').set({ lease_holder: 'another-process', lease_until: '2026-04-04T02:31:00.000Z' }).execute();
      await second.db.insertInto('backup_runs').values({ id: '019a0000-0000-7000-8000-000000000001', kind: 'scheduled', status: 'running', requested_by: null, started_at: '2026-04-04T02:30:00.000Z', file: null }).execute();
      expect((await runScheduledBackup(t.deps)).outcome).toBe('busy');
      expect(await tryBackupLease(t.deps)).toBeNull();
      // That process dies mid-run: its run stays `running` and its lease runs out unrenewed. The
      // slot's backup is taken all the same, and the dead run is marked interrupted.
      clock.set('2026-04-04T02:35:00Z');
      const result = await runScheduledBackup(t.deps);
      expect(result.outcome).toBe('ran');
      expect((await runScheduledBackup(t.deps)).outcome).toBe('not_due');
      expect(await t.database.db.selectFrom('backup_runs').select(['status', 'error_code']).where('id', '=', '019a0000-0000-7000-8000-000000000001').executeTakeFirst()).toEqual({ status: 'failed', error_code: 'backup.interrupted' });
    } finally {
      await second.close();
    }
  }, 60_000);
});

describe('the scheduler a server starts', () => {
  let t: TestApp;
  let dir: string;
  let scheduler: BackupScheduler | null = null;
  afterEach(async () => scheduler?.stop());
  beforeAll(async () => {
    dir = tempDir('rampart-scheduler-');
    t = await createTestApp({ RAMPART_BACKUP_DIR: dir, RAMPART_BACKUP_SCHEDULE: '1h', RAMPART_BACKUP_DRILL: 'daily' });
  });
  afterAll(async () => t.close());

  it('takes the backup that is due on its first look, drills it, and stops cleanly', async () => {
    const warnings: string[] = [];
    scheduler = new BackupScheduler(t.deps, { warn: (m) => warnings.push(m) }, { firstLookMs: 0, pollMs: 60_000 });
    scheduler.start();
    const deadline = Date.now() + 60_000;
    let kinds: string[] = [];
    while (Date.now() < deadline) {
      const rows = await t.database.db.selectFrom('backup_runs').select(['kind', 'status', 'error_code', 'error_message']).where('status', '!=', 'running').execute();
      kinds = rows.map((r) => `${r.kind}:${r.status}${r.error_code ? ` ${r.error_code} ${r.error_message}` : ''}`).sort();
      if (kinds.length >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await scheduler.stop();
    expect(kinds).toEqual(['drill:ok', 'scheduled:ok']);
    expect(warnings).toEqual([]);
    expect(fs.readdirSync(dir)).toHaveLength(1);
  }, 90_000);
});
