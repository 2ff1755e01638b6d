import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeyFile } from '../src/crypto/key-file.js';
import { Keyring } from '../src/crypto/keyring.js';
import { openDatabase, type Database, type Dialect } from '../src/db/database.js';
import { migrateTo, migrateToLatest } from '../src/db/migrator.js';
import { verifyAuditLog } from '../src/data/audit-log.js';
import { erasePerson } from '../src/data/erasure.js';
import { createRecord, createRecords, getRecord, listRecords, type DataDeps } from '../src/data/record-store.js';
import { openBackupFile, openFileKey } from '../src/modules/backup/backup-format.js';
import { readDump } from '../src/modules/backup/backup-dump.js';
import { createBackupFile, verifyBackup } from '../src/modules/backup/backup.service.js';
import { erasureLedgerOf, erasureLedgerOfBackup, restoreBackup, type RestoreOptions } from '../src/modules/backup/backup-restore.js';
import { canonicalContent, canonicalValue, describeTables, type CanonicalContent } from '../src/modules/backup/canonical-content.js';
import { createDeal } from '../src/modules/deals/deals.service.js';
import { createCustomField } from '../src/modules/custom-fields/custom-fields.service.js';
import { createTag } from '../src/modules/tags/tags.service.js';
import { createTeam } from '../src/modules/teams/teams.service.js';
import { insertUser } from '../src/modules/users/users.service.js';
import { systemClock } from '../src/shared/clock.js';
import { AppError } from '../src/shared/errors.js';
import { cliContext } from '../src/shared/principal.js';
import { runCli } from './support/cli.js';

/**
 * Backups across both databases. Every database in this file shares one key file, as the
 * databases of one installation do; the PostgreSQL ones are schemas of their own.
 */
const PG_URL = process.env.RAMPART_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ctx = cliContext('backup-test');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-backup-test-'));
const keyFile = path.join(work, 'rampart.key');
const cleanups: (() => Promise<void>)[] = [];

function keyringOf(file = keyFile): Keyring {
  return new Keyring({ kek: LocalKeyFile.open({ file, create: true }), cacheSize: 1000, expectedPeople: 1_000_000, callingCode: '86' });
}

interface TestDb {
  database: Database;
  dialect: Dialect;
  deps: DataDeps;
  /** SQLite: the file. */
  file?: string;
  schema?: string;
}

let fileCounter = 0;

/** A database of its own: migrated (a source), or with no tables at all (a restore target). */
async function freshDatabase(dialect: Dialect, options: { migrate: boolean }): Promise<TestDb> {
  let database: Database;
  let file: string | undefined;
  let schema: string | undefined;
  if (dialect === 'postgres') {
    schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    database = openDatabase({ dialect: 'postgres', url: PG_URL, schema });
    cleanups.push(async () => {
      await database.close();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    });
  } else {
    file = path.join(work, `db-${++fileCounter}.db`);
    database = openDatabase({ dialect: 'sqlite', file });
    cleanups.push(() => database.close());
  }
  if (options.migrate) await migrateToLatest(database);
  return { database, dialect, file, schema, deps: { db: database.db, dialect, clock: systemClock, keyring: keyringOf() } };
}

/** Realistic content: a team, a user, a personal custom field, a tag, people with notes, deals, an erased person. */
async function populate(deps: DataDeps): Promise<{ contactIds: string[] }> {
  const team = await createTeam(deps, ctx, { name: `Team ${randomBytes(3).toString('hex')}` });
  await insertUser(deps, ctx, { email: `seller.${randomBytes(3).toString('hex')}@example.com`, name: '王小明', password: 'correct horse battery staple 42', roles: ['sales'], teamId: team.id });
  await createCustomField(deps, ctx, { recordType: 'contacts', key: 'altEmail', label: 'Other email', type: 'email', classification: 'personal' });
  await createTag(deps, ctx, { name: 'vip' });
  const [company] = (await createRecords(deps, ctx, 'companies', [{ name: 'Acme 有限公司', domain: 'acme.example' }])) as { ok: true; id: string }[];
  const people = (await createRecords(
    deps,
    ctx,
    'contacts',
    Array.from({ length: 120 }, (_, i) => ({
      firstName: i % 2 ? 'Wei' : '伟',
      lastName: i % 3 ? `Zhang${i}` : `张${i}`,
      email: `person${i}@example.com`,
      phone: `+86 138 0013 ${String(i).padStart(4, '0')}`,
      companyId: company!.id,
      customFields: { altEmail: `alt${i}@example.com` },
    })),
  )) as { ok: true; id: string }[];
  const contactIds = people.map((p) => p.id);
  await createDeal(deps, ctx, { name: 'Big one', contactId: contactIds[0], companyId: company!.id, amount: 98_765_432_105.25 });
  await createRecord(deps, ctx, 'activities', { kind: 'note', subject: 'Call', body: 'Asked about the invoice', relatedType: 'contacts', relatedId: contactIds[1] });
  await erasePerson(deps, ctx, 'contacts', contactIds[2]!);
  return { contactIds };
}

