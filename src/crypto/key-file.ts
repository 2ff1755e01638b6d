import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, scryptSync } from 'node:crypto';
import { IntegrityError, KEY_BYTES, open, seal } from './aead.js';
import { writeSecretFileDurably } from '../shared/atomic-file.js';
import { KekUnavailableError, type KekAdapter, type KekState, type KekVersion } from './kek.js';

/**
 * The local KEK adapter: the key-encryption key lives in a JSON file outside the database (by
 * default `rampart.key` in the data directory), readable by its owner only. With a passphrase,
 * each KEK version in the file is itself sealed under a key derived from the passphrase with
 * scrypt, so a copy of the file alone opens nothing.
 *
 * The file is rewritten whole, to a temporary file renamed into place, so a crash never leaves half
 * a key file. Another process (the CLI rotating keys) may add a version while the server runs;
 * the server reads the file again when it meets a version it does not know.
 */
const FORMAT = 'rampart-key-file';
const ADAPTER = 'local';
/** How long a process goes on with what it read of the key file before looking for changes. */
export const RELOAD_CHECK_MS = 1_000;
// scrypt at N = 2^17, r = 8: 128 MiB and about a third of a second per start (OWASP's minimum).
const SCRYPT = { cost: 131_072, blockSize: 8, parallelization: 1 } as const;

interface StoredVersion {
  version: number;
  createdAt: string;
  state: KekState;
  /** The key, base64; sealed under the passphrase key when the file is protected. */
  key: string;
}

interface KeyFileContents {
  format: typeof FORMAT;
  formatVersion: 1;
  protection: null | { kdf: 'scrypt'; salt: string; cost: number; blockSize: number; parallelization: number };
  versions: StoredVersion[];
}

/** The key file is missing, unreadable, open to others, or does not open with the passphrase. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

/** Whether the key file at this path exists and is protected by a passphrase. */
export function keyFileIsProtected(file: string): boolean {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<KeyFileContents> | null;
    return parsed?.format === FORMAT && Boolean(parsed.protection);
  } catch {
    return false;
  }
}

export interface KeyFileOptions {
  file: string;
  passphrase?: string | undefined;
  /** Create the file when it does not exist (first start). */
  create: boolean;
  now?: () => Date;
}

export class LocalKeyFile implements KekAdapter {
  readonly name = ADAPTER;
  private contents!: KeyFileContents;
  private passphraseKey: Buffer | null = null;
  private readonly keys = new Map<number, Buffer>();
  /** When the file last changed as this process read it; a change means another process rotated. */
  private seen = '';
  private checkedAt = 0;

  private constructor(private readonly options: KeyFileOptions) {}

  static open(options: KeyFileOptions): LocalKeyFile {
    const adapter = new LocalKeyFile(options);
    if (!fs.existsSync(options.file)) {
      if (!options.create) throw new KeyFileError(`The key file ${options.file} does not exist. Restore it from where you keep its copy; without it encrypted data cannot be read.`);
      adapter.createFile();
    }
    adapter.load();
    return adapter;
  }

  currentId(): string {
    this.reloadIfChanged();
    const active = this.contents.versions.find((v) => v.state === 'active');
    if (!active) throw new KeyFileError('The key file has no active version');
    return idOf(active.version);
  }

  versions(): KekVersion[] {
    return this.contents.versions.map((v) => ({ id: idOf(v.version), createdAt: v.createdAt, state: v.state }));
  }

  async wrap(plaintext: Buffer, aad: Buffer): Promise<{ kekId: string; wrapped: Buffer }> {
    const kekId = this.currentId();
    return { kekId, wrapped: seal(this.keyOf(kekId), plaintext, aad) };
  }

  async unwrap(kekId: string, wrapped: Buffer, aad: Buffer): Promise<Buffer> {
    return open(this.keyOf(kekId), wrapped, aad);
  }

  async addVersion(): Promise<string> {
    this.load();
    const next = Math.max(0, ...this.contents.versions.map((v) => v.version)) + 1;
    for (const v of this.contents.versions) if (v.state === 'active') v.state = 'decrypt-only';
    this.contents.versions.push(this.storeKey(next, randomBytes(KEY_BYTES), 'active'));
    this.write();
    this.load();
    return idOf(next);
  }

  async retire(kekId: string): Promise<void> {
    this.load();
    const stored = this.contents.versions.find((v) => idOf(v.version) === kekId);
    if (!stored) throw new KekUnavailableError(`No key version ${kekId}`);
    if (stored.state === 'active') throw new KeyFileError(`${kekId} is the active version; rotate first`);
    stored.state = 'retired';
    // A retired version can never unwrap again: its key material leaves the file.
    stored.key = '';
    this.write();
    this.load();
  }

