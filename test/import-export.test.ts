import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { indexedRecordIds, searchIndexTables } from '../src/db/search-index.js';
import type { RecordType } from '../src/data/field-registry.js';
import { countRecords, createRecord, listRecords, type DataDeps } from '../src/data/record-store.js';
import { canaryCount, stripMarks } from '../src/modules/exports/export-fingerprint.js';
import { writeExport, type ExportProgress } from '../src/modules/transfer/transfer.export.js';
import { csvFile, importCsv, type CsvSource } from '../src/modules/transfer/transfer.import.js';
import { writeFileAtomically } from '../src/shared/atomic-file.js';
import { systemClock } from '../src/shared/clock.js';
import { AppError } from '../src/shared/errors.js';
import { newId } from '../src/shared/ids.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

const ctx = cliContext('test');

let exportNo = 0;
/** A CSV export of every record of a type, as its own export (a fresh id and number). */
function csvExport(type: RecordType, onProgress?: (progress: ExportProgress) => void) {
  return { type, format: 'csv' as const, exportId: newId(), exportNo: ++exportNo, ...(onProgress ? { onProgress } : {}) };
}

function source(content: string | Buffer): CsvSource {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  // Small chunks so line tracking and UTF-8 checks cross chunk boundaries.
  return { open: () => Readable.from((function* () { for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7); })()) };
}

async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  return error as AppError;
}

