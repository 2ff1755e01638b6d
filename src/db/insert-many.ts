import { CompiledQuery } from 'kysely';
import type { Dialect, Executor } from './database.js';

/**
 * A multi-row INSERT whose SQL text is built once per shape (table, columns, row count) and reused.
 * Bulk writes (imports, sample data) spent more time building and compiling Kysely query trees
 * for thousands of parameters than the database spent writing; this sends the same statement
 * with no tree at all. Callers pass trusted table and column names from the field registry.
 */
const statements = new Map<string, string>();
const MAX_CACHED = 500;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * Rows go in statements of a few fixed sizes, so that the database sees the same few SQL texts
 * again and again and can reuse their compiled form (see the statement cache in database.ts).
 */
const STATEMENT_ROWS = [100, 10, 1];

export async function insertMany(db: Executor, dialect: Dialect, table: string, objects: readonly object[], returning: string[] = []): Promise<Record<string, unknown>[]> {
  if (objects.length === 0) return [];
  const rows = objects as readonly Record<string, unknown>[];
  const columns = Object.keys(rows[0]!);
  const results: Record<string, unknown>[] = [];
  let at = 0;
  for (const size of STATEMENT_ROWS) {
    for (; rows.length - at >= size; at += size) {
      const inserted = await insertShape(db, dialect, table, columns, rows, at, size, returning);
      for (const row of inserted) results.push(row);
    }
  }
  return results;
}

async function insertShape(db: Executor, dialect: Dialect, table: string, columns: string[], rows: readonly Record<string, unknown>[], from: number, count: number, returning: string[]): Promise<Record<string, unknown>[]> {
  const shape = `${dialect}|${table}|${columns.join(',')}|${count}|${returning.join(',')}`;
  let text = statements.get(shape);
  if (text === undefined) {
    for (const name of [table, ...columns, ...returning]) if (!IDENTIFIER.test(name)) throw new Error(`not an identifier: ${name}`);
    let n = 0;
    const placeholder = dialect === 'postgres' ? () => `$${++n}` : () => '?';
    const tuples = Array.from({ length: count }, () => `(${columns.map(placeholder).join(', ')})`);
    text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}`;
    if (returning.length > 0) text += ` returning ${returning.map((c) => `"${c}"`).join(', ')}`;
    if (statements.size >= MAX_CACHED) statements.clear();
    statements.set(shape, text);
  }
  const params: unknown[] = new Array(count * columns.length);
  let i = 0;
  for (let r = from; r < from + count; r++) {
    const row = rows[r]!;
    for (const column of columns) params[i++] = row[column] ?? null;
  }
  const result = await db.executeQuery(CompiledQuery.raw(text, params));
  return result.rows as Record<string, unknown>[];
}
