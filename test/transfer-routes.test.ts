import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecords } from '../src/data/record-store.js';
import { MAX_IMPORT_BYTES } from '../src/modules/transfer/transfer.routes.js';
import { STEP_UP_EXPORT_ROWS } from '../src/modules/transfer/transfer.service.js';
import type { Clock } from '../src/shared/clock.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { signInFully } from './support/sign-in.js';

/** The clock of the test app, which a test can move on. */
let offsetMs = 0;
const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };

const CSV = { 'content-type': 'text/csv' };

function lines(response: LightMyRequestResponse): Record<string, unknown>[] {
  return response.body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('imports and exports over HTTP', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    // Exports here stay below the approval threshold; test/exports.test.ts covers approval.
    t = await createTestApp({ RAMPART_EXPORT_APPROVAL_ROWS: '100000' }, { clock });
    const made = await t.makeUser({ roles: ['admin'] });
    admin = made.token;
  });
  afterAll(async () => t?.close());

  const contactCount = async (): Promise<number> => Number((await t.database.db.selectFrom('contacts' as never).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst() as { n: number | string }).n);
  const auditOf = async (action: string) => (await t.call('GET', `/api/v1/audit/entries?action=${action}`, { token: auditor })).json().items as { action: string; details: Record<string, unknown>; recordType: string | null }[];
  let auditor = '';

  it('previews a file with a suggested mapping and the first rows as they would be stored, writing nothing', async () => {
    auditor = (await t.makeUser({ roles: ['auditor'] })).token;
    const before = await contactCount();
    const csv = 'First Name,Surname,E-Mail,Notes about them\nAda,Lovelace,ADA@Example.com,x\nBad,Email,not-an-email,y\n';
    const res = await t.call('POST', '/api/v1/imports/contacts/preview', { token: admin, headers: CSV, body: csv });
    expect(res.statusCode, res.body).toBe(200);
    const preview = res.json();
    expect(preview.header).toEqual(['First Name', 'Surname', 'E-Mail', 'Notes about them']);
    expect(preview.suggested).toEqual(['firstName', null, 'email', null]);
    expect(preview.total).toBe(2);
    expect(preview.fields.map((f: { key: string }) => f.key)).toEqual(expect.arrayContaining(['firstName', 'lastName', 'email', 'company']));

    const mapped = await t.call('POST', '/api/v1/imports/contacts/preview?columns=firstName,lastName,email,', { token: admin, headers: CSV, body: csv });
    expect(mapped.statusCode, mapped.body).toBe(200);
    const [good, bad] = mapped.json().rows;
    expect(good).toMatchObject({ line: 2, problems: [], values: { firstName: 'Ada', lastName: 'Lovelace' } });
    expect(good.values.email.toLowerCase()).toBe('ada@example.com');
    expect(bad).toMatchObject({ line: 3, values: { email: 'not-an-email' } });
    expect(bad.problems.map((p: { field: string }) => p.field)).toContain('email');
    expect(await contactCount()).toBe(before);
  });

  it('imports the good rows, reports each bad row, and records the import with its counts', async () => {
    const before = await contactCount();
    const csv = 'given,family,mail,ignored\nGrace,Hopper,grace@example.com,a\nBad,Row,not-an-email,b\nAlan,Turing,alan@example.com,c\n';
    const res = await t.call('POST', '/api/v1/imports/contacts?columns=firstName,lastName,email,', { token: admin, headers: CSV, body: csv });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    const events = lines(res);
    expect(events[0]).toEqual({ kind: 'started', total: 3 });
    const rows = events.filter((e) => e.kind === 'rows').flatMap((e) => e.rows as { line: number; ok: boolean; problems?: { field: string }[] }[]);
    expect(rows.map((r) => [r.line, r.ok])).toEqual([[2, true], [3, false], [4, true]]);
    expect(rows[1]!.problems!.map((p) => p.field)).toContain('email');
    expect(events.at(-1)).toEqual({ kind: 'finished', imported: 2, rejected: 1, total: 3, ignoredColumns: ['ignored'] });

    // Nothing of the bad row was written.
    expect(await contactCount()).toBe(before + 2);
    const listed = (await t.call('GET', '/api/v1/contacts?q=Row', { token: admin })).json();
    expect(listed.items).toEqual([]);
    const grace = (await t.call('GET', '/api/v1/contacts?email=grace@example.com', { token: admin })).json();
    expect(grace.items).toHaveLength(1);

    const [completed] = await auditOf('import.completed');
    expect(completed).toMatchObject({ recordType: 'contacts', details: { rows: 3, imported: 2, rejected: 1, sha256: createHash('sha256').update(csv).digest('hex') } });
    expect((await auditOf('record.import')).length).toBeGreaterThan(0);
  });

  it('imports by the header alone when no mapping is given, and companies too', async () => {
    const res = await t.call('POST', '/api/v1/imports/companies', { token: admin, headers: CSV, body: 'name,website\nInitech,initech.example.com\n' });
    expect(res.statusCode, res.body).toBe(200);
    expect(lines(res).at(-1)).toMatchObject({ kind: 'finished', imported: 1, rejected: 0 });
  });

  it('refuses a caller without the import action, before reading the file, and writes nothing', async () => {
    const sales = await t.makeUser({ roles: ['sales'] });
    const before = await contactCount();
    const csv = 'firstName,lastName\nEve,Intruder\n';
    for (const url of ['/api/v1/imports/contacts/preview', '/api/v1/imports/contacts']) {
      const res = await t.call('POST', url, { token: sales.token, headers: CSV, body: csv });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('auth.forbidden');
    }
    expect(await contactCount()).toBe(before);
    const denied = await auditOf('access.denied');
    expect(denied.some((e) => e.details.route === 'POST /api/v1/imports/:type')).toBe(true);
    // The rights come before the body: a file too large is still a 403 for a caller who may not import.
    const oversized = await t.call('POST', '/api/v1/imports/contacts', { token: sales.token, headers: CSV, body: Buffer.alloc(MAX_IMPORT_BYTES + 1, 'a') });
    expect(oversized.statusCode).toBe(403);
    // A token whose scopes do not reach imports is refused as well.
    const scoped = await t.makeUser({ roles: ['admin'], scopes: ['contacts:write'] });
    expect((await t.call('POST', '/api/v1/imports/contacts', { token: scoped.token, headers: CSV, body: csv })).statusCode).toBe(403);
    expect((await t.call('POST', '/api/v1/imports/contacts', { headers: CSV, body: csv })).statusCode).toBe(401);
    expect(await contactCount()).toBe(before);
  });

  it('refuses broken files with a clear code, and writes nothing', async () => {
    const before = await contactCount();
    const post = (body: string | Buffer, headers: Record<string, string> = CSV, query = '') => t.call('POST', `/api/v1/imports/contacts${query}`, { token: admin, headers, body });
    const expectError = async (res: LightMyRequestResponse, status: number, code: string, message?: RegExp) => {
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json().error.code).toBe(code);
      if (message) expect(res.json().error.message).toMatch(message);
    };
    await expectError(await post('firstName,lastName\nAda,Lovelace\n"Unclosed,quote\n'), 400, 'import.invalid_file', /never closed/);
    await expectError(await post(Buffer.from('firstName,lastName\nJos\xe9,M\xfcller\n', 'latin1')), 400, 'import.invalid_file', /UTF-8/);
    await expectError(await post(''), 400, 'import.invalid_file', /empty/);
    await expectError(await post('\n  \n'), 400, 'import.invalid_file', /empty/);
    await expectError(await post('firstName,Shoe Size\nAda,44\n'), 400, 'import.unknown_column', /Shoe Size/);
    await expectError(await post('a,b\nAda,Lovelace\n', CSV, '?columns=firstName,nonsense'), 400, 'import.invalid_mapping');
    await expectError(await post('a,b\nAda,Lovelace\n', CSV, '?columns=firstName,firstName'), 400, 'import.invalid_mapping');
    await expectError(await post('a,b\nAda,Lovelace\n', CSV, '?columns=firstName'), 400, 'import.invalid_mapping');
    await expectError(await post(JSON.stringify({ firstName: 'Ada' }), { 'content-type': 'application/json' }), 415, 'import.unsupported_media_type');
    const big = Buffer.alloc(MAX_IMPORT_BYTES + 1, 'a');
    await expectError(await post(big), 413, 'import.too_large', /MB/);
    await expectError(await t.call('POST', '/api/v1/imports/contacts/preview', { token: admin, headers: CSV, body: big }), 413, 'import.too_large');
    // Within the byte limit, too many rows: refused while counting, before anything is written.
    const manyRows = Buffer.from(`firstName\n${'a\n'.repeat(150_000)}`);
    await expectError(await t.call('POST', '/api/v1/imports/contacts/preview', { token: admin, headers: CSV, body: manyRows }), 413, 'import.too_large', /100000 rows/);
    await expectError(await post(manyRows), 413, 'import.too_large', /rows/);
    await expectError(await t.call('POST', '/api/v1/imports/deals', { token: admin, headers: CSV, body: 'name\nBig deal\n' }), 400, 'request.invalid');
    expect(await contactCount()).toBe(before);
  });

  /** Asks for an export and downloads it, as the web app does; answers the refusal when there is one. */
  const exportVia = async (send: (method: string, url: string, body?: unknown) => Promise<LightMyRequestResponse>, type: string, query: Record<string, string> = {}) => {
    const made = await send('POST', '/api/v1/exports', { type, reason: 'Checking the export', query });
    if (made.statusCode !== 201) return made;
    return send('GET', `/api/v1/exports/${made.json().id as string}/download`);
  };
  const byToken = (token: string) => (method: string, url: string, body?: unknown) => t.call(method, url, { token, ...(body !== undefined ? { body } : {}) });

  it('exports what the caller may export, with the list filters, recorded with rows and fingerprint', async () => {
    const res = await exportVia(byToken(admin), 'contacts', { email: 'grace@example.com' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="contacts-\d+-\d{4}-\d{2}-\d{2}\.csv"$/);
    const [head] = res.body.trim().split('\n');
    expect(head!.split(',')).toEqual(expect.arrayContaining(['id', 'firstName', 'lastName', 'email']));
    expect(res.body).toContain('Grace');
    expect(res.body).not.toContain('Turing');

    const [completed] = await auditOf('export.completed');
    expect(completed).toMatchObject({ recordType: 'contacts', details: { format: 'csv', rows: 1, sha256: createHash('sha256').update(res.body).digest('hex') } });
    const [requested] = await auditOf('export.requested');
    expect(requested).toMatchObject({ details: { type: 'contacts', rows: 1, filteredBy: ['email'] } });
    // The filter's value is personal data and stays out of the audit log.
    expect(JSON.stringify([completed, requested])).not.toContain('grace@');
  });

  it("holds only the records a principal may export: a manager's team, never another team's; none for a role without export", async () => {
    const north = await t.makeTeam('North');
    const south = await t.makeTeam('South');
    const northSeller = await t.makeUser({ roles: ['sales'], teamId: north });
    const southSeller = await t.makeUser({ roles: ['sales'], teamId: south });
    const manager = await t.makeUser({ roles: ['manager'], teamId: north });
    for (const [seller, name] of [[northSeller, 'Northern'], [southSeller, 'Southern']] as const) {
      const made = await t.call('POST', '/api/v1/contacts', { token: seller.token, body: { firstName: name, lastName: 'Customer', email: `${name.toLowerCase()}@example.com` } });
      expect(made.statusCode, made.body).toBe(201);
    }
    const exported = await exportVia(byToken(manager.token), 'contacts');
    expect(exported.statusCode, exported.body).toBe(200);
    expect(exported.body).toContain('Northern');
    expect(exported.body).not.toContain('Southern');
    expect(exported.body).not.toContain('Grace');

    // Sales may read its team's records but not export them.
    const refused = await exportVia(byToken(northSeller.token), 'contacts');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('auth.forbidden');
  });

  it(`asks a browser session for a recent second factor to download more than ${STEP_UP_EXPORT_ROWS} rows`, async () => {
    const inputs = Array.from({ length: STEP_UP_EXPORT_ROWS + 1 }, (_, i) => ({ name: `Bulk company ${i}` }));
    const results = await createRecords(t.deps, cliContext('test'), 'companies', inputs);
    expect(results.every((r) => r.ok)).toBe(true);
    const person = await t.makeUser({ roles: ['admin'] });
    const session = await signInFully(t, person.user.email, person.password, () => clock.now().getTime());
    const viaSession = (method: string, url: string, body?: unknown) =>
      t.app.inject({ method: method as 'GET', url, headers: { cookie: session.cookie, 'x-csrf-token': session.csrf }, ...(body !== undefined ? { payload: body as object } : {}) });

    // Just signed in with a second factor: the export goes through.
    expect((await exportVia(viaSession, 'companies')).statusCode).toBe(200);
    offsetMs += 6 * 60_000;
    const stale = await exportVia(viaSession, 'companies');
    expect(stale.statusCode).toBe(403);
    expect(stale.json().error.code).toBe('auth.step_up_required');
    // A small export needs none.
    expect((await exportVia(viaSession, 'companies', { name: 'Initech' })).statusCode).toBe(200);
    // A token is a standing delegation and is not asked.
    const all = await exportVia(byToken(admin), 'companies');
    expect(all.statusCode).toBe(200);
    expect(all.body.trim().split('\n').length).toBeGreaterThanOrEqual(STEP_UP_EXPORT_ROWS + 3);
  });
});
