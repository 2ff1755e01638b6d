import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestApp } from './support/app.js';
import { testDialect } from './support/database.js';
import {
  CONTENT_TYPES,
  HOSTILE_NUMBERS,
  RAW_BODIES,
  encodeLoose,
  hostileJson,
  hostileKey,
  hostileQueryValue,
  hostileString,
  hostileUrlPiece,
  objectText,
  oversizedBody,
  type JsonText,
} from './support/hostile-input.js';

/**
 * Every route in the OpenAPI document gets hostile input in its path, query and body, as an
 * administrator, so validation and not authorization is what stands in the way. Whatever comes in:
 * never a 5xx, every 4xx is a JSON error with a stable code, and a refused write leaves every table
 * exactly as it was. Routes added later are covered without touching this file.
 *
 * Reproduce a failure with the seed fast-check prints, or the whole run with
 * RAMPART_TEST_FUZZ_SEED=<n>; RAMPART_TEST_FUZZ_RUNS sets the runs per route.
 */

const BODY_LIMIT = 16_384;
const RUNS_PER_ROUTE = Math.max(1, Math.trunc(Number(process.env.RAMPART_TEST_FUZZ_RUNS ?? 40)) || 40);
const BASE_SEED = Number.isSafeInteger(Number(process.env.RAMPART_TEST_FUZZ_SEED)) && process.env.RAMPART_TEST_FUZZ_SEED !== '' ? Number(process.env.RAMPART_TEST_FUZZ_SEED) | 0 : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

/** Columns a read may touch on purpose (last use of a token or session); not part of the snapshot. */
const VOLATILE_COLUMNS = new Set(['last_used_at', 'last_seen_at', 'last_login_at']);
/**
 * Tables that record refused requests by design and so may grow on a rejection: the audit log
 * keeps failed sign-ins and refusals, the sign-in throttle counts failed sign-ins, and request
 * events note refusals and probes for detection. What the log gains is checked apart (only
 * refusals and failures).
 */
const APPENDS_ON_REJECTION = new Set<string>(['audit_entries', 'audit_head', 'sign_in_failures', 'sign_in_locks', 'request_events']);

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string | string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  maxItems?: number;
  minItems?: number;
  maxLength?: number;
  minimum?: number;
  format?: string;
  pattern?: string;
};
interface Operation {
  parameters?: { in: 'path' | 'query' | 'header' | 'cookie'; name: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, unknown> }>;
}
interface OpenApiDocument {
  paths: Record<string, Partial<Record<Lowercase<HttpMethod>, Operation>>>;
  components?: { schemas?: Record<string, Schema> };
}

// A small body limit keeps oversized bodies cheap; error-level logs show the cause of any 500.
const t = await createTestApp({ RAMPART_BODY_LIMIT_BYTES: String(BODY_LIMIT), RAMPART_LOG_LEVEL: 'error' });
const admin = await t.makeUser();
const bystander = await t.makeUser({ roles: ['admin'] });
const document = t.app.swagger() as unknown as OpenApiDocument;

afterAll(async () => t.close());

interface Route {
  method: HttpMethod;
  path: string;
  operation: Operation;
}

const routes: Route[] = Object.entries(document.paths).flatMap(([path, operations]) =>
  Object.entries(operations).map(([method, operation]) => ({ method: method.toUpperCase() as HttpMethod, path, operation: operation as Operation })),
);

function resolve(schema: Schema | undefined): Schema {
  if (!schema) return {};
  if (schema.$ref) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    return resolve(document.components?.schemas?.[name]);
  }
  return schema;
}

// ---- Seed data: real records, so ids in paths and bodies reach the data layer ------------------

/** Ids that exist, by the collection they were listed under (`contacts`, `stages`, ...). */
const idsByBucket = new Map<string, Set<string>>();
/** `nextCursor`s of real lists, to be replayed against every list. */
const realCursors = new Set<string>();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function bucketOf(path: string): string {
  return path.split('/').filter((part) => part && !part.startsWith('{')).at(-1) ?? '';
}

