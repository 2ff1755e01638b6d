import fs from 'node:fs';
import path from 'node:path';
import { writeSecretFileDurably } from '../shared/atomic-file.js';
import { generateSigningKey, parseVerifierKey } from './checkpoint.js';

/**
 * The audit log's signing key on disk: JSON, readable by its owner only, made on first use. It is
 * not a data key and never wrapped by the KEK: whoever verifies checkpoints needs only the
 * verifier key, which `rampart audit key` prints.
 */
export interface AuditSigningKey {
  readonly origin: string;
  readonly signerKey: string;
  readonly verifierKey: string;
}

const FORMAT = 'rampart-audit-signing-key';

export class AuditKeyError extends Error {
  override readonly name = 'AuditKeyError';
}

export function loadAuditSigningKey(file: string, origin: string, options: { create: boolean }): AuditSigningKey {
  if (!fs.existsSync(file)) {
    if (!options.create) throw new AuditKeyError(`The audit signing key ${file} does not exist`);
    const made = { format: FORMAT, origin, ...generateSigningKey(origin) };
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeSecretFileDurably(file, `${JSON.stringify(made, null, 2)}\n`, { exclusive: true });
    return { origin, signerKey: made.signerKey, verifierKey: made.verifierKey };
  }
  if ((fs.statSync(file).mode & 0o077) !== 0) throw new AuditKeyError(`The audit signing key ${file} is open to other users; make it readable by its owner only (chmod 600)`);
  let parsed: Partial<AuditSigningKey> & { format?: string };
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof parsed;
  } catch {
    throw new AuditKeyError(`The audit signing key ${file} is not readable`);
  }
  if (parsed.format !== FORMAT || !parsed.origin || !parsed.signerKey || !parsed.verifierKey) throw new AuditKeyError(`The audit signing key ${file} is not a Rampart audit signing key`);
  parseVerifierKey(parsed.verifierKey);
  return { origin: parsed.origin, signerKey: parsed.signerKey, verifierKey: parsed.verifierKey };
}

/** The log's name in its checkpoints: the server's host and a path, as transparency logs name theirs. */
export function auditOrigin(publicUrl: string): string {
  return `${new URL(publicUrl).host}/rampart-audit`;
}

/** Who a bundle or proof says signed the log: the key file's origin and verifier key, if the key was ever made. */
export function auditSigner(keyFile: string, publicUrl: string): { origin: string; verifierKey: string | null } {
  if (!fs.existsSync(keyFile)) return { origin: auditOrigin(publicUrl), verifierKey: null };
  const key = loadAuditSigningKey(keyFile, auditOrigin(publicUrl), { create: false });
  return { origin: key.origin, verifierKey: key.verifierKey };
}
