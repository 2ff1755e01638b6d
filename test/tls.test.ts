import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { startServer, type RunningServer } from '../src/server.js';

const silent = new Writable({ write: (_chunk, _encoding, done) => done() });

/** A request over HTTPS that trusts exactly the certificate the server generated. */
function get(url: string, ca: string, options: https.RequestOptions = {}): Promise<{ status: number; headers: Record<string, unknown>; protocol: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca, ...options }, (res) => {
      const protocol = (res.socket as tls.TLSSocket).getProtocol() ?? '';
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, protocol, body }));
    });
    req.on('error', reject);
    req.end(options.method === 'POST' ? JSON.stringify({ email: 'nobody@example.com', password: 'not the password at all' }) : undefined);
  });
}

describe('HTTPS', { timeout: 60_000 }, () => {
  let dir: string;
  let server: RunningServer;
  let ca: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-tls-'));
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dir, RAMPART_PORT: '0', RAMPART_TLS_SELF_SIGNED: 'true', RAMPART_LOG_LEVEL: 'silent' } });
    server = await startServer(config, { out: silent, handleSignals: false });
    ca = fs.readFileSync(path.join(dir, 'tls', 'cert.pem'), 'utf8');
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('generates a certificate on the first start, keeps its key owner-only, and serves TLS 1.2+ with HSTS', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(fs.statSync(path.join(dir, 'tls', 'key.pem')).mode & 0o777).toBe(0o600);
    const res = await get(`${server.url}/api/v1/auth/session`, ca);
    expect(res.status).toBe(401);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(res.protocol);
    expect(String(res.headers['strict-transport-security'])).toMatch(/max-age=\d+/);
    // The setup link printed at start points at HTTPS too.
    expect(server.setupLink).toMatch(/^https:\/\//);
  });

  it('refuses TLS 1.1 and weak ciphers', async () => {
    const port = Number(new URL(server.url).port);
    const attempt = (options: tls.ConnectionOptions) =>
      new Promise<string>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options }, () => {
          resolve(`connected ${socket.getProtocol()}`);
          socket.end();
        });
        socket.on('error', (e) => resolve(`refused ${e.message}`));
      });
    expect(await attempt({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).toMatch(/^refused/);
    expect(await attempt({ maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' })).toMatch(/^refused/);
    expect(await attempt({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).toBe('connected TLSv1.2');
  });

  it('reuses the generated certificate on the next start', async () => {
    const again = loadConfig({ env: { RAMPART_DATA_DIR: dir, RAMPART_PORT: '0', RAMPART_TLS_SELF_SIGNED: 'true', RAMPART_LOG_LEVEL: 'silent' } });
    const second = await startServer(again, { out: silent, handleSignals: false });
    try {
      expect(fs.readFileSync(path.join(dir, 'tls', 'cert.pem'), 'utf8')).toBe(ca);
      expect((await get(`${second.url}/api/v1/auth/session`, ca)).status).toBe(401);
    } finally {
      await second.close();
    }
  });

  it('refuses to serve plain HTTP beyond this machine unless a TLS-terminating proxy is declared', () => {
    const env = { RAMPART_DATA_DIR: dir, RAMPART_HOST: '0.0.0.0' };
    const error = (() => {
      try {
        loadConfig({ env });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.join('\n')).toMatch(/plain HTTP/);
    expect(loadConfig({ env: { ...env, RAMPART_TRUST_PROXY: 'true' } }).tls.mode).toBe('off');
    expect(loadConfig({ env: { ...env, RAMPART_TLS_SELF_SIGNED: 'true' } }).publicUrl).toMatch(/^https:/);
    expect(loadConfig({ env: { RAMPART_DATA_DIR: dir, RAMPART_HOST: '::1' } }).tls.mode).toBe('off');
    expect(() => loadConfig({ env: { RAMPART_DATA_DIR: dir, RAMPART_TLS_CERT: path.join(dir, 'missing.pem') } })).toThrow(ConfigError);
  });
});
