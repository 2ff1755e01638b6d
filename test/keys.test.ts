import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reapplyErasures } from '../src/data/erasure.js';
import { keyStatus, retireKek, rewrapAll, rotateDataKeys, rotateIndexKey, rotateKek } from '../src/data/key-rotation.js';
import { createRecords } from '../src/data/record-store.js';
import { stripMarks } from '../src/modules/exports/export-fingerprint.js';
import { writeExport } from '../src/modules/transfer/transfer.export.js';
import { writeFileAtomically } from '../src/shared/atomic-file.js';
import { AppError } from '../src/shared/errors.js';
import { newId } from '../src/shared/ids.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';

const ctx = cliContext('test');

describe('erasing a person (crypto-shredding)', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp();
    ({ token: admin } = await t.makeUser({ roles: ['admin', 'privacy_officer'] }));
  });
  afterAll(async () => t.close());

  it('destroys the keys, clears every trace through every route, and stays erased after a restore', async () => {
    const post = async (p: string, body: Record<string, unknown>) => (await t.call('POST', p, { token: admin, body })).json();
    await post('/api/v1/custom-fields', { recordType: 'contacts', key: 'shoeSize', label: 'Shoe size', type: 'text', classification: 'personal' });
    const person = await post('/api/v1/contacts', { firstName: 'Erasmus', lastName: 'Forgetme', email: 'erasmus@forget.test', phone: '+86 138 5555 0101', customFields: { shoeSize: '44' } });
    const keep = await post('/api/v1/contacts', { firstName: 'Stays', lastName: 'Around', email: 'stays@forget.test' });
    const note = await post('/api/v1/activities', { kind: 'note', subject: 'Chat', body: 'Erasmus likes sailing', relatedType: 'contacts', relatedId: person.id });
    const ticket = await post('/api/v1/tickets', { subject: 'Refund', description: 'Erasmus wants a refund', contactId: person.id });
    const before = (await sql<Record<string, unknown>>`select * from contacts where id = ${person.id}`.execute(t.deps.db)).rows[0]!;
    const keyRows = (await sql<Record<string, unknown>>`select * from data_keys where subject_id = ${person.id}`.execute(t.deps.db)).rows;
    expect(keyRows).toHaveLength(1);

    const { token: sales } = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('POST', `/api/v1/contacts/${person.id}/erase`, { token: sales })).statusCode).toBe(403);

    const erased = await t.call('POST', `/api/v1/contacts/${person.id}/erase`, { token: admin });
    expect(erased.statusCode, erased.body).toBe(200);
    expect(erased.json()).toMatchObject({ subjectId: person.id, records: { contacts: 1, activities: 1, tickets: 1 } });
    expect((await t.call('POST', `/api/v1/contacts/${person.id}/erase`, { token: admin })).json().error.code).toBe('record.erased');

    expect((await t.call('GET', `/api/v1/contacts/${person.id}`, { token: admin })).statusCode).toBe(404);
    const restore = await t.call('POST', `/api/v1/contacts/${person.id}/restore`, { token: admin });
    expect(restore.statusCode).toBe(410);
    expect(restore.json().error.code).toBe('record.erased');
    const trash = (await t.call('GET', '/api/v1/contacts?trash=true', { token: admin })).json().items.find((c: { id: string }) => c.id === person.id);
    expect(trash).toMatchObject({ firstName: null, lastName: null, email: null, phone: null, customFields: { shoeSize: null } });
    // The note hangs off a record in the trash, so it is out of sight; what it held is gone anyway.
    expect((await t.call('GET', `/api/v1/activities/${note.id}`, { token: admin })).statusCode).toBe(404);
    expect((await sql<{ body: string | null }>`select body from activities where id = ${note.id}`.execute(t.deps.db)).rows[0]!.body).toBeNull();
    expect((await t.call('GET', `/api/v1/tickets/${ticket.id}`, { token: admin })).json().description).toBeNull();
    for (const query of ['q=erasmus', 'q=forgetme', 'email=erasmus%40forget.test', 'phone=13855550101']) {
      expect((await t.call('GET', `/api/v1/contacts?${query}&trash=true`, { token: admin })).json().items, query).toEqual([]);
    }
    const exported = path.join(t.dataDir, 'after-erasure.csv');
    await writeFileAtomically(exported, 'export.invalid_request', {}, (stream) => writeExport(t.deps, ctx, { type: 'contacts', format: 'csv', exportId: newId(), exportNo: 1 }, stream));
    const csv = stripMarks(fs.readFileSync(exported, 'utf8'));
    expect(csv).toContain('stays@forget.test');
    expect(csv).not.toMatch(/erasmus|Forgetme/i);
    expect((await t.call('GET', `/api/v1/contacts/${keep.id}`, { token: admin })).json().email).toBe('stays@forget.test');

    // A backup from before the erasure brings the sealed row back: without the key it reads as nothing.
    await sql`update contacts set first_name = ${before.first_name as string}, email = ${before.email as string}, deleted_at = null where id = ${person.id}`.execute(t.deps.db);
    t.deps.keyring.forgetAll();
    expect((await t.call('GET', `/api/v1/contacts/${person.id}`, { token: admin })).json()).toMatchObject({ firstName: null, email: null });
    // A backup that also held the key: the ledger erases it again.
    const row = keyRows[0]!;
    await sql`insert into data_keys (subject_id, version, kek_id, wrapped, created_at) values (${row.subject_id as string}, ${Number(row.version)}, ${row.kek_id as string}, ${row.wrapped as string}, ${row.created_at as string})`.execute(t.deps.db);
    expect(await reapplyErasures(t.deps)).toBe(1);
    expect((await sql`select * from data_keys where subject_id = ${person.id}`.execute(t.deps.db)).rows).toHaveLength(0);
    const cleared = (await sql<{ first_name: string | null; email: string | null }>`select first_name, email from contacts where id = ${person.id}`.execute(t.deps.db)).rows[0]!;
    expect(cleared).toEqual({ first_name: null, email: null });
    const ledger = (await sql<Record<string, unknown>>`select * from erasures`.execute(t.deps.db)).rows;
    expect(ledger).toEqual([{ subject_id: person.id, erased_at: expect.any(String) }]);
  });
});

