import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

/** The built web app (npm run build:web); the same place from src/ under tsx and from dist/. */
export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** A file of the build, read once, with its gzip form made once for browsers that take it. */
interface Served {
  mtimeMs: number;
  body: Buffer;
  gzipped: Buffer | null;
}

/**
 * The web app: built files under /assets (named by their content, so cached for good), the
 * icon, and index.html for every other address outside /api, where the app's own router takes
 * over. Every script and style is a file, so the Content-Security-Policy forbids inline code.
 */
export function registerPages(app: FastifyInstance, webDir = WEB_DIR): void {
  const cache = new Map<string, Served>();

  const read = async (file: string): Promise<Served | null> => {
    let stat;
    try {
      stat = await fs.stat(file);
    } catch {
      return null;
    }
    if (!stat.isFile()) return null;
    const known = cache.get(file);
    if (known && known.mtimeMs === stat.mtimeMs) return known;
    // Read whole (the files are small): a stream that fails after the headers are out cannot
    // become a proper error answer any more.
    const body = await fs.readFile(file);
    const compressible = /\.(js|css|html|svg)$/.test(file) && body.length > 1024;
    const served = { mtimeMs: stat.mtimeMs, body, gzipped: compressible ? zlib.gzipSync(body, { level: 9 }) : null };
    cache.set(file, served);
    return served;
  };

  const send = async (request: FastifyRequest, reply: FastifyReply, file: string, immutable: boolean) => {
    const served = await read(file);
    if (!served) {
      if (file.endsWith('index.html')) return sendError(reply, 'web.not_built', 'The web app is not built: run npm run build:web');
      return sendError(reply, 'request.not_found', 'There is nothing at this address');
    }
    reply.type(TYPES[path.extname(file)] ?? 'application/octet-stream');
    reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.header('vary', 'accept-encoding');
    if (served.gzipped && acceptsGzip(String(request.headers['accept-encoding'] ?? ''))) {
      return reply.header('content-encoding', 'gzip').send(served.gzipped);
    }
    return reply.send(served.body);
  };

  app.get('/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    const { file } = request.params as { file: string };
    // Build output names only: no separators, no dot files, nothing that could leave the folder.
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(file)) return sendError(reply, 'request.not_found', 'There is nothing at this address');
    return send(request, reply, path.join(webDir, 'assets', file), true);
  });
  app.get('/icon.svg', { schema: { hide: true } }, async (request, reply) => send(request, reply, path.join(webDir, 'icon.svg'), false));
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    const url = request.url.split('?')[0]!;
    if (url.startsWith('/api/') || url === '/api' || path.extname(url) !== '') return sendError(reply, 'request.not_found', 'There is nothing at this address');
    return send(request, reply, path.join(webDir, 'index.html'), false);
  });
}

/** Whether an Accept-Encoding header takes gzip: named (or *) without q=0. */
export function acceptsGzip(header: string): boolean {
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}
