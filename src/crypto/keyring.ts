import { RandomPool } from '../shared/random-pool.js';
import { KEY_BYTES } from './aead.js';
import type { KekAdapter } from './kek.js';
import { LruMap } from './lru.js';

/**
 * What the data layer holds of the key hierarchy while it runs:
 *
 *   KEK (outside the database, see kek.ts)
 *    ├─ wraps one data key per data subject (each contact and lead), and one for the organisation
 *    └─ wraps the blind-index root key, from which each column's index key is derived
 *
 * Unwrapped data keys sit in a bounded LRU cache; erasing a subject drops them from it.
 */
export interface KeyringOptions {
  kek: KekAdapter;
  /** How many data subjects' keys stay unwrapped in memory. */
  cacheSize: number;
  /** Sizes the blind indexes made from now on (see blind-index.ts). */
  expectedPeople: number;
  /** The country calling code given to national phone numbers, e.g. "86". */
  callingCode: string;
}

/** The unwrapped data keys of one subject, by data key version. */
export interface SubjectKeys {
  readonly current: number;
  readonly versions: ReadonlyMap<number, Buffer>;
}

const keys = new RandomPool();

export class Keyring {
  readonly kek: KekAdapter;
  readonly expectedPeople: number;
  readonly callingCode: string;
  private readonly subjects: LruMap<string, SubjectKeys>;

  constructor(options: KeyringOptions) {
    this.kek = options.kek;
    this.expectedPeople = options.expectedPeople;
    this.callingCode = options.callingCode;
    this.subjects = new LruMap(options.cacheSize);
  }

  /** A fresh random 256-bit key from the operating system's CSPRNG, wiped from the pool it came from. */
  newKey(): Buffer {
    return keys.take(KEY_BYTES);
  }

  cached(subjectId: string): SubjectKeys | undefined {
    return this.subjects.get(subjectId);
  }

  remember(subjectId: string, keys: SubjectKeys): void {
    this.subjects.set(subjectId, keys);
  }

  forget(subjectId: string): void {
    this.subjects.delete(subjectId);
  }

  forgetAll(): void {
    this.subjects.clear();
  }
}

/** Associated data of a wrapped data key: it unwraps only as that subject's key of that version. */
export function dataKeyAad(subjectId: string, version: number): Buffer {
  return Buffer.from(`rampart|data-key|${subjectId}|${version}`);
}

/** Associated data of a wrapped authenticator app secret: it unwraps only as that factor's. */
export function mfaSecretAad(factorId: string): Buffer {
  return Buffer.from(`rampart|mfa-secret|${factorId}`);
}

/** Associated data of a wrapped blind-index root key. */
export function indexKeyAad(version: number): Buffer {
  return Buffer.from(`rampart|index-key|${version}`);
}
