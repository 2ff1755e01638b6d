import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { blastRadiusCsv } from '../../data/audit-query.js';
import { PassThrough } from 'node:stream';
import { auditSigner } from '../../audit/signing-key-file.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { auditBlastRadius, auditChainStatus, exportAudit, MAX_AUDIT_PAGE, parseAuditFilter, proveConsistency, proveInclusion, searchAudit, type RawAuditFilter } from './audit.service.js';

const Text = (description: string, maxLength = 2000) => Type.Optional(Type.String({ maxLength, description }));
const WholeNumber = (description: string) => Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description }));

const FilterQuery = {
  actor: Text('User ids (a token acts as its owner), CLI operators or job names; comma-separated.'),
  token: Text('API token ids, comma-separated.'),
  session: Text('Session ids as the log holds them, comma-separated.'),
  address: Text('Source IP addresses, comma-separated.'),
  record: Text('A record id: entries that name it.', 64),
  subject: Text("A person's id (contact or lead): entries about them, their notes and tickets.", 64),
  action: Text('Actions, comma-separated; `record.*` for a family.', 500),
  outcome: Type.Optional(Type.String({ enum: ['success', 'denied', 'failure'] })),
  recordType: Text('A record type.', 40),
  from: Text('Start of the window, inclusive: a date or ISO-8601 time.', 40),
  to: Text('End of the window, exclusive.', 40),
};

const EntrySchema = Type.Object(
  {
    seq: Type.Integer(),
    time: Type.String(),
    actorKind: Type.String({ enum: ['user', 'token', 'cli', 'system', 'anonymous'] }),
    actorId: Type.Union([Type.String(), Type.Null()]),
    sessionId: Type.Union([Type.String(), Type.Null()], { description: 'The session, or for a token the token id.' }),
    sourceAddress: Type.Union([Type.String(), Type.Null()]),
    userAgent: Type.Union([Type.String(), Type.Null()]),
    channel: Type.String({ enum: ['web', 'api', 'cli', 'job'] }),
    action: Type.String(),
    recordType: Type.Union([Type.String(), Type.Null()]),
    recordIds: Type.Array(Type.String()),
    fields: Type.Array(Type.String(), { description: 'Field names; values never enter the log.' }),
    outcome: Type.String({ enum: ['success', 'denied', 'failure'] }),
    requestId: Type.Union([Type.String(), Type.Null()]),
    details: Type.Record(Type.String(), Type.Unknown(), { description: 'Counts, fingerprints, keyed digests of old and new values, reasons.' }),
  },
  { $id: 'AuditEntry', additionalProperties: false },
);

const Counts = Type.Object({ read: Type.Integer(), changed: Type.Integer(), exported: Type.Integer(), revealed: Type.Integer() }, { additionalProperties: false });

