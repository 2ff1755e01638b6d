import crypto, { createHash } from 'node:crypto';

/**
 * The Merkle tree of RFC 6962 / RFC 9162 (section 2.1) over SHA-256: the structure that lets anyone
 * holding a signed tree head check that an entry is in the log (inclusion proof) and that a later
 * log still contains everything an earlier one did, unchanged and in order (consistency proof).
 * Leaves and inner nodes hash with different prefixes, so a leaf can never pass for a node.
 */
export const HASH_BYTES = 32;

export function leafHash(entry: Buffer): Buffer {
  const bytes = Buffer.allocUnsafe(1 + entry.length);
  bytes[0] = 0x00;
  entry.copy(bytes, 1);
  return sha256(bytes);
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  const bytes = Buffer.allocUnsafe(1 + left.length + right.length);
  bytes[0] = 0x01;
  left.copy(bytes, 1);
  right.copy(bytes, 1 + left.length);
  return sha256(bytes);
}

/**
 * One-shot SHA-256 where Node has it (20.12 and later): a tree hashes twice per leaf on average,
 * and a Hash object per call costs more than the hashing of 33 or 65 bytes.
 */
const hashOnce = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;

function sha256(bytes: Buffer): Buffer {
  return hashOnce ? hashOnce('sha256', bytes, 'buffer') : createHash('sha256').update(bytes).digest();
}

const EMPTY_ROOT = createHash('sha256').digest();

/** The largest power of two smaller than n (n > 1): where RFC 6962 splits a tree of n leaves. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]): the root hash of the tree whose leaves hash to `leaves`, in order. */
export function rootHash(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return Buffer.from(EMPTY_ROOT);
  // Bottom-up, level by level; an odd node at the end of a level is carried up unchanged, which
  // builds exactly the tree the recursive definition describes.
  let level: Buffer[] = [...leaves];
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level.at(-1)!);
    level = next;
  }
  return level[0]!;
}

/**
 * The root of a growing tree without holding its leaves: the roots of the perfect subtrees that
 * make up the tree so far (one per set bit of its size), which is all a tree head needs. Memory
 * stays logarithmic however long the log grows.
 */
export class MerkleAccumulator {
  private readonly stack: Buffer[] = [];
  private count = 0;

  /**
   * A tree of `size` leaves known only by its frontier (the roots of its perfect subtrees, largest
   * first, one per set bit of the size): how a log continues past entries archived elsewhere.
   */
  static fromFrontier(size: number, frontier: readonly Buffer[]): MerkleAccumulator {
    let bits = 0;
    for (let n = size; n > 0; n = Math.floor(n / 2)) bits += n % 2;
    if (!Number.isSafeInteger(size) || size < 0 || frontier.length !== bits || frontier.some((node) => node.length !== HASH_BYTES)) throw new Error('a frontier holds one 32-byte node per set bit of the size');
    const tree = new MerkleAccumulator();
    tree.stack.push(...frontier.map((node) => Buffer.from(node)));
    tree.count = size;
    return tree;
  }

  /** The roots of the perfect subtrees that make up the tree, largest first. */
  frontier(): Buffer[] {
    return this.stack.map((node) => Buffer.from(node));
  }

  get size(): number {
    return this.count;
  }

  push(leaf: Buffer): void {
    let node = leaf;
    // Merge equal-sized subtrees as a binary counter carries.
    for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) node = nodeHash(this.stack.pop()!, node);
    this.stack.push(node);
    this.count += 1;
  }

  root(): Buffer {
    if (this.stack.length === 0) return Buffer.from(EMPTY_ROOT);
    let node = this.stack.at(-1)!;
    for (let i = this.stack.length - 2; i >= 0; i--) node = nodeHash(this.stack[i]!, node);
    return node;
  }
}

/** PATH(m, D[n]): the audit path of leaf `index` in the tree of `leaves` (RFC 6962 section 2.1.1). */
export function inclusionProof(leaves: readonly Buffer[], index: number): Buffer[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new RangeError('leaf index out of range');
  const path = (m: number, d: readonly Buffer[]): Buffer[] => {
    if (d.length <= 1) return [];
    const k = split(d.length);
    return m < k ? [...path(m, d.slice(0, k)), rootHash(d.slice(k))] : [...path(m - k, d.slice(k)), rootHash(d.slice(0, k))];
  };
  return path(index, leaves);
}

/** PROOF(m, D[n]): that the first `size` leaves are the start of the tree of `leaves` (section 2.1.2). */
export function consistencyProof(leaves: readonly Buffer[], size: number): Buffer[] {
  if (!Number.isInteger(size) || size < 0 || size > leaves.length) throw new RangeError('tree size out of range');
  if (size === 0 || size === leaves.length) return [];
  const subproof = (m: number, d: readonly Buffer[], complete: boolean): Buffer[] => {
    if (m === d.length) return complete ? [] : [rootHash(d)];
    const k = split(d.length);
    return m <= k ? [...subproof(m, d.slice(0, k), complete), rootHash(d.slice(k))] : [...subproof(m - k, d.slice(k), false), rootHash(d.slice(0, k))];
  };
  return subproof(size, leaves, true);
}

/** Checks an inclusion proof against a root, as RFC 9162 section 2.1.3.2 says. */
export function verifyInclusion(index: number, size: number, leaf: Buffer, proof: readonly Buffer[], root: Buffer): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  if (proof.some((p) => p.length !== HASH_BYTES)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** Checks that the tree of `size1` leaves with `root1` is the start of the one of `size2` with `root2` (RFC 9162 section 2.1.4.2). */
export function verifyConsistency(size1: number, size2: number, root1: Buffer, root2: Buffer, proof: readonly Buffer[]): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < size1) return false;
  if (proof.some((p) => p.length !== HASH_BYTES)) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  // When size1 is a power of two, its root is the first node of the path and is not sent.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(root1) && sr.equals(root2) && sn === 0;
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}
