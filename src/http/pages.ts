import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { sendError } from './errors.js';

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public');
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

/** The first-run and sign-in pages, served as files so the Content-Security-Policy can forbid inline code. */
export function registerPages(app: FastifyInstance): void {
  const page = (route: string, file: string): void => {
    app.get(route, { schema: { hide: true } }, async (_request, reply) => {
      let body: Buffer;
      try {
        // Read whole (the files are small): a stream that fails after the headers are out cannot
        // become a proper error answer any more.
        body = await fs.readFile(path.join(PUBLIC_DIR, file));
      } catch {
        return sendError(reply, 'request.not_found', 'There is nothing at this address');
      }
      return reply.type(TYPES[path.extname(file)] ?? 'application/octet-stream').header('cache-control', 'no-cache').send(body);
    });
  };
  page('/', 'index.html');
  page('/setup', 'index.html');
  page('/login', 'index.html');
  page('/reset-password', 'index.html');
  page('/assets/app.js', 'app.js');
  page('/assets/app.css', 'app.css');
  page('/assets/icon.svg', 'icon.svg');
}
