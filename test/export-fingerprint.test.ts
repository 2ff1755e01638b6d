import { randomBytes } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { SYSTEM_FIELDS } from '../src/data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../src/data/record-types.js';
import {
  canariesAtMost,
  canaryCount,
  canaryOf,
  exportSecret,
  ExportMarker,
  readChunks,
  stripMarks,
  TraceIndex,
  type CanaryColumn,
} from '../src/modules/exports/export-fingerprint.js';
import { isId, newId } from '../src/shared/ids.js';

const COLUMNS: CanaryColumn[] = [...SYSTEM_FIELDS.filter((f) => f.key !== 'deletedAt'), ...RECORD_TYPE_DEFS.contacts.fields].map((f) => ({ key: f.key, type: f.type }));
const FIRST = ['Anna', 'Bo', 'Chen', 'Dmitri', 'Eva', 'Farah', '思远', '子涵', 'Gus', 'Hana'];
const LAST = ['Keller', 'Ng', 'Okafor', 'Petrov', 'Quinn', '王', '李', 'Ruiz', 'Sato', 'Tran'];

/** Ordinary contact rows, in the export's column order, with ids of their own. */
function contactRows(n: number, seed = 1): unknown[][] {
  let s = seed;
  const next = (m: number) => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % m;
  };
  return Array.from({ length: n }, (_, i) => {
    const first = FIRST[next(FIRST.length)]!;
    const last = LAST[next(LAST.length)]!;
    const byKey: Record<string, unknown> = {
      id: newId(Date.UTC(2025, 0, 1) + i * 60_000),
      version: 1 + next(4),
      ownerId: 'owner-1',
      createdAt: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
      updatedAt: new Date(Date.UTC(2025, 3, 1) + i * 60_000).toISOString(),
      firstName: first,
      lastName: last,
      email: `contact${i}@corp.test`,
      phone: `+44 20 7946 ${String(next(10_000)).padStart(4, '0')}`,
      jobTitle: ['Buyer', 'CFO', 'Engineer', '销售经理'][next(4)],
      city: ['Leeds', 'Lyon', '杭州', 'Austin'][next(4)],
      country: 'Somewhere',
      lifecycleStage: 'customer',
      tags: ['vip', 'north'],
    };
    return COLUMNS.map((c) => byKey[c.key] ?? null);
  });
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(';');
  return String(value);
}

/** Writes rows as an export would, through the marker; answers the CSV text. */
function exportFile(markKey: Buffer, exportId: string, exportNo: number, rows: unknown[][]): string {
  const marker = new ExportMarker(markKey, exportId, exportNo, 'contacts', COLUMNS);
  const out: unknown[][] = [];
  for (const row of rows) out.push(...marker.add(row));
  out.push(...marker.finish());
  return stringify([COLUMNS.map((c) => c.key), ...out.map((r) => r.map(cellText))]);
}

function readFile(text: string): string[][] {
  return parse(text, { relax_column_count: true }) as string[][];
}

function traced(index: TraceIndex, rows: string[][]) {
  for (const row of rows) index.scan(row);
  return index.verdicts();
}

/** An index of the export under test among many others made with the same key. */
function indexWith(markKey: Buffer, suspect: { exportId: string; exportNo: number; rowsWritten: number | null }, others = 200): { index: TraceIndex; at: number } {
  const index = new TraceIndex();
  for (let i = 0; i < others; i++) index.add({ exportId: newId(), exportNo: 1000 + i, type: 'contacts', rowsWritten: 500 + i }, [markKey]);
  const at = index.add({ ...suspect, type: 'contacts' }, [markKey]);
  return { index, at };
}