describe('CSV import and export', () => {
  let t: TestDatabase;
  let deps: DataDeps;

  beforeAll(async () => {
    t = await createTestDatabase();
    deps = { db: t.database.db, dialect: t.database.dialect, clock: systemClock, keyring: t.keyring };
    const now = new Date().toISOString();
    await t.database.db
      .insertInto('custom_fields')
      .values({ id: newId(), record_type: 'contacts', key: 'tier', label: 'Customer Tier', type: 'select', classification: 'internal', options: JSON.stringify(['gold', 'silver']), required: 0, position: 0, created_at: now, updated_at: now })
      .execute();
  });
  afterAll(async () => t.cleanup());

  // Record tables are described by the field registry, not the typed schema.
  const anyDb = (): Kysely<any> => t.database.db as unknown as Kysely<any>;

  async function wipe(): Promise<void> {
    for (const table of ['custom_values', ...searchIndexTables(t.dialect), 'record_tags', 'activities', 'tickets', 'deals', 'leads', 'contacts', 'companies']) {
      await anyDb().deleteFrom(table).execute();
    }
  }
  beforeEach(wipe);

  it('imports good rows, reports bad rows by line, and never writes half a row', async () => {
    const acme = await createRecord(deps, ctx, 'companies', { name: 'Acme 有限公司' });
    const csv = [
      'First Name,last_name,E-Mail,Company,Customer Tier,phone',
      'Ada,Lovelace,ada@example.com,Acme 有限公司,gold,+44 20 7946 0000',
      'Bad,Email,not-an-email,,silver,',
      'NoLast,,nolast@example.com,,gold,',
      '"Multi',
      'line",Name,multi@example.com,,,',
      '',
      'Grace,Hopper,grace@example.com,Nowhere Inc,,',
      'Alan,Turing,alan@example.com,,platinum,',
      '王,小明,xiaoming@example.cn,Acme 有限公司,,',
      "Quoted,Plus,quoted@example.com,,,'+86 138 0000 0000",
      'Too,Many,many@example.com,,,,extra',
      `Ghost,Ref,ghost@example.com,${newId()},,`,
    ].join('\r\n');
    const progress: number[] = [];
    const summary = await importCsv(deps, ctx, 'contacts', source(csv), { batchSize: 3, onProgress: ({ done }) => progress.push(done) });

    expect(summary.imported).toBe(3);
    expect(summary.rejected).toBe(7);
    expect(summary.rejectedLines).toEqual([
      { line: 3, problems: [{ field: 'email', message: 'must be an email address' }] },
      { line: 4, problems: [{ field: 'lastName', message: 'is required' }] },
      { line: 5, problems: [{ field: 'firstName', message: 'must not contain control characters' }] },
      { line: 8, problems: [{ field: 'company', message: 'does not name an existing company' }] },
      { line: 9, problems: [{ field: 'customFields.tier', message: expect.stringContaining('must be one of') }] },
      { line: 12, problems: [{ field: 'row', message: 'has 7 values; the header has 6' }] },
      { line: 13, problems: [{ field: 'companyId', message: 'does not name an existing company' }] },
    ]);
    expect(progress.at(-1)).toBe(10);
    // Error reports name fields, never the values.
    expect(JSON.stringify(summary)).not.toMatch(/not-an-email|Nowhere|platinum/);

    const ada = (await listRecords(deps, ctx, 'contacts', { filters: { email: 'ada@example.com' } })).items[0]!;
    expect(ada).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace', companyId: acme.id, phone: '+44 20 7946 0000', customFields: { tier: 'gold' } });
    const quoted = (await listRecords(deps, ctx, 'contacts', { filters: { email: 'quoted@example.com' } })).items[0]!;
    expect(quoted.phone).toBe('+86 138 0000 0000');
    expect((await listRecords(deps, ctx, 'contacts', { q: '小明' })).items).toHaveLength(1);

    // Rejected rows left nothing behind: no record, no custom value, no search term.
    expect(await countRecords(deps, ctx, 'contacts')).toBe(3);
    const values = await t.database.db.selectFrom('custom_values').select('record_id').execute();
    expect(values).toHaveLength(1);
    const live = new Set((await anyDb().selectFrom('contacts').select('id').execute()).map((r: { id: string }) => r.id));
    const orphans = (await indexedRecordIds(t.database.db, t.dialect, 'contacts')).filter((id) => !live.has(id));
    expect(orphans).toHaveLength(0);
  });

  it('refuses unknown columns, files that are not UTF-8 CSV, and empty files, writing nothing', async () => {
    const unknown = await expectAppError(importCsv(deps, ctx, 'contacts', source('firstName,lastName,Shoe Size\nA,B,44\n')), 'import.unknown_column');
    expect(unknown.message).toContain('"Shoe Size" (column 3)');

    // Valid rows first, a broken byte near the end: the whole file is refused before any write.
    const good = Array.from({ length: 50 }, (_, i) => `Name${i},Last${i}`).join('\n');
    const latin1 = Buffer.concat([Buffer.from(`firstName,lastName\n${good}\n`), Buffer.from([0x4a, 0xf6, 0x72, 0x67, 0x2c, 0x58, 0x0a])]);
    await expectAppError(importCsv(deps, ctx, 'contacts', source(latin1), { batchSize: 5 }), 'import.invalid_file');
    await expectAppError(importCsv(deps, ctx, 'contacts', source(Buffer.from([0xff, 0xfe, 0x41, 0x00]))), 'import.invalid_file');
    await expectAppError(importCsv(deps, ctx, 'contacts', source(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))), 'import.invalid_file');
    await expectAppError(importCsv(deps, ctx, 'contacts', source(`firstName,lastName\n${good}\n"unclosed,x\n`)), 'import.invalid_file');
    await expectAppError(importCsv(deps, ctx, 'contacts', source('')), 'import.invalid_file');
    await expectAppError(importCsv(deps, ctx, 'contacts', source('\n\n  \n')), 'import.invalid_file');
    await expectAppError(importCsv(deps, ctx, 'contacts', source('firstName,first_name\nA,B\n')), 'import.invalid_file');
    expect(() => csvFile(path.join(os.tmpdir(), 'no-such-rampart-file.csv'))).toThrow(AppError);
    expect(await countRecords(deps, ctx, 'contacts')).toBe(0);
  });

  it('maps headers by key, label or column name, reads semicolon files and skips system columns', async () => {
    const summary = await importCsv(deps, ctx, 'companies', source('\uFEFFid;NAME;Web-Site;employees;createdAt\n;Initech;initech.example.com;250;2020-01-01T00:00:00Z\n'));
    expect(summary).toMatchObject({ imported: 1, rejected: 0, ignoredColumns: ['id', 'createdAt'] });
    const [company] = (await listRecords(deps, ctx, 'companies')).items;
    expect(company).toMatchObject({ name: 'Initech', website: 'initech.example.com', employees: 250 });
  });

  it('exports through the data layer with custom columns and defused formulas, and imports back', async () => {
    const ids = new Set<string>();
    ids.add(String((await createRecord(deps, ctx, 'contacts', { firstName: '=HYPERLINK("http://evil.example")', lastName: '@SUM(A1)', email: 'f@example.com', phone: '+1 555 0100', customFields: { tier: 'silver' } })).id));
    ids.add(String((await createRecord(deps, ctx, 'contacts', { firstName: 'Plain', lastName: 'Text, with "quotes"', jobTitle: '-dash' })).id));

    let file = '';
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { file += chunk.toString('utf8'); done(); } });
    const result = await writeExport(deps, ctx, csvExport('contacts'), sink);
    expect(result.rows).toBe(2);
    // The export's own rows (the id comes first), apart from the canary rows it adds.
    const [markedHeader, ...markedLines] = file.trimEnd().split('\n');
    const markedRows = markedLines.filter((line) => ids.has(line.split(',')[0]!));
    expect(markedRows).toHaveLength(2);
    expect(markedLines).toHaveLength(2 + canaryCount(2));
    // Read without the invisible marks, as a person would.
    const [header, ...lines] = [markedHeader!, ...markedRows].map(stripMarks);
    const text = lines.join('\n');
    expect(header!.split(',')).toEqual(expect.arrayContaining(['id', 'version', 'ownerId', 'createdAt', 'firstName', 'lastName', 'email', 'companyId', 'tier']));
    expect(text).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    expect(text).toContain("'@SUM(A1)");
    expect(text).toContain("'+1 555 0100");
    expect(text).toContain("'-dash");
    expect(text).toContain('"Text, with ""quotes"""');
    expect(lines).toHaveLength(2);

    await wipe();
    // The records' rows as written, marks and all: the import takes the marks out.
    const back = await importCsv(deps, ctx, 'contacts', source([markedHeader!, ...markedRows].join('\n')));
    expect(back).toMatchObject({ imported: 2, rejected: 0 });
    const restored = (await listRecords(deps, ctx, 'contacts', { filters: { email: 'f@example.com' } })).items[0]!;
    expect(restored).toMatchObject({ firstName: '=HYPERLINK("http://evil.example")', lastName: '@SUM(A1)', phone: '+1 555 0100', customFields: { tier: 'silver' } });
  });

  it('writes export files readable only by their owner, atomically, without overwriting by default', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 450; i++) ids.add(String((await createRecord(deps, ctx, 'companies', { name: `Company ${i}` })).id));
    // As the command line writes an export to a file.
    const exportFile = (target: string, overwrite = false, onProgress?: (progress: ExportProgress) => void) =>
      writeFileAtomically(target, 'export.invalid_request', { overwrite }, (stream) => writeExport(deps, ctx, csvExport('companies', onProgress), stream));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-export-'));
    try {
      const file = path.join(dir, 'companies.csv');
      fs.writeFileSync(file, 'old', { mode: 0o644 });
      await expectAppError(exportFile(file), 'export.invalid_request');
      expect(fs.readFileSync(file, 'utf8')).toBe('old');
      const progress: number[] = [];
      const result = await exportFile(file, true, ({ done }) => progress.push(done));
      expect(result.rows).toBe(450);
      expect(progress.at(-1)).toBe(450);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      // A header, every company once, and the export's canary rows.
      const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(lines.filter((line) => ids.has(line.split(',')[0]!)).map((line) => line.split(',')[0]).sort()).toEqual([...ids].sort());
      expect(lines).toHaveLength(1 + 450 + canaryCount(450));
      expect(fs.readdirSync(dir)).toEqual(['companies.csv']);
      await expectAppError(exportFile(path.join(dir, 'missing', 'x.csv')), 'export.invalid_request');
      await expectAppError(exportFile(dir, true), 'export.invalid_request');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
