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
  const bytes = Buffer.from(randomBlock(16));
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = 0x70 | ((sequence >> 8) & 0x0f);
  bytes[7] = sequence & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
