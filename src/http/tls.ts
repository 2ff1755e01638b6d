import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';

/**
 * HTTPS for the server: a configured certificate, or one generated on the first start when asked
 * (`RAMPART_TLS_SELF_SIGNED=true`), kept in the data directory and reused afterwards. TLS 1.2 and
 * 1.3 only, with forward-secret AEAD cipher suites (the Mozilla "intermediate" list).
 */
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsMaterial {
  cert: string;
  key: string;
  minVersion: 'TLSv1.2';
  ciphers: string;
  honorCipherOrder: true;
}

export async function tlsMaterial(config: Config): Promise<TlsMaterial | null> {
  const tls = config.tls;
  if (tls.mode === 'off') return null;
  const base = { minVersion: 'TLSv1.2' as const, ciphers: TLS_CIPHERS, honorCipherOrder: true as const };
  if (tls.mode === 'files') return { ...base, cert: fs.readFileSync(tls.cert, 'utf8'), key: fs.readFileSync(tls.key, 'utf8') };
  const certFile = path.join(tls.dir, 'cert.pem');
  const keyFile = path.join(tls.dir, 'key.pem');
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) await generateSelfSigned(config, certFile, keyFile);
  return { ...base, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}

/** A P-256 certificate for the configured host, localhost and the loopback addresses, valid one year. */
async function generateSelfSigned(config: Config, certFile: string, keyFile: string): Promise<void> {
  const { generate } = await import('selfsigned');
  const host = config.host.replace(/^\[|\]$/g, '');
  const names = [...new Set(['localhost', host])].filter((h) => !/^[\d.:]+$/.test(h));
  const addresses = [...new Set(['127.0.0.1', '::1', host])].filter((h) => /^[\d.:]+$/.test(h) && h !== '0.0.0.0' && h !== '::');
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: names.includes(host) ? host : 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...names.map((value) => ({ type: 2 as const, value })), ...addresses.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  fs.mkdirSync(path.dirname(certFile), { recursive: true, mode: 0o700 });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
}