function gatherIds(value: unknown, bucket: string): void {
  if (Array.isArray(value)) {
    for (const item of value) gatherIds(item, bucket);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const record = value as Record<string, unknown>;
  if (typeof record.id === 'string' && UUID.test(record.id)) {
    const ids = idsByBucket.get(bucket) ?? new Set<string>();
    ids.add(record.id);
    idsByBucket.set(bucket, ids);
  }
  for (const [key, inner] of Object.entries(record)) {
    if (typeof inner === 'object' && inner !== null) gatherIds(inner, key === 'items' ? bucket : key);
  }
}

async function collectIds(): Promise<void> {
  for (const route of routes) {
    if (route.method !== 'GET' || route.path.includes('{')) continue;
    const res = await t.call('GET', route.path, { token: admin.token });
    // Exports answer CSV, which holds no ids to gather.
    if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('application/json')) continue;
    gatherIds(res.json(), bucketOf(route.path));
    const paged = await t.call('GET', `${route.path}?limit=1`, { token: admin.token });
    const next = paged.statusCode === 200 ? (paged.json() as { nextCursor?: unknown }).nextCursor : undefined;
    if (typeof next === 'string') realCursors.add(next);
  }
  // The fuzzing admin and its token must survive: disabling or revoking them would turn every
  // later run into a 401.
  idsByBucket.get('users')?.delete(admin.user.id);
  const tokens = await t.call('GET', '/api/v1/tokens', { token: admin.token });
  for (const tk of (tokens.json() as { items: { id: string; userId: string }[] }).items) if (tk.userId === admin.user.id) idsByBucket.get('tokens')?.delete(tk.id);
}

function idsFor(bucket: string): string[] {
  return [...(idsByBucket.get(bucket) ?? [])];
}

function allIds(): string[] {
  return [...new Set([...idsByBucket.values()].flatMap((ids) => [...ids]).concat(admin.user.id))];
}

/** The existing ids a field named like `companyId`, `stageId` or `assigneeId` most likely wants. */
function idsForKey(key: string): string[] {
  const stem = key.replace(/Ids?$/, '').toLowerCase();
  if (['owner', 'assignee', 'user', 'createdby', 'updatedby', 'author'].includes(stem)) return idsFor('users');
  const prefix = stem.slice(0, 5);
  const bucket = [...idsByBucket.keys()].find((b) => prefix.length >= 3 && b.replace(/-/g, '').toLowerCase().startsWith(prefix));
  return bucket ? idsFor(bucket) : [];
}

async function seed(): Promise<void> {
  const call = (method: string, url: string, body?: unknown) => t.call(method, url, { token: admin.token, ...(body !== undefined ? { body } : {}) });
  await call('POST', '/api/v1/teams', { name: 'Fuzz team' });
  const company = await call('POST', '/api/v1/companies', { name: 'Fuzz Co', domain: 'fuzz.example' });
  const companyId = company.statusCode === 201 ? (company.json() as { id: string }).id : undefined;
  await call('POST', '/api/v1/contacts', { firstName: 'Fuzz', lastName: 'Target', email: 'fuzz@example.com', ...(companyId ? { companyId } : {}) });
  await call('POST', '/api/v1/contacts', { lastName: 'Second' });
  await collectIds();
  // Every other collection, now and later, gets up to three records from the plausible generator:
  // first with required fields only, then with optional ones.
  for (const route of routes) {
    if (route.method !== 'POST' || route.path.includes('{') || !route.operation.requestBody) continue;
    if (/\/(auth|setup|users|tokens)\b/.test(route.path)) continue;
    const schema = bodySchemaOf(route);
    if (!schema) continue;
    let made = 0;
    for (let attempt = 0; attempt < 20 && made < 3; attempt++) {
      const [sample] = fc.sample(plausible(schema, '', 0, attempt < 8), { numRuns: 1, seed: BASE_SEED + attempt });
      const res = await call('POST', route.path, sample);
      if (res.statusCode < 300) {
        made += 1;
        gatherIds(res.json(), bucketOf(route.path));
      }
    }
  }
  await collectIds();
}

// ---- Plausible values: nearly valid input, so hostile mutations get past the first check -------

