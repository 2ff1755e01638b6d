import { createCipheriv, createDecipheriv } from 'node:crypto';
import { RandomPool } from '../shared/random-pool.js';

/**
 * AES-256-GCM with a random 96-bit nonce: the one cipher Rampart uses for field values and for
 * wrapping keys. A sealed value is `nonce (12 bytes) | ciphertext | tag (16 bytes)`; the associated
 * data is authenticated but not stored, so a value only opens in the place it was sealed for.
 */
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';

/** A value that does not open: tampered, truncated, moved elsewhere, or sealed under another key. */
export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

// Nonces come from the operating system's CSPRNG in blocks (see RandomPool). Random 96-bit nonces
// stay collision-free with overwhelming probability far beyond the 2^32 encryptions per key that
// NIST SP 800-38D allows; each data subject has its own key.
const nonces = new RandomPool(4092);

/** A view into the pool: seal() copies it into its output before the pool is drawn from again. */
function freshNonce(): Buffer {
  return nonces.view(NONCE_BYTES);
}

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer, nonce: Buffer = freshNonce()): Buffer {
  if (key.length !== KEY_BYTES) throw new Error('AES-256-GCM needs a 32-byte key');
  if (nonce.length !== NONCE_BYTES) throw new Error('AES-256-GCM needs a 12-byte nonce');
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  // GCM is a stream mode: final() only computes the tag and returns no bytes.
  cipher.final();
  const sealed = Buffer.allocUnsafe(NONCE_BYTES + body.length + TAG_BYTES);
  nonce.copy(sealed, 0);
  body.copy(sealed, NONCE_BYTES);
  cipher.getAuthTag().copy(sealed, NONCE_BYTES + body.length);
  return sealed;
}

export function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new Error('AES-256-GCM needs a 32-byte key');
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new IntegrityError('sealed value is too short');
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const body = decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES));
  try {
    // final() checks the tag and, GCM being a stream mode, adds no bytes.
    decipher.final();
    return body;
  } catch {
    throw new IntegrityError('sealed value failed authentication');
  }
}
