import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { valueDigest, valueDigestKey } from '../src/audit/value-digest.js';
import { verifyAuditLog } from '../src/data/audit-log.js';
import { subjectKeys } from '../src/data/keys.js';
import { createRecord, inTransaction } from '../src/data/record-store.js';
import { writeExport } from '../src/modules/transfer/transfer.export.js';
import { createToken, revokeToken } from '../src/modules/tokens/tokens.service.js';
import { writeFileAtomically } from '../src/shared/atomic-file.js';
import { canonicalJson } from '../src/shared/canonical-json.js';
import { newId } from '../src/shared/ids.js';
import { cliContext, type ActorContext } from '../src/shared/principal.js';
import type { SubjectKeys } from '../src/crypto/keyring.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';

interface Row {
  seq: number;
  actor_kind: string;
  actor_id: string | null;
  session_id: string | null;
  source_address: string | null;
  channel: string;
  action: string;
  record_type: string | null;
  record_ids: string[];
  fields: string[];
  outcome: string;
  request_id: string | null;
  details: Record<string, any>;
  raw: string;
}

describe(`what the audit log records (${testDialect})`, () => {
  let t: TestApp;
  let admin: { token: string; user: { id: string } };
  let seller: { token: string; user: { id: string } };
  let seq = 0;

  /** The entries written since the last call. */
  const fresh = async (): Promise<Row[]> => {
    const rows = (await sql<Record<string, any>>`select * from audit_entries where seq > ${seq} order by seq`.execute(t.deps.db)).rows;
    if (rows.length > 0) seq = Number(rows.at(-1)!.seq);
    return rows.map((r) => ({
      ...(r as Row),
      seq: Number(r.seq),
      record_ids: JSON.parse(r.record_ids),
      fields: JSON.parse(r.fields),
      details: JSON.parse(r.details),
      raw: JSON.stringify(r),
    }));
  };
  const digestFor = (keys: SubjectKeys, field: string, text: string) => valueDigest(valueDigestKey(keys.versions.get(keys.current)!), field, text);

  beforeAll(async () => {
    t = await createTestApp();
    admin = await t.makeUser({ roles: ['admin'] });
    const team = await t.makeTeam();
    seller = await t.makeUser({ roles: ['sales'], teamId: team });
    await fresh();
  });
  afterAll(async () => t.close());

  it('records a change as field names and keyed digests of old and new values, never the values', async () => {
    const created = await t.call('POST', '/api/v1/contacts', { token: admin.token, body: { firstName: 'Wei', lastName: 'Zhang', email: 'wei.zhang@example.com' } });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const [create, ...others] = await fresh();
    expect(others).toEqual([]);
    expect(create).toMatchObject({ action: 'record.create', record_type: 'contacts', record_ids: [id], outcome: 'success', actor_kind: 'token', actor_id: admin.user.id, channel: 'api' });
    expect(create!.fields).toEqual(expect.arrayContaining(['firstName', 'lastName', 'email', 'ownerId']));
    expect(create!.raw).not.toMatch(/wei\.zhang|Zhang/);

    const keys = (await subjectKeys(t.deps, [id])).get(id) as SubjectKeys;
    const emailDigest = digestFor(keys, 'email', canonicalJson('wei.zhang@example.com'));
    expect(create!.details.changes.email).toEqual([null, emailDigest]);
    expect(create!.details.keyVersion).toBe(keys.current);

    const updated = await t.call('PATCH', `/api/v1/contacts/${id}`, { token: admin.token, body: { version: 1, email: 'wei@example.org', jobTitle: 'Buyer' } });
    expect(updated.statusCode, updated.body).toBe(200);
    const [update, answer, ...more] = await fresh();
    expect(more).toEqual([]);
    expect(update).toMatchObject({ action: 'record.update', record_ids: [id] });
    // The answer shows the whole record, values not sent among them: a read of its own.
    expect(answer).toMatchObject({ action: 'record.read', record_ids: [id] });
    expect(update!.fields.sort()).toEqual(['email', 'jobTitle']);
    // The old digest is the one the creation recorded: an investigator can follow a value.
    expect(update!.details.changes.email).toEqual([emailDigest, digestFor(keys, 'email', canonicalJson('wei@example.org'))]);
    expect(update!.raw).not.toMatch(/wei@example\.org|Buyer/);

    await t.call('DELETE', `/api/v1/contacts/${id}`, { token: admin.token });
    await t.call('POST', `/api/v1/contacts/${id}/restore`, { token: admin.token });
    expect((await fresh()).map((e) => [e.action, e.record_ids])).toEqual([
      ['record.delete', [id]],
      ['record.restore', [id]],
      ['record.read', [id]],
    ]);
  });

  it("records every answer that carries personal data: which records and fields, masked ones named", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await t.call('POST', '/api/v1/contacts', { token: seller.token, body: { lastName: `Reader ${i}`, email: `reader${i}@example.com` } })).json().id);
    await fresh();

    expect((await t.call('GET', `/api/v1/contacts/${ids[0]}`, { token: seller.token })).statusCode).toBe(200);
    const [one] = await fresh();
    expect(one).toMatchObject({ action: 'record.read', record_type: 'contacts', record_ids: [ids[0]], actor_id: seller.user.id, channel: 'api' });
    expect(one!.fields).toEqual(expect.arrayContaining(['email', 'idNumber', 'lastName']));
    // Sales sees ID numbers masked.
    expect(one!.details.masked).toContain('idNumber');

    const list = await t.call('GET', '/api/v1/contacts?limit=50', { token: seller.token });
    const [page, ...rest] = await fresh();
    expect(rest).toEqual([]);
    expect(page!.record_ids.sort()).toEqual((list.json().items as { id: string }[]).map((c) => c.id).sort());

    // An answer without records, or without personal fields, is not recorded.
    await t.call('GET', '/api/v1/contacts?email=nobody@example.com', { token: seller.token });
    await t.call('GET', '/api/v1/pipelines', { token: admin.token });
    expect(await fresh()).toEqual([]);

    // Creating a record answers what the caller just sent: the change entry says it all.
    await t.call('POST', '/api/v1/contacts', { token: seller.token, body: { lastName: 'Fresh' } });
    expect((await fresh()).map((e) => e.action)).toEqual(['record.create']);

    // A search reads through the lists, so its hits are recorded too.
    await t.call('GET', '/api/v1/search?q=Reader', { token: seller.token });
    expect((await fresh()).flatMap((e) => (e.action === 'record.read' && e.record_type === 'contacts' ? e.record_ids : [])).sort()).toEqual([...ids].sort());
  });

  it('records reveals with their reason, exports with row count and fingerprint, and each page they read', async () => {
    const id = (await t.call('POST', '/api/v1/contacts', { token: admin.token, body: { lastName: 'Revealed' } })).json().id as string;
    const officer = await t.makeUser({ roles: ['privacy_officer'] });
    const corrected = await t.call('PATCH', `/api/v1/contacts/${id}`, { token: officer.token, body: { version: 1, idNumber: '110101199003070099' } });
    expect(corrected.statusCode, corrected.body).toBe(200);
    await fresh();
    const reveal = await t.call('POST', `/api/v1/contacts/${id}/reveal`, { token: officer.token, body: { fields: ['idNumber'], reason: 'Customer called to confirm identity' } });
    expect(reveal.statusCode, reveal.body).toBe(200);
    const [entry] = await fresh();
    expect(entry).toMatchObject({ action: 'record.reveal', record_ids: [id], fields: ['idNumber'], actor_id: officer.user.id });
    expect(entry!.details.reason).toBe('Customer called to confirm identity');
    expect(entry!.raw).not.toContain('110101199003070099');

    const file = path.join(t.dataDir, 'contacts.csv');
    const ctx: ActorContext = cliContext('operator');
    const exportId = newId();
    const result = await writeFileAtomically(file, 'export.invalid_request', {}, (stream) => writeExport(t.deps, ctx, { type: 'contacts', format: 'csv', exportId, exportNo: 1 }, stream));
    const entries = await fresh();
    const pages = entries.filter((e) => e.action === 'record.export');
    expect(pages.flatMap((e) => e.record_ids).length).toBe(result.rows);
    const done = entries.at(-1)!;
    expect(done).toMatchObject({ action: 'export.completed', record_type: 'contacts', actor_kind: 'cli', actor_id: 'operator', channel: 'cli' });
    expect(done.details).toMatchObject({ exportId, format: 'csv', rows: result.rows, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') });
  });

  it('records sign-ins, failed ones without the email typed, sign-outs and token changes', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'], email: 'signing.in@example.com' });
    await fresh();
    const wrong = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'signing.in@example.com', password: 'not the password at all' }, remoteAddress: '198.51.100.4' });
    expect(wrong.statusCode).toBe(401);
    const unknown = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'nobody.here@example.com', password: 'whatever it is 123' } });
    expect(unknown.statusCode).toBe(401);
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'signing.in@example.com', password } });
    expect(ok.statusCode).toBe(200);
    const cookie = ok.cookies.find((c) => c.name === 'rampart_session')!.value;
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: { rampart_session: cookie }, headers: { 'x-csrf-token': ok.json().csrfToken } });
    expect(out.statusCode).toBe(204);
    const entries = await fresh();
    expect(entries.map((e) => [e.action, e.outcome, e.actor_kind, e.actor_id, e.details.reason ?? null])).toEqual([
      ['auth.login_failed', 'failure', 'anonymous', user.id, 'wrong password'],
      ['auth.login_failed', 'failure', 'anonymous', null, 'unknown account'],
      ['auth.login', 'success', 'user', user.id, null],
      ['auth.logout', 'success', 'user', user.id, null],
    ]);
    expect(entries[0]!.source_address).toBe('198.51.100.4');
    expect(entries[2]!.session_id).toBe(entries[3]!.session_id);
    expect(entries.map((e) => e.raw).join('')).not.toContain('nobody.here');

    const operator = cliContext('operator');
    const tokenId = (await createToken(t.deps, operator, { userId: user.id, name: 'script' })).record.id;
    await revokeToken(t.deps, operator, tokenId);
    expect((await fresh()).map((e) => [e.action, e.record_ids])).toEqual([
      ['token.create', [tokenId]],
      ['token.revoke', [tokenId]],
    ]);
    // Refused tokens: the first from an address is recorded; the rest of that minute only counted.
    for (let i = 0; i < 5; i++) expect((await t.call('GET', '/api/v1/contacts', { headers: { authorization: 'Bearer rpt_not_a_real_token' } })).statusCode).toBe(401);
    expect((await fresh()).map((e) => [e.action, e.outcome, e.details.alsoRefusedBefore])).toEqual([['auth.token_refused', 'failure', 0]]);
  });

  it('records administration: roles with their grants, users and their access, refusals', async () => {
    const role = await t.call('POST', '/api/v1/roles', { token: admin.token, body: { id: 'auditors_lite', name: 'Auditors lite', definition: { records: {}, permissions: ['audit.read'] } } });
    expect(role.statusCode, role.body).toBe(201);
    const user = await t.call('POST', '/api/v1/users', { token: admin.token, body: { email: 'new.hire@example.com', name: 'New Hire', password: 'a long enough passphrase 77', roles: ['sales'] } });
    expect(user.statusCode, user.body).toBe(201);
    const userId = user.json().id as string;
    expect((await t.call('PATCH', `/api/v1/users/${userId}`, { token: admin.token, body: { roles: ['sales', 'auditors_lite'] } })).statusCode).toBe(200);
    const entries = await fresh();
    expect(entries.map((e) => e.action)).toEqual(['role.create', 'user.create', 'user.change_access']);
    expect(entries[0]!.details.definition.permissions).toEqual(['audit.read']);
    expect(entries[2]!.details.roles).toEqual([['sales'], ['auditors_lite', 'sales']]);
    expect(entries.map((e) => e.raw).join('')).not.toContain('new.hire@example.com');

    const refused = await t.call('GET', '/api/v1/users', { token: seller.token });
    expect(refused.statusCode).toBe(403);
    const [denial] = await fresh();
    expect(denial).toMatchObject({ action: 'access.denied', outcome: 'denied', actor_id: seller.user.id, details: { code: 'auth.forbidden', route: 'GET /api/v1/users' } });
  });

  it('commits an entry with its change or not at all, and the log still verifies', async () => {
    const ctx = cliContext('operator');
    await expect(
      inTransaction(t.deps, async (tx) => {
        await createRecord(tx, ctx, 'companies', { name: 'Never made' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const refused = await t.call('POST', '/api/v1/contacts', { token: admin.token, body: { email: 'not an email' } });
    expect(refused.statusCode).toBe(400);
    expect(await fresh()).toEqual([]);
    expect((await verifyAuditLog(t.deps)).problems).toEqual([]);
  });
});
