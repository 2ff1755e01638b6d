import { randomFillSync } from 'node:crypto';

/**
 * Random bytes from the operating system's CSPRNG, drawn a block at a time: one system call per
 * block instead of one per id, nonce or key, which matters when a bulk load makes a million of
 * each. Each user keeps a pool of its own, so key material never shares a buffer with values that
 * are handed out as views.
 */
export class RandomPool {
  private readonly block: Buffer;
  private offset: number;

  constructor(size = 4096) {
    this.block = Buffer.alloc(size);
    this.offset = size;
  }

  /** The next `size` bytes as a view into the pool, valid until the next call. */
  view(size: number): Buffer {
    if (this.offset + size > this.block.length) {
      randomFillSync(this.block);
      this.offset = 0;
    }
    const bytes = this.block.subarray(this.offset, this.offset + size);
    this.offset += size;
    return bytes;
  }

  /** The next `size` bytes as a copy of their own, wiped from the pool: for key material. */
  take(size: number): Buffer {
    const view = this.view(size);
    const copy = Buffer.from(view);
    view.fill(0);
    return copy;
  }
}
