import { AppError } from '../shared/errors.js';
import { isId } from '../shared/ids.js';

/**
 * A list cursor names the sort it belongs to and the last row's sort value and id (keyset
 * pagination): pages stay stable while rows are added, and deep pages cost the same as the first.
 */
export function encodeCursor(sortKey: string, value: unknown, id: string): string {
  return Buffer.from(JSON.stringify([sortKey, value, id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, sortKey: string): { value: string | number | null; id: string } {
  const invalid = new AppError('request.invalid_cursor', 'The cursor is not valid for this list; start again without it');
  if (cursor.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid;
  const [key, value, id] = parsed as unknown[];
  if (key !== sortKey || !isId(id)) throw invalid;
  if (value !== null && typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) throw invalid;
  if (typeof value === 'string' && (value.length > 1000 || !value.isWellFormed() || value.includes('\u0000'))) throw invalid;
  return { value: value as string | number | null, id };
}
