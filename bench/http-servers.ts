/**
 * A server for the HTTP benchmark, run in its own process so the load generator does not share
 * its event loop: `real DATA_DIR` is Rampart itself; `bare DATA_DIR` is Fastify, better-sqlite3 and
 * node:crypto answering the same page of contacts, decrypted the same way, with no
 * authentication, policy or field layer at all.
 * Prints `READY <port>` once listening.
 */
import { createDecipheriv } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import Fastify from 'fastify';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';

const [kind, location] = process.argv.slice(2);

if (kind === 'real') {
  const config = loadConfig({ env: { RAMPART_DATA_DIR: location!, RAMPART_LOG_LEVEL: 'silent', RAMPART_PORT: '0' } });
  const rampart = await buildApp(config, { migrated: true });
  await rampart.app.listen({ host: '127.0.0.1', port: 0 });
  const address = rampart.app.server.address();
  process.stdout.write(`READY ${typeof address === 'object' && address ? address.port : 0}\n`);
  process.on('SIGTERM', () => void rampart.close().then(() => process.exit(0)));
} else if (kind === 'bare') {
  // The same page with the same decryption, written directly against node:crypto: the key file's
  // KEK unwraps each person's data key (kept in a Map, as Rampart keeps them in its cache), and
  // AES-256-GCM opens the sealed columns with the same associated data.
  const dataDir = location!;
  const db = new SQLite(path.join(dataDir, 'rampart.db'), { readonly: true });
  db.pragma('busy_timeout = 5000');
  const keyFile = JSON.parse(fs.readFileSync(path.join(dataDir, 'rampart.key'), 'utf8')) as { versions: { version: number; key: string }[] };
  const keks = new Map(keyFile.versions.filter((v) => v.key).map((v) => [`local:${v.version}`, Buffer.from(v.key, 'base64')]));
  const gcmOpen = (key: Buffer, sealed: Buffer, aad: string): Buffer => {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
  };
  const dataKeys = new Map<string, Buffer>();
  const keyRows = db.prepare('select subject_id, version, kek_id, wrapped from data_keys where subject_id in (select value from json_each(?))');
  const personal = ['first_name', 'last_name', 'email', 'phone', 'mobile', 'address', 'birthday', 'id_number'];
  const page = db.prepare('select * from contacts where deleted_at is null order by created_at desc, id desc limit ?');
  const camel = (column: string): string => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const app = Fastify({ logger: false });
  app.get('/api/v1/contacts', async (request) => {
    const limit = Math.min(Math.max(Number((request.query as { limit?: string }).limit ?? 25), 1), 200);
    const rows = page.all(limit + 1) as Record<string, unknown>[];
    const shown = rows.slice(0, limit);
    const missing = [...new Set(shown.map((r) => String(r.subject_id)))].filter((s) => !dataKeys.has(s));
    if (missing.length > 0) {
      for (const k of keyRows.all(JSON.stringify(missing)) as { subject_id: string; version: number; kek_id: string; wrapped: string }[]) {
        dataKeys.set(k.subject_id, gcmOpen(keks.get(k.kek_id)!, Buffer.from(k.wrapped, 'base64'), `rampart|data-key|${k.subject_id}|${k.version}`));
      }
    }
    const items = shown.map((row) => {
      const item: Record<string, unknown> = {};
      for (const [column, value] of Object.entries(row)) item[camel(column)] = value;
      for (const column of personal) {
        const stored = row[column];
        if (typeof stored !== 'string') continue;
        const [, version, body] = stored.split('.');
        const aad = `rampart|e1|contacts|${column}|${String(row.id)}|${String(row.subject_id)}|${version}`;
        item[camel(column)] = gcmOpen(dataKeys.get(String(row.subject_id))!, Buffer.from(body!, 'base64url'), aad).toString('utf8');
      }
      item.customFields = {};
      item.tagIds = [];
      return item;
    });
    const last = rows.length > limit ? items.at(-1) : undefined;
    return { items, nextCursor: last ? Buffer.from(JSON.stringify(['-createdAt', last.createdAt, last.id])).toString('base64url') : null };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.stdout.write(`READY ${typeof address === 'object' && address ? address.port : 0}\n`);
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
} else {
  process.stderr.write('usage: http-servers.ts real DATA_DIR | bare DATA_DIR\n');
  process.exit(2);
}
