import { RandomPool } from './random-pool.js';

let lastMs = 0;
let sequence = 0;

const random = new RandomPool();

function randomBlock(size: number): Buffer {
  return random.view(size);
}

/**
 * A UUID version 7 (RFC 9562): time-ordered, so new rows land at the end of the primary-key index
 * and ids sort in creation order. A 12-bit counter keeps ids made in the same millisecond ordered.
 */
export function newId(now: number = Date.now()): string {
  if (now <= lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === 0) lastMs += 1;
    now = lastMs;
  } else {
    lastMs = now;
    sequence = randomBlock(2).readUInt16BE(0) & 0x3ff;
  }
  return format(now, sequence);
}

/**
 * A UUID version 7 that says it was made at `at`, a time in the past: the id a record dated then
 * would have had. Its counter is random, as the first id of a millisecond's is, and it leaves the
 * clock of `newId` alone, so ids made now keep their order.
 */
export function newIdAt(at: number): string {
  if (!Number.isSafeInteger(at) || at < 0 || at >= 2 ** 48) throw new RangeError('an id time must be a millisecond count that fits 48 bits');
  return format(at, randomBlock(2).readUInt16BE(0) & 0x3ff);
}

function format(ms: number, counter: number): string {
  const bytes = Buffer.from(randomBlock(16));
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | ((counter >> 8) & 0x0f);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