describe('key rotation', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp();
    ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
  });
  afterAll(async () => t.close());

  it('rotates the KEK and every data key under concurrent API load with no failed request and nothing left under old versions', async () => {
    const seeded = await createRecords(t.deps, ctx, 'contacts', Array.from({ length: 400 }, (_, i) => ({ lastName: `Rotor ${i}`, email: `rotor${i}@spin.test` })));
    const ids = seeded.map((r) => (r as { id: string }).id);
    await t.call('POST', '/api/v1/companies', { token: admin, body: { name: 'Spin Co' } });
    await t.call('POST', '/api/v1/activities', { token: admin, body: { kind: 'note', subject: 'Org note', body: 'belongs to no one' } });

    let running = true;
    const failures: string[] = [];
    let requests = 0;
    const load = (async () => {
      let i = 0;
      while (running) {
        i += 1;
        const id = ids[i % ids.length]!;
        const calls = [
          t.call('GET', `/api/v1/contacts/${id}`, { token: admin }),
          t.call('GET', `/api/v1/contacts?email=rotor${i % 400}%40spin.test`, { token: admin }),
          t.call('POST', '/api/v1/contacts', { token: admin, body: { lastName: `During ${i}`, email: `during${i}@spin.test` } }),
          t.call('GET', '/api/v1/contacts?limit=50', { token: admin }),
        ];
        for (const res of await Promise.all(calls)) {
          requests += 1;
          if (res.statusCode >= 400) failures.push(`${res.statusCode} ${res.body.slice(0, 200)}`);
        }
        const current = await t.call('GET', `/api/v1/contacts/${id}`, { token: admin });
        const updated = await t.call('PATCH', `/api/v1/contacts/${id}`, { token: admin, body: { version: current.json().version, phone: `+86 139 0000 ${String(i % 10_000).padStart(4, '0')}` } });
        requests += 2;
        if (updated.statusCode >= 400) failures.push(`${updated.statusCode} ${updated.body.slice(0, 200)}`);
      }
    })();

    const oldKek = t.deps.keyring.kek.currentId();
    const rotated = await rotateKek(t.deps, { batchSize: 50, pauseMs: 1 });
    expect(rotated.kekId).not.toBe(oldKek);
    await rotateDataKeys(t.deps, { batchSize: 25, pauseMs: 1, settleMs: 100 });
    // Keys made during the rotation by requests are wrapped with the new version too; a last pass finds none left.
    await rewrapAll(t.deps);
    running = false;
    await load;

    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(20);
    const status = await keyStatus(t.deps);
    expect(status.kek.find((k) => k.id === oldKek)).toMatchObject({ state: 'decrypt-only', dataKeys: 0, indexKeys: 0 });
    // People who existed before the rotation have new data keys; people created during it got fresh keys of their own.
    const versionsOfSeeded = await sql<{ subject_id: string; v: number }>`select subject_id, max(version) as v from data_keys group by subject_id`.execute(t.deps.db);
    const newest = new Map(versionsOfSeeded.rows.map((r) => [r.subject_id, Number(r.v)]));
    expect(ids.every((id) => newest.get(id) === 2)).toBe(true);
    expect(newest.get('organisation')).toBe(2);
    expect(status.dataKeyVersions.map((v) => v.version)).not.toContain(3);
    await retireKek(t.deps, oldKek);
    t.deps.keyring.forgetAll();

    // Every value opens, and none is still sealed under a destroyed version.
    const sealedVersions = await sql<{ v: string }>`select email as v from contacts where last_name not like ${'e1.1.%'} and id in (select subject_id from data_keys where version = 2) union all select body from activities where body is not null`.execute(t.deps.db);
    expect(sealedVersions.rows.length).toBeGreaterThan(400);
    const versions = new Set(sealedVersions.rows.map((r) => /^e1\.(\d+)\./.exec(r.v)?.[1]));
    expect([...versions].every((v) => Number(v) >= 2)).toBe(true);
    for (const id of ids.slice(0, 20)) expect((await t.call('GET', `/api/v1/contacts/${id}`, { token: admin })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/v1/contacts?email=rotor7%40spin.test', { token: admin })).json().items.map((c: { lastName: string }) => c.lastName)).toEqual(['Rotor 7']);
  }, 120_000);

  it('replaces the blind-index key while lookups and searches keep answering, then retires the old one', async () => {
    await t.call('POST', '/api/v1/custom-fields', { token: admin, body: { recordType: 'contacts', key: 'altEmail', label: 'Other email', type: 'email', classification: 'personal' } });
    const seeded = await createRecords(t.deps, ctx, 'contacts', Array.from({ length: 300 }, (_, i) => ({ lastName: `Indexed${i}`, email: `indexed${i}@swap.test`, customFields: { altEmail: `alt${i}@swap.test` } })));
    expect(seeded.every((r) => r.ok)).toBe(true);
    const before = (await sql<{ email_bidx: number }>`select email_bidx from contacts where last_name is not null order by id limit 50`.execute(t.deps.db)).rows.map((r) => r.email_bidx);

    let running = true;
    const failures: string[] = [];
    const load = (async () => {
      for (let i = 0; running; i++) {
        const n = i % 300;
        const byEmail = await t.call('GET', `/api/v1/contacts?email=indexed${n}%40swap.test`, { token: admin });
        const byWord = await t.call('GET', `/api/v1/contacts?q=indexed${n}`, { token: admin });
        const byCustom = await t.call('GET', `/api/v1/contacts?custom.altEmail=alt${n}%40swap.test`, { token: admin });
        for (const res of [byEmail, byWord, byCustom]) {
          if (res.statusCode !== 200 || res.json().items.length !== 1) failures.push(`${res.statusCode} ${res.json().items?.length} for ${n}`);
        }
        const made = await t.call('POST', '/api/v1/contacts', { token: admin, body: { lastName: `Late${i}`, email: `late${i}@swap.test` } });
        if (made.statusCode !== 201) failures.push(`create ${made.statusCode}`);
      }
    })();
    const reindexed = await rotateIndexKey(t.deps, { batchSize: 40, pauseMs: 1 });
    running = false;
    await load;
    expect(failures).toEqual([]);
    expect(reindexed).toBeGreaterThan(300);

    const keysNow = (await sql<{ version: number; state: string }>`select version, state from index_keys order by version`.execute(t.deps.db)).rows;
    expect(keysNow.map((k) => k.state)).toEqual(['retired', 'active']);
    const after = (await sql<{ email_bidx: number }>`select email_bidx from contacts where last_name is not null order by id limit 50`.execute(t.deps.db)).rows.map((r) => r.email_bidx);
    expect(after).not.toEqual(before);
    // With only the new key in force, everything is still found, including what was written during the rebuild.
    for (const query of ['email=indexed7%40swap.test', 'q=indexed299', 'custom.altEmail=alt42%40swap.test', 'email=late0%40swap.test']) {
      expect((await t.call('GET', `/api/v1/contacts?${query}`, { token: admin })).json().items, query).toHaveLength(1);
    }
  }, 120_000);

  it('refuses to retire the current version, an unknown one, or one still in use', async () => {
    const current = t.deps.keyring.kek.currentId();
    await expect(retireKek(t.deps, current)).rejects.toMatchObject({ code: 'keys.in_use' });
    await expect(retireKek(t.deps, 'local:99')).rejects.toMatchObject({ code: 'keys.not_found' });
    await t.deps.keyring.kek.addVersion();
    const error = await retireKek(t.deps, current).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('keys.in_use');
    await rewrapAll(t.deps);
    await retireKek(t.deps, current);
  });
});