  private keyOf(kekId: string): Buffer {
    const version = versionOf(kekId);
    let key = version === null ? undefined : this.keys.get(version);
    if (!key && version !== null) {
      // A version added by another process since this one read the file.
      this.load();
      key = this.keys.get(version);
    }
    if (!key) throw new KekUnavailableError(`Key version ${kekId.slice(0, 40)} is not available (unknown or retired)`);
    return key;
  }

  /**
   * Reads the file again when another process changed it. Checked at most once per
   * `RELOAD_CHECK_MS`: a bulk load wraps a key per person, and a stat per key cost more than the
   * wrapping. Rotation waits longer than that before rewrapping (see key-rotation.ts).
   */
  private reloadIfChanged(): void {
    const now = Date.now();
    if (now - this.checkedAt < RELOAD_CHECK_MS) return;
    this.checkedAt = now;
    let stamp = '';
    try {
      const stat = fs.statSync(this.options.file);
      stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    } catch {
      return;
    }
    if (stamp !== this.seen) this.load();
  }

  private createFile(): void {
    fs.mkdirSync(path.dirname(this.options.file), { recursive: true, mode: 0o700 });
    const protection = this.options.passphrase ? { kdf: 'scrypt' as const, salt: randomBytes(16).toString('base64'), ...SCRYPT } : null;
    this.contents = { format: FORMAT, formatVersion: 1, protection, versions: [] };
    this.passphraseKey = protection ? derive(this.options.passphrase!, protection) : null;
    this.contents.versions.push(this.storeKey(1, randomBytes(KEY_BYTES), 'active'));
    this.write();
  }

  private load(): void {
    const file = this.options.file;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new KeyFileError(`The key file ${file} cannot be read`);
    }
    if ((stat.mode & 0o077) !== 0) throw new KeyFileError(`The key file ${file} is open to other users; make it readable by its owner only (chmod 600)`);
    let parsed: KeyFileContents;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as KeyFileContents;
    } catch {
      throw new KeyFileError(`The key file ${file} is not a Rampart key file`);
    }
    if (parsed?.format !== FORMAT || parsed.formatVersion !== 1 || !Array.isArray(parsed.versions)) throw new KeyFileError(`The key file ${file} is not a Rampart key file`);
    if (parsed.protection && !this.options.passphrase) throw new KeyFileError('The key file is protected by a passphrase; set RAMPART_KEY_PASSPHRASE or RAMPART_KEY_PASSPHRASE_FILE, or start the command at a terminal to be asked for it');
    if (!parsed.protection && this.options.passphrase) throw new KeyFileError('RAMPART_KEY_PASSPHRASE is set but the key file has no passphrase');
    if (parsed.protection && !this.passphraseKey) this.passphraseKey = derive(this.options.passphrase!, parsed.protection);
    const keys = new Map<number, Buffer>();
    for (const v of parsed.versions) {
      if (v.state === 'retired') continue;
      const raw = Buffer.from(v.key, 'base64');
      let key: Buffer;
      try {
        key = this.passphraseKey ? open(this.passphraseKey, raw, versionAad(v.version)) : raw;
      } catch (error) {
        if (error instanceof IntegrityError) throw new KeyFileError('The passphrase does not open the key file');
        throw error;
      }
      if (key.length !== KEY_BYTES) throw new KeyFileError(`The key file ${file} holds a damaged key`);
      keys.set(v.version, key);
    }
    this.contents = parsed;
    this.seen = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    this.keys.clear();
    for (const [version, key] of keys) this.keys.set(version, key);
  }

  private storeKey(version: number, key: Buffer, state: KekState): StoredVersion {
    const stored = this.passphraseKey ? seal(this.passphraseKey, key, versionAad(version)) : key;
    return { version, createdAt: (this.options.now?.() ?? new Date()).toISOString(), state, key: stored.toString('base64') };
  }

  private write(): void {
    // A key file lost to a power cut right after a rotation would lose every record it protects.
    writeSecretFileDurably(this.options.file, `${JSON.stringify(this.contents, null, 2)}\n`, { exclusive: false });
  }
}

function derive(passphrase: string, params: { salt: string; cost: number; blockSize: number; parallelization: number }): Buffer {
  return scryptSync(passphrase.normalize('NFKC'), Buffer.from(params.salt, 'base64'), KEY_BYTES, {
    N: params.cost,
    r: params.blockSize,
    p: params.parallelization,
    maxmem: 256 * 1024 * 1024,
  });
}

function versionAad(version: number): Buffer {
  return Buffer.from(`rampart key file|kek|${version}`);
}

function idOf(version: number): string {
  return `${ADAPTER}:${version}`;
}

function versionOf(kekId: string): number | null {
  const m = /^local:(\d{1,9})$/.exec(kekId);
  return m ? Number(m[1]) : null;
}
