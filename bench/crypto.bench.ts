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
 * Rampart's figures include what it really does per person and ciphersweet-js does not: a fresh
 * random data key per row, wrapped under the KEK when writing and unwrapped when reading (a cold
 * key cache). ciphersweet-js runs its default ModernCrypto backend (XChaCha20-Poly1305 through
 * sodium-native) with per-column keys. Target: Rampart >= 10x.
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

  // Rampart: seal and index.
  const sealed: { id: string; kekId: string; wrapped: Buffer; first_name: string; email: string; phone: string }[] = [];
  let started = performance.now();
  for (const row of data) {
    const id = newId();
    const key = keyring.newKey();
    const { kekId, wrapped } = await kek.wrap(key, dataKeyAad(id, 1));
    const keys: SubjectKeys = { current: 1, versions: new Map([[1, key]]) };
    const place = { table: 'contacts', column: '', recordId: id, subjectId: id };
    sealed.push({
      id,
      kekId,
      wrapped,
      first_name: sealValue(keys, { ...place, column: 'first_name' }, row.first_name),
      email: sealValue(keys, { ...place, column: 'email' }, row.email),
      phone: sealValue(keys, { ...place, column: 'phone' }, row.phone),
    });
    blindOf(fixed, 'contacts', 'email', 'email', row.email, '86');
    blindOf(fixed, 'contacts', 'phone', 'phone', row.phone, '86');
  }
  const rampartWrite = rows / ((performance.now() - started) / 1000);

  // Rampart: unwrap each person's key and open the three values.
  started = performance.now();
  let check = 0;
  for (const s of sealed) {
    const key = await kek.unwrap(s.kekId, s.wrapped, dataKeyAad(s.id, 1));
    const keys: SubjectKeys = { current: 1, versions: new Map([[1, key]]) };
    const place = { table: 'contacts', column: '', recordId: s.id, subjectId: s.id };
    check += openValue(keys, { ...place, column: 'first_name' }, s.first_name).length;
    check += openValue(keys, { ...place, column: 'email' }, s.email).length;
    check += openValue(keys, { ...place, column: 'phone' }, s.phone).length;
  }
  const rampartRead = rows / ((performance.now() - started) / 1000);

  // ciphersweet-js on the same rows.
  const require = createRequire(import.meta.url);
  const { BlindIndex, CipherSweet, EncryptedRow, StringProvider } = require('ciphersweet-js');
  const Lowercase = require('ciphersweet-js/lib/transformation/lowercase');
  const engine = new CipherSweet(new StringProvider(randomBytes(32).toString('hex')));
  const encryptedRow = new EncryptedRow(engine, 'contacts')
    .addTextField('first_name')
    .addTextField('email')
    .addTextField('phone')
    .addBlindIndex('email', new BlindIndex('contact_email_idx', [new Lowercase()], 17))
    .addBlindIndex('phone', new BlindIndex('contact_phone_idx', [], 17));
  const stored: Record<string, string>[] = [];
  started = performance.now();
  for (const row of data) {
    const [encrypted] = await encryptedRow.prepareRowForStorage({ ...row });
    stored.push(encrypted);
  }
  const sweetWrite = rows / ((performance.now() - started) / 1000);
  started = performance.now();
  let sweetCheck = 0;
  for (const row of stored) {
    const plain = await encryptedRow.decryptRow(row);
    sweetCheck += String(plain.first_name).length + String(plain.email).length + String(plain.phone).length;
  }
  const sweetRead = rows / ((performance.now() - started) / 1000);
  if (check !== sweetCheck) throw new Error('the two libraries decrypted different rows');

  printTable(
    `(d) field encryption, ${count(rows)} rows of 3 encrypted fields and 2 blind indexes (target: Rampart >= 10x ciphersweet-js)`,
    ['library', 'encrypt+index rows/s', 'decrypt rows/s'],
    [
      ['Rampart (AES-256-GCM, key per person, wrap/unwrap included)', count(rampartWrite), count(rampartRead)],
      ['ciphersweet-js 2 (ModernCrypto, sodium-native)', count(sweetWrite), count(sweetRead)],
      ['Rampart / ciphersweet-js', `${(rampartWrite / sweetWrite).toFixed(1)}x`, `${(rampartRead / sweetRead).toFixed(1)}x`],
    ],
  );
}