describe('keys and erasure from the command line', { timeout: 180_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-keys-cli-'));
  const dataDir = path.join(dir, 'data');
  const cli = (args: string[]) => runCli(['--data-dir', dataDir, ...args]);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('shows status, rotates, retires, erases, and refuses to run without the key file', async () => {
    expect((await cli(['demo', '--companies', '2', '--contacts', '20', '--deals', '0', '--activities', '5', '--tickets', '0', '--json'])).code).toBe(0);
    expect(fs.statSync(path.join(dataDir, 'rampart.key')).mode & 0o777).toBe(0o600);
    const status = JSON.parse((await cli(['keys', 'status', '--json'])).stdout);
    expect(status.kek).toEqual([expect.objectContaining({ id: 'local:1', state: 'active', dataKeys: 21 })]);

    const rotated = await cli(['keys', 'rotate', '--data', '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ kekId: 'local:2', rewrapped: 22 });
    const retired = await cli(['keys', 'retire', 'local:1', '--json']);
    expect(retired.code, retired.stderr).toBe(0);
    const after = JSON.parse((await cli(['keys', 'status', '--json'])).stdout);
    expect(after.kek.map((k: { id: string; state: string }) => `${k.id} ${k.state}`)).toEqual(['local:1 retired', 'local:2 active']);

    const exported = path.join(dir, 'contacts.csv');
    expect((await cli(['export', 'contacts', '--out', exported, '--reason', 'Checking the keys'])).code).toBe(0);
    const firstId = fs.readFileSync(exported, 'utf8').split('\n')[1]!.split(',')[0]!;
    const erased = await cli(['erase', 'contacts', firstId, '--json']);
    expect(erased.code, erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toMatchObject({ subjectId: firstId });
    expect((await cli(['erase', 'companies', firstId])).code).not.toBe(0);
    // Key management and erasure are in the audit log, as the operator's.
    const logged = JSON.parse((await cli(['audit', 'search', '--action', 'keys.*', '--action', 'record.erase', '--json'])).stdout).items as { action: string; actorKind: string }[];
    expect(logged.map((e) => e.action)).toEqual(['record.erase', 'keys.retire', 'keys.rotate']);
    expect(logged.every((e) => e.actorKind === 'cli')).toBe(true);

    fs.renameSync(path.join(dataDir, 'rampart.key'), path.join(dir, 'moved.key'));
    const missing = await cli(['keys', 'status']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/key file/i);
    expect(fs.existsSync(path.join(dataDir, 'rampart.key'))).toBe(false);
  });
});