function plausibleString(schema: Schema, key: string): fc.Arbitrary<string> {
  const max = schema.maxLength ?? 200;
  const fit = (arb: fc.Arbitrary<string>) => arb.map((s) => s.slice(0, max));
  if (schema.format === 'uuid' || /Id$|^id$/.test(key)) {
    const likely = idsForKey(key);
    const any = allIds();
    return fc.oneof(
      { weight: 6, arbitrary: likely.length > 0 ? fc.constantFrom(...likely) : fc.uuid() },
      { weight: 2, arbitrary: any.length > 0 ? fc.constantFrom(...any) : fc.uuid() },
      { weight: 1, arbitrary: fc.uuid() },
    );
  }
  if (schema.pattern === '^[0-9]{1,4}$') return fc.constantFrom('1', '25', '200');
  if (/email/i.test(key)) return fit(fc.constantFrom('ada@example.com', 'O.Brien+tag@example.co.uk', '张@例子.公司'));
  if (/phone|mobile/i.test(key)) return fit(fc.constantFrom('+86 10 1234 5678', '(555) 010-0100'));
  if (/url|website|domain/i.test(key)) return fit(fc.constantFrom('https://example.com', 'example.org'));
  if (/password/i.test(key)) return fc.constantFrom('a fairly long passphrase 42', 'another long passphrase!');
  if (/expires/i.test(key)) return fc.constantFrom('30d', '2099-01-01');
  if (/At$/.test(key)) return fc.constantFrom('2024-02-29T12:00:00Z', '2030-01-01T00:00:00+08:00');
  if (/date|Date|birthday|due/i.test(key)) return fc.constantFrom('2024-02-29', '2031-12-31');
  if (/scope/i.test(key)) return fc.constantFrom('contacts:read', '*:write');
  if (/role/i.test(key)) return fc.constantFrom('admin', 'sales', 'manager');
  if (/currency/i.test(key)) return fc.constantFrom('CNY', 'USD', 'EUR');
  if (/relatedType|recordType/.test(key)) return fc.constantFrom('contacts', 'companies', 'deals', 'leads', 'tickets');
  if (key === 'key') return fc.constantFrom('fuzz_score', 'fuzzLevel', 'tier');
  if (/colou?r/i.test(key)) return fc.constantFrom('#336699', 'red');
  return fit(fc.constantFrom('Acme', "O'Brien & Co <b>", '张伟', 'Ünïcödé', 'note 1'));
}

function typesOf(schema: Schema): string[] {
  return Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
}

/** A value that fits the schema, or nearly: `requiredOnly` leaves optional properties out. */
function plausible(raw: Schema | undefined, key: string, depth = 0, requiredOnly = false): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches && branches.length > 0) return fc.oneof(...branches.map((b) => plausible(b, key, depth + 1, requiredOnly)));
  if (schema.enum && schema.enum.length > 0) return fc.constantFrom(...schema.enum);
  const types = typesOf(schema);
  if (types.length > 1) {
    // Prefer the non-null type: a null rarely gets further than the first check.
    const [first, ...rest] = types.filter((ty) => ty !== 'null').concat(types.filter((ty) => ty === 'null'));
    return fc.oneof({ weight: 4, arbitrary: plausible({ ...schema, type: first }, key, depth, requiredOnly) }, ...rest.map((ty) => ({ weight: 1, arbitrary: plausible({ ...schema, type: ty }, key, depth, requiredOnly) })));
  }
  switch (types[0]) {
    case 'string':
      return plausibleString(schema, key);
    case 'integer':
      return fc.integer({ min: Math.max(schema.minimum ?? 0, 0), max: Math.max(schema.minimum ?? 0, 0) + 3 });
    case 'number':
      return fc.constantFrom(0, 1, 99.5, 12345.67);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return depth > 3 ? fc.constant([]) : fc.array(plausible(schema.items, key, depth + 1), { minLength: Math.min(schema.minItems ?? 0, 3), maxLength: Math.max(Math.min(schema.maxItems ?? 3, 3), Math.min(schema.minItems ?? 0, 3)) });
    case 'object': {
      if (depth > 3 || !schema.properties) return fc.constant({});
      const required = (schema.required ?? []).filter((k) => schema.properties![k] !== undefined);
      const keys = requiredOnly ? required : Object.keys(schema.properties);
      const props = Object.fromEntries(keys.map((k) => [k, plausible(schema.properties![k], k, depth + 1)]));
      return fc.record(props, { requiredKeys: required });
    }
    default:
      return fc.constantFrom('x', 1, true, null);
  }
}

