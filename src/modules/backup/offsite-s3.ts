import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import aws4 from 'aws4';
import { AppError } from '../../shared/errors.js';

/**
 * Copies of backup files in an S3-compatible store (AWS S3, MinIO, Ceph, Garage, Backblaze B2…):
 * one PUT per file, signed with AWS Signature Version 4, with path-style addresses
 * (`https://host/bucket/key`), which every such store accepts. No SDK: four requests are all that
 * is needed (put, head, list, delete, and get for a drill).
 *
 * Nothing here ever puts the secret key, a request's Authorization header or a store's answer
 * body into an error: an answer can echo request headers back. Errors carry a stable code and the
 * store's own error code name (AccessDenied, NoSuchBucket…) or the network error's code only.
 */
export interface OffsiteStore {
  /** The store's origin, e.g. https://s3.example.org (no path). */
  readonly endpoint: string;
  readonly bucket: string;
  /** Where under the bucket the copies go: '' or a path ending in '/'. */
  readonly prefix: string;
  readonly region: string;
  readonly accessKeyId: string;
  /** A secret: never print, log or return it. */
  readonly secretAccessKey: string;
}

/** A single PUT takes at most 5 GiB; larger files would need a multipart upload, which this does not do. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Reads RAMPART_BACKUP_S3_URL: endpoint, bucket and an optional prefix in one URL. Answers the
 * parts, or a problem to report (which never repeats the URL: it could hold a credential).
 */
export function parseOffsiteUrl(raw: string): { endpoint: string; bucket: string; prefix: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { problem: 'RAMPART_BACKUP_S3_URL is not a valid URL (https://host/bucket/optional/prefix)' };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(host))) return { problem: 'RAMPART_BACKUP_S3_URL must be an https:// URL (or http:// to this machine)' };
  if (url.username !== '' || url.password !== '') return { problem: 'RAMPART_BACKUP_S3_URL must not hold credentials: set RAMPART_BACKUP_S3_ACCESS_KEY_ID and RAMPART_BACKUP_S3_SECRET_ACCESS_KEY' };
  if (url.search !== '' || url.hash !== '') return { problem: 'RAMPART_BACKUP_S3_URL must not have a query or fragment' };
  const [bucket, ...rest] = url.pathname.split('/').filter((s, i) => i > 0 || s !== '');
  const segments = rest.filter((s, i) => s !== '' || i < rest.length - 1);
  if (!bucket || !BUCKET.test(bucket) || bucket.includes('..')) return { problem: 'RAMPART_BACKUP_S3_URL must name a bucket as its first path part (3 to 63 lower-case letters, digits, dots and hyphens): https://host/bucket/optional/prefix' };
  if (segments.some((s) => !PREFIX_SEGMENT.test(s) || s === '.' || s === '..')) return { problem: 'RAMPART_BACKUP_S3_URL: the prefix after the bucket may hold only letters, digits, dots, hyphens and underscores between slashes' };
  return { endpoint: url.origin, bucket, prefix: segments.length > 0 ? `${segments.join('/')}/` : '' };
}

function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** Where a store's copies are, for messages and the status screen: host, bucket and prefix, never a credential. */
export function describeStore(store: OffsiteStore): string {
  return `${new URL(store.endpoint).host}/${store.bucket}${store.prefix ? `/${store.prefix.replace(/\/$/, '')}` : ''}`;
}

export interface SignedRequest {
  /** The path and query to send, encoded as signed. */
  readonly path: string;
  readonly headers: Record<string, string>;
}

/**
 * Signs one request with AWS Signature Version 4 (service s3). `host` is what the Host header will
 * say; `path` holds the query, if any. Headers given are signed (Range too, as AWS's own examples
 * do); x-amz-content-sha256 must be given: the payload's SHA-256, which the store checks. `at`
 * fixes the signing time (the published examples; otherwise now).
 */
