import type { Kysely } from 'kysely';
import { indexKeyAad } from '../../crypto/keyring.js';
import { indexKeys, type KeyDeps } from '../../data/keys.js';
import { markKeyOf } from './export-fingerprint.js';

/**
 * The keys export fingerprints are made with, derived from the blind-index root keys (see
 * export-fingerprint.ts). An export is marked with the active root's; a trace tries every root
 * still stored, retired ones included, so an export made before a rotation still traces.
 */

export interface MarkKey {
  readonly version: number;
  readonly key: Buffer;
}

/** The mark key new exports are made with. */
export async function currentMarkKey(deps: KeyDeps): Promise<MarkKey> {
  const keys = await indexKeys(deps);
  return (await allMarkKeys(deps)).find((k) => k.version === keys.active.version)!;
}

const cache = new WeakMap<object, Map<number, Buffer>>();

/** Every mark key there is, newest root first. */
export async function allMarkKeys(deps: KeyDeps): Promise<MarkKey[]> {
  const rows = (await (deps.db as unknown as Kysely<any>).selectFrom('index_keys').select(['version', 'kek_id', 'wrapped']).orderBy('version', 'desc').execute()) as {
    version: number;
    kek_id: string;
    wrapped: string;
  }[];
  let known = cache.get(deps.keyring);
  if (!known) {
    known = new Map();
    cache.set(deps.keyring, known);
  }
  const keys: MarkKey[] = [];
  for (const row of rows) {
    const version = Number(row.version);
    let key = known.get(version);
    if (!key) {
      const root = await deps.keyring.kek.unwrap(row.kek_id, Buffer.from(row.wrapped, 'base64'), indexKeyAad(version));
      key = markKeyOf(root);
      known.set(version, key);
    }
    keys.push({ version, key });
  }
  return keys;
}
