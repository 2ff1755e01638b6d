import { createHash, randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import fs from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError, KEY_BYTES, NONCE_BYTES, open, seal, TAG_BYTES } from '../../crypto/aead.js';
import { KekUnavailableError, type KekAdapter } from '../../crypto/kek.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { AppError } from '../../shared/errors.js';

/**
 * The backup file, version 1:
 *
 *   magic (8 bytes: 0x89 "RBK" CR LF 0x1A LF)
 *   header length (uint32, big-endian) | header (canonical JSON, UTF-8)
 *   frames, each: flags (1 byte: 1 on the final frame, else 0) | length (uint32 BE) | sealed chunk
 *
 * A sealed chunk is `nonce (12) | ciphertext | tag (16)`: AES-256-GCM under the file key, a
 * random key of this file alone. The associated data of chunk i is
 * `rampart|backup-chunk|1|<SHA-256 of the header, hex>|<i>|final` (or `|more`), so a changed
 * byte anywhere, a chunk moved to another place or taken from another file, a header swapped
 * for another's, a flag flipped, and a file cut off after any whole chunk all fail before a
 * single byte of the content is used. The chunks' plaintext, joined, is a gzip stream of the dump
 * (see backup.service.ts); each chunk holds `chunkBytes` of it, the final one what is left.
 *
 * The file key is wrapped in the header, either by the key-encryption key (the keyring's KEK
 * adapter, associated data `rampart|backup-key|<backup id>`) or by a key derived from a backup
 * passphrase with scrypt. It is never a data key, and the KEK itself never enters the file.
 */
export const MAGIC = Buffer.from([0x89, 0x52, 0x42, 0x4b, 0x0d, 0x0a, 0x1a, 0x0a]);
export const FORMAT = 1;
export const CHUNK_BYTES = 1024 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;
const FRAME_HEAD = 5;
const FINAL = 1;

/** scrypt at N = 2^17, r = 8: 128 MiB and a fraction of a second, as for the key file. */
const SCRYPT = { cost: 131072, blockSize: 8, parallelization: 1 } as const;
/** A passphrase shorter than this is refused when a backup is made. */
export const MIN_PASSPHRASE_LENGTH = 12;

export type WrappedFileKey =
  | { readonly source: 'keyring'; readonly kekId: string; readonly wrapped: string }
  | { readonly source: 'passphrase'; readonly kdf: 'scrypt'; readonly salt: string; readonly cost: number; readonly blockSize: number; readonly parallelization: number; readonly wrapped: string };

export interface BackupHeader {
  readonly format: typeof FORMAT;
  readonly backupId: string;
  readonly createdAt: string;
  readonly cipher: 'aes-256-gcm';
  readonly compression: 'gzip';
  readonly chunkBytes: number;
  readonly key: WrappedFileKey;
}

/** What opens a backup: the keyring's KEK adapter, a passphrase, or both (whichever the file needs). */
export interface BackupKeys {
  readonly kek?: KekAdapter;
  readonly passphrase?: string;
}

function invalid(message: string): AppError {
  return new AppError('backup.invalid', message);
}

function fileKeyAad(backupId: string): Buffer {
  return Buffer.from(`rampart|backup-key|${backupId}`);
}

function chunkAad(headerHash: string, index: number, final: boolean): Buffer {
  return Buffer.from(`rampart|backup-chunk|${FORMAT}|${headerHash}|${index}|${final ? 'final' : 'more'}`);
}

