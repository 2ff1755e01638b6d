import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecord } from '../src/data/record-store.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';

/**
 * The policy engine end to end: record scope by owner and team, field rules with masking, reveal
 * with a reason, writes checked per field, and changes that apply to the very next request.
 */
describe('access control', () => {
  let t: TestApp;
  let east: string;
  let west: string;
  let alice: { token: string; id: string };
  let bob: { token: string; id: string };
  let carol: { token: string; id: string };
  let aliceContact: { id: string; version: number };
  let bobContact: { id: string; version: number };
  let carolContact: { id: string; version: number };

  const call = (method: string, url: string, token: string, body?: unknown) => t.call(method, url, { token, ...(body !== undefined ? { body } : {}) });

  beforeAll(async () => {
    t = await createTestApp();
    east = await t.makeTeam('East');
    west = await t.makeTeam('West');
    const user = async (roles: string[], teamId: string | null) => {
      const made = await t.makeUser({ roles, teamId });
      return { token: made.token, id: made.user.id };
    };
    alice = await user(['sales'], east);
    bob = await user(['sales'], east);
    carol = await user(['sales'], west);
    // Seeded by the operator, who may place records anywhere.
    const contact = async (owner: { id: string }, teamId: string, lastName: string, idNumber: string) =>
      (await createRecord(t.deps, cliContext('test'), 'contacts', { lastName, email: `${lastName.toLowerCase()}@scope.test`, idNumber, ownerId: owner.id, teamId })) as { id: string; version: number };
    aliceContact = await contact(alice, east, 'Ashby', '110101199003071234');
    bobContact = await contact(bob, east, 'Bolton', '110101199003075678');
    carolContact = await contact(carol, west, 'Cardew', '110101199003079999');
  });
  afterAll(async () => t.close());

  it('lists, counts and searches only the records in scope, and answers 404 for the rest', async () => {
    const list = await call('GET', '/api/v1/contacts?limit=50', alice.token);
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().items.map((c: { lastName: string }) => c.lastName).sort()).toEqual(['Ashby', 'Bolton']);

    const other = await call('GET', `/api/v1/contacts/${carolContact.id}`, alice.token);
    const missing = await call('GET', '/api/v1/contacts/0190a0a0-0000-7000-8000-000000000000', alice.token);
    expect(other.statusCode).toBe(404);
    expect(other.json()).toEqual(missing.json());
    expect(other.body).not.toContain('Cardew');

    // Neither a search, an exact filter nor a duplicate check finds it.
    expect((await call('GET', '/api/v1/contacts?q=Cardew', alice.token)).json().items).toEqual([]);
    expect((await call('GET', '/api/v1/search?q=Cardew', alice.token)).json().items).toEqual([]);
    expect((await call('GET', `/api/v1/contacts?email=${encodeURIComponent('cardew@scope.test')}`, alice.token)).json().items).toEqual([]);
    const dup = await call('POST', '/api/v1/contacts/duplicates', alice.token, { email: 'cardew@scope.test' });
    expect(dup.json().items).toEqual([]);
    // Nor can a write point at it: a reference outside scope does not exist.
    const deal = await call('POST', '/api/v1/deals', alice.token, { name: 'Sneaky', contactId: carolContact.id });
    expect(deal.statusCode).toBe(400);
    expect(deal.json().error.code).toBe('record.invalid_reference');
  });

  it("lets a seller read the team's records but change only their own", async () => {
    const read = await call('GET', `/api/v1/contacts/${bobContact.id}`, alice.token);
    expect(read.statusCode).toBe(200);
    const update = await call('PATCH', `/api/v1/contacts/${bobContact.id}`, alice.token, { version: bobContact.version, jobTitle: 'Changed by Alice' });
    expect(update.statusCode).toBe(403);
    expect(update.json().error.code).toBe('auth.forbidden');
    expect((await call('DELETE', `/api/v1/contacts/${bobContact.id}`, alice.token)).statusCode).toBe(403);
    const stored = await sql<{ job_title: string | null; deleted_at: string | null }>`select job_title, deleted_at from contacts where id = ${bobContact.id}`.execute(t.deps.db);
    expect(stored.rows[0]).toEqual({ job_title: null, deleted_at: null });

    const own = await call('PATCH', `/api/v1/contacts/${aliceContact.id}`, alice.token, { version: aliceContact.version, jobTitle: 'Buyer' });
    expect(own.statusCode, own.body).toBe(200);
    aliceContact = own.json();
    // Handing it to a teammate is an assign, which sellers do not have.
    const handOver = await call('PATCH', `/api/v1/contacts/${aliceContact.id}`, alice.token, { version: aliceContact.version, ownerId: bob.id });
    expect(handOver.statusCode).toBe(403);
    const created = await call('POST', '/api/v1/contacts', alice.token, { lastName: 'For Bob', ownerId: bob.id });
    expect(created.statusCode).toBe(403);
  });

  it('masks sensitive values, refuses to filter or write them, and reveals one with a reason', async () => {
    const read = (await call('GET', `/api/v1/contacts/${aliceContact.id}`, alice.token)).json();
    expect(read.idNumber).toBe('110***********1234');
    expect(read.maskedFields).toEqual(['idNumber']);
    expect(read.email).toBe('ashby@scope.test');
    const listBody = (await call('GET', '/api/v1/contacts?limit=50', alice.token)).body;
    expect(listBody).not.toContain('110101199003071234');
    expect(listBody).not.toContain('110101199003075678');

    const filter = await call('GET', '/api/v1/contacts?idNumber=110101199003071234', alice.token);
    expect(filter.statusCode).toBe(400);
    expect(filter.body).not.toContain('110101199003071234');
    const write = await call('PATCH', `/api/v1/contacts/${aliceContact.id}`, alice.token, { version: aliceContact.version, idNumber: '999' });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.fields).toEqual([{ field: 'idNumber', message: 'is not writable for your roles' }]);

    const noReason = await call('POST', `/api/v1/contacts/${aliceContact.id}/reveal`, alice.token, { fields: ['idNumber'], reason: 'x' });
    expect(noReason.statusCode).toBe(400);
    const reveal = await call('POST', `/api/v1/contacts/${aliceContact.id}/reveal`, alice.token, { fields: ['idNumber'], reason: 'Customer asked to confirm the contract holder' });
    expect(reveal.statusCode, reveal.body).toBe(200);
    expect(reveal.json().values).toEqual({ idNumber: '110101199003071234' });
    const kept = await sql<{ user_id: string; fields: string; reason: string; record_id: string; channel: string }>`select user_id, fields, reason, record_id, channel from reveals where id = ${reveal.json().revealId}`.execute(t.deps.db);
    expect(kept.rows[0]).toEqual({ user_id: alice.id, fields: '["idNumber"]', reason: 'Customer asked to confirm the contract holder', record_id: aliceContact.id, channel: 'api' });

    // Sellers reveal only on their own records; a teammate's stays masked, and nothing is recorded.
    const before = await sql<{ n: number }>`select count(*) as n from reveals`.execute(t.deps.db);
    const teammate = await call('POST', `/api/v1/contacts/${bobContact.id}/reveal`, alice.token, { fields: ['idNumber'], reason: 'Curious about a colleague customer' });
    expect(teammate.statusCode).toBe(403);
    expect(teammate.body).not.toMatch(/\*{3}|1101011990/);
    const after = await sql<{ n: number }>`select count(*) as n from reveals`.execute(t.deps.db);
    expect(Number(after.rows[0]!.n)).toBe(Number(before.rows[0]!.n));
  });

  it('hides what a role hides, everywhere, and does not let a reveal lift it', async () => {
    const { token: marketer } = await t.makeUser({ roles: ['marketing'] });
    const record = (await call('GET', `/api/v1/contacts/${carolContact.id}`, marketer)).json();
    expect(record.lastName).toBe('Cardew');
    expect('idNumber' in record).toBe(false);
    expect(JSON.stringify(record)).not.toMatch(/\*{3}|1101011990/);
    expect((await call('GET', '/api/v1/contacts?sort=-createdAt', marketer)).body).not.toContain('1101011990');
    const reveal = await call('POST', `/api/v1/contacts/${carolContact.id}/reveal`, marketer, { fields: ['idNumber'], reason: 'Campaign segmentation by region' });
    expect(reveal.statusCode).toBe(403);
    // No roles that reach tickets: the type answers as forbidden, and a search simply leaves it out.
    expect((await call('GET', '/api/v1/tickets', marketer)).statusCode).toBe(403);
    expect((await call('GET', '/api/v1/search?q=Cardew', marketer)).statusCode).toBe(200);
  });

  it('applies a change of role or team to the very next request', async () => {
    expect((await call('GET', `/api/v1/contacts/${carolContact.id}`, bob.token)).statusCode).toBe(404);
    await sql`update users set team_id = ${west} where id = ${bob.id}`.execute(t.deps.db);
    expect((await call('GET', `/api/v1/contacts/${carolContact.id}`, bob.token)).statusCode).toBe(200);
    expect((await call('GET', `/api/v1/contacts/${aliceContact.id}`, bob.token)).statusCode).toBe(404);

    await sql`delete from user_roles where user_id = ${bob.id}`.execute(t.deps.db);
    await sql`insert into user_roles (user_id, role_id) values (${bob.id}, 'auditor')`.execute(t.deps.db);
    expect((await call('GET', '/api/v1/contacts', bob.token)).statusCode).toBe(403);
    expect((await call('GET', `/api/v1/contacts/${carolContact.id}`, bob.token)).statusCode).toBe(404);
  });

  it('lets a token narrow its owner’s rights but never widen them', async () => {
    const { token: readOnly } = await t.makeUser({ roles: ['sales'], teamId: east, scopes: ['contacts:read'] });
    expect((await call('GET', `/api/v1/contacts/${aliceContact.id}`, readOnly)).statusCode).toBe(200);
    expect((await call('POST', '/api/v1/contacts', readOnly, { lastName: 'Nope' })).statusCode).toBe(403);
    const { token: wide } = await t.makeUser({ roles: ['sales'], teamId: east, scopes: ['*:write'] });
    expect((await call('GET', `/api/v1/contacts/${carolContact.id}`, wide)).statusCode).toBe(404);
    expect((await call('POST', '/api/v1/users', wide, { email: 'x@scope.test', name: 'X', password: 'a long enough password 1', roles: ['admin'] })).statusCode).toBe(403);
  });

  it('keeps the administrator from sensitive values, and from revealing them', async () => {
    const { token: admin } = await t.makeUser({ roles: ['admin'] });
    const record = (await call('GET', `/api/v1/contacts/${carolContact.id}`, admin)).json();
    expect(record.idNumber).toBe('110***********9999');
    expect((await call('POST', `/api/v1/contacts/${carolContact.id}/reveal`, admin, { fields: ['idNumber'], reason: 'Administrator wants to look' })).statusCode).toBe(403);
    const { token: auditor } = await t.makeUser({ roles: ['auditor'] });
    for (const type of ['companies', 'contacts', 'leads', 'deals', 'activities', 'tickets']) {
      expect((await call('GET', `/api/v1/${type}`, auditor)).statusCode, type).toBe(403);
    }
  });
});