export function signS3Request(
  credentials: Pick<OffsiteStore, 'region' | 'accessKeyId' | 'secretAccessKey'>,
  request: { method: string; host: string; path: string; headers: Record<string, string>; at?: Date },
): SignedRequest {
  const headers: Record<string, string> = { ...request.headers, host: request.host };
  headers['x-amz-date'] = (request.at ?? new Date()).toISOString().replace(/[:-]|\.\d{3}/g, '');
  const signed = aws4.sign(
    { method: request.method, host: request.host, path: request.path, service: 's3', region: credentials.region, headers, extraHeadersToInclude: { range: true } } as aws4.Request & { extraHeadersToInclude: Record<string, boolean> },
    { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers ?? {})) out[name.toLowerCase()] = String(value);
  return { path: signed.path ?? request.path, headers: out };
}

/** The SHA-256 of the empty payload (GET, HEAD, DELETE, list). */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const SMALL_REQUEST_MS = 60_000;

function objectPath(store: OffsiteStore, name: string): string {
  return `/${store.bucket}/${store.prefix}${name}`;
}

/**
 * Sends one signed request. A store that cannot be reached (refused connection, unknown host, bad
 * certificate, timeout) is `backup.offsite_unreachable`; an answer outside 2xx (except those in
 * `accept`) is `backup.offsite_refused` naming the store's error code.
 */
async function send(store: OffsiteStore, action: string, request: { method: string; path: string; headers?: Record<string, string>; body?: ReadableStream<Uint8Array>; timeoutMs?: number }, accept: readonly number[] = []): Promise<Response> {
  const endpoint = new URL(store.endpoint);
  const signed = signS3Request(store, { method: request.method, host: endpoint.host, path: request.path, headers: { 'x-amz-content-sha256': EMPTY_SHA256, ...request.headers } });
  const { host: _host, ...headers } = signed.headers;
  let response: Response;
  try {
    response = await fetch(`${endpoint.origin}${signed.path}`, {
      method: request.method,
      headers,
      redirect: 'manual',
      ...(request.body ? { body: request.body, duplex: 'half' } : {}),
      ...(request.timeoutMs !== undefined ? { signal: AbortSignal.timeout(request.timeoutMs) } : {}),
    } as RequestInit);
  } catch (error) {
    throw unreachable(action, error);
  }
  if ((response.status >= 200 && response.status < 300) || accept.includes(response.status)) return response;
  throw await refused(action, response);
}

/** Thrown for a store that could not be reached; `reason` is the network error's code, when it has one. */
export class OffsiteError extends AppError {
  constructor(
    code: 'backup.offsite_unreachable' | 'backup.offsite_refused' | 'backup.offsite_too_large',
    message: string,
    /** The store's error code name (AccessDenied) or the network error's (ECONNREFUSED); never free text. */
    readonly reason: string | null,
  ) {
    super(code, message);
  }
}

const TOKEN = /^[A-Za-z0-9_.-]{1,64}$/;

function unreachable(action: string, error: unknown): OffsiteError {
  let reason: string | null = null;
  for (let e = error as { code?: unknown; cause?: unknown; name?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && TOKEN.test(e.code)) reason = e.code;
    else if (e.name === 'TimeoutError') reason = 'timeout';
  }
  return new OffsiteError('backup.offsite_unreachable', `The backup store could not be reached to ${action}${reason ? ` (${reason})` : ''}.`, reason);
}

async function refused(action: string, response: Response): Promise<OffsiteError> {
  let reason: string | null = null;
  try {
    // Only the <Code> element is read; the rest of the body (which can echo headers) is dropped.
    const text = (await response.text()).slice(0, 64_000);
    const code = /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1];
    if (code && TOKEN.test(code)) reason = code;
  } catch {
    // no body, or it broke off: the status alone says enough
  }
  const said = reason ?? `HTTP ${response.status}`;
  return new OffsiteError('backup.offsite_refused', `The backup store refused to ${action} (${said}${reason ? `, HTTP ${response.status}` : ''}).`, reason ?? `HTTP_${response.status}`);
}

/** The SHA-256 of a file, read as a stream. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Uploads `file` as `name` under the store's prefix: a first pass hashes it, then one PUT streams
 * it with that hash signed (the store refuses bytes that do not match it), then a HEAD checks the
 * stored size. Never reads the whole file into memory.
 */
