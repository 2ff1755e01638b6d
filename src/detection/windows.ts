/**
 * Sliding windows over event time. Each keeps its entries in arrival order in a ring of typed
 * arrays and drops those older than the span as time moves on, so a count is exact for the last
 * `span` milliseconds and costs amortised O(1) per event without allocating per entry. Time never
 * runs backwards here: an entry older than the newest one seen is counted at the newest time (the
 * engine merges two streams whose clocks may differ by a little).
 */

const SMALL = 0x3fffffff;

/** A first-in first-out queue of (time, value) pairs; values are 32-bit integers. */
class Ring {
  private times = new Float64Array(16);
  private values = new Int32Array(16);
  private head = 0;
  size = 0;
  /** How many entries have left the ring since it was made: the position of the first one. */
  shifted = 0;

  /** Adds an entry; answers its position (cut to a small integer). */
  push(time: number, value: number): number {
    if (this.size === this.times.length) this.grow();
    const at = (this.head + this.size) & (this.times.length - 1);
    this.times[at] = time;
    this.values[at] = value;
    this.size += 1;
    return (this.shifted + this.size - 1) & SMALL;
  }

  get firstTime(): number {
    return this.times[this.head]!;
  }

  get firstValue(): number {
    return this.values[this.head]!;
  }

  /** The position of the first entry, as `push` answered it. */
  get firstPosition(): number {
    return this.shifted & SMALL;
  }

  shift(): void {
    this.head = (this.head + 1) & (this.times.length - 1);
    this.size -= 1;
    this.shifted += 1;
  }

  clear(): void {
    this.shifted += this.size;
    this.head = 0;
    this.size = 0;
    if (this.times.length > 1024) {
      this.times = new Float64Array(16);
      this.values = new Int32Array(16);
    }
  }

  private grow(): void {
    const length = this.times.length;
    const times = new Float64Array(length * 2);
    const values = new Int32Array(length * 2);
    for (let i = 0; i < this.size; i += 1) {
      const from = (this.head + i) & (length - 1);
      times[i] = this.times[from]!;
      values[i] = this.values[from]!;
    }
    this.times = times;
    this.values = values;
    this.head = 0;
  }
}

/** A sum of weights (whole numbers) within the span. */
export class SlidingCount {
  private readonly ring = new Ring();
  private sum = 0;
  private latest = 0;

  constructor(readonly span: number) {}

  add(at: number, weight = 1): void {
    const t = at < this.latest ? this.latest : at;
    this.latest = t;
    this.ring.push(t, weight);
    this.sum += weight;
    this.expire(t);
  }

  /** The total weight within the span that ends at `now`. */
  count(now: number): number {
    this.expire(now);
    return this.sum;
  }

  /** When the newest entry was added; 0 when none ever was. */
  get last(): number {
    return this.latest;
  }

  clear(): void {
    this.ring.clear();
    this.sum = 0;
  }

  private expire(now: number): void {
    const from = now - this.span;
    const ring = this.ring;
    while (ring.size > 0 && ring.firstTime <= from) {
      this.sum -= ring.firstValue;
      ring.shift();
    }
    if (ring.size === 0) this.sum = 0;
  }
}

/**
 * How many different keys turned up within the span: distinct records read, accounts tried,
 * addresses. Keys are small integers (`keyHash`), and a table keeps each key's latest position in
 * the ring: nothing here allocates per entry. Two keys that share a hash among the few thousand a
 * window holds undercount by one at worst.
 */
export class SlidingDistinct {
  private readonly lastSeen = new IntMap();
  private readonly ring = new Ring();
  private latest = 0;

  constructor(readonly span: number) {}

  add(at: number, key: number): void {
    const t = at < this.latest ? this.latest : at;
    this.latest = t;
    this.expire(t);
    this.lastSeen.set(key, this.ring.push(t, key));
  }

  /** Adds the first `n` keys of `keys`, all seen at `at`. */
  addAll(at: number, keys: readonly number[], n: number): void {
    const t = at < this.latest ? this.latest : at;
    this.latest = t;
    this.expire(t);
    const ring = this.ring;
    const lastSeen = this.lastSeen;
    for (let i = 0; i < n; i += 1) {
      const key = keys[i]!;
      lastSeen.set(key, ring.push(t, key));
    }
  }