/** A hostile value of the type the schema asks for, so it passes the schema and meets the service. */
function typedHostile(raw: Schema | undefined): fc.Arbitrary<unknown> {
  const schema = resolve(raw);
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches && branches.length > 0) return fc.oneof(...branches.map((b) => typedHostile(b)));
  const types = typesOf(schema);
  if (types.length > 1) return fc.oneof(...types.map((ty) => typedHostile({ ...schema, type: ty })));
  switch (types[0]) {
    case 'string':
      if (schema.format === 'uuid') return fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase()), fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'));
      return hostileString.map((v) => (schema.maxLength !== undefined ? v.slice(0, schema.maxLength) : v));
    case 'integer':
      return fc.oneof(fc.constantFrom(...HOSTILE_NUMBERS.filter((n) => Number.isInteger(n) && (schema.minimum === undefined || n >= schema.minimum))), fc.integer());
    case 'number':
      return fc.constantFrom(...HOSTILE_NUMBERS);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(typedHostile(schema.items), { maxLength: Math.min((schema.maxItems ?? 4) + 1, 8) });
    case 'object':
      return fc.dictionary(hostileString.map((k) => k.slice(0, 64)), hostileJson.map((text) => JSON.parse(text) as unknown), { maxKeys: 3 });
    default:
      return hostileJson.map((text) => JSON.parse(text) as unknown);
  }
}

/** The content types the document gives for a route's successful answers. */
function answerTypes(route: Route): string[] {
  const ok = Object.entries(route.operation.responses ?? {}).filter(([status]) => status.startsWith('2'));
  const types = ok.flatMap(([, answer]) => Object.keys(answer.content ?? {}));
  return types.length > 0 ? types : ['application/json'];
}

/** Whether a route takes a JSON body (the CSV import takes only text/csv, and refuses JSON first). */
/** Whether the route reads a JSON body under the API's JSON limit; a file upload (CSV or a JSON file) has its own, larger limit. */
function takesJson(route: Route): boolean {
  const content = route.operation.requestBody?.content;
  return !content || ('application/json' in content && !('text/csv' in content));
}

function bodySchemaOf(route: Route): Schema | undefined {
  const content = route.operation.requestBody?.content;
  if (!content) return undefined;
  return resolve((content['application/json'] ?? Object.values(content)[0])?.schema);
}

await seed();

// ---- Requests -----------------------------------------------------------------------------------

/** What to send, kept small and printable for fast-check's report; `payloadOf` makes the bytes. */
type BodySpec =
  | { kind: 'none' }
  | { kind: 'json'; text: JsonText; unknownField: boolean }
  | { kind: 'raw'; index: number }
  | { kind: 'contentType'; contentType: string; text: JsonText }
  | { kind: 'oversized'; extra: number };

interface Probe {
  path: string;
  /** Whether every path segment is a plausible id: the route surely matches. */
  cleanPath: boolean;
  query: string;
  body: BodySpec;
}

function pathArb(route: Route): fc.Arbitrary<{ path: string; clean: boolean }> {
  const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  if (names.length === 0) return fc.constant({ path: route.path, clean: true });
  const existing = idsFor(bucketOf(route.path.slice(0, route.path.indexOf('/{'))));
  const segment = fc.oneof(
    { weight: 3, arbitrary: existing.length > 0 ? fc.constantFrom(...existing).map((v) => ({ v, clean: true })) : fc.uuid().map((v) => ({ v, clean: true })) },
    { weight: 2, arbitrary: fc.uuid().map((v) => ({ v, clean: true })) },
    { weight: 5, arbitrary: hostileUrlPiece.map((v) => ({ v, clean: false })) },
  );
  return fc.array(segment, { minLength: names.length, maxLength: names.length }).map((values) => {
    let i = 0;
    const path = route.path.replace(/\{[^}]+\}/g, () => values[i++]!.v);
    return { path, clean: values.every((s) => s.clean) };
  });
}

const UNKNOWN_QUERY_NAMES = ['custom.x', 'custom.', 'custom.__proto__', 'password_hash', '__proto__', 'constructor', 'deleted_at', 'id', 'a[b]', 'limit[]', 'r.id', '%00', '%ED%A0%80', ''];

function queryArb(route: Route): fc.Arbitrary<string> {
  const declared = (route.operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
  const name = declared.length > 0 ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...declared) }, { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN_QUERY_NAMES) }) : fc.constantFrom(...UNKNOWN_QUERY_NAMES);
  const cursors = [...realCursors];
  const value = (n: string): fc.Arbitrary<string> =>
    n === 'cursor' && cursors.length > 0 ? fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...cursors) }, { weight: 2, arbitrary: hostileQueryValue(n) }) : hostileQueryValue(n);
  const pair = name.chain((n) => value(n).map((v) => `${n === '' ? '' : encodeLoose(n).replace(/%25/g, '%')}=${v}`));
  // Repeated names arrive as arrays, which a string schema must refuse rather than crash on.
  return fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 4, arbitrary: fc.array(pair, { minLength: 1, maxLength: 4 }).map((pairs) => `?${pairs.join('&')}`) });
}

