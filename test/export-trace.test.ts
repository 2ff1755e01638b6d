import { PassThrough } from 'node:stream';
import type { Kysely } from 'kysely';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecords } from '../src/data/record-store.js';
import { traceExport } from '../src/modules/exports/export-trace.js';
import { writeExport, type ExportFormat } from '../src/modules/transfer/transfer.export.js';
import { newId } from '../src/shared/ids.js';
import type { ActorContext } from '../src/shared/principal.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';

const CSV = { 'content-type': 'text/csv' };
const JSON_TYPE = { 'content-type': 'application/json' };
const MARK_CHARACTERS = /[\u200B\u200C\u2060\u2063]/;
const CONTACTS = 120;

/** Deletes two rows in three, reverses the columns, and retypes a quarter of the cells: what a person tidying a file does. */
function editCsv(text: string): string {
  const [header, ...body] = parse(text, { relax_column_count: true }) as string[][];
  const order = header!.map((_, i) => i).reverse();
  let n = 0;
  const rows = body.filter((_, i) => i % 3 === 1).map((row) => order.map((i) => (++n % 4 === 0 ? `changed ${n}` : (row[i] ?? ''))));
  return stringify([order.map((i) => header![i]!), ...rows]);
}

describe('tracing an exported file to its exporter', () => {
  let t: TestApp;
  let db: Kysely<any>;
  let exporter: { id: string; email: string; token: string; ctx: ActorContext };
  let auditor: string;
  let sales: string;

  beforeAll(async () => {
    t = await createTestApp();
    db = t.database.db as unknown as Kysely<any>;
    const made = await t.makeUser({ roles: ['admin'], email: `leaky.exporter.${Date.now()}@example.com` });
    exporter = {
      id: made.user.id,
      email: made.user.email,
      token: made.token,
      ctx: { principal: { kind: 'user', userId: made.user.id, email: made.user.email, roles: ['admin'], teamId: null, sessionId: 'test' }, channel: 'web', requestId: null, sourceAddress: null, userAgent: null },
    };
    auditor = (await t.makeUser({ roles: ['auditor'] })).token;
    sales = (await t.makeUser({ roles: ['sales'] })).token;
    const firsts = ['Mei', 'Tom', 'Ines', 'Kofi', 'Lars', 'Yuki', '建国', '丽华'];
    const lasts = ['Fischer', 'Okoro', 'Lindqvist', 'Moreau', '陈', '周', 'Haddad', 'Novak'];
    await createRecords(
      t.deps,
      cliContext('test'),
      'contacts',
      Array.from({ length: CONTACTS }, (_, i) => ({
        firstName: firsts[i % firsts.length]!,
        lastName: lasts[(i * 3) % lasts.length]!,
        email: `person${i}@customer.test`,
        phone: `+44 20 7946 ${String(1000 + i)}`,
        jobTitle: ['Buyer', 'Engineer', '采购经理', 'Director'][i % 4]!,
        city: ['Leeds', 'Lyon', '杭州'][i % 3]!,
      })),
      [],
    );
  });
  afterAll(async () => t?.close());

  let nextNo = 900;
  /** An export as the exports service records one, made directly so this test needs nothing else of it. */
  async function recordedExport(format: ExportFormat, label: string, requestedBy: string | null): Promise<{ id: string; exportNo: number }> {
    nextNo += 1;
    const id = newId();
    const now = new Date().toISOString();
    await db
      .insertInto('exports')
      .values({
        id,
        export_no: nextNo,
        requested_by: requestedBy,
        requested_by_label: label,
        type: 'contacts',
        format,
        query: '{}',
        reason: 'test',
        status: 'ready',
        approval_id: null,
        row_limit: 100_000,
        rows_written: null,
        sha256: null,
        created_at: now,
        ready_at: now,
        download_expires_at: now,
        downloaded_at: null,
        version: 1,
      })
      .execute();
    return { id, exportNo: nextNo };
  }

  async function written(format: ExportFormat, label = exporter.email): Promise<{ id: string; text: string }> {
    const { id, exportNo } = await recordedExport(format, label, exporter.id);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const result = await writeExport(t.deps, exporter.ctx, { type: 'contacts', format, exportId: id, exportNo }, out);
    await db.updateTable('exports').set({ rows_written: result.rows, sha256: result.sha256 }).where('id', '=', id).execute();
    expect(result.rows).toBeGreaterThanOrEqual(CONTACTS);
    return { id, text: Buffer.concat(chunks).toString('utf8') };
  }

  const trace = (body: string | Buffer, headers: Record<string, string> = CSV, token = auditor) => t.call('POST', '/api/v1/exports/trace', { token, headers, body });

  it('names the exporter of a CSV with rows deleted, columns reordered and values edited', async () => {
    // Others exported too: the file must point at one export only.
    for (let i = 0; i < 5; i++) await written('csv', `someone.else.${i}@example.com`);
    const { id, text } = await written('csv');
    const edited = editCsv(text);
    expect(parse(edited).length).toBeLessThan(CONTACTS / 2);

    const res = await trace(edited);
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json();
    expect(result.candidates).toHaveLength(1);
    expect(result.candidates[0]).toMatchObject({ exportId: id, exporter: exporter.email, requestedBy: exporter.id, type: 'contacts', format: 'csv', confidence: 'certain' });
    expect(typeof result.candidates[0].exportedAt).toBe('string');
  });

  it('traces a JSON export, objects dropped and keys reordered, and the same data saved as CSV', async () => {
    const { id, text } = await written('json');
    const items = JSON.parse(text) as Record<string, unknown>[];
    expect(items.length).toBeGreaterThan(CONTACTS);
    const csvHeader = Object.keys(items[0]!);
    expect(csvHeader.slice(0, 2)).toEqual(['id', 'version']);
    const kept = items.filter((_, i) => i % 4 === 0).map((item) => Object.fromEntries(Object.entries(item).reverse()));
    const res = await trace(JSON.stringify(kept, null, 2), JSON_TYPE);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().candidates).toMatchObject([{ exportId: id, exporter: exporter.email, format: 'json', confidence: 'certain' }]);

    const asCsv = stringify([csvHeader, ...items.slice(0, 30).map((item) => csvHeader.map((k) => (Array.isArray(item[k]) ? (item[k] as string[]).join(';') : String(item[k] ?? ''))))]);
    expect((await trace(asCsv)).json().candidates).toMatchObject([{ exportId: id }]);
  });

  it('answers an unmarked file with no candidates, and refuses what is not a file it can read', async () => {
    const plain = 'firstName,lastName,email\nMei,Fischer,person0@customer.test\nTom,Okoro,person1@customer.test\n';
    const res = await trace(plain);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ format: 'csv', candidates: [], markedRows: 0 });

    const notText = await trace(Buffer.from([0xff, 0xfe, 0x00, 0x41, 0xc3]));
    expect(notText.statusCode).toBe(400);
    expect(notText.json().error.code).toBe('export.invalid_file');
    const badJson = await trace('[{"a": 1', JSON_TYPE);
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('export.invalid_file');
    const empty = await trace('');
    expect(empty.statusCode).toBe(400);
    const wrongType = await trace('a,b\n1,2\n', { 'content-type': 'application/pdf' });
    expect(wrongType.statusCode).toBe(415);
    expect(wrongType.json().error.code).toBe('export.unsupported_media_type');
  });

  it('refuses a file larger than the limit', async () => {
    const res = await trace(Buffer.alloc(50 * 1_048_576 + 1, 0x61));
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('export.too_large');
  });

  it('is for those who may read the audit log, and is audited with the number of candidates only', async () => {
    const { text } = await written('csv');
    const refused = await trace(text, CSV, sales);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('auth.forbidden');
    const anonymous = await t.call('POST', '/api/v1/exports/trace', { headers: CSV, body: text });
    expect(anonymous.statusCode).toBe(401);

    const before = (await db.selectFrom('audit_entries').select('seq').where('action', '=', 'export.traced').execute()).length;
    expect((await trace(text)).statusCode).toBe(200);
    const entries = (await db.selectFrom('audit_entries').select(['details', 'record_ids', 'fields']).where('action', '=', 'export.traced').orderBy('seq').execute()) as { details: string }[];
    expect(entries).toHaveLength(before + 1);
    const details = typeof entries.at(-1)!.details === 'string' ? JSON.parse(entries.at(-1)!.details) : entries.at(-1)!.details;
    expect(details).toEqual({ candidates: 1, format: 'csv' });
  });

  it('traces in the service without the route, and a file of no export installation-wide gives nothing', async () => {
    const { id, text } = await written('csv');
    const result = await traceExport(t.deps, Buffer.from(editCsv(text)));
    expect(result.candidates.map((c) => c.exportId)).toEqual([id]);
    expect(result.candidates[0]!.sameFile).toBe(false);
    expect((await traceExport(t.deps, Buffer.from(text))).candidates).toMatchObject([{ exportId: id, sameFile: true, confidence: 'certain' }]);
    // The same rows written for an export this database never recorded point at no one.
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await writeExport(t.deps, exporter.ctx, { type: 'contacts', format: 'csv', exportId: newId(), exportNo: 77_777 }, out);
    const stranger = await traceExport(t.deps, Buffer.concat(chunks));
    expect(stranger.candidates).toEqual([]);
    expect(stranger.markedRows).toBeGreaterThan(CONTACTS);
  });

  it('imports an exported file without storing its marks', async () => {
    const { text } = await written('csv');
    expect(text).toMatch(MARK_CHARACTERS);
    const before = new Set((await db.selectFrom('contacts').select('id').execute()).map((r: { id: string }) => r.id));
    const imported = await t.call('POST', '/api/v1/imports/contacts', { token: exporter.token, headers: CSV, body: text });
    expect(imported.statusCode, imported.body).toBe(200);
    const finished = imported.body.trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    expect(finished).toMatchObject({ kind: 'finished', rejected: 0 });
    expect(finished.imported).toBeGreaterThan(CONTACTS);

    const page = await t.call('GET', '/api/v1/contacts?limit=200&sort=-createdAt', { token: exporter.token });
    const fresh = (page.json().items as Record<string, unknown>[]).filter((c) => !before.has(c.id as string));
    expect(fresh.length).toBe(finished.imported);
    for (const contact of fresh) expect(JSON.stringify(contact)).not.toMatch(MARK_CHARACTERS);
  });

  it('does not blame an export whose file was imported back for later files holding its canaries', async () => {
    const first = await written('csv');
    const imported = await t.call('POST', '/api/v1/imports/contacts', { token: exporter.token, headers: CSV, body: first.text });
    expect(imported.statusCode, imported.body).toBe(200);
    // A later export holds the canaries of the first as records; its file loses its id column.
    const later = await written('csv');
    const [header, ...body] = parse(later.text) as string[][];
    const idAt = header!.indexOf('id');
    const withoutIds = stringify([header!.filter((_, i) => i !== idAt), ...body.map((row) => row.filter((_, i) => i !== idAt))]);
    const result = await traceExport(t.deps, Buffer.from(withoutIds));
    expect(result.candidates.map((c) => c.exportId)).toEqual([later.id]);
    // The first export's own file still names it.
    expect((await traceExport(t.deps, Buffer.from(editCsv(first.text)))).candidates.map((c) => c.exportId)).toEqual([first.id]);
  });

  it('end to end: an export asked for and downloaded through the API, edited, is traced to who asked for it', async () => {
    const asked = await t.call('POST', '/api/v1/exports', { token: exporter.token, body: { type: 'contacts', format: 'csv', reason: 'Quarterly account review' } });
    expect(asked.statusCode, asked.body).toBe(201);
    const { id } = asked.json();
    const download = await t.call('GET', `/api/v1/exports/${id}/download`, { token: exporter.token });
    expect(download.statusCode, download.body).toBe(200);

    const res = await trace(editCsv(download.body));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().candidates).toMatchObject([{ exportId: id, exporter: exporter.email, requestedBy: exporter.id, confidence: 'certain' }]);
  });
});