  count(now: number): number {
    this.expire(now);
    return this.lastSeen.size;
  }

  get last(): number {
    return this.latest;
  }

  clear(): void {
    this.lastSeen.clear();
    this.ring.clear();
  }

  private expire(now: number): void {
    const from = now - this.span;
    const ring = this.ring;
    const lastSeen = this.lastSeen;
    while (ring.size > 0 && ring.firstTime <= from) {
      const key = ring.firstValue;
      // A key seen again later stays; only its last sighting counts.
      if (lastSeen.get(key) === ring.firstPosition) lastSeen.delete(key);
      ring.shift();
    }
  }
}

const EMPTY = -1;

/**
 * A map from small non-negative integers to small non-negative integers in two typed arrays (open
 * addressing, linear probing, deletion by shifting back): what the windows and the day's records
 * need, at a fraction of a Map's cost per entry and with nothing for the collector to trace.
 */
export class IntMap {
  private keys = new Int32Array(16).fill(EMPTY);
  private values = new Int32Array(16);
  private mask = 15;
  size = 0;

  /** The value of `key`, or -1 when it has none. */
  get(key: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = slotOf(key, mask);
    for (;;) {
      const k = keys[i]!;
      if (k === key) return this.values[i]!;
      if (k === EMPTY) return EMPTY;
      i = (i + 1) & mask;
    }
  }

  has(key: number): boolean {
    return this.get(key) !== EMPTY;
  }

  set(key: number, value: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2);
    const keys = this.keys;
    const mask = this.mask;
    let i = slotOf(key, mask);
    for (;;) {
      const k = keys[i]!;
      if (k === key) {
        this.values[i] = value;
        return;
      }
      if (k === EMPTY) {
        keys[i] = key;
        this.values[i] = value;
        this.size += 1;
        return;
      }
      i = (i + 1) & mask;
    }
  }

  delete(key: number): void {
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    let i = slotOf(key, mask);
    for (;;) {
      const k = keys[i]!;
      if (k === EMPTY) return;
      if (k === key) break;
      i = (i + 1) & mask;
    }
    // Entries after the hole that probed past it move back into it, so lookups never stop short.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j]!;
      if (k === EMPTY) break;
      if (((j - slotOf(k, mask)) & mask) >= ((j - i) & mask)) {
        keys[i] = k;
        values[i] = values[j]!;
        i = j;
      }
    }
    keys[i] = EMPTY;
    this.size -= 1;
  }

  clear(): void {
    if (this.size === 0) return;
    // A table grown for a burst is given back; one of ordinary size is kept for the next round.
    if (this.keys.length > 16_384) {
      this.keys = new Int32Array(16).fill(EMPTY);
      this.values = new Int32Array(16);
      this.mask = 15;
    } else {
      this.keys.fill(EMPTY);
    }
    this.size = 0;
  }

  private resize(length: number): void {
    const keys = this.keys;
    const values = this.values;
    this.keys = new Int32Array(length).fill(EMPTY);
    this.values = new Int32Array(length);
    this.mask = length - 1;
    this.size = 0;
    for (let i = 0; i < keys.length; i += 1) if (keys[i] !== EMPTY) this.set(keys[i]!, values[i]!);
  }
}

/** A set of small non-negative integers (an IntMap whose values say nothing). */
export class IntSet {
  private readonly map = new IntMap();

  get size(): number {
    return this.map.size;
  }

  add(key: number): void {
    this.map.set(key, 0);
  }

  has(key: number): boolean {
    return this.map.has(key);
  }

  clear(): void {
    this.map.clear();
  }
}

/** Spreads keys that differ in their high bits over the table (Fibonacci hashing). */
function slotOf(key: number, mask: number): number {
  return (Math.imul(key, 0x9e3779b1) >>> 0) & mask;
}

/** FNV-1a over the UTF-16 code units, cut to 30 bits so it stays a small integer that costs no allocation. */
export function keyHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash & SMALL;
}
