import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { aeadBackendName } from '../src/crypto/aead.js';
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
 * runs its default ModernCrypto backend (XChaCha20-Poly1305 through sodium-native) with fast-hash
 * blind indexes, and once with its default slow-hash (Argon2id) indexes on a few rows.
 *
 * The like-for-like runs alternate in rounds over slices of the rows, so that both libraries see
 * the same machine: a shared cloud machine speeds up and slows down by a fifth from minute to
 * minute. Target: Rampart >= 10x.
 */
interface Row {
  first_name: string;
  email: string;
  phone: string;
}

type Sealed = Row;
const ROUNDS = 5;

/**
 * Each timed segment starts from a collected heap, so that neither library pays on its own clock
 * for collecting the other's garbage. `npm run bench` runs Node with --expose-gc.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function benchCrypto(kek: KekAdapter, rows: number): Promise<void> {
  const data: Row[] = Array.from({ length: rows }, (_, i) => ({ first_name: `Wei${i}`, email: `wei.zhang${i}@example.com`, phone: `+86 138 ${String(i).padStart(8, '0')}` }));
  const keyring = new Keyring({ kek, cacheSize: 10, expectedPeople: 1_000_000, callingCode: '86' });
  const root = randomBytes(32);
  const emailKey = deriveKey(root, 'bidx|contacts|email');
  const phoneKey = deriveKey(root, 'bidx|contacts|phone');
  const index: IndexKeyVersion = { version: 1, bits: 17, state: 'active', columnKey: (_t, column) => (column === 'email' ? emailKey : phoneKey), tokenKey: () => emailKey };
  const people = data.map(() => {
    const id = newId();
    return { id, keys: { current: 1, versions: new Map([[1, keyring.newKey()]]) } as SubjectKeys };
  });
  const place = (id: string, column: keyof Row) => ({ table: 'contacts', column, recordId: id, subjectId: id });

  const rampartSeal = (from: number, to: number, out: Sealed[]): void => {
    for (let i = from; i < to; i++) {
      const row = data[i]!;
      const { id, keys } = people[i]!;
      out[i] = {
        first_name: sealValue(keys, place(id, 'first_name'), row.first_name),
        email: sealValue(keys, place(id, 'email'), row.email),
        phone: sealValue(keys, place(id, 'phone'), row.phone),
      };
      blindOf(index, 'contacts', 'email', 'email', row.email, '86');
      blindOf(index, 'contacts', 'phone', 'phone', row.phone, '86');
    }
  };
  const rampartOpen = (from: number, to: number, sealed: Sealed[]): number => {
    let sum = 0;
    for (let i = from; i < to; i++) {
      const { id, keys } = people[i]!;
      const s = sealed[i]!;
      sum += openValue(keys, place(id, 'first_name'), s.first_name).length + openValue(keys, place(id, 'email'), s.email).length + openValue(keys, place(id, 'phone'), s.phone).length;
    }
    return sum;
  };

  const require = createRequire(import.meta.url);
  const { BlindIndex, CipherSweet, EncryptedRow, StringProvider } = require('ciphersweet-js');
  const Lowercase = require('ciphersweet-js/lib/transformation/lowercase');
  const engine = new CipherSweet(new StringProvider(randomBytes(32).toString('hex')));
  const sweetRow = (fastHash: boolean) =>
    new EncryptedRow(engine, 'contacts')
      .addTextField('first_name')
      .addTextField('email')
      .addTextField('phone')
      .addBlindIndex('email', new BlindIndex('contact_email_idx', [new Lowercase()], 17, fastHash))
      .addBlindIndex('phone', new BlindIndex('contact_phone_idx', [], 17, fastHash));
  const fast = sweetRow(true);
  const sweetSeal = async (row: typeof fast, from: number, to: number, out: Record<string, string>[]): Promise<void> => {
    for (let i = from; i < to; i++) out[i] = (await row.prepareRowForStorage({ ...data[i]! }))[0];
  };
  const sweetOpen = async (row: typeof fast, from: number, to: number, stored: Record<string, string>[]): Promise<number> => {
    let sum = 0;
    for (let i = from; i < to; i++) {
      const plain = await row.decryptRow(stored[i]!);
      sum += String(plain.first_name).length + String(plain.email).length + String(plain.phone).length;
    }
    return sum;
  };

  // A warm-up, untimed, so that neither library is measured while the JIT is still compiling it.
  const warm = Math.min(2_000, rows);
  const scratch: Sealed[] = [];
  const scratchStored: Record<string, string>[] = [];
  rampartSeal(0, warm, scratch);
  rampartOpen(0, warm, scratch);
  await sweetSeal(fast, 0, warm, scratchStored);
  await sweetOpen(fast, 0, warm, scratchStored);

  // Alternating rounds: the like-for-like comparison.
  const time = { rampartSeal: 0, rampartOpen: 0, sweetSeal: 0, sweetOpen: 0 };
  const sealed: Sealed[] = [];
  const stored: Record<string, string>[] = [];
  let rampartSum = 0;
  let sweetSum = 0;
  const slice = Math.ceil(rows / ROUNDS);
  for (let from = 0; from < rows; from += slice) {
    const to = Math.min(rows, from + slice);
    collectGarbage();
    let at = performance.now();
    rampartSeal(from, to, sealed);
    time.rampartSeal += performance.now() - at;
    collectGarbage();
    at = performance.now();
    await sweetSeal(fast, from, to, stored);
    time.sweetSeal += performance.now() - at;
    collectGarbage();
    at = performance.now();
    rampartSum += rampartOpen(from, to, sealed);
    time.rampartOpen += performance.now() - at;
    collectGarbage();
    at = performance.now();
    sweetSum += await sweetOpen(fast, from, to, stored);
    time.sweetOpen += performance.now() - at;
  }
  if (rampartSum !== sweetSum) throw new Error('the two libraries decrypted different rows');
  const rate = (ms: number, n = rows): number => n / (ms / 1000);

  // What a new person adds when writing (a key made and wrapped), and a cache miss when reading.
  const wrapped: { kekId: string; wrapped: Buffer }[] = [];
  let at = performance.now();
  for (let i = 0; i < rows; i++) {
    const { id } = people[i]!;
    const key = keyring.newKey();
    wrapped.push(await kek.wrap(key, dataKeyAad(id, 1)));
    const keys: SubjectKeys = { current: 1, versions: new Map([[1, key]]) };
    const row = data[i]!;
    sealValue(keys, place(id, 'first_name'), row.first_name);
    sealValue(keys, place(id, 'email'), row.email);
    sealValue(keys, place(id, 'phone'), row.phone);
    blindOf(index, 'contacts', 'email', 'email', row.email, '86');
    blindOf(index, 'contacts', 'phone', 'phone', row.phone, '86');
  }
  const newPerson = rate(performance.now() - at);
  at = performance.now();
  for (let i = 0; i < rows; i++) {
    const { id } = people[i]!;
    await kek.unwrap(wrapped[i]!.kekId, wrapped[i]!.wrapped, dataKeyAad(id, 1));
  }
  const unwrapMs = performance.now() - at;
  const cacheMiss = rate(unwrapMs + time.rampartOpen);

  const slowRows = Math.min(100, rows);
  const slow = sweetRow(false);
  const slowStored: Record<string, string>[] = [];
  at = performance.now();
  await sweetSeal(slow, 0, slowRows, slowStored);
  const slowSeal = rate(performance.now() - at, slowRows);
  at = performance.now();
  await sweetOpen(slow, 0, slowRows, slowStored);
  const slowOpen = rate(performance.now() - at, slowRows);

  printTable(
    `(d) field encryption, ${count(rows)} rows of 3 encrypted fields and 2 blind indexes, ${ROUNDS} alternating rounds, AES-GCM through ${aeadBackendName() === 'native' ? 'the native addon' : 'node:crypto'} (target: Rampart >= 10x ciphersweet-js)`,
    ['library', 'encrypt+index rows/s', 'decrypt rows/s'],
    [
      ["Rampart (AES-256-GCM, the person's key in the cache)", count(rate(time.rampartSeal)), count(rate(time.rampartOpen))],
      ['ciphersweet-js 2, fast-hash indexes (ModernCrypto, sodium-native)', count(rate(time.sweetSeal)), count(rate(time.sweetOpen))],
      ['Rampart / ciphersweet-js', `${(time.sweetSeal / time.rampartSeal).toFixed(1)}x`, `${(time.sweetOpen / time.rampartOpen).toFixed(1)}x`],
      ['Rampart, new person / cache miss (key made and wrapped / unwrapped)', count(newPerson), count(cacheMiss)],
      [`ciphersweet-js 2, default slow-hash indexes (${slowRows} rows)`, count(slowSeal), count(slowOpen)],
    ],
  );
}
