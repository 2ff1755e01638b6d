import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aeadBackendName, IntegrityError, nativeBackend, nodeBackend, NONCE_BYTES, open, seal } from './aead.js';
import { blindIndex, indexBits, normalizeForIndex, searchToken } from './blind-index.js';
import { KeyFileError, LocalKeyFile } from './key-file.js';
import { KekUnavailableError } from './kek.js';
import { LruMap } from './lru.js';
import { maskValue } from './masking.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('AES-256-GCM', () => {
  // NIST GCM test vectors (gcmEncryptExtIV256.rsp): 256-bit key, 96-bit IV, with and without AAD.
  it('matches the NIST known answers', () => {
    const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
    const nonce = hex('cafebabefacedbaddecaf888');
    const plaintext = hex(
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
    );
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const sealed = seal(key, plaintext, aad, nonce);
    expect(sealed.subarray(NONCE_BYTES, sealed.length - 16).toString('hex')).toBe(
      '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
    );
    expect(sealed.subarray(sealed.length - 16).toString('hex')).toBe('76fc6ece0f4e1768cddf8853bb2d551b');
    expect(open(key, sealed, aad)).toEqual(plaintext);

    const empty = seal(Buffer.alloc(32), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(12));
    expect(empty.subarray(NONCE_BYTES).toString('hex')).toBe('530f8afbc74536b9a963b4f1c4cb738b');
  });

  it('runs on the native backend where the addon is installed, byte for byte the same cipher as node:crypto', () => {
    // The addon is an optional dependency that `npm ci` builds here: without it this test fails,
    // so a build that silently fell back to the slower path is noticed.
    expect(aeadBackendName()).toBe('native');
    const native = nativeBackend!;
    const key = randomBytes(32);
    for (const aad of [Buffer.from('rampart|e1|contacts|email'), Buffer.alloc(0)]) {
      for (const length of [0, 1, 15, 16, 17, 60, 4096]) {
        const plaintext = randomBytes(length);
        const nonce = randomBytes(NONCE_BYTES);
        const sealed = native.seal(key, plaintext, aad, nonce);
        expect(sealed.equals(nodeBackend.seal(key, plaintext, aad, nonce)), `length ${length}`).toBe(true);
        expect(nodeBackend.open(key, sealed, aad).equals(plaintext)).toBe(true);
        expect(native.open(key, sealed, aad).equals(plaintext)).toBe(true);
        const flipped = Buffer.from(sealed);
        flipped[flipped.length - 1]! ^= 1;
        expect(() => native.open(key, flipped, aad)).toThrow(IntegrityError);
        expect(() => native.open(key, sealed, Buffer.from('another place'))).toThrow(IntegrityError);
        expect(() => native.open(randomBytes(32), sealed, aad)).toThrow(IntegrityError);
      }
    }
  });

  it('detects every bit flip, truncation and a wrong key or associated data', () => {
    const key = Buffer.alloc(32, 7);
    const aad = Buffer.from('rampart|e1|contacts|email|id|subject|1');
    const sealed = seal(key, Buffer.from('zhang.wei@example.com'), aad);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const flipped = Buffer.from(sealed);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => open(key, flipped, aad)).toThrow(IntegrityError);
    }
    for (let cut = 0; cut < sealed.length; cut++) expect(() => open(key, sealed.subarray(0, cut), aad)).toThrow(IntegrityError);
    expect(() => open(Buffer.alloc(32, 8), sealed, aad)).toThrow(IntegrityError);
    expect(() => open(key, sealed, Buffer.from('rampart|e1|contacts|phone|id|subject|1'))).toThrow(IntegrityError);
  });

  it('never repeats a nonce in a million encryptions', () => {
    const key = Buffer.alloc(32, 1);
    const seen = new Set<string>();
    const empty = Buffer.alloc(0);
    for (let i = 0; i < 1_000_000; i++) seen.add(seal(key, empty, empty).toString('latin1', 0, NONCE_BYTES));
    expect(seen.size).toBe(1_000_000);
  });
});

