/**
 * A server for the HTTP benchmark, run in its own process so the load generator does not share
 * its event loop: `real DATA_DIR` is Rampart itself; `bare DB_FILE` is Fastify and better-sqlite3
 * answering the same page of contacts with no authentication, policy or field layer at all.
 * Prints `READY <port>` once listening.
 */
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
  const db = new SQLite(location!, { readonly: true });
  db.pragma('busy_timeout = 5000');
  const page = db.prepare('select * from contacts where deleted_at is null order by created_at desc, id desc limit ?');
  const camel = (column: string): string => column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const app = Fastify({ logger: false });
  app.get('/api/v1/contacts', async (request) => {
    const limit = Math.min(Math.max(Number((request.query as { limit?: string }).limit ?? 25), 1), 200);
    const rows = page.all(limit + 1) as Record<string, unknown>[];
    const items = rows.slice(0, limit).map((row) => {
      const item: Record<string, unknown> = {};
      for (const [column, value] of Object.entries(row)) item[camel(column)] = value;
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
  process.stderr.write('usage: http-servers.ts real DATA_DIR | bare DB_FILE\n');
  process.exit(2);
}
