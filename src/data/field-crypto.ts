import { IntegrityError, open, seal } from '../crypto/aead.js';
import type { SubjectKeys } from '../crypto/keyring.js';

/**
 * How a personal value is stored: `e1.<data key version>.<base64url of nonce | ciphertext | tag>`,
 * AES-256-GCM under the data key of the record's subject. The associated data names the table,
 * the column, the record and the subject as well as the key version, so a value copied into another
 * row or column, or relabelled with another version, fails to open. SECURITY.md documents it.
 */
export const SEALED_PREFIX = 'e1.';
const SEALED = /^e1\.(\d{1,9})\.([A-Za-z0-9_-]+)$/;

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
  const version = sealedVersion(stored);
  if (version === null) throw new IntegrityError('value is not sealed');
  const key = keys.versions.get(version);
  if (!key) throw new IntegrityError(`no data key version ${version} for the subject`);
  const body = stored.slice(stored.indexOf('.', SEALED_PREFIX.length) + 1);
  return open(key, Buffer.from(body, 'base64url'), associatedData(place, version)).toString('utf8');
}

/** The data key version a stored value was sealed with, or null when it is not a sealed value. */
export function sealedVersion(stored: unknown): number | null {
  if (typeof stored !== 'string') return null;
  const m = SEALED.exec(stored);
  return m ? Number(m[1]) : null;
}
