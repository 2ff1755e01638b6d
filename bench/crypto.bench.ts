import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { deriveKey } from '../src/crypto/blind-index.js';
import { Keyring, dataKeyAad, type SubjectKeys } from '../src/crypto/keyring.js';
import type { KekAdapter } from '../src/crypto/kek.js';
import { openValue, sealValue } from '../src/data/field-crypto.js';
import type { IndexKeyVersion } from '../src/data/keys.js';
import { blindOf } from '../src/data/record-sealing.js';
import { newId } from '../src/shared/ids.js';
import { count, printTable } from './support.js';

/**
 * (d) Field encryption with blind indexes against ciphersweet-js, on the same rows: three
 * encrypted fields (first name, email, phone) and two blind indexes (email, phone).
 *
 * Rampart is measured as it works on a row of a person whose data key is in the cache (the like-
 * for-like case: ciphersweet-js derives per-column keys once), and again with what a new person
 * or a cache miss adds: a fresh key made and wrapped under the KEK, or unwrapped. ciphersweet-js
 * runs its default ModernCrypto backend (XChaCha20-Poly1305 through sodium-native). Target:
 * Rampart >= 10x.
 */
interface Row {
  first_name: string;
  email: string;
  phone: string;
}

export async function benchCrypto(kek: KekAdapter, rows: number): Promise<void> {
  const data: Row[] = Array.from({ length: rows }, (_, i) => ({ first_name: `Wei${i}`, email: `wei.zhang${i}@example.com`, phone: `+86 138 ${String(i).padStart(8, '0')}` }));
  const keyring = new Keyring({ kek, cacheSize: 10, expectedPeople: 1_000_000, callingCode: '86' });
  const root = randomBytes(32);
  const index: IndexKeyVersion = {
    version: 1,
    bits: 17,
    state: 'active',
    columnKey: (table, column) => deriveKey(root, `bidx|${table}|${column}`),
    tokenKey: (type) => deriveKey(root, `tokens|${type}`),
  };
  const emailKey = index.columnKey('contacts', 'email');
  const phoneKey = index.columnKey('contacts', 'phone');
  const fixed: IndexKeyVersion = { ...index, columnKey: (_t, column) => (column === 'email' ? emailKey : phoneKey) };

  // Rampart, as it writes a row for a person whose key is in the cache: three values sealed,
  // two blind indexes. Then as it writes a new person: a key made and wrapped under the KEK too.
  const people = data.map(() => {
    const id = newId();
    return { id, keys: { current: 1, versions: new Map([[1, keyring.newKey()]]) } as SubjectKeys };
  });
  const sealed: { first_name: string; email: string; phone: string }[] = [];
  let started = performance.now();
  data.forEach((row, i) => {
    const { id, keys } = people[i]!;
    sealed.push({
      first_name: sealValue(keys, { table: 'contacts', column: 'first_name', recordId: id, subjectId: id }, row.first_name),
      email: sealValue(keys, { table: 'contacts', column: 'email', recordId: id, subjectId: id }, row.email),
      phone: sealValue(keys, { table: 'contacts', column: 'phone', recordId: id, subjectId: id }, row.phone),
    });
    blindOf(fixed, 'contacts', 'email', 'email', row.email, '86');
    blindOf(fixed, 'contacts', 'phone', 'phone', row.phone, '86');
  });
  const rampartWrite = rows / ((performance.now() - started) / 1000);

  const wrappedKeys: { kekId: string; wrapped: Buffer }[] = [];
  started = performance.now();
  for (let i = 0; i < rows; i++) {
    const row = data[i]!;
    const { id } = people[i]!;
    const key = keyring.newKey();
    wrappedKeys.push(await kek.wrap(key, dataKeyAad(id, 1)));
    const keys: SubjectKeys = { current: 1, versions: new Map([[1, key]]) };
    sealValue(keys, { table: 'contacts', column: 'first_name', recordId: id, subjectId: id }, row.first_name);
    sealValue(keys, { table: 'contacts', column: 'email', recordId: id, subjectId: id }, row.email);
    sealValue(keys, { table: 'contacts', column: 'phone', recordId: id, subjectId: id }, row.phone);
    blindOf(fixed, 'contacts', 'email', 'email', row.email, '86');
    blindOf(fixed, 'contacts', 'phone', 'phone', row.phone, '86');
  }
  const rampartWriteNew = rows / ((performance.now() - started) / 1000);

  // Reading: the three values opened with the person's key from the cache, then with the key
  // unwrapped first, as after a cache miss.
  started = performance.now();
  let check = 0;
  sealed.forEach((s, i) => {
    const { id, keys } = people[i]!;
    check += openValue(keys, { table: 'contacts', column: 'first_name', recordId: id, subjectId: id }, s.first_name).length;
    check += openValue(keys, { table: 'contacts', column: 'email', recordId: id, subjectId: id }, s.email).length;
    check += openValue(keys, { table: 'contacts', column: 'phone', recordId: id, subjectId: id }, s.phone).length;
  });
  const rampartRead = rows / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let i = 0; i < rows; i++) {
    const { id } = people[i]!;
    const key = await kek.unwrap(wrappedKeys[i]!.kekId, wrappedKeys[i]!.wrapped, dataKeyAad(id, 1));
    const keys: SubjectKeys = { current: 1, versions: new Map([[1, key]]) };
    const s = sealed[i]!;
    // The values were sealed under the first key; opening with the unwrapped one fails, so the
    // work is done and counted, but the result is not used.
    for (const column of ['first_name', 'email', 'phone'] as const) {
      try {
        openValue(keys, { table: 'contacts', column, recordId: id, subjectId: id }, s[column]);
      } catch {
        // expected: another key
      }
    }
  }
  const rampartReadCold = rows / ((performance.now() - started) / 1000);

  // ciphersweet-js on the same rows, in its two index configurations: fast hashes (HMAC-like,
  // the comparison the target is about) and its default slow hashes (Argon2id per index, which
  // CipherSweet advises for low-entropy values), the latter on fewer rows since each takes long.
  const require = createRequire(import.meta.url);
  const { BlindIndex, CipherSweet, EncryptedRow, StringProvider } = require('ciphersweet-js');
  const Lowercase = require('ciphersweet-js/lib/transformation/lowercase');
  const engine = new CipherSweet(new StringProvider(randomBytes(32).toString('hex')));
  const sweet = async (fastHash: boolean, sample: Row[]): Promise<{ write: number; read: number; check: number }> => {
    const encryptedRow = new EncryptedRow(engine, 'contacts')
      .addTextField('first_name')
      .addTextField('email')
      .addTextField('phone')
      .addBlindIndex('email', new BlindIndex('contact_email_idx', [new Lowercase()], 17, fastHash))
      .addBlindIndex('phone', new BlindIndex('contact_phone_idx', [], 17, fastHash));
    const stored: Record<string, string>[] = [];
    let at = performance.now();
    for (const row of sample) stored.push((await encryptedRow.prepareRowForStorage({ ...row }))[0]);
    const write = sample.length / ((performance.now() - at) / 1000);
    at = performance.now();
    let sum = 0;
    for (const row of stored) {
      const plain = await encryptedRow.decryptRow(row);
      sum += String(plain.first_name).length + String(plain.email).length + String(plain.phone).length;
    }
    return { write, read: sample.length / ((performance.now() - at) / 1000), check: sum };
  };
  const fast = await sweet(true, data);
  if (fast.check !== check) throw new Error('the two libraries decrypted different rows');
  const slow = await sweet(false, data.slice(0, Math.min(100, data.length)));
  const sweetWrite = fast.write;
  const sweetRead = fast.read;

  printTable(
    `(d) field encryption, ${count(rows)} rows of 3 encrypted fields and 2 blind indexes (target: Rampart >= 10x ciphersweet-js)`,
    ['library', 'encrypt+index rows/s', 'decrypt rows/s'],
    [
      ['Rampart (AES-256-GCM, the person\'s key in the cache)', count(rampartWrite), count(rampartRead)],
      ['Rampart, new person / cache miss (key made and wrapped / unwrapped)', count(rampartWriteNew), count(rampartReadCold)],
      ['ciphersweet-js 2, fast-hash indexes (ModernCrypto, sodium-native)', count(sweetWrite), count(sweetRead)],
      ['ciphersweet-js 2, default slow-hash indexes (100 rows)', count(slow.write), count(slow.read)],
      ['Rampart / ciphersweet-js fast-hash', `${(rampartWrite / sweetWrite).toFixed(1)}x`, `${(rampartRead / sweetRead).toFixed(1)}x`],
    ],
  );
}
