import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_STATUS, type ErrorCode, type FieldProblem } from '../shared/errors.js';
import { recordAnonymousAudit, recordAudit, type AuditEvent } from '../data/audit-trail.js';
import { RECORD_TYPES } from '../data/field-registry.js';
import type { KeyDeps } from '../data/keys.js';
import { isId } from '../shared/ids.js';
import { anonymousRequest } from './authenticate.js';
import { RefusalCounter } from './refusal-counter.js';

/** Refusals the audit log keeps: who was refused what, from where. */
const DENIALS: ReadonlySet<ErrorCode> = new Set(['auth.forbidden', 'auth.network_refused', 'request.network_refused', 'auth.throttled', 'auth.locked', 'auth.account_locked', 'system.lockdown']);

/** The one place errors become HTTP answers: `{ error: { code, message, fields? } }`. */
export function installErrorHandling(app: FastifyInstance, deps: KeyDeps): void {
  const anonymousRefusals = new RefusalCounter(60_000, 10_000);
  app.setErrorHandler(async (error: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) {
      if (DENIALS.has(error.code)) {
        // The refused work was rolled back; its refusal is written on its own.
        await recordDenial(deps, request, error.code, anonymousRefusals).catch((failure: unknown) => request.log.error({ requestId: request.id, error: describeError(failure) }, 'a refusal could not be written to the audit log'));
      }
      if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
      return sendError(reply, error.code, error.message, error.fields);
    }
    const fe = error as FastifyError;
    if (fe.validation) {
      const fields: FieldProblem[] = fe.validation.map((v) => {
        const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
        const extra = (v.params as { additionalProperty?: string } | undefined)?.additionalProperty;
        const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        const field = [path, missing ?? extra].filter(Boolean).join('.') || (fe.validationContext ?? 'body');
        const message = extra ? 'is not a known field' : missing ? 'is required' : (v.message ?? 'is invalid');
        return { field: field.slice(0, 100), message };
      });
      const where = fe.validationContext === 'querystring' ? 'query' : fe.validationContext ?? 'request';
      return sendError(reply, 'request.invalid', `The ${where} has invalid fields: ${[...new Set(fields.map((f) => f.field))].join(', ')}`, fields);
    }
    const mapped = FRAMEWORK_ERRORS[fe.code ?? ''];
    if (mapped) return sendError(reply, mapped.code, mapped.message);
    if (fe.statusCode === 429) return sendError(reply, 'request.rate_limited', 'Too many requests; wait a moment and try again');
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendError(reply, 'request.invalid', 'The request is not valid');
    }
    request.log.error({ requestId: request.id, error: describeError(error) }, 'unhandled error');
    return sendError(reply, 'internal.error', `Something went wrong on our side; quote request id ${request.id}`);
  });

  app.setNotFoundHandler((request, reply) => sendError(reply, 'request.not_found', 'There is nothing at this address'));
}

async function recordDenial(deps: KeyDeps, request: FastifyRequest, code: ErrorCode, anonymousRefusals: RefusalCounter): Promise<void> {
  const route = request.routeOptions.url ?? request.url.split('?')[0]!.slice(0, 200);
  const segment = route.startsWith('/api/v1/') ? route.slice('/api/v1/'.length).split('/')[0]! : '';
  const id = (request.params as { id?: unknown } | undefined)?.id;
  const event: AuditEvent = {
    action: 'access.denied',
    outcome: 'denied',
    recordType: (RECORD_TYPES as readonly string[]).includes(segment) ? segment : null,
    recordIds: typeof id === 'string' && isId(id) ? [id] : [],
    details: { code, route: `${request.method} ${route}` },
  };
  if (request.actor) await recordAudit(deps, request.actor, event);
  else {
    const unrecorded = anonymousRefusals.count(`${request.ip ?? ''}|${code}`, Date.now());
    if (unrecorded !== null) await recordAnonymousAudit(deps, anonymousRequest(request), { ...event, details: { ...event.details, alsoRefusedBefore: unrecorded } });
  }
}

const FRAMEWORK_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'request.too_large', message: 'The request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'request.unsupported_media_type', message: 'Send JSON (Content-Type: application/json)' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'request.invalid_json', message: 'The request body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'request.invalid', message: 'The Content-Length does not match the body' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'request.invalid_json', message: 'The request body is not valid JSON' },
  FST_ERR_BAD_URL: { code: 'request.invalid', message: 'The address is not valid' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'request.invalid', message: 'The request is not valid' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'request.invalid', message: 'A part of the address is too long' },
};

/**
 * Errors the router raises before any route or hook runs (a broken percent-escape, an over-long
 * path parameter). Without this they skip the error handler and answer Fastify's own body shape.
 */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const mapped = FRAMEWORK_ERRORS[error.code] ?? { code: 'request.invalid' as const, message: 'The request is not valid' };
  void sendError(reply, mapped.code, mapped.message);
}

/**
 * What the log keeps of an unexpected error. Database errors can quote the offending value (a
 * PostgreSQL `detail` names the duplicate key, "invalid input syntax" quotes the input), so for
 * those only the code and the schema names are kept, never the message or detail.
 */
export function describeError(error: unknown): Record<string, unknown> {
  const e = error as { name?: string; message?: string; stack?: string; code?: unknown; constraint?: string; table?: string; column?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const fromDatabase = code !== undefined && (code.startsWith('SQLITE_') || /^[0-9A-Z]{5}$/.test(code));
  const stack = typeof e?.stack === 'string' ? e.stack.split('\n').slice(1, 12).join('\n') : undefined;
  if (fromDatabase) return { name: e.name, code, constraint: e.constraint, table: e.table, column: e.column, stack };
  return { name: e?.name, code, message: e?.message, stack };
}

export function sendError(reply: FastifyReply, code: ErrorCode, message: string, fields?: FieldProblem[]): FastifyReply {
  return reply
    .status(ERROR_STATUS[code])
    .header('cache-control', 'no-store')
    .send({ error: { code, message, ...(fields && fields.length > 0 ? { fields } : {}) } });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON bodies are decoded strictly: invalid UTF-8 is refused rather than turned into U+FFFD, and
 * keys that could reach an object's prototype are refused outright.
 */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return done(new AppError('request.invalid_utf8', 'The request body is not valid UTF-8'), undefined);
    }
    if (text.trim() === '') return done(new AppError('request.invalid_json', 'The request body is empty'), undefined);
    try {
      const parsed: unknown = JSON.parse(text, (key, value: unknown) => {
        if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new SyntaxError('forbidden key');
        return value;
      });
      done(null, parsed);
    } catch {
      done(new AppError('request.invalid_json', 'The request body is not valid JSON'), undefined);
    }
  });
}
