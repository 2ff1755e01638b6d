import { createHmac } from 'node:crypto';

/**
 * Keyed blind indexes: what makes exact lookups and word search work on encrypted values without
 * the database ever holding a plaintext. Each is HMAC-SHA-256 under a key derived for one column
 * (or one record type's words), over a normalized value, cut short on purpose.
 *
 * The cut is chosen from the expected number of people so that at that size about eight records
 * share each index value. Someone holding the database and guessing a value can then only narrow
 * it to a bucket of candidates, never confirm it; Rampart itself decrypts the few candidates and
 * keeps the true matches. SECURITY.md states what the indexes still reveal.
 */

/** How values of a kind are put into one canonical form before indexing. */
export type IndexKind = 'email' | 'phone' | 'id-number' | 'text';

/** Bits kept from each HMAC: log2(expected people) less three, so ~8 people share a value at that size. */
export function indexBits(expectedPeople: number): number {
  return Math.min(32, Math.max(8, Math.ceil(Math.log2(Math.max(2, expectedPeople))) - 3));
}

/** Bits of a word-search token. Words repeat across people, so tokens are kept long enough to be distinct. */
export const TOKEN_BITS = 32;

/**
 * The canonical form of a value for its index, or null when it has nothing to index:
 * emails trimmed and lower-cased; phone numbers as E.164 digits (a national number gets
 * `callingCode` and loses its trunk 0); ID numbers upper-cased without spaces or dashes.
 */
export function normalizeForIndex(kind: IndexKind, value: string, callingCode: string): string | null {
  switch (kind) {
    case 'email': {
      const v = value.trim().toLowerCase();
      return v === '' ? null : v;
    }
    case 'phone': {
      const trimmed = value.trim();
      const digits = trimmed.replace(/\D/g, '');
      if (digits.length < 3) return null;
      if (trimmed.startsWith('+')) return digits;
      if (digits.startsWith('00')) return digits.slice(2);
      return callingCode + digits.replace(/^0/, '');
    }
    case 'id-number': {
      const v = value.replace(/[\s-]/g, '').toUpperCase();
      return v === '' ? null : v;
    }
    case 'text': {
      const v = value.normalize('NFKC').trim().toLowerCase();
      return v === '' ? null : v;
    }
  }
}

/** A subkey for one purpose, e.g. `bidx|contacts|email`: HMAC-SHA-256(root, label). */
export function deriveKey(root: Buffer, label: string): Buffer {
  return createHmac('sha256', root).update(label).digest();
}

/** The blind index of a normalized value: the top `bits` bits of its HMAC, as a whole number. */
export function blindIndex(columnKey: Buffer, normalized: string, bits: number): number {
  const mac = createHmac('sha256', columnKey).update(normalized).digest();
  return mac.readUInt32BE(0) >>> (32 - bits);
}

/**
 * The search token of a word. It starts with `_`, which no plain search term holds, so a typed
 * prefix can never match a token and a token never looks like a word.
 */
export function searchToken(tokenKey: Buffer, word: string): string {
  const mac = createHmac('sha256', tokenKey).update(word).digest();
  return `_${mac.toString('hex', 0, TOKEN_BITS / 8)}`;
}
