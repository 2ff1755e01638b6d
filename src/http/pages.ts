import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** The first-run and sign-in pages, served as files so the Content-Security-Policy can forbid inline code. */
export function registerPages(app: FastifyInstance): void {
  const page = (route: string, file: string): void => {
    app.get(route, { schema: { hide: true } }, async (_request, reply) => {
      const full = path.join(PUBLIC_DIR, file);
      return reply.type(TYPES[path.extname(file)] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(fs.createReadStream(full));
    });
  };
  page('/', 'index.html');
  page('/setup', 'index.html');
  page('/login', 'index.html');
  page('/assets/app.js', 'app.js');
  page('/assets/app.css', 'app.css');
}
