import { IntegrityError, open, seal } from '../crypto/aead.js';
import type { SubjectKeys } from '../crypto/keyring.js';

/**
 * How a personal value is stored: `e1.<data key version>.<base64url of nonce | ciphertext | tag>`,
 * AES-256-GCM under the data key of the record's subject. The associated data names the table,
 * the column, the record and the subject as well as the key version, so a value copied into another
 * row or column, or relabelled with another version, fails to open. SECURITY.md documents it.
 */
export const SEALED_PREFIX = 'e1.';

/** Where a value lives: what its associated data binds it to. */
export interface ValuePlace {
  readonly table: string;
  readonly column: string;
  readonly recordId: string;
  readonly subjectId: string;
}

function associatedData(place: ValuePlace, version: number): Buffer {
  return Buffer.from(`rampart|e1|${place.table}|${place.column}|${place.recordId}|${place.subjectId}|${version}`);
}

export function sealValue(keys: SubjectKeys, place: ValuePlace, plaintext: string): string {
  const version = keys.current;
  const key = keys.versions.get(version);
  if (!key) throw new Error(`no current data key for subject ${place.subjectId}`);
  return `${SEALED_PREFIX}${version}.${seal(key, Buffer.from(plaintext, 'utf8'), associatedData(place, version)).toString('base64url')}`;
}

/** Opens a stored value; any damage, relabelling or move throws `IntegrityError`. */
export function openValue(keys: SubjectKeys, place: ValuePlace, stored: string): string {
  const dot = versionEnd(stored);
  if (dot < 0) throw new IntegrityError('value is not sealed');
  const version = Number(stored.slice(SEALED_PREFIX.length, dot));
  const key = keys.versions.get(version);
  if (!key) throw new IntegrityError(`no data key version ${version} for the subject`);
  // Characters outside base64url are dropped by the decoder; the tag check then fails.
  return open(key, Buffer.from(stored.slice(dot + 1), 'base64url'), associatedData(place, version)).toString('utf8');
}

/** The data key version a stored value was sealed with, or null when it is not a sealed value. */
export function sealedVersion(stored: unknown): number | null {
  if (typeof stored !== 'string') return null;
  const dot = versionEnd(stored);
  return dot < 0 ? null : Number(stored.slice(SEALED_PREFIX.length, dot));
}

/**
 * Where the version of a sealed value ends (the index of the dot after it), or -1 when the text
 * does not start `e1.<1 to 9 digits>.` followed by something. Read on every value of every page,
 * so a plain scan rather than a regular expression.
 */
function versionEnd(stored: string): number {
  if (!stored.startsWith(SEALED_PREFIX)) return -1;
  let i = SEALED_PREFIX.length;
  while (i < stored.length && i - SEALED_PREFIX.length <= 9) {
    const c = stored.charCodeAt(i);
    if (c === 46) break;
    if (c < 48 || c > 57) return -1;
    i += 1;
  }
  const digits = i - SEALED_PREFIX.length;
  return digits >= 1 && digits <= 9 && stored.charCodeAt(i) === 46 && i + 1 < stored.length ? i : -1;
}