function bodyArb(route: Route): fc.Arbitrary<BodySpec> {
  const schema = bodySchemaOf(route);
  const takesBody = route.method !== 'GET';
  if (!takesBody) return fc.constant({ kind: 'none' } as BodySpec);
  const properties = schema?.properties ? Object.keys(schema.properties) : [];
  const closed = schema?.additionalProperties === false;

  // A nearly valid object with up to three hostile edits: a field set to a hostile value, an unknown field, a field removed.
  // A typed edit keeps the schema's type (a hostile string where a string belongs) so it reaches the service.
  type Edit = { op: 'set'; key: string; value: JsonText } | { op: 'add'; key: string; value: JsonText } | { op: 'drop'; key: string };
  const typedEdit = (key: string): fc.Arbitrary<Edit> => typedHostile(schema?.properties?.[key]).map((v) => ({ op: 'set' as const, key, value: JSON.stringify(v) ?? 'null' }));
  const edit: fc.Arbitrary<Edit> = fc.oneof(
    ...(properties.length > 0
      ? [
          { weight: 5, arbitrary: fc.constantFrom(...properties).chain(typedEdit) },
          { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...properties), value: hostileJson }) },
          { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), key: fc.constantFrom(...properties) }) },
        ]
      : []),
    { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), key: hostileKey, value: hostileJson }) },
  );
  const base = schema ? plausible(schema, '') : fc.constant({});
  const mutated: fc.Arbitrary<BodySpec> = fc.tuple(base, fc.array(edit, { maxLength: 3 })).map(([value, edits]) => {
    const entries = new Map<string, JsonText>(typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value).map(([k, v]) => [k, JSON.stringify(v)]) : []);
    let unknownField = false;
    for (const e of edits) {
      if (e.op === 'drop') entries.delete(e.key);
      else {
        entries.set(e.key, e.value);
        if (e.op === 'add' && !properties.includes(e.key)) unknownField = true;
      }
    }
    const text = typeof value === 'object' && value !== null && !Array.isArray(value) ? objectText([...entries]) : JSON.stringify(value);
    return { kind: 'json', text, unknownField: unknownField && closed };
  });

  return fc.oneof(
    { weight: 8, arbitrary: mutated },
    { weight: 2, arbitrary: hostileJson.map((text) => ({ kind: 'json', text, unknownField: false }) as BodySpec) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: RAW_BODIES.length - 1 }).map((index) => ({ kind: 'raw', index }) as BodySpec) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('contentType' as const), contentType: fc.constantFrom(...CONTENT_TYPES), text: fc.constantFrom('{}', '{"name":"x"}', 'name=x', '') }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 4096 }).map((extra) => ({ kind: 'oversized', extra }) as BodySpec) },
    { weight: 1, arbitrary: fc.constant({ kind: 'none' } as BodySpec) },
  );
}

function payloadOf(body: BodySpec): { payload?: Buffer; contentType?: string } {
  switch (body.kind) {
    case 'none':
      return {};
    case 'json':
      return { payload: Buffer.from(body.text, 'utf8'), contentType: 'application/json' };
    case 'raw':
      return { payload: Buffer.from(RAW_BODIES[body.index]!.bytes), contentType: 'application/json' };
    case 'contentType':
      return { payload: Buffer.from(body.text, 'utf8'), contentType: body.contentType };
    case 'oversized':
      return { payload: oversizedBody(BODY_LIMIT, body.extra), contentType: 'application/json' };
  }
}

// ---- Snapshots ----------------------------------------------------------------------------------

let tableNames: string[] | undefined;