describe('network rules', () => {
  it("refuses and records requests from outside the server's networks, pages included", async () => {
    const t = await createTestApp({ RAMPART_NETWORK_ALLOW: '10.0.0.0/8, 2001:db8::/32', RAMPART_NETWORK_DENY: '10.66.0.0/16' });
    try {
      const from = (remoteAddress: string, url = '/api/v1/contacts') => t.app.inject({ method: 'GET', url, remoteAddress });
      const outside = await from('192.0.2.7');
      expect(outside.statusCode).toBe(403);
      expect(outside.json().error.code).toBe('request.network_refused');
      expect((await from('192.0.2.7', '/login')).statusCode).toBe(403);
      expect((await from('10.66.1.1')).statusCode).toBe(403);
      expect((await from('10.1.2.3')).statusCode).toBe(401);
      expect((await from('2001:db8::5')).statusCode).toBe(401);
      const events = await sql<{ actor_kind: string; source_address: string; details: string }>`select actor_kind, source_address, details from audit_entries where action = 'access.denied' order by seq`.execute(t.deps.db);
      // Nobody is known behind these: one entry a minute per address, the rest counted.
      expect(events.rows.map((e) => e.source_address)).toEqual(['192.0.2.7', '10.66.1.1']);
      expect(events.rows.map((e) => JSON.parse(e.details))).toEqual([
        { code: 'request.network_refused', route: 'GET /api/v1/contacts', alsoRefusedBefore: 0 },
        { code: 'request.network_refused', route: 'GET /api/v1/contacts', alsoRefusedBefore: 0 },
      ]);
      expect(events.rows.every((e) => e.actor_kind === 'anonymous')).toBe(true);
    } finally {
      await t.close();
    }
  });

  it("lets a role count only from its networks: outside them its holders act without it, or are refused", async () => {
    const t = await createTestApp();
    try {
      const { token: admin } = await t.makeUser({ roles: ['admin'] });
      const { token: adminAndSales } = await t.makeUser({ roles: ['admin', 'sales'] });
      const from = (token: string, remoteAddress: string, url: string) => t.app.inject({ method: 'GET', url, remoteAddress, headers: { authorization: `Bearer ${token}` } });
      const role = (await from(admin, '127.0.0.1', '/api/v1/roles/admin')).json();
      // Only the networks of a shipped role may change; its grants stay as shipped.
      const widened = await t.app.inject({ method: 'PATCH', url: '/api/v1/roles/admin', headers: { authorization: `Bearer ${admin}` }, payload: { version: role.version, definition: { ...role.definition, permissions: [] } } });
      expect(widened.json().error.code).toBe('role.builtin');
      const office = await t.app.inject({ method: 'PATCH', url: '/api/v1/roles/admin', headers: { authorization: `Bearer ${admin}` }, payload: { version: role.version, definition: { ...role.definition, networks: { allow: ['10.1.0.0/16'], deny: [] } } } });
      expect(office.statusCode, office.body).toBe(200);

      expect((await from(admin, '10.1.4.4', '/api/v1/users')).statusCode).toBe(200);
      const away = await from(admin, '198.51.100.9', '/api/v1/users');
      expect(away.statusCode).toBe(403);
      expect(away.json().error.code).toBe('auth.network_refused');
      // Holding sales as well, the user keeps working from anywhere, as a seller only.
      expect((await from(adminAndSales, '198.51.100.9', '/api/v1/users')).statusCode).toBe(403);
      expect((await from(adminAndSales, '198.51.100.9', '/api/v1/contacts')).statusCode).toBe(200);
      expect((await from(adminAndSales, '10.1.4.4', '/api/v1/users')).statusCode).toBe(200);
      const events = await sql<{ source_address: string; details: string }>`select source_address, details from audit_entries where action = 'access.denied' order by seq`.execute(t.deps.db);
      expect(events.rows.map((e) => [e.source_address, JSON.parse(e.details).code])).toEqual([
        ['198.51.100.9', 'auth.network_refused'],
        ['198.51.100.9', 'auth.forbidden'],
      ]);

      const bad = await t.app.inject({ method: 'PATCH', url: '/api/v1/roles/admin', headers: { authorization: `Bearer ${admin}` }, remoteAddress: '10.1.4.4', payload: { version: role.version + 1, definition: { ...role.definition, networks: { allow: ['10.1.0.0/99'], deny: [] } } } });
      expect(bad.statusCode).toBe(400);
    } finally {
      await t.close();
    }
  });
});