function scrypt(passphrase: string, salt: Buffer, params: { cost: number; blockSize: number; parallelization: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: params.cost, r: params.blockSize, p: params.parallelization, maxmem: 256 * 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCallback(passphrase.normalize('NFKC'), salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** A new file key, wrapped for the header. */
export async function newFileKey(backupId: string, keys: BackupKeys): Promise<{ fileKey: Buffer; wrapped: WrappedFileKey }> {
  const fileKey = randomBytes(KEY_BYTES);
  if (keys.passphrase !== undefined) {
    if ([...keys.passphrase].length < MIN_PASSPHRASE_LENGTH) throw new AppError('request.invalid', `A backup passphrase needs at least ${MIN_PASSPHRASE_LENGTH} characters`);
    const salt = randomBytes(16);
    const derived = await scrypt(keys.passphrase, salt, SCRYPT);
    const wrapped = seal(derived, fileKey, fileKeyAad(backupId));
    derived.fill(0);
    return { fileKey, wrapped: { source: 'passphrase', kdf: 'scrypt', salt: salt.toString('base64'), ...SCRYPT, wrapped: wrapped.toString('base64') } };
  }
  if (!keys.kek) throw new Error('a backup needs the keyring or a passphrase');
  const { kekId, wrapped } = await keys.kek.wrap(fileKey, fileKeyAad(backupId));
  return { fileKey, wrapped: { source: 'keyring', kekId, wrapped: wrapped.toString('base64') } };
}

/** Unwraps the file key, or says plainly which key is missing or wrong. */
export async function openFileKey(header: BackupHeader, keys: BackupKeys): Promise<Buffer> {
  const key = header.key;
  const wrapped = Buffer.from(key.wrapped, 'base64');
  if (key.source === 'passphrase') {
    if (keys.passphrase === undefined) throw new AppError('backup.wrong_key', 'This backup is protected by a backup passphrase: give it on standard input with --passphrase-stdin');
    if (key.kdf !== 'scrypt' || !boundedScrypt(key)) throw invalid('The backup names key derivation settings this version does not accept');
    const derived = await scrypt(keys.passphrase, Buffer.from(key.salt, 'base64'), key);
    try {
      return open(derived, wrapped, fileKeyAad(header.backupId));
    } catch (error) {
      if (error instanceof IntegrityError) throw new AppError('backup.wrong_key', 'The passphrase does not open this backup (or its header was changed). Nothing was read from it.');
      throw error;
    } finally {
      derived.fill(0);
    }
  }
  if (!keys.kek) throw new AppError('backup.wrong_key', 'This backup is protected by the key-encryption key: the key file of the installation that made it is needed');
  try {
    return await keys.kek.unwrap(key.kekId, wrapped, fileKeyAad(header.backupId));
  } catch (error) {
    if (error instanceof IntegrityError || error instanceof KekUnavailableError) {
      throw new AppError(
        'backup.wrong_key',
        `The key file does not open this backup (key version ${key.kekId}): it was made by another installation, the version was retired, or the file's header was changed. Nothing was read from it.`,
      );
    }
    throw error;
  }
}

function boundedScrypt(params: { cost: number; blockSize: number; parallelization: number }): boolean {
  const { cost, blockSize, parallelization } = params;
  const powerOfTwo = Number.isSafeInteger(cost) && cost >= 2 ** 14 && cost <= 2 ** 20 && (cost & (cost - 1)) === 0;
  // 128 * N * r bytes must stay within the memory scrypt is allowed.
  return powerOfTwo && Number.isSafeInteger(blockSize) && blockSize >= 1 && blockSize <= 16 && 128 * cost * blockSize <= 256 * 1024 * 1024 && parallelization >= 1 && parallelization <= 4;
}

/** The bytes that start a backup file: magic, header length and header. */
export function encodeHeader(header: BackupHeader): { bytes: Buffer; hash: string } {
  const text = Buffer.from(canonicalJson(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(text.length);
  return { bytes: Buffer.concat([MAGIC, length, text]), hash: createHash('sha256').update(text).digest('hex') };
}

/** Reads exactly `length` bytes at `position`, or fewer at the end of the file. */
async function readAt(handle: fs.promises.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

export interface OpenedBackupFile {
  readonly header: BackupHeader;
  readonly headerHash: string;
  /** Magic, header length and header: the bytes before the first frame. */
  readonly prefix: Buffer;
  /** Where the first frame starts. */
  readonly framesAt: number;
  readonly size: number;
  readonly handle: fs.promises.FileHandle;
}

/** Opens a backup file and reads its header; refuses anything that is not one. */
export async function openBackupFile(file: string): Promise<OpenedBackupFile> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AppError('backup.invalid', code === 'ENOENT' ? 'The backup file does not exist' : code === 'EISDIR' ? 'The backup path is a folder; name a file' : 'The backup file cannot be read');
  }
  try {
    const size = (await handle.stat()).size;
    const start = await readAt(handle, 0, MAGIC.length + 4);
    if (start.length < MAGIC.length || !start.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid('This file is not a Rampart backup');
    if (start.length < MAGIC.length + 4) throw invalid('The backup is truncated: its header is incomplete. Nothing was restored.');
    const headerLength = start.readUInt32BE(MAGIC.length);
    if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) throw invalid('The backup header is damaged');
    const text = await readAt(handle, start.length, headerLength);
    if (text.length < headerLength) throw invalid('The backup is truncated: its header is incomplete. Nothing was restored.');
    const header = parseHeader(text);
    return { header, headerHash: createHash('sha256').update(text).digest('hex'), prefix: Buffer.concat([start, text]), framesAt: start.length + headerLength, size, handle };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function parseHeader(text: Buffer): BackupHeader {
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch {
    throw invalid('The backup header is damaged');
  }
  const h = value as Partial<BackupHeader> | null;
  if (!h || typeof h !== 'object') throw invalid('The backup header is damaged');
  if (h.format !== FORMAT) throw new AppError('backup.incompatible', `The backup is in format ${String(h.format)}; this version of Rampart reads format ${FORMAT}`);
  const key = h.key as Partial<WrappedFileKey> | undefined;
  const keyOk =
    !!key &&
    typeof key.wrapped === 'string' &&
    ((key.source === 'keyring' && typeof (key as { kekId?: unknown }).kekId === 'string') ||
      (key.source === 'passphrase' && typeof (key as { salt?: unknown }).salt === 'string' && typeof (key as { cost?: unknown }).cost === 'number'));
  if (typeof h.backupId !== 'string' || typeof h.createdAt !== 'string' || h.cipher !== 'aes-256-gcm' || h.compression !== 'gzip' || !keyOk) throw invalid('The backup header is damaged');
  if (!Number.isSafeInteger(h.chunkBytes) || h.chunkBytes! < 1024 || h.chunkBytes! > 16 * 1024 * 1024) throw invalid('The backup header is damaged');
  return h as BackupHeader;
}

export interface ChunkProgress {
  /** Bytes of the file read so far. */
  readonly bytes: number;
  readonly size: number;
  readonly chunks: number;
}

/**
 * The plaintext of every chunk in order, each checked before it is answered. Fails on a chunk
 * that does not open (naming it), a file that stops before its final chunk, and bytes after it.
 */
export async function* openChunks(file: OpenedBackupFile, fileKey: Buffer, onProgress?: (progress: ChunkProgress) => void, onBytes?: (bytes: Buffer) => void): AsyncGenerator<Buffer> {
  const maxSealed = file.header.chunkBytes + NONCE_BYTES + TAG_BYTES;
  let position = file.framesAt;
  for (let index = 0; ; index++) {
    if (position >= file.size) throw invalid(`The backup is truncated: it stops after chunk ${index} without its final chunk. Nothing was restored.`);
    const head = await readAt(file.handle, position, FRAME_HEAD);
    if (head.length < FRAME_HEAD) throw invalid(`The backup is truncated inside chunk ${index + 1}. Nothing was restored.`);
    const flags = head[0]!;
    const length = head.readUInt32BE(1);
    if ((flags !== 0 && flags !== FINAL) || length < NONCE_BYTES + TAG_BYTES + 1 || length > maxSealed) throw invalid(`The backup is damaged at chunk ${index + 1}: its frame is not valid. Nothing was restored.`);
    const sealed = await readAt(file.handle, position + FRAME_HEAD, length);
    if (sealed.length < length) throw invalid(`The backup is truncated inside chunk ${index + 1}. Nothing was restored.`);
    const final = flags === FINAL;
    let plaintext: Buffer;
    try {
      plaintext = open(fileKey, sealed, chunkAad(file.headerHash, index, final));
    } catch (error) {
      if (error instanceof IntegrityError) {
        throw invalid(`The backup is damaged: chunk ${index + 1} fails authentication (a changed byte, a chunk out of order or from another file). Nothing was restored.`);
      }
      throw error;
    }
    position += FRAME_HEAD + length;
    onBytes?.(head);
    onBytes?.(sealed);
    onProgress?.({ bytes: position, size: file.size, chunks: index + 1 });
    yield plaintext;
    if (final) {
      if (position !== file.size) throw invalid('The backup has data after its final chunk. Nothing was restored.');
      return;
    }
  }
}

/**
 * Cuts the compressed stream into chunks of `chunkBytes`, seals each with its index and, on the
 * last one, the final flag, and writes them as frames. A chunk is sealed only once more bytes are
 * known to follow it, so the flag is always right.
 */
export class ChunkSealer extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  chunks = 0;

  constructor(
    private readonly fileKey: Buffer,
    private readonly headerHash: string,
    private readonly chunkBytes: number,
  ) {
    super();
  }

  override _transform(data: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.pending.push(data);
    this.pendingBytes += data.length;
    while (this.pendingBytes > this.chunkBytes) this.push(this.frame(this.cut(this.chunkBytes), false));
    done();
  }

  override _flush(done: TransformCallback): void {
    this.push(this.frame(this.cut(this.pendingBytes), true));
    done();
  }

  private cut(bytes: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const chunk = all.subarray(0, bytes);
    const rest = all.subarray(bytes);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return chunk;
  }

  private frame(plaintext: Buffer, final: boolean): Buffer {
    const sealed = seal(this.fileKey, plaintext, chunkAad(this.headerHash, this.index, final));
    this.index += 1;
    this.chunks += 1;
    const head = Buffer.alloc(FRAME_HEAD);
    head[0] = final ? FINAL : 0;
    head.writeUInt32BE(sealed.length, 1);
    return Buffer.concat([head, sealed]);
  }
}