function shuffled<T>(items: T[], seed: number): T[] {
  const copy = [...items];
  let s = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('export fingerprints', () => {
  const markKey = randomBytes(32);

  it('names the export of an unchanged file with certainty, and no other', () => {
    const exportId = newId();
    const rows = contactRows(1500);
    const file = readFile(exportFile(markKey, exportId, 7, rows));
    // Canaries were slipped in: 1500 rows hold three.
    expect(file.length - 1).toBe(1500 + canaryCount(1500));
    const { index, at } = indexWith(markKey, { exportId, exportNo: 7, rowsWritten: 1500 });
    const verdicts = traced(index, file);
    expect([...verdicts.keys()]).toEqual([at]);
    expect(verdicts.get(at)).toMatchObject({ confidence: 'certain', evidence: { canaryRows: canaryCount(1500), markChunks: [0, 1, 2, 3] } });
    expect(verdicts.get(at)!.evidence.markedRows).toBe(1500 + canaryCount(1500));
  });

  it('survives deleted rows, reordered and dropped columns, edited values and a spreadsheet re-save', () => {
    const exportId = newId();
    const file = readFile(exportFile(markKey, exportId, 42, contactRows(800, 3)));
    const [header, ...body] = file as [string[], ...string[][]];
    // Most rows deleted, the rest sorted another way.
    const kept = shuffled(body, 11).slice(0, 60);
    // Columns reordered, two dropped.
    const order = shuffled(header.map((_, i) => i), 5).filter((i) => header[i] !== 'version' && header[i] !== 'teamId');
    // A third of the cells retyped.
    let n = 0;
    const edited = kept.map((row) => order.map((i) => (++n % 3 === 0 ? `edited ${n}` : row[i] ?? '')));
    // Saved again by another program: quoted differently, semicolons, CRLF.
    const resaved = stringify([order.map((i) => header[i]!), ...edited], { delimiter: ';', quoted: true, record_delimiter: 'windows' });
    const reread = parse(resaved, { delimiter: ';' }) as string[][];

    const { index, at } = indexWith(markKey, { exportId, exportNo: 42, rowsWritten: 800 });
    const verdicts = traced(index, reread);
    expect([...verdicts.keys()]).toEqual([at]);
    expect(verdicts.get(at)!.confidence).toBe('certain');
    expect(verdicts.get(at)!.evidence.markedRows).toBeGreaterThan(20);
  });

  it('each mark alone is enough: the keyed mark without canaries, the canaries without the mark', () => {
    const exportId = newId();
    const rows = contactRows(300, 9);
    const realIds = new Set(rows.map((r) => r[0] as string));
    const file = readFile(exportFile(markKey, exportId, 3, rows));
    const [header, ...body] = file as [string[], ...string[][]];
    const idAt = header.indexOf('id');

    const withoutCanaries = body.filter((row) => realIds.has(row[idAt]!));
    expect(withoutCanaries).toHaveLength(300);
    const first = indexWith(markKey, { exportId, exportNo: 3, rowsWritten: 300 });
    expect(traced(first.index, withoutCanaries.slice(0, 12)).get(first.at)).toMatchObject({ confidence: 'certain', evidence: { canaryRows: 0 } });

    // Every invisible character taken out, and only a few columns kept, ids among them not.
    const keep = ['email', 'lastName', 'firstName', 'city'].map((k) => header.indexOf(k));
    const stripped = body.map((row) => keep.map((i) => stripMarks(row[i]!)));
    const second = indexWith(markKey, { exportId, exportNo: 3, rowsWritten: 300 });
    const verdict = traced(second.index, stripped).get(second.at);
    expect(verdict).toMatchObject({ confidence: 'certain', evidence: { markedRows: 0, canaryRows: canaryCount(300) } });
  });

  it('finds nothing in an unmarked file or in one marked by an export it does not know', () => {
    const rows = contactRows(600, 4);
    const plain = [COLUMNS.map((c) => c.key), ...rows.map((r) => r.map(cellText))];
    const { index } = indexWith(markKey, { exportId: newId(), exportNo: 5, rowsWritten: 600 });
    expect(traced(index, plain).size).toBe(0);
    expect(index.markedRows).toBe(0);

    const foreign = readFile(exportFile(randomBytes(32), newId(), 5, rows));
    const other = indexWith(markKey, { exportId: newId(), exportNo: 5, rowsWritten: 600 });
    expect(traced(other.index, foreign).size).toBe(0);
    expect(other.index.markedRows).toBeGreaterThan(500);
  });

  it('spreads the canaries of a small export among its rows and makes them look like records', () => {
    const exportId = newId();
    const rows = contactRows(3, 8);
    const file = readFile(exportFile(markKey, exportId, 9, rows));
    expect(file).toHaveLength(1 + 3 + 2);
    const secret = exportSecret(markKey, exportId);
    const exportedAt = parseInt(exportId.replace(/-/g, '').slice(0, 12), 16);
    for (const k of [0, 1]) {
      const canary = canaryOf(secret, exportId, k);
      expect(isId(canary.id)).toBe(true);
      expect(canary.email).toMatch(/^[a-z]+\.[a-z]+\d+@([a-z]+\.)?example\.(com|net|org)$/);
      expect(canary.phone).toMatch(/^\+1 \d{3}-555-01\d\d$/);
      expect(Date.parse(canary.createdAt)).toBeLessThan(exportedAt);
      expect(Date.parse(canary.updatedAt)).toBeGreaterThanOrEqual(Date.parse(canary.createdAt));
      expect(Date.parse(canary.updatedAt)).toBeLessThan(exportedAt);
      const row = file.find((r) => r[0] === canary.id);
      expect(row, `canary ${k} is in the file`).toBeDefined();
      // It takes its neighbour's owner and stage rather than inventing them.
      expect(row![COLUMNS.findIndex((c) => c.key === 'ownerId')]).toBe('owner-1');
    }
    // The same export always makes the same canaries; another export other ones.
    expect(canaryOf(secret, exportId, 0).email).toBe(canaryOf(exportSecret(markKey, exportId), exportId, 0).email);
    const otherId = newId();
    expect(canaryOf(exportSecret(markKey, otherId), otherId, 0).id).not.toBe(canaryOf(secret, exportId, 0).id);
  });

  it('takes marks out of values, and leaves ordinary invisible characters alone', () => {
    const exportId = newId();
    const file = readFile(exportFile(markKey, exportId, 12, contactRows(20, 2)));
    const marked = file.flat().filter((cell) => readChunks(cell).length > 0);
    expect(marked.length).toBeGreaterThanOrEqual(20);
    for (const cell of marked) {
      const clean = stripMarks(cell);
      expect(readChunks(clean)).toHaveLength(0);
      expect(clean).not.toMatch(/[\u200B\u200C\u2060\u2063]/);
    }
    // A zero-width non-joiner inside a Persian word is text, not a mark.
    expect(stripMarks('می\u200Cخواهم')).toBe('می\u200Cخواهم');
    expect(stripMarks(`Smith${'\u200B'.repeat(9)}`)).toBe('Smith');
  });

  it('never marks an e-mail address, telephone number, id or date', () => {
    const exportId = newId();
    const file = readFile(exportFile(markKey, exportId, 13, contactRows(200, 6)));
    const [header, ...body] = file as [string[], ...string[][]];
    for (const key of ['id', 'email', 'phone', 'mobile', 'createdAt', 'updatedAt', 'ownerId', 'birthday']) {
      const at = header.indexOf(key);
      if (at < 0) continue;
      expect(body.every((row) => readChunks(row[at]!).length === 0), key).toBe(true);
    }
  });

  it('writes about one canary per 500 rows, never more than a trace looks for', () => {
    for (const rows of [1, 2, 999, 1000, 1001, 1200, 1499, 2600, 12_345]) {
      const marker = new ExportMarker(markKey, newId(), 1, 'contacts', COLUMNS);
      const row = COLUMNS.map((c) => (c.type === 'text' ? 'Someone' : null));
      let written = 0;
      for (let i = 0; i < rows; i++) written += marker.add([...row]).length;
      written += marker.finish().length;
      const canaries = written - rows;
      expect(canaries, `${rows} rows`).toBeGreaterThanOrEqual(2);
      expect(canaries, `${rows} rows`).toBeLessThanOrEqual(canariesAtMost(rows));
      expect(canaries, `${rows} rows`).toBeGreaterThanOrEqual(Math.min(20, Math.floor(rows / 500)));
    }
  });

  it('keeps its mark in every fourth row, as in any stretch of rows', () => {
    const exportId = newId();
    const rows = contactRows(400, 21);
    const realIds = new Set(rows.map((r) => r[0] as string));
    const [, ...body] = readFile(exportFile(markKey, exportId, 31, rows));
    const realRows = body.filter((row) => realIds.has(row[0]!));
    for (const [name, kept] of [
      ['every fourth', realRows.filter((_, i) => i % 4 === 0).slice(0, 60)],
      // Ten rows in a row hold two whole runs of four, one of them whole even with a canary between.
      ['a stretch of ten', realRows.slice(200, 210)],
    ] as const) {
      const { index, at } = indexWith(markKey, { exportId, exportNo: 31, rowsWritten: 400 }, 20);
      expect(traced(index, kept).get(at), name).toMatchObject({ confidence: 'certain', evidence: { markChunks: [0, 1, 2, 3] } });
    }
  });

  it('does not take a record imported from a canary for the canary', () => {
    const exportId = newId();
    const rows = contactRows(100, 17);
    const realIds = new Set(rows.map((r) => r[0] as string));
    const [header, ...body] = readFile(exportFile(markKey, exportId, 44, rows)) as [string[], ...string[][]];
    const canaries = body.filter((row) => !realIds.has(row[0]!)).map((row) => row.map(stripMarks));
    expect(canaries).toHaveLength(2);
    // Imported back, a canary became a record with an id of its own, and a later export holds it.
    const imported = canaries.map((row) => [newId(), ...row.slice(1)]);
    const later = indexWith(markKey, { exportId, exportNo: 44, rowsWritten: 100 }, 5);
    for (const row of imported) later.index.scan(row, row[header.indexOf('id')]);
    expect(later.index.verdicts().size).toBe(0);
    // The canary itself, id and all, still names the export.
    const found = indexWith(markKey, { exportId, exportNo: 44, rowsWritten: 100 }, 5);
    for (const row of canaries) found.index.scan(row, row[header.indexOf('id')]);
    expect(found.index.verdicts().get(found.at)).toMatchObject({ confidence: 'certain', evidence: { canaryRows: 2 } });
  });

  it('makes canaries of deals and tickets that name their export', () => {
    for (const type of ['deals', 'tickets', 'activities'] as const) {
      const columns: CanaryColumn[] = [...SYSTEM_FIELDS.filter((f) => f.key !== 'deletedAt'), ...RECORD_TYPE_DEFS[type].fields].map((f) => ({ key: f.key, type: f.type }));
      const exportId = newId();
      const marker = new ExportMarker(markKey, exportId, 50, type, columns);
      const row = columns.map((c) => (c.type === 'text' ? 'Plain words' : c.type === 'money' ? 1200 : null));
      const out = [...marker.add([...row]), ...marker.add([...row]), ...marker.add([...row]), ...marker.finish()];
      expect(out, type).toHaveLength(5);
      const index = new TraceIndex();
      const at = index.add({ exportId, exportNo: 50, type, rowsWritten: 3 }, [markKey]);
      // Only the canaries, without their marks.
      for (const values of out) index.scan(values.map((v) => stripMarks(cellText(v))));
      expect(index.verdicts().get(at)?.evidence.canaryRows, type).toBe(2);
    }
  });
});