async function tables(): Promise<string[]> {
  if (tableNames) return tableNames;
  const db = t.database.db;
  const schema = testDialect === 'postgres' ? ((await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s ?? 'public') : undefined;
  const found = await db.introspection.getTables();
  tableNames = found.filter((tb) => !tb.isView && (schema === undefined || tb.schema === schema)).map((tb) => tb.name).sort();
  return tableNames;
}

/** Row count and a content fingerprint of every table: a refused write must change neither. */
async function snapshot(): Promise<Record<string, string>> {
  const names = (await tables()).filter((name) => !APPENDS_ON_REJECTION.has(name));
  const states = await Promise.all(
    names.map(async (name) => {
      const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(t.database.db)).rows;
      const lines = rows
        .map((row) => JSON.stringify(Object.entries(row).filter(([column]) => !VOLATILE_COLUMNS.has(column)), (_k, v: unknown) => (v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? v.toString('hex') : v)))
        .sort();
      return [name, `${rows.length} rows, ${fingerprint(lines.join('\n'))}`] as const;
    }),
  );
  return Object.fromEntries(states);
}

function fingerprint(text: string): string {
  // FNV-1a is plenty to notice a change between two snapshots taken moments apart.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}

async function send(route: Route, probe: Probe) {
  const { payload, contentType } = payloadOf(probe.body);
  const headers: Record<string, string> = { authorization: `Bearer ${admin.token}` };
  if (contentType) headers['content-type'] = contentType;
  return t.app.inject({ method: route.method, url: probe.path + probe.query, headers, ...(payload ? { payload } : {}) });
}

async function checkProbe(route: Route, probe: Probe): Promise<void> {
  const write = route.method !== 'GET';
  const before = write ? await snapshot() : undefined;
  const logged = write ? await auditHead() : 0;
  const res = await send(route, probe);
  const label = `${route.method} ${probe.path}${probe.query} answered ${res.statusCode}: ${res.body.slice(0, 300)}`;

  expect(res.statusCode, label).toBeLessThan(500);
  // A success comes in a type the document names for the route: JSON, or CSV and JSON lines for
  // exports and imports.
  if (res.statusCode === 200 || res.statusCode === 201) expect(answerTypes(route), label).toContain(String(res.headers['content-type']).split(';')[0]);
  if (res.statusCode >= 400) {
    expect(String(res.headers['content-type']), label).toMatch(/^application\/json/);
    const body = res.json() as { error?: { code?: unknown; message?: unknown } };
    expect(typeof body.error?.code, label).toBe('string');
    expect(body.error?.code, label).toMatch(/^[a-z_]+\.[a-z0-9_]+$/);
    expect(typeof body.error?.message, label).toBe('string');
  }
  // The rate limiter may refuse before the body is read; otherwise an oversized body is a 413.
  if (probe.cleanPath && probe.body.kind === 'oversized' && res.statusCode !== 429 && takesJson(route)) {
    expect(res.statusCode, label).toBe(413);
    expect((res.json() as { error: { code: string } }).error.code, label).toBe('request.too_large');
  }
  if (probe.cleanPath && probe.body.kind === 'json' && probe.body.unknownField) {
    expect(res.statusCode, `an unknown field must be refused: ${label}`).toBeGreaterThanOrEqual(400);
  }
  if (write && res.statusCode >= 400) {
    expect(await snapshot(), `a refused write changed the database: ${label}`).toEqual(before);
    const added = await sql<{ outcome: string; action: string }>`select outcome, action from audit_entries where seq > ${logged}`.execute(t.database.db);
    expect(added.rows.filter((e) => e.outcome === 'success'), `a refused write left a successful audit entry: ${label}`).toEqual([]);
  }
}

async function auditHead(): Promise<number> {
  const head = await sql<{ seq: number | string }>`select seq from audit_head`.execute(t.database.db);
  return Number(head.rows[0]?.seq ?? 0);
}

function seedFor(route: Route): number {
  let h = BASE_SEED;
  for (const ch of `${route.method} ${route.path}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h | 0;
}

describe(`hostile input on every route (${testDialect})`, () => {
  it('finds the routes in the OpenAPI document', () => {
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toContain('POST /api/v1/contacts');
  });

  for (const route of routes) {
    it(`${route.method} ${route.path}`, { timeout: 60_000 }, async () => {
      const probe: fc.Arbitrary<Probe> = fc.record({ at: pathArb(route), query: queryArb(route), body: bodyArb(route) }).map(({ at, query, body }) => ({ path: at.path, cleanPath: at.clean, query, body }));
      try {
        await fc.assert(
          fc.asyncProperty(probe, (p) => checkProbe(route, p)),
          { numRuns: RUNS_PER_ROUTE, seed: seedFor(route) },
        );
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(`${message}\nReproduce the whole run with RAMPART_TEST_FUZZ_SEED=${BASE_SEED}`, { cause: error });
      }
    });
  }
});
