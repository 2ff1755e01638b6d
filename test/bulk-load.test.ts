import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRecords, inTransaction, listRecords } from '../src/data/record-store.js';
import { withDeferredIndexes } from '../src/db/database.js';
import { generateDemoData } from '../src/modules/demo/demo.service.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';

const ctx = cliContext('test');
const none = { companies: 0, contacts: 0, deals: 0, activities: 0, tickets: 0 };

describe('bulk loads', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  async function indexesOf(table: string): Promise<string[]> {
    if (t.deps.dialect === 'postgres') {
      const rows = await sql<{ indexdef: string }>`select indexdef from pg_indexes where tablename = ${table} and schemaname = current_schema() order by indexname`.execute(t.deps.db);
      return rows.rows.map((r) => r.indexdef);
    }
    const rows = await sql<{ sql: string | null; name: string }>`select name, sql from sqlite_master where type = 'index' and tbl_name = ${table} order by name`.execute(t.deps.db);
    return rows.rows.map((r) => `${r.name}: ${r.sql ?? 'constraint'}`);
  }

  it('builds the indexes a stage deferred, and lists and lookups use them afterwards', async () => {
    const before = await indexesOf('contacts');
    const result = await generateDemoData(t.deps, ctx, { sizes: { ...none, companies: 5, contacts: 120 }, batchSize: 25, deferIndexesFrom: 100, seed: 3 });
    expect(result.created.contacts).toBe(120);
    expect(await indexesOf('contacts')).toEqual(before);
    const page = await listRecords(t.deps, ctx, 'contacts', { limit: 200 });
    expect(page.items).toHaveLength(120);
    const email = String(page.items[17]!.email);
    const found = await listRecords(t.deps, ctx, 'contacts', { filters: { email } });
    expect(found.items.map((c) => c.id)).toEqual([page.items[17]!.id]);
    if (t.deps.dialect === 'sqlite') {
      const plan = await sql<{ detail: string }>`explain query plan select id from contacts where email_bidx = ${17} and deleted_at is null`.execute(t.deps.db);
      expect(plan.rows.map((r) => r.detail).join(' ')).toContain('contacts_email_bidx_idx');
    }
  });

  it('looks up by a column most rows leave empty through its index, which holds only the rows that have a value', async () => {
    const lookups: [string, string, string][] = [
      ['contacts_mobile_bidx_idx', 'contacts', 'mobile_bidx = 17 and deleted_at is null'],
      ['contacts_id_number_bidx_idx', 'contacts', 'id_number_bidx in (17, 18) and deleted_at is null'],
      ['leads_phone_bidx_idx', 'leads', 'phone_bidx = 17 and deleted_at is null'],
      ['contacts_company_id_created_at_id_idx', 'contacts', "company_id = 'c' and deleted_at is null order by created_at desc, id desc"],
      ['tickets_contact_id_created_at_id_idx', 'tickets', "contact_id = 'c' and deleted_at is null order by created_at desc, id desc"],
      ['audit_entries_session_idx', 'audit_entries', "session_id = 's' order by occurred_at"],
    ];
    await t.deps.db.transaction().execute(async (trx) => {
      if (t.deps.dialect === 'postgres') await sql`set local enable_seqscan = off`.execute(trx);
      for (const [index, table, where] of lookups) {
        const explain = t.deps.dialect === 'postgres' ? sql`explain select * from ${sql.table(table)} where ${sql.raw(where)}` : sql`explain query plan select * from ${sql.table(table)} where ${sql.raw(where)}`;
        const plan = ((await explain.execute(trx)).rows as Record<string, string>[]).map((r) => Object.values(r).join(' ')).join(' ');
        expect(plan, where).toContain(index);
      }
    });
    for (const [index] of lookups) {
      const definition = t.deps.dialect === 'postgres'
        ? (await sql<{ d: string }>`select indexdef as d from pg_indexes where indexname = ${index} and schemaname = current_schema()`.execute(t.deps.db)).rows[0]!.d
        : (await sql<{ d: string }>`select sql as d from sqlite_master where name = ${index}`.execute(t.deps.db)).rows[0]!.d;
      expect(definition.toLowerCase()).toMatch(/is not null/);
    }
  });

  it('leaves neither records nor missing indexes behind when a stage fails midway', async () => {
    const before = await indexesOf('contacts');
    const contactsBefore = await countRecords(t.deps, ctx, 'contacts');
    for (const deferIndexesFrom of [1, 1_000_000]) {
      let batches = 0;
      const error = await generateDemoData(t.deps, ctx, {
        sizes: { ...none, contacts: 90 },
        batchSize: 30,
        deferIndexesFrom,
        onProgress: ({ stage, done }) => {
          if (stage === 'contacts' && done > 0 && ++batches === 2) throw new Error('stopped on purpose');
        },
      }).catch((e: unknown) => e);
      expect((error as Error).message).toBe('stopped on purpose');
      expect(await countRecords(t.deps, ctx, 'contacts')).toBe(contactsBefore);
      expect(await indexesOf('contacts')).toEqual(before);
    }
  });

  it('withDeferredIndexes insists on a transaction and puts the indexes back when the work fails', async () => {
    if (t.deps.dialect === 'sqlite') {
      await expect(withDeferredIndexes(t.deps.db, 'sqlite', 'contacts', async () => 1)).rejects.toThrow(/transaction/);
    }
    const before = await indexesOf('companies');
    const error = await inTransaction(t.deps, (tx) =>
      withDeferredIndexes(tx.db, tx.dialect, 'companies', async () => {
        throw new Error('work failed');
      }),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('work failed');
    expect(await indexesOf('companies')).toEqual(before);
  });
});
