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

export async function insertMany<R extends Record<string, unknown>>(db: Executor, dialect: Dialect, table: string, rows: R[], returning: string[] = []): Promise<Record<string, unknown>[]> {
  if (rows.length === 0) return [];
  const columns = Object.keys(rows[0]!);
  const shape = `${dialect}|${table}|${columns.join(',')}|${rows.length}|${returning.join(',')}`;
  let text = statements.get(shape);
  if (text === undefined) {
    for (const name of [table, ...columns, ...returning]) if (!IDENTIFIER.test(name)) throw new Error(`not an identifier: ${name}`);
    let n = 0;
    const placeholder = dialect === 'postgres' ? () => `$${++n}` : () => '?';
    const tuples = rows.map(() => `(${columns.map(placeholder).join(', ')})`);
    text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}`;
    if (returning.length > 0) text += ` returning ${returning.map((c) => `"${c}"`).join(', ')}`;
    if (statements.size >= MAX_CACHED) statements.clear();
    statements.set(shape, text);
  }
  const params: unknown[] = new Array(rows.length * columns.length);
  let i = 0;
  for (const row of rows) for (const column of columns) params[i++] = row[column] ?? null;
  const result = await db.executeQuery(CompiledQuery.raw(text, params));
  return result.rows as Record<string, unknown>[];
}
