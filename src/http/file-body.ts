import type { FastifyRequest } from 'fastify';
import type { AppError } from '../shared/errors.js';

/** The refusals a file upload can meet, each in the words of the route that takes it. */
export interface FileBodyRules {
  maxBytes: number;
  tooLarge: () => AppError;
  notUtf8: () => AppError;
  interrupted: () => AppError;
}

type Done = (error: Error | null, body?: unknown) => void;

/**
 * A content-type parser for a file sent as the request body (a CSV to import, a file to trace):
 * read into memory up to `maxBytes`, refused with the route's own code past it (the framework's
 * limit is the JSON one, far smaller), and decoded strictly: bytes that are not UTF-8 are refused,
 * never turned into replacement characters. Files are held whole because their readers go through
 * them more than once.
 */
export function fileBodyParser(rules: FileBodyRules): (request: FastifyRequest, payload: NodeJS.ReadableStream, done: Done) => void {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  return (request, payload, done) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > rules.maxBytes) {
      done(rules.tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (error: Error | null, body?: string) => {
      if (finished) return;
      finished = true;
      done(error, body);
    };
    payload.on('data', (chunk: Buffer) => {
      if (finished) return;
      size += chunk.length;
      if (size > rules.maxBytes) {
        chunks.length = 0;
        finish(rules.tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    payload.on('end', () => {
      let text: string;
      try {
        text = utf8.decode(Buffer.concat(chunks));
      } catch {
        finish(rules.notUtf8());
        return;
      }
      finish(null, text);
    });
    payload.on('error', () => finish(rules.interrupted()));
  };
}
