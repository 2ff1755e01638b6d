import { createHmac } from 'node:crypto';

/**
 * Keyed digests of field values for the audit log's change entries. A value never enters the log;
 * its digest does, so an investigator holding the key can tell whether a field held a given value
 * before and after a change, and nobody else can. The key is derived from the data key of the
 * record's subject, so erasing a person (destroying their key) also leaves every digest of their
 * values in the append-only log impossible to test against a guess.
 */
const DIGEST_BYTES = 16;

export function valueDigestKey(dataKey: Buffer): Buffer {
  return createHmac('sha256', dataKey).update('rampart audit value digest v1').digest();
}

/** HMAC-SHA-256 over the field name and the value's canonical text, first 16 bytes, base64url. */
export function valueDigest(key: Buffer, field: string, text: string): string {
  return createHmac('sha256', key).update(field).update('\0').update(text).digest().subarray(0, DIGEST_BYTES).toString('base64url');
}