function backupPath(name: string): string {
  return path.join(work, `${name}-${++fileCounter}.rbk`);
}

function restoreOptions(target: TestDb | null, extra: Partial<RestoreOptions> = {}): RestoreOptions {
  return { keyring: keyringOf(), target: target?.database ?? null, targetDialect: target?.dialect ?? 'sqlite', clock: systemClock, ctx, recordRestore: false, checkContent: true, ...extra };
}

async function tableCount(db: TestDb): Promise<number> {
  return (await describeTables(db.database.db, db.dialect)).length;
}

async function expectRefused(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  expect((error as AppError).message).toMatch(message);
}

let postgresReachable = false;

beforeAll(async () => {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    postgresReachable = true;
  } catch {
    postgresReachable = false;
  } finally {
    await client.end().catch(() => undefined);
  }
  if (!postgresReachable) process.stderr.write(`backup tests: PostgreSQL at ${PG_URL} is not reachable; the tests that need it fail\n`);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('canonical values', () => {
  it('normalizes what each database answers to one form', () => {
    expect(canonicalValue('integer', '1234567890123')).toBe(1234567890123);
    expect(canonicalValue('integer', 7)).toBe(7);
    expect(canonicalValue('integer', 10n)).toBe(10);
    expect(canonicalValue('integer', '123456789012345678901')).toBe('123456789012345678901');
    expect(canonicalValue('boolean', 1)).toBe(true);
    expect(canonicalValue('boolean', false)).toBe(false);
    expect(canonicalValue('json', '{"b":1, "a":[2]}')).toBe('{"a":[2],"b":1}');
    expect(canonicalValue('json', { b: 1, a: [2] })).toBe('{"a":[2],"b":1}');
    expect(canonicalValue('text', null)).toBe(null);
    expect(canonicalValue('blob', Buffer.from('hi'))).toEqual({ base64: 'aGk=' });
  });
});

describe.each([
  ['sqlite', 'sqlite'],
  ['sqlite', 'postgres'],
  ['postgres', 'sqlite'],
] as const)('backup on %s, restore on %s', (from, to) => {
  let source: TestDb;
  let before: CanonicalContent;
  let file: string;

  beforeAll(async () => {
    source = await freshDatabase(from, { migrate: true });
    await populate(source.deps);
    before = await canonicalContent(source.database.db, from);
    file = backupPath(`${from}-${to}`);
    await createBackupFile(source.deps, ctx, file);
  }, 120_000);

  it('holds every table, the audit log, wrapped keys and the erasure ledger, and verifies', async () => {
    const verified = await verifyBackup(file, { kek: keyringOf().kek });
    expect(verified.contentSha256).toBe(before.sha256);
    const names = verified.tables.map((t) => t.name);
    for (const table of ['audit_entries', 'audit_head', 'data_keys', 'index_keys', 'erasures', 'contacts', 'custom_values', 'users']) expect(names).toContain(table);
    for (const table of ['kysely_migration', 'search_rows', 'search_fts', 'search_documents']) expect(names).not.toContain(table);
    expect(verified.tables.find((t) => t.name === 'erasures')!.rows).toBe(1);
    expect(verified.tables.find((t) => t.name === 'contacts')!.rows).toBe(120);

    // The key-encryption key is nowhere in the content, in any encoding; personal values are sealed.
    const kek = Buffer.from((JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { versions: { key: string }[] }).versions[0]!.key, 'base64');
    const opened = await openBackupFile(file);
    const fileKey = await openFileKey(opened.header, { kek: keyringOf().kek });
    let content = '';
    for await (const event of readDump(opened, fileKey, { parse: true })) if (event.kind === 'rows') content += JSON.stringify(event.rows);
    await opened.handle.close();
    expect(content).toContain('e1.1.');
    for (const encoded of [kek.toString('base64'), kek.toString('base64url'), kek.toString('hex')]) expect(content).not.toContain(encoded);
    expect(content).not.toContain('person7@example.com');
  });

  it('restores into an empty database with identical canonical content', async () => {
    const target = await freshDatabase(to, { migrate: false });
    const result = await restoreBackup(file, restoreOptions(target));
    expect(result.contentSha256).toBe(before.sha256);
    const after = await canonicalContent(target.database.db, to);
    expect(after.tables).toEqual(before.tables);
    expect(after.sha256).toBe(before.sha256);
    expect(result.searchDocuments).toBeGreaterThan(120);
    // The search index was made again: whole-word search over sealed names and over plain ones works.
    const found = await listRecords(target.deps, ctx, 'contacts', { q: 'Zhang4' }, { audited: false });
    expect(found.items.map((c) => c.lastName)).toEqual(['Zhang4']);
    const byEmail = await listRecords(target.deps, ctx, 'contacts', { filters: { email: 'person7@example.com' } }, { audited: false });
    expect(byEmail.items).toHaveLength(1);
    expect((await verifyAuditLog(target.deps)).problems).toEqual([]);
  }, 120_000);
});

describe('refusing a damaged or foreign backup', () => {
  let source: TestDb;
  let file: string;

  beforeAll(async () => {
    source = await freshDatabase('sqlite', { migrate: true });
    await populate(source.deps);
    file = backupPath('chunks');
    // Small chunks, so the file has several to reorder and cut between.
    await createBackupFile(source.deps, ctx, file, { chunkBytes: 4096 });
  }, 120_000);

  /** The file's frames: where each starts and ends. */
  function frames(bytes: Buffer): { start: number; end: number }[] {
    let at = 8 + 4 + bytes.readUInt32BE(8);
    const list = [];
    while (at < bytes.length) {
      const end = at + 5 + bytes.readUInt32BE(at + 1);
      list.push({ start: at, end });
      at = end;
    }
    return list;
  }

  async function refusedWithNothingRestored(damaged: Buffer, code: string, message: RegExp, extra: Partial<RestoreOptions> = {}): Promise<void> {
    const bad = backupPath('bad');
    fs.writeFileSync(bad, damaged);
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const target = await freshDatabase(dialect, { migrate: false });
      await expectRefused(restoreBackup(bad, restoreOptions(target, extra)), code, message);
      expect(await tableCount(target)).toBe(0);
    }
    if (!extra.keyring && !extra.passphrase) await expectRefused(verifyBackup(bad, { kek: keyringOf().kek }), code, message);
  }

  it('has several chunks, and the intact file restores', async () => {
    expect(frames(fs.readFileSync(file)).length).toBeGreaterThan(5);
    const target = await freshDatabase('sqlite', { migrate: false });
    await restoreBackup(file, restoreOptions(target));
    expect(await tableCount(target)).toBeGreaterThan(20);
  }, 60_000);

  it('refuses a file with one flipped byte', async () => {
    const bytes = fs.readFileSync(file);
    const [, second] = frames(bytes);
    bytes[second!.start + 100]! ^= 0x01;
    await refusedWithNothingRestored(bytes, 'backup.invalid', /damaged: chunk 2 fails authentication/);
  }, 60_000);

  it('refuses a file cut off at a chunk boundary, and one cut inside a chunk', async () => {
    const bytes = fs.readFileSync(file);
    const list = frames(bytes);
    await refusedWithNothingRestored(bytes.subarray(0, list.at(-1)!.start), 'backup.invalid', /truncated: it stops after chunk \d+ without its final chunk/);
    await refusedWithNothingRestored(bytes.subarray(0, list[2]!.start + 50), 'backup.invalid', /truncated inside chunk 3/);
  }, 60_000);

  it('refuses chunks out of order, and a final flag moved', async () => {
    const bytes = fs.readFileSync(file);
    const [a, b, c] = frames(bytes);
    const swapped = Buffer.concat([bytes.subarray(0, b!.start), bytes.subarray(c!.start, c!.end), bytes.subarray(b!.start, b!.end), bytes.subarray(c!.end)]);
    await refusedWithNothingRestored(swapped, 'backup.invalid', /chunk 2 fails authentication/);
    const flagged = Buffer.from(bytes);
    flagged[a!.start] = 1;
    await refusedWithNothingRestored(flagged.subarray(0, a!.end), 'backup.invalid', /chunk 1 fails authentication/);
  }, 60_000);

  it('refuses another installation\'s key file, and a wrong or missing passphrase', async () => {
    const otherKeys = keyringOf(path.join(work, 'other.key'));
    await refusedWithNothingRestored(fs.readFileSync(file), 'backup.wrong_key', /key file does not open this backup/, { keyring: otherKeys });

    const locked = backupPath('passphrase');
    await createBackupFile(source.deps, ctx, locked, { passphrase: 'a long backup passphrase' });
    expect((await verifyBackup(locked, { passphrase: 'a long backup passphrase' })).keySource).toBe('passphrase');
    await expectRefused(verifyBackup(locked, { passphrase: 'not the passphrase' }), 'backup.wrong_key', /passphrase does not open this backup/);
    await expectRefused(verifyBackup(locked, { kek: keyringOf().kek }), 'backup.wrong_key', /--passphrase-stdin/);
    // The passphrase opens the file, but the data inside is sealed under a key file this target lacks.
    const target = await freshDatabase('sqlite', { migrate: false });
    await expectRefused(restoreBackup(locked, restoreOptions(target, { keyring: otherKeys, passphrase: 'a long backup passphrase' })), 'backup.wrong_key', /does not open the keys in this backup/);
    expect(await tableCount(target)).toBe(0);
    await expectRefused(createBackupFile(source.deps, ctx, backupPath('short'), { passphrase: 'short' }), 'request.invalid', /at least 12 characters/);
  }, 120_000);

  it('refuses what is not a backup', async () => {
    const notBackup = backupPath('text');
    fs.writeFileSync(notBackup, 'hello, this is not a backup at all');
    await expectRefused(verifyBackup(notBackup, {}), 'backup.invalid', /not a Rampart backup/);
  });
});

