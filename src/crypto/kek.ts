/**
 * The key-encryption key (KEK): the one secret that unlocks every data key. It never enters the
 * database. An adapter holds it; the local adapter (key-file.ts) keeps it in a file, and an external
 * key management service can stand in by implementing this interface.
 *
 * A KEK has versions. Each wrapped key records the id of the version that wrapped it (`local:2`),
 * new keys are wrapped with the current version, and older versions stay able to unwrap until they
 * are retired.
 */
export type KekState = 'active' | 'decrypt-only' | 'retired';

export interface KekVersion {
  readonly id: string;
  readonly createdAt: string;
  readonly state: KekState;
}

export interface KekAdapter {
  /** The adapter's name, the prefix of its key ids. */
  readonly name: string;
  /** The version new keys are wrapped with. */
  currentId(): string;
  versions(): KekVersion[];
  wrap(plaintext: Buffer, aad: Buffer): Promise<{ kekId: string; wrapped: Buffer }>;
  /** Throws `IntegrityError` when the wrapped key does not open, `KekUnavailableError` for an unknown or retired version. */
  unwrap(kekId: string, wrapped: Buffer, aad: Buffer): Promise<Buffer>;
  /** Makes a new version current; the previous one becomes decrypt-only. Answers the new id. */
  addVersion(): Promise<string>;
  /** Retires a decrypt-only version: it can no longer unwrap anything. */
  retire(kekId: string): Promise<void>;
}

export class KekUnavailableError extends Error {
  override readonly name = 'KekUnavailableError';
}
