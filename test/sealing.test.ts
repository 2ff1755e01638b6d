import fs from 'node:fs';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRecord, listRecords, type DataDeps } from '../src/data/record-store.js';
import { sealExistingRecords, type SealingProgress } from '../src/data/sealing-job.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { systemClock } from '../src/shared/clock.js';
import { newId } from '../src/shared/ids.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const ctx = cliContext('test');
const CONTACTS = 1_234;

/**
 * A database of the version before encryption at rest, holding plaintext, is brought up to date:
 * its values are sealed in batches, the work resumes after a crash, and what is left is readable
 * through the data layer and no longer on disk in plaintext.
 */
describe('sealing the records of an earlier version', () => {
  let t: TestDatabase;
  let deps: DataDeps;
  const ids = { company: newId(), contacts: [] as string[], lead: newId(), note: newId(), ticket: newId(), field: newId() };

  beforeAll(async () => {
    t = await createTestDatabase({ migrateTo: '0002-default-pipeline' });
    deps = { db: t.database.db, dialect: t.database.dialect, clock: systemClock, keyring: t.keyring };
    const db = t.database.db as unknown as Kysely<any>;
    const now = new Date().toISOString();
    const base = { version: 1, created_at: now, updated_at: now };
    await db.insertInto('companies').values({ ...base, id: ids.company, name: 'Old Mill Ltd' }).execute();
    const contacts = Array.from({ length: CONTACTS }, (_, i) => {
      const id = newId();
      ids.contacts.push(id);
      return { ...base, id, first_name: `Legacy${i}`, last_name: 'Plainton', email: `legacy${i}@oldmill.test`, phone: `+86 138 1234 ${String(i).padStart(4, '0')}`, company_id: ids.company };
    });
    for (let at = 0; at < contacts.length; at += 200) await db.insertInto('contacts').values(contacts.slice(at, at + 200)).execute();
    await db.insertInto('leads').values({ ...base, id: ids.lead, last_name: 'Leadworthy', email: 'lead@oldmill.test', description: 'Wants the granary quote' }).execute();
    await db.insertInto('activities').values({ ...base, id: ids.note, kind: 'note', subject: 'Old note', body: 'Remembered the millstone order', related_type: 'contacts', related_id: ids.contacts[0] }).execute();
    await db.insertInto('tickets').values({ ...base, id: ids.ticket, subject: 'Old ticket', description: 'Flour delivery was late', contact_id: ids.contacts[1] }).execute();
    await db
      .insertInto('custom_fields')
      .values({ ...base, id: ids.field, record_type: 'contacts', key: 'pet', label: 'Pet', type: 'text', classification: 'personal', options: '[]', required: 0, position: 0 })
      .execute();
    await db.insertInto('custom_values').values({ record_type: 'contacts', record_id: ids.contacts[2], field_id: ids.field, value: 'Whiskerton' }).execute();
    await migrateToLatest(t.database);
  });
  afterAll(async () => t.cleanup());

  it('seals in batches, resumes after a crash, then reads back everything through the data layer', async () => {
    const seen: SealingProgress[] = [];
    const crash = await sealExistingRecords(deps, (p) => {
      seen.push(p);
      if (p.table === 'contacts' && p.done >= 500) throw new Error('killed midway');
    }).catch((e: unknown) => e);
    expect((crash as Error).message).toBe('killed midway');
    const job = (await sql<{ state: string; done: number }>`select state, done from key_jobs where name = 'seal:contacts'`.execute(deps.db)).rows[0]!;
    expect(job).toMatchObject({ state: 'running', done: 500 });

    const resumed: SealingProgress[] = [];
    const sealed = await sealExistingRecords(deps, (p) => resumed.push(p));
    expect(sealed).toBe(CONTACTS - 500 + 1 + 1 + 1);
    expect(resumed.find((p) => p.table === 'contacts')).toEqual({ table: 'contacts', done: 500, total: CONTACTS });
    expect(resumed.filter((p) => p.table === 'contacts').at(-1)).toEqual({ table: 'contacts', done: CONTACTS, total: CONTACTS });
    expect(seen.some((p) => p.table === 'companies')).toBe(true);
    // Nothing left to do: a second run seals nothing.
    expect(await sealExistingRecords(deps)).toBe(0);

    const raw = (await sql<{ email: string; first_name: string; phone: string }>`select email, first_name, phone from contacts`.execute(deps.db)).rows;
    expect(raw.every((r) => r.email.startsWith('e1.') && r.first_name.startsWith('e1.') && r.phone.startsWith('e1.'))).toBe(true);

    const contact = await getRecord(deps, ctx, 'contacts', ids.contacts[700]!);
    expect(contact).toMatchObject({ firstName: 'Legacy700', email: 'legacy700@oldmill.test', companyId: ids.company });
    expect((await getRecord(deps, ctx, 'contacts', ids.contacts[2]!)).customFields).toEqual({ pet: 'Whiskerton' });
    expect((await listRecords(deps, ctx, 'contacts', { filters: { email: 'legacy1233@oldmill.test' } })).items.map((c) => c.id)).toEqual([ids.contacts[1233]]);
    expect((await listRecords(deps, ctx, 'contacts', { filters: { phone: '13812340042' } })).items.map((c) => c.id)).toEqual([ids.contacts[42]]);
    expect((await listRecords(deps, ctx, 'contacts', { q: 'legacy12' })).items.map((c) => c.id)).toEqual([ids.contacts[12]]);
    expect((await listRecords(deps, ctx, 'companies', { q: 'old mil' })).items.map((c) => c.id)).toEqual([ids.company]);
    expect((await getRecord(deps, ctx, 'activities', ids.note)).body).toBe('Remembered the millstone order');
    expect((await getRecord(deps, ctx, 'tickets', ids.ticket)).description).toBe('Flour delivery was late');
    expect((await getRecord(deps, ctx, 'leads', ids.lead)).description).toBe('Wants the granary quote');
    const subjects = await sql<{ subject_id: string }>`select subject_id from activities where id = ${ids.note}`.execute(deps.db);
    expect(subjects.rows[0]!.subject_id).toBe(ids.contacts[0]);

    if (t.dialect === 'sqlite') {
      const file = t.file!;
      const bytes = Buffer.concat(['', '-wal'].filter((s) => fs.existsSync(file + s)).map((s) => fs.readFileSync(file + s))).toString('latin1');
      for (const plaintext of ['legacy700@oldmill.test', 'Plainton', 'Whiskerton', 'millstone', 'granary', '+86 138 1234 0042']) {
        expect(bytes.includes(plaintext), plaintext).toBe(false);
      }
    }
  });
});