describe('restoring', () => {
  let source: TestDb;
  let contactIds: string[];
  let file: string;

  beforeAll(async () => {
    source = await freshDatabase('sqlite', { migrate: true });
    ({ contactIds } = await populate(source.deps));
    file = backupPath('restoring');
    await createBackupFile(source.deps, ctx, file);
  }, 120_000);

  it('writes nothing on a dry run', async () => {
    const missing = path.join(work, 'never-created.db');
    const dry = await restoreBackup(file, { ...restoreOptions(null), dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.rows).toBeGreaterThan(100);
    expect(fs.existsSync(missing)).toBe(false);
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const target = await freshDatabase(dialect, { migrate: false });
      const result = await restoreBackup(file, { ...restoreOptions(target), dryRun: true });
      expect(result.migrations.before.length).toBe(result.migrations.backup);
      expect(await tableCount(target)).toBe(0);
    }
  }, 60_000);

  it('refuses a database that is not empty, and changes nothing in it', async () => {
    const content = await canonicalContent(source.database.db, 'sqlite');
    await expectRefused(restoreBackup(file, restoreOptions(source)), 'backup.target_not_empty', /not empty \(.*contacts: 1\d\d rows/);
    expect((await canonicalContent(source.database.db, 'sqlite')).sha256).toBe(content.sha256);
    // A database the migrations set up and nobody used is empty, whichever migrations ran.
    const migrated = await freshDatabase('postgres', { migrate: true });
    const result = await restoreBackup(file, restoreOptions(migrated));
    expect(result.migrations.before).toEqual([]);
    expect((await canonicalContent(migrated.database.db, 'postgres')).sha256).toBe(result.contentSha256);
  }, 60_000);

  it('keeps erased a person erased after the backup was taken, from the live ledger or a newer backup', async () => {
    const person = contactIds[10]!;
    const old = backupPath('before-erasure');
    await createBackupFile(source.deps, ctx, old);
    await erasePerson(source.deps, ctx, 'contacts', person);
    const newer = backupPath('after-erasure');
    await createBackupFile(source.deps, ctx, newer);

    // Without the later ledger the old backup brings the person back: what the ledger is for.
    const plain = await freshDatabase('sqlite', { migrate: false });
    await restoreBackup(old, restoreOptions(plain));
    expect((await getRecord(plain.deps, ctx, 'contacts', person, { audited: false })).email).toBe('person10@example.com');

    for (const later of [await erasureLedgerOf(source.database.db), await erasureLedgerOfBackup(newer, { kek: keyringOf().kek })]) {
      for (const dialect of ['sqlite', 'postgres'] as const) {
        const target = await freshDatabase(dialect, { migrate: false });
        const result = await restoreBackup(old, restoreOptions(target, { laterErasures: later }));
        expect(result.erasures).toEqual({ inBackup: 1, added: 1, reapplied: 1 });
        const db = target.database.db;
        expect(await db.selectFrom('data_keys').select('subject_id').where('subject_id', '=', person).execute()).toEqual([]);
        expect(await db.selectFrom('erasures').select('subject_id').where('subject_id', '=', person).execute()).toHaveLength(1);
        const row = await (db as unknown as Kysely<any>).selectFrom('contacts').select(['email', 'phone', 'email_bidx', 'deleted_at']).where('id', '=', person).executeTakeFirstOrThrow();
        expect(row.email).toBeNull();
        expect(row.phone).toBeNull();
        expect(row.email_bidx).toBeNull();
        expect(row.deleted_at).not.toBeNull();
        expect(await db.selectFrom('custom_values').select('record_id').where('record_id', '=', person).execute()).toEqual([]);
        expect((await listRecords(target.deps, ctx, 'contacts', { filters: { email: 'person10@example.com' } }, { audited: false })).items).toEqual([]);
        // Everyone else is intact.
        expect((await getRecord(target.deps, ctx, 'contacts', contactIds[11]!, { audited: false })).email).toBe('person11@example.com');
      }
    }
  }, 120_000);

  it('restores a backup of an older schema, then runs the newer migrations on the restored data', async () => {
    const old = await freshDatabase('sqlite', { migrate: false });
    await migrateTo(old.database, '0017-saved-views');
    await sql`insert into teams (id, name, parent_id, created_at, updated_at) values (${'01900000-0000-7000-8000-000000000001'}, ${'Old team'}, ${null}, ${'2024-01-01T00:00:00.000Z'}, ${'2024-01-01T00:00:00.000Z'})`.execute(old.database.db);
    const oldFile = backupPath('old-schema');
    await createBackupFile(old.deps, ctx, oldFile);
    const target = await freshDatabase('postgres', { migrate: false });
    const result = await restoreBackup(oldFile, restoreOptions(target, { recordRestore: true }));
    expect(result.migrations.after).toContain('0018-detection');
    expect(result.migrations.before.at(-1)).toBe('0017-saved-views');
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(target.database.db);
    expect(applied.rows.map((r) => r.name)).toEqual(await sql<{ name: string }>`select name from kysely_migration order by name`.execute(source.database.db).then((r) => r.rows.map((x) => x.name)));
    expect((await target.database.db.selectFrom('teams').select('name').execute()).map((t) => t.name)).toEqual(['Old team']);
    expect(result.auditChain?.problems).toEqual([]);
  }, 60_000);

  it('records the restore in the restored audit log, whose chain verifies', async () => {
    const sourceHead = Number((await source.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
    const target = await freshDatabase('postgres', { migrate: false });
    const fresh = backupPath('audited');
    await createBackupFile(source.deps, ctx, fresh);
    const result = await restoreBackup(fresh, restoreOptions(target, { recordRestore: true }));
    // The source's entries as of the snapshot, then the restore (the backup.create entry came after).
    expect(result.auditChain).toEqual({ entries: sourceHead + 1, problems: [] });
    const verified = await verifyAuditLog(target.deps);
    expect(verified.problems).toEqual([]);
    const last = await target.database.db.selectFrom('audit_entries').select(['action', 'details']).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(last.action).toBe('backup.restore');
    expect(JSON.parse(last.details)).toMatchObject({ backupId: result.backupId, contentSha256: result.contentSha256 });
  }, 60_000);
});

describe('the command line', () => {
  it('creates, verifies, refuses a damaged file and restores, with --json', async () => {
    const dataDir = path.join(work, 'cli-source');
    const env = { RAMPART_DATA_DIR: dataDir };
    const demo = await runCli(['demo', '--companies', '3', '--contacts', '30', '--deals', '5', '--tickets', '5', '--activities', '10', '--json'], { env });
    expect(demo.code, demo.stderr).toBe(0);
    const file = path.join(work, 'cli.rbk');
    const created = await runCli(['backup', 'create', '--out', file, '--json'], { env });
    expect(created.code, created.stderr).toBe(0);
    const summary = JSON.parse(created.stdout) as { backupId: string; rows: number; contentSha256: string };
    expect(fs.statSync(file).mode & 0o077).toBe(0);

    const verified = await runCli(['backup', 'verify', file, '--json'], { env });
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, backupId: summary.backupId, contentSha256: summary.contentSha256 });

    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 40]! ^= 0x80;
    const damaged = path.join(work, 'cli-damaged.rbk');
    fs.writeFileSync(damaged, bytes);
    const targetEnv = { RAMPART_DATA_DIR: path.join(work, 'cli-target'), RAMPART_KEY_FILE: path.join(dataDir, 'rampart.key') };
    const refused = await runCli(['backup', 'restore', damaged, '--json'], { env: targetEnv });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr)).toMatchObject({ error: { code: 'backup.invalid' } });
    expect(fs.existsSync(path.join(work, 'cli-target', 'rampart.db'))).toBe(false);

    const restored = await runCli(['backup', 'restore', file, '--json'], { env: targetEnv });
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ dryRun: false, backupId: summary.backupId, contentSha256: summary.contentSha256, auditChain: { problems: [] } });
    const again = await runCli(['backup', 'restore', file, '--json'], { env: targetEnv });
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'backup.target_not_empty' } });
  }, 180_000);
});
