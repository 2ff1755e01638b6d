import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consistencyProof, inclusionProof, leafHash, MerkleAccumulator, rootHash, verifyConsistency, verifyInclusion } from './merkle.js';

// The reference leaves and tree heads of Certificate Transparency's RFC 6962 test suite, with its
// known-good inclusion and consistency proofs.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => leafHash(Buffer.from(h, 'hex')));
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { index: 5, size: 8, proof: ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  { index: 1, size: 5, proof: ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
];
const CONSISTENCY: { from: number; to: number; proof: string[] }[] = [
  { from: 1, to: 8, proof: ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4'] },
  { from: 6, to: 8, proof: ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7'] },
  { from: 2, to: 5, proof: ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b'] },
];
const hex = (b: Buffer) => b.toString('hex');
const buf = (h: string) => Buffer.from(h, 'hex');
const root = (n: number) => buf(ROOTS[n]!);

describe('the RFC 6962 Merkle tree', () => {
  it('computes the reference tree heads for 0 to 8 leaves', () => {
    for (let n = 0; n <= 8; n++) expect(hex(rootHash(LEAVES.slice(0, n))), `size ${n}`).toBe(ROOTS[n]);
  });

  it('gives the same heads when leaves are added one at a time without keeping them', () => {
    const acc = new MerkleAccumulator();
    expect(acc.root().toString('hex')).toBe(ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      acc.push(LEAVES[n - 1]!);
      expect(acc.root().toString('hex'), `size ${n}`).toBe(ROOTS[n]);
    }
    const many = Array.from({ length: 1000 }, (_, i) => leafHash(Buffer.from(String(i))));
    const big = new MerkleAccumulator();
    for (const leaf of many) big.push(leaf);
    expect(big.root().equals(rootHash(many))).toBe(true);
    expect(big.size).toBe(1000);
  });

  it('makes and checks the reference inclusion proofs, and refuses them altered', () => {
    for (const v of INCLUSION) {
      const leaves = LEAVES.slice(0, v.size);
      expect(inclusionProof(leaves, v.index).map(hex)).toEqual(v.proof);
      const proof = v.proof.map(buf);
      const leaf = LEAVES[v.index]!;
      expect(verifyInclusion(v.index, v.size, leaf, proof, root(v.size))).toBe(true);
      expect(verifyInclusion(v.index - 1, v.size, leaf, proof, root(v.size))).toBe(false);
      expect(verifyInclusion(v.index + 1, v.size, leaf, proof, root(v.size))).toBe(false);
      expect(verifyInclusion(v.index, v.size * 2, leaf, proof, root(v.size))).toBe(false);
      expect(verifyInclusion(v.index, v.size, leafHash(Buffer.from('WrongLeaf')), proof, root(v.size))).toBe(false);
      expect(verifyInclusion(v.index, v.size, leaf, proof, root(0))).toBe(false);
      expect(verifyInclusion(v.index, v.size, leaf, [...proof, root(v.size)], root(v.size))).toBe(false);
      expect(verifyInclusion(v.index, v.size, leaf, proof.slice(0, -1), root(v.size))).toBe(false);
      for (let i = 0; i < proof.length; i++) expect(verifyInclusion(v.index, v.size, leaf, proof.map((p, j) => (j === i ? root(0) : p)), root(v.size))).toBe(false);
    }
    expect(verifyInclusion(0, 0, LEAVES[0]!, [], root(0))).toBe(false);
    expect(verifyInclusion(2, 1, LEAVES[0]!, [], root(1))).toBe(false);
  });

  it('makes and checks the reference consistency proofs, and refuses them altered', () => {
    for (const v of CONSISTENCY) {
      expect(consistencyProof(LEAVES.slice(0, v.to), v.from).map(hex)).toEqual(v.proof);
      const proof = v.proof.map(buf);
      expect(verifyConsistency(v.from, v.to, root(v.from), root(v.to), proof)).toBe(true);
      expect(verifyConsistency(v.from - 1, v.to, root(v.from), root(v.to), proof)).toBe(false);
      expect(verifyConsistency(v.from + 1, v.to, root(v.from), root(v.to), proof)).toBe(false);
      expect(verifyConsistency(v.from, v.to * 2, root(v.from), root(v.to), proof)).toBe(false);
      expect(verifyConsistency(v.from, v.to, root(v.to), root(v.from), proof)).toBe(false);
      expect(verifyConsistency(v.from, v.to, root(v.from), root(v.to), [])).toBe(false);
      expect(verifyConsistency(v.from, v.to, root(v.from), root(v.to), [...proof, root(v.from)])).toBe(false);
      expect(verifyConsistency(v.from, v.to, root(v.from), root(v.to), proof.slice(0, -1))).toBe(false);
      for (let i = 0; i < proof.length; i++) expect(verifyConsistency(v.from, v.to, root(v.from), root(v.to), proof.map((p, j) => (j === i ? root(0) : p)))).toBe(false);
    }
    // A log never shrinks; equal sizes need equal roots and nothing more.
    expect(verifyConsistency(2, 1, root(2), root(1), [])).toBe(false);
    expect(verifyConsistency(3, 3, root(3), root(3), [])).toBe(true);
    expect(verifyConsistency(3, 3, root(3), root(4), [])).toBe(false);
    expect(verifyConsistency(1, 2, root(1), root(2), [])).toBe(false);
  });

  it('proves every leaf and every earlier size of random trees, and nothing of a changed one', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { minLength: 1, maxLength: 70 }), fc.nat(), fc.nat(), (entries, a, b) => {
        const leaves = entries.map((e) => leafHash(Buffer.from(e)));
        const n = leaves.length;
        const top = rootHash(leaves);
        const index = a % n;
        expect(verifyInclusion(index, n, leaves[index]!, inclusionProof(leaves, index), top)).toBe(true);
        const m = (b % n) + 1;
        expect(verifyConsistency(m, n, rootHash(leaves.slice(0, m)), top, consistencyProof(leaves, m))).toBe(true);
        // Rewrite one entry before m: the old head no longer matches what the new log proves.
        const changed = [...leaves];
        changed[index % m] = leafHash(Buffer.from('rewritten'));
        expect(verifyConsistency(m, n, rootHash(leaves.slice(0, m)), rootHash(changed), consistencyProof(changed, m))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses random proofs with a flipped bit, an element missing or one too many', () => {
    const spoiled = (proof: Buffer[], pick: number, bit: number): Buffer[][] => {
      const variants: Buffer[][] = [[...proof, leafHash(Buffer.from('extra'))]];
      if (proof.length > 0) {
        const at = pick % proof.length;
        const flipped = proof.map((h) => Buffer.from(h));
        const element = flipped[at]!;
        element[bit % 32] = element[bit % 32]! ^ (1 << (bit % 8));
        variants.push(flipped, proof.filter((_, i) => i !== at));
      }
      return variants;
    };
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 90 }), fc.nat(), fc.nat(), fc.nat(), fc.nat(), (n, a, b, pick, bit) => {
        const leaves = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
        const top = rootHash(leaves);
        const index = a % n;
        for (const proof of spoiled(inclusionProof(leaves, index), pick, bit)) expect(verifyInclusion(index, n, leaves[index]!, proof, top)).toBe(false);
        const m = (b % (n - 1)) + 1;
        for (const proof of spoiled(consistencyProof(leaves, m), pick, bit)) expect(verifyConsistency(m, n, rootHash(leaves.slice(0, m)), top, proof)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