const BlastRadiusSchema = Type.Object(
  {
    filter: Type.Record(Type.String(), Type.Unknown()),
    entries: Type.Integer({ description: 'Entries by the selected actors in the window.' }),
    subjects: Type.Array(
      Type.Object(
        {
          subject: Type.String({ description: "The person's id." }),
          subjectType: Type.Union([Type.String(), Type.Null()]),
          fields: Type.Record(Type.String(), Counts, { description: 'Per field: how often read, changed, exported, revealed.' }),
          records: Type.Array(Type.String()),
          first: Type.String(),
          last: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    organisationRecords: Type.Record(Type.String(), Type.Object({ read: Type.Integer(), changed: Type.Integer(), exported: Type.Integer(), records: Type.Integer() }, { additionalProperties: false })),
    exports: Type.Array(Type.Object({ seq: Type.Integer(), time: Type.String(), recordType: Type.Union([Type.String(), Type.Null()]), rows: Type.Integer(), sha256: Type.String() }, { additionalProperties: false })),
    refused: Type.Integer({ description: 'Refused or failed attempts in the window.' }),
  },
  { $id: 'BlastRadius', additionalProperties: false },
);

const Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });

const ChainStatusSchema = Type.Object(
  {
    entries: Type.Integer({ description: 'Entries in the log, as its head records them.' }),
    verifiedUpTo: Type.Integer({ description: 'Entries walked and checked; when intact, the chain holds from entry 1 to this one.' }),
    intact: Type.Boolean({ description: 'No damage found.' }),
    problems: Type.Array(
      Type.Object(
        {
          kind: Type.String({ enum: ['modified', 'deleted', 'inserted', 'reordered', 'truncated', 'rewritten', 'bad_signature'] }),
          seq: Type.Union([Type.Integer(), Type.Null()], { description: 'The entry it was found at, or null for the log as a whole.' }),
          detail: Type.String(),
        },
        { additionalProperties: false },
      ),
      { description: 'Each kind of damage found, first first; as rampart audit verify names them.' },
    ),
    checkpoint: Type.Union([
      Type.Object(
        {
          size: Type.Integer(),
          rootHash: Hex,
          signedAt: Type.String(),
          signature: Type.String({ enum: ['valid', 'invalid', 'unchecked'], description: 'unchecked: this server has no audit signing key to check it with.' }),
        },
        { additionalProperties: false, description: 'The newest signed tree head.' },
      ),
      Type.Null(),
    ]),
    checkedAt: Type.String(),
    walkStartedAt: Type.String({ description: 'When the walk this check continues last started at entry 1; it starts again every ten minutes.' }),
  },
  { $id: 'AuditChainStatus', additionalProperties: false },
);

/** `/api/v1/audit/…`: searching the log, the blast radius of an actor, inclusion and consistency proofs. */
export function registerAuditRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.get('/api/v1/audit/status', {
    schema: {
      tags: ['audit'],
      summary: 'How far the chain is verified, the newest signed checkpoint, and any damage found (checked incrementally)',
      response: { 200: ChainStatusSchema, ...errorResponses },
    },
    handler: async (request) => auditChainStatus(deps, actorOf(request), auditSigner(deps.config.audit.keyFile, deps.config.publicUrl).verifierKey),
  });

  app.get('/api/v1/audit/entries', {
    schema: {
      tags: ['audit'],
      summary: 'Search the audit log, newest first',
      querystring: Type.Object(
        { ...FilterQuery, limit: WholeNumber(`Entries per page, 1 to ${MAX_AUDIT_PAGE} (default 100).`), before: WholeNumber('Entries before this number: the nextBefore of the previous page.') },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ items: Type.Array(EntrySchema), nextBefore: Type.Union([Type.Integer(), Type.Null()]) }), ...errorResponses },
    },
    handler: async (request) => {
      const { limit, before, ...raw } = request.query as RawAuditFilter & { limit?: string; before?: string };
      return searchAudit(deps, actorOf(request), parseAuditFilter(raw), { ...(limit ? { limit: Number(limit) } : {}), ...(before ? { before: Number(before) } : {}) });
    },
  });

  app.get('/api/v1/audit/blast-radius', {
    schema: {
      tags: ['audit'],
      summary: 'Every data subject and field that actors, tokens, sessions or addresses read, changed or exported in a window',
      querystring: Type.Object({ ...FilterQuery, format: Type.Optional(Type.String({ enum: ['json', 'csv'] })) }, { additionalProperties: false }),
      response: { 200: BlastRadiusSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const { format, ...raw } = request.query as RawAuditFilter & { format?: string };
      const radius = await auditBlastRadius(deps, actorOf(request), parseAuditFilter(raw));
      if (format === 'csv') return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="blast-radius.csv"').serializer((body: string) => body).send(blastRadiusCsv(radius));
      return radius;
    },
  });

  app.get('/api/v1/audit/proofs/inclusion', {
    schema: {
      tags: ['audit'],
      summary: 'Prove an entry is in a tree head (by default the first signed checkpoint that covers it)',
      querystring: Type.Object({ seq: Type.String({ pattern: '^[0-9]{1,15}$' }), size: WholeNumber('The tree size to prove against.') }, { additionalProperties: false }),
      response: {
        200: Type.Object(
          { seq: Type.Integer(), treeSize: Type.Integer(), leafIndex: Type.Integer(), entryHash: Hex, rootHash: Hex, proof: Type.Array(Hex), checkpoint: Type.Union([Type.String(), Type.Null()]) },
          { additionalProperties: false },
        ),
        ...errorResponses,
      },
    },
    handler: async (request) => {
      const query = request.query as { seq: string; size?: string };
      return proveInclusion(deps, actorOf(request), Number(query.seq), query.size === undefined ? undefined : Number(query.size));
    },
  });

  app.get('/api/v1/audit/proofs/consistency', {
    schema: {
      tags: ['audit'],
      summary: 'Prove one tree head extends an earlier one: nothing before it was changed',
      querystring: Type.Object({ from: Type.String({ pattern: '^[0-9]{1,15}$' }), to: WholeNumber('The later tree size (default: the whole log).') }, { additionalProperties: false }),
      response: {
        200: Type.Object(
          {
            from: Type.Integer(),
            to: Type.Integer(),
            fromRoot: Hex,
            toRoot: Hex,
            proof: Type.Array(Hex),
            checkpoints: Type.Object({ from: Type.Union([Type.String(), Type.Null()]), to: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }),
          },
          { additionalProperties: false },
        ),
        ...errorResponses,
      },
    },
    handler: async (request) => {
      const query = request.query as { from: string; to?: string };
      return proveConsistency(deps, actorOf(request), Number(query.from), query.to === undefined ? undefined : Number(query.to));
    },
  });

  app.get('/api/v1/audit/export', {
    schema: {
      tags: ['audit'],
      summary: 'The whole audit log as a self-contained bundle (JSON Lines) for the standalone verifier',
      response: { 200: Type.String({ description: 'application/x-ndjson: a header line, the checkpoints, then one line per entry.' }), ...errorResponses },
    },
    handler: async (request, reply) => {
      const ctx = actorOf(request);
      const body = new PassThrough();
      // Checked before the first byte: a refusal is an ordinary error answer, not a broken stream.
      const written = exportAudit(deps, ctx, body, auditSigner(deps.config.audit.keyFile, deps.config.publicUrl));
      await Promise.race([written, new Promise((resolve) => body.once('readable', resolve))]);
      written.catch((error: unknown) => body.destroy(error as Error));
      return reply.type('application/x-ndjson').header('content-disposition', 'attachment; filename="rampart-audit.jsonl"').send(body);
    },
  });
}
