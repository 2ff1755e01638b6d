import type { FastifyInstance } from 'fastify';
import { Type, type TSchema } from 'typebox';
import type { RangeOperator, RecordType } from '../data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../data/record-types.js';
import type { RecordService, ServiceListQuery } from '../data/record-service.js';
import { findDuplicates, revealFields, type DataDeps, type RangeFilter } from '../data/record-store.js';
import { erasePerson, type PersonType } from '../data/erasure.js';
import { actorOf } from './authenticate.js';
import { IdParams, RANGE_KEY, createBodySchema, listQuerySchema, pageSchema, recordSchema, updateBodySchema } from './record-schemas.js';
import { errorResponses } from './schemas.js';
import { tallyListRead } from '../modules/exports/export-caps.js';

/** The query parameters that are not field filters. */
const LIST_CONTROLS = new Set(['limit', 'cursor', 'sort', 'q', 'trash']);

/**
 * Splits a list's query string into paging controls, exact filters, range filters (`key[op]`) and
 * the parameters named in `parameterKeys`, which the record type's service interprets.
 */
export function listQueryFrom(query: Record<string, string | undefined>, parameterKeys: readonly string[] = []): ServiceListQuery {
  const filters: Record<string, string> = {};
  const ranges: RangeFilter[] = [];
  const parameters: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (LIST_CONTROLS.has(key) || value === undefined) continue;
    const range = RANGE_KEY.exec(key);
    if (parameterKeys.includes(key)) parameters[key] = value;
    else if (range) ranges.push({ key: range[1]!, op: range[2] as RangeOperator, value });
    else filters[key] = value;
  }
  return {
    ...(query.limit !== undefined ? { limit: Number(query.limit) } : {}),
    ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    ...(query.sort !== undefined ? { sort: query.sort } : {}),
    ...(query.q !== undefined ? { q: query.q } : {}),
    trash: query.trash === 'true',
    filters,
    ...(ranges.length > 0 ? { ranges } : {}),
    ...(parameterKeys.length > 0 ? { parameters } : {}),
  };
}

export interface RecordRouteOptions {
  /** Extra list query parameters the record type's service understands, such as activities' `due`. */
  listParameters?: Record<string, TSchema>;
}