describe('blind indexes', () => {
  it('uses HMAC-SHA-256 as RFC 4231 defines it', () => {
    // RFC 4231 test case 2.
    const mac = createHmac('sha256', Buffer.from('Jefe')).update('what do ya want for nothing?').digest('hex');
    expect(mac).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    // A blind index is the top bits of that HMAC.
    expect(blindIndex(Buffer.from('Jefe'), 'what do ya want for nothing?', 16)).toBe(0x5bdc);
    expect(blindIndex(Buffer.from('Jefe'), 'what do ya want for nothing?', 32)).toBe(0x5bdcc146);
  });

  it('normalizes emails, phone numbers and ID numbers before indexing', () => {
    expect(normalizeForIndex('email', '  Zhang.Wei@Example.COM ', '86')).toBe('zhang.wei@example.com');
    for (const phone of ['+86 138-0013-8000', '138 0013 8000', '0086 13800138000', '(138) 0013-8000']) {
      expect(normalizeForIndex('phone', phone, '86')).toBe('8613800138000');
    }
    expect(normalizeForIndex('phone', '010-6552 9988', '86')).toBe('861065529988');
    expect(normalizeForIndex('phone', '+1 (415) 555-2671', '86')).toBe('14155552671');
    expect(normalizeForIndex('id-number', '11010519491231002x', '86')).toBe('11010519491231002X');
    expect(normalizeForIndex('email', '   ', '86')).toBeNull();
  });

  it('sizes indexes so that about eight people share a value at the expected size', () => {
    expect(indexBits(1_000_000)).toBe(17);
    expect(2 ** indexBits(1_000_000)).toBeLessThan(1_000_000 / 4);
    expect(indexBits(10)).toBe(8);
    expect(indexBits(1e12)).toBe(32);
  });

  it('makes tokens no typed word can prefix', () => {
    const token = searchToken(Buffer.alloc(32, 3), 'zhang');
    expect(token).toMatch(/^_[0-9a-f]{8}$/);
    expect(searchToken(Buffer.alloc(32, 3), 'zhang')).toBe(token);
    expect(searchToken(Buffer.alloc(32, 4), 'zhang')).not.toBe(token);
  });
});

describe('the local key file', () => {
  const dir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-kf-'));

  it('is created owner-only, wraps and unwraps, and keeps old versions until retired', async () => {
    const file = path.join(dir(), 'rampart.key');
    const kek = LocalKeyFile.open({ file, create: true });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const aad = Buffer.from('subject|1');
    const first = await kek.wrap(Buffer.alloc(32, 9), aad);
    expect(first.kekId).toBe('local:1');
    await expect(kek.unwrap(first.kekId, first.wrapped, Buffer.from('subject|2'))).rejects.toThrow(IntegrityError);

    expect(await kek.addVersion()).toBe('local:2');
    const second = await kek.wrap(Buffer.alloc(32, 9), aad);
    expect(second.kekId).toBe('local:2');
    expect(await kek.unwrap('local:1', first.wrapped, aad)).toEqual(Buffer.alloc(32, 9));
    expect(kek.versions().map((v) => [v.id, v.state])).toEqual([['local:1', 'decrypt-only'], ['local:2', 'active']]);

    // Another process opening the same file sees the new version; retiring removes the key material.
    await kek.retire('local:1');
    const again = LocalKeyFile.open({ file, create: false });
    await expect(again.unwrap('local:1', first.wrapped, aad)).rejects.toThrow(KekUnavailableError);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(first.wrapped.toString('base64'));
    await expect(again.retire('local:2')).rejects.toThrow(KeyFileError);
  });

  it('refuses a file others can read, a missing file it may not create, and a wrong passphrase', async () => {
    const d = dir();
    const file = path.join(d, 'rampart.key');
    expect(() => LocalKeyFile.open({ file, create: false })).toThrow(KeyFileError);
    LocalKeyFile.open({ file, create: true, passphrase: 'correct horse battery staple' });
    expect(fs.readFileSync(file, 'utf8')).toContain('scrypt');
    expect(() => LocalKeyFile.open({ file, create: false })).toThrow(/passphrase/);
    expect(() => LocalKeyFile.open({ file, create: false, passphrase: 'wrong horse battery staple' })).toThrow(/does not open/);
    const kek = LocalKeyFile.open({ file, create: false, passphrase: 'correct horse battery staple' });
    const wrapped = await kek.wrap(Buffer.alloc(32, 1), Buffer.alloc(0));
    expect(await kek.unwrap(wrapped.kekId, wrapped.wrapped, Buffer.alloc(0))).toEqual(Buffer.alloc(32, 1));
    fs.chmodSync(file, 0o644);
    expect(() => LocalKeyFile.open({ file, create: false, passphrase: 'correct horse battery staple' })).toThrow(/chmod 600/);
  });
});

describe('masking and the key cache', () => {
  it('masks sensitive values the way people read them', () => {
    expect(maskValue('phone', '13800138000')).toBe('138****8000');
    expect(maskValue('email', 'zhang.wei@example.com')).toBe('z***@example.com');
    expect(maskValue('id-number', '110105194912310021')).toBe('110***********0021');
    expect(maskValue('phone', '12345')).toBe('*****');
    expect(maskValue('text', '张伟')).toBe('张***');
    expect(maskValue('date', '1990-01-01')).toBe('****-**-**');
  });

  it('evicts the least recently used key', () => {
    const lru = new LruMap<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c')]).toEqual([1, undefined, 3]);
  });
});