export async function putBackupObject(store: OffsiteStore, name: string, file: string): Promise<{ bytes: number; sha256: string }> {
  const bytes = fs.statSync(file).size;
  if (bytes > MAX_SINGLE_PUT_BYTES) throw new OffsiteError('backup.offsite_too_large', `The backup is ${bytes} bytes; copies to the store go in one upload of at most 5 GiB (multipart uploads are not supported).`, null);
  const sha256 = await fileSha256(file);
  const response = await send(store, 'take the copy', {
    method: 'PUT',
    path: objectPath(store, name),
    headers: { 'content-length': String(bytes), 'content-type': 'application/octet-stream', 'x-amz-content-sha256': sha256 },
    body: Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>,
  });
  await response.body?.cancel();
  const head = await send(store, 'check the copy', { method: 'HEAD', path: objectPath(store, name), timeoutMs: SMALL_REQUEST_MS });
  const stored = Number(head.headers.get('content-length'));
  if (stored !== bytes) throw new OffsiteError('backup.offsite_refused', `The copy in the store has ${Number.isFinite(stored) ? stored : 'an unknown number of'} bytes, not ${bytes}.`, 'SizeMismatch');
  return { bytes, sha256 };
}

export interface OffsiteObject {
  /** The object's name under the prefix. */
  readonly name: string;
  readonly bytes: number;
}

function xmlText(value: string): string {
  return value.replace(/&(lt|gt|quot|apos|amp|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g, (_all, entity: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[entity]!;
  });
}

/**
 * Every object directly under the prefix (ListObjectsV2, page after page with continuation
 * tokens); objects further down, in "folders" of the prefix, are not listed.
 */
export async function listBackupObjects(store: OffsiteStore, options: { pageSize?: number } = {}): Promise<OffsiteObject[]> {
  const objects: OffsiteObject[] = [];
  let token: string | null = null;
  for (let page = 0; page < 100_000; page++) {
    const query = new URLSearchParams({ 'list-type': '2', delimiter: '/', prefix: store.prefix });
    if (options.pageSize !== undefined) query.set('max-keys', String(options.pageSize));
    if (token !== null) query.set('continuation-token', token);
    const response = await send(store, 'list the copies', { method: 'GET', path: `/${store.bucket}?${query.toString().replace(/\+/g, '%20')}`, timeoutMs: SMALL_REQUEST_MS });
    const xml = await response.text();
    for (const [, contents] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const key = xmlText(/<Key>([\s\S]*?)<\/Key>/.exec(contents!)?.[1] ?? '');
      if (!key.startsWith(store.prefix)) continue;
      const name = key.slice(store.prefix.length);
      if (name === '' || name.includes('/')) continue;
      objects.push({ name, bytes: Number(/<Size>(\d+)<\/Size>/.exec(contents!)?.[1] ?? 0) });
    }
    const truncated = /<IsTruncated>\s*true\s*<\/IsTruncated>/.test(xml);
    const next = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1];
    if (!truncated) return objects;
    if (!next) throw new OffsiteError('backup.offsite_refused', 'The store said its list goes on but gave no continuation token.', 'NoContinuationToken');
    token = xmlText(next);
  }
  throw new OffsiteError('backup.offsite_refused', 'The store\'s list did not end.', 'EndlessList');
}

/** Deletes one object under the prefix (a store answers 204 whether or not it was there). */
export async function deleteBackupObject(store: OffsiteStore, name: string): Promise<void> {
  const response = await send(store, 'delete an old copy', { method: 'DELETE', path: objectPath(store, name), timeoutMs: SMALL_REQUEST_MS }, [404]);
  await response.body?.cancel();
}

/** Downloads one object under the prefix into `file` (created with mode 0600; must not exist). */
export async function getBackupObject(store: OffsiteStore, name: string, file: string): Promise<number> {
  const response = await send(store, 'fetch the copy', { method: 'GET', path: objectPath(store, name) });
  if (!response.body) throw new OffsiteError('backup.offsite_refused', 'The store answered without the copy.', 'EmptyBody');
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), fs.createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (error) {
    fs.rmSync(file, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw error;
    throw unreachable('fetch the copy', error);
  }
  return fs.statSync(file).size;
}
