import { createCipheriv, createDecipheriv } from 'node:crypto';
import { createRequire } from 'node:module';
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

/**
 * The two ways to run AES-256-GCM, byte for byte the same cipher. node:crypto sets up an OpenSSL
 * context through five calls (cipher, AAD, update, final, tag) and builds a stream object for each
 * value, which for values of a few dozen bytes costs more than the encryption. The optional
 * `@ronomon/crypto-async` addon calls the same OpenSSL, in Node's own binary, once per value and
 * writes straight into the output: about 40% less time per value. It is built at install; where it
 * cannot be, node:crypto does the work.
 */
export interface AeadBackend {
  readonly name: 'native' | 'node';
  seal(key: Buffer, plaintext: Buffer, aad: Buffer, nonce: Buffer): Buffer;
  open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer;
}

export const nodeBackend: AeadBackend = {
  name: 'node',
  seal(key, plaintext, aad, nonce) {
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
  },
  open(key, sealed, aad) {
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
  },
};

/** The addon's synchronous call: algorithm, direction, then each buffer with its offset and size. */
type NativeCipher = (
  algorithm: string,
  encrypt: 0 | 1,
  key: Buffer, keyOffset: number, keySize: number,
  iv: Buffer, ivOffset: number, ivSize: number,
  source: Buffer, sourceOffset: number, sourceSize: number,
  target: Buffer, targetOffset: number,
  aad: Buffer, aadOffset: number, aadSize: number,
  tag: Buffer, tagOffset: number, tagSize: number,
) => number;

/**
 * The addon asserts, and so ends the process, on a buffer of no bytes (it has no data pointer):
 * an empty value or associated data goes to node:crypto instead.
 */
function nativeBackendOf(cipher: NativeCipher): AeadBackend {
  return {
    name: 'native',
    seal(key, plaintext, aad, nonce) {
      if (plaintext.length === 0 || aad.length === 0) return nodeBackend.seal(key, plaintext, aad, nonce);
      const sealed = Buffer.allocUnsafe(NONCE_BYTES + plaintext.length + TAG_BYTES);
      nonce.copy(sealed, 0);
      const tagAt = NONCE_BYTES + plaintext.length;
      cipher(ALGORITHM, 1, key, 0, KEY_BYTES, sealed, 0, NONCE_BYTES, plaintext, 0, plaintext.length, sealed, NONCE_BYTES, aad, 0, aad.length, sealed, tagAt, TAG_BYTES);
      return sealed;
    },
    open(key, sealed, aad) {
      const length = sealed.length - NONCE_BYTES - TAG_BYTES;
      if (length === 0 || aad.length === 0) return nodeBackend.open(key, sealed, aad);
      const body = Buffer.allocUnsafe(length);
      try {
        cipher(ALGORITHM, 0, key, 0, KEY_BYTES, sealed, 0, NONCE_BYTES, sealed, NONCE_BYTES, length, body, 0, aad, 0, aad.length, sealed, NONCE_BYTES + length, TAG_BYTES);
      } catch {
        // The addon decrypts before it checks the tag: what it wrote must not outlive the refusal.
        body.fill(0);
        throw new IntegrityError('sealed value failed authentication');
      }
      return body;
    },
  };
}

function loadNativeBackend(): AeadBackend | null {
  try {
    const addon = createRequire(import.meta.url)('@ronomon/crypto-async') as { cipher?: unknown };
    return typeof addon.cipher === 'function' ? nativeBackendOf(addon.cipher as NativeCipher) : null;
  } catch {
    return null;
  }
}

/** The native backend when the addon is installed, else node:crypto. */
export const nativeBackend: AeadBackend | null = loadNativeBackend();
const backend: AeadBackend = nativeBackend ?? nodeBackend;

/** Which backend seals and opens values in this process. */
export function aeadBackendName(): AeadBackend['name'] {
  return backend.name;
}

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer, nonce: Buffer = freshNonce()): Buffer {
  if (key.length !== KEY_BYTES) throw new Error('AES-256-GCM needs a 32-byte key');
  if (nonce.length !== NONCE_BYTES) throw new Error('AES-256-GCM needs a 12-byte nonce');
  return backend.seal(key, plaintext, aad, nonce);
}

export function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new Error('AES-256-GCM needs a 32-byte key');
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new IntegrityError('sealed value is too short');
  return backend.open(key, sealed, aad);
}