/** Create, read, list, update, delete (to trash) and restore for one record type under `/api/v1/<type>`. */
export function registerRecordRoutes(app: FastifyInstance, deps: DataDeps, type: RecordType, service: RecordService, options: RecordRouteOptions = {}): void {
  const def = RECORD_TYPE_DEFS[type];
  const record = recordSchema(def);
  const tags = [type];
  const base = `/api/v1/${type}`;
  const parameterKeys = Object.keys(options.listParameters ?? {});

  app.get(base, {
    schema: { tags, summary: `List ${type}`, querystring: listQuerySchema(def, options.listParameters), response: { 200: pageSchema(record), ...errorResponses } },
    handler: async (request) => {
      const ctx = actorOf(request);
      // Reading page by page counts against the reader's daily export allowance.
      return tallyListRead(deps, ctx, await service.list(deps, ctx, listQueryFrom(request.query as Record<string, string>, parameterKeys)), type);
    },
  });

  app.post(base, {
    schema: { tags, summary: `Create a ${def.singular}`, body: createBodySchema(def), response: { 201: record, ...errorResponses } },
    handler: async (request, reply) => reply.status(201).send(await service.create(deps, actorOf(request), request.body as Record<string, unknown>)),
  });

  app.get(`${base}/:id`, {
    schema: { tags, summary: `Read a ${def.singular}`, params: IdParams, response: { 200: record, ...errorResponses } },
    handler: async (request) => service.get(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.patch(`${base}/:id`, {
    schema: { tags, summary: `Update a ${def.singular}`, params: IdParams, body: updateBodySchema(def), response: { 200: record, ...errorResponses } },
    handler: async (request) => {
      const { version, ...input } = request.body as { version: number } & Record<string, unknown>;
      return service.update(deps, actorOf(request), (request.params as { id: string }).id, version, input);
    },
  });

  app.delete(`${base}/:id`, {
    schema: { tags, summary: `Move a ${def.singular} to the trash`, params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await service.remove(deps, actorOf(request), (request.params as { id: string }).id);
      return reply.status(204).send();
    },
  });

  app.post(`${base}/:id/restore`, {
    schema: { tags, summary: `Restore a ${def.singular} from the trash`, params: IdParams, response: { 200: record, ...errorResponses } },
    handler: async (request) => service.restore(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.post(`${base}/:id/reveal`, {
    // A read, for token scopes; POST because it is recorded, and keeps the reason out of URLs.
    config: { access: 'read' },
    schema: {
      tags,
      summary: `Show masked values of a ${def.singular} in clear`,
      description: 'Needs the reveal action over the record and a reason. Who revealed which fields, why, when and from where is recorded. Hidden fields stay hidden.',
      params: IdParams,
      body: Type.Object(
        {
          fields: Type.Array(Type.String({ maxLength: 80 }), { minItems: 1, maxItems: 20, description: 'Fields to show, named as in maskedFields.' }),
          reason: Type.String({ minLength: 10, maxLength: 500, description: 'Why the values are needed; kept with the record of the reveal.' }),
        },
        { additionalProperties: false },
      ),
      response: { 200: RevealSchema, ...errorResponses },
    },
    handler: async (request) => {
      const body = request.body as { fields: string[]; reason: string };
      return revealFields(deps, actorOf(request), type, (request.params as { id: string }).id, body.fields, body.reason);
    },
  });

  if (def.subject === 'person') {
    const lookups = def.fields.filter((f) => f.blindIndex);
    app.post(`${base}/duplicates`, {
      // Only reads: a token that may read the type may ask. POST keeps the values out of URLs and logs.
      config: { access: 'read' },
      schema: {
        tags,
        summary: `Find ${type} that may be the same person`,
        description: `Live ${type} sharing ${lookups.map((f) => f.key).join(', ')} with the given values, compared in normalized form (a phone number is looked for in every phone field). Found through blind indexes; only true matches are answered.`,
        body: Type.Object(Object.fromEntries(lookups.map((f) => [f.key, Type.Optional(Type.String({ maxLength: 500 }))])), { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Type.Object({ record, matchedOn: Type.Array(Type.String()) }, { additionalProperties: false })) }, { additionalProperties: false }), ...errorResponses },
      },
      handler: async (request) => ({ items: await findDuplicates(deps, actorOf(request), type, request.body as Record<string, unknown>) }),
    });

    app.post(`${base}/:id/erase`, {
      schema: {
        tags,
        summary: `Erase a ${def.singular} for good (crypto-shredding)`,
        description:
          "Destroys the person's data keys, so their values can no longer be read anywhere, backups included, and clears their personal values, notes and ticket texts. Needs the privacy.handle permission (the privacy officer's). Cannot be undone.",
        params: IdParams,
        response: { 200: ErasureSchema, ...errorResponses },
      },
      handler: async (request) => erasePerson(deps, actorOf(request), type as PersonType, (request.params as { id: string }).id),
    });
  }
}

const RevealSchema = Type.Object(
  {
    revealId: Type.String({ description: 'The id of the record kept of this reveal.' }),
    revealedAt: Type.String({ format: 'date-time' }),
    values: Type.Record(Type.String(), Type.Unknown(), { description: 'The values in clear, by the field names asked for.' }),
  },
  { additionalProperties: false },
);

const ErasureSchema = Type.Object(
  {
    subjectId: Type.String({ description: 'The data subject whose keys were destroyed.' }),
    erasedAt: Type.String({ format: 'date-time' }),
    records: Type.Record(Type.String(), Type.Integer(), { description: 'How many records of each type held the person\'s data and were cleared.' }),
  },
  { additionalProperties: false },
);
