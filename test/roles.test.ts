import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_ROLES } from '../src/policy/shipped-roles.js';
import { grantToRole, revokeFromRole } from '../src/modules/roles/roles.service.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';

describe('roles', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
  });
  afterAll(async () => t.close());

  it('lists the shipped roles with what each grants, to anyone signed in', async () => {
    const { token: seller } = await t.makeUser({ roles: ['sales'] });
    const res = await t.call('GET', '/api/v1/roles', { token: seller });
    expect(res.statusCode, res.body).toBe(200);
    const roles = res.json().items as { id: string; builtin: boolean; definition: { records: Record<string, unknown>; permissions: string[] } }[];
    expect(roles.map((r) => r.id).sort()).toEqual(SHIPPED_ROLES.map((r) => r.id).sort());
    expect(roles.every((r) => r.builtin)).toBe(true);
    const auditor = roles.find((r) => r.id === 'auditor')!;
    expect(auditor.definition).toEqual({ records: {}, permissions: ['audit.read'], mfaRequired: true });
    expect((await t.call('GET', '/api/v1/roles/admin', { token: seller })).json().definition.records.contacts.fields).toEqual({ '@sensitive': 'masked' });
    expect((await t.call('GET', '/api/v1/roles/nope', { token: seller })).statusCode).toBe(404);
  });

  it("keeps a role's second-factor requirement through grants and revocations of networks, and lets a site require it of any role", async () => {
    const ctx = cliContext('test');
    const granted = await grantToRole(t.deps, ctx, 'admin', { kind: 'network', list: 'allow', range: '10.0.0.0/8' });
    expect(granted.definition).toMatchObject({ mfaRequired: true, networks: { allow: ['10.0.0.0/8'], deny: [] } });
    const revoked = await revokeFromRole(t.deps, ctx, 'admin', { kind: 'network', list: 'allow', range: '10.0.0.0/8' });
    expect(revoked.definition.mfaRequired).toBe(true);
    const sales = (await t.call('GET', '/api/v1/roles/sales', { token: admin })).json();
    const required = await t.call('PATCH', '/api/v1/roles/sales', { token: admin, body: { version: sales.version, definition: { ...sales.definition, mfaRequired: true } } });
    expect(required.statusCode, required.body).toBe(200);
    expect(required.json().definition.mfaRequired).toBe(true);
    const off = await t.call('PATCH', '/api/v1/roles/sales', { token: admin, body: { version: required.json().version, definition: sales.definition } });
    expect(off.json().definition.mfaRequired).toBeUndefined();
  });

  it('makes a custom role, gives it to a user, and the change applies to their next request', async () => {
    const created = await t.call('POST', '/api/v1/roles', {
      token: admin,
      body: { id: 'key_accounts', name: 'Key accounts', definition: { records: { companies: { actions: { read: 'all' }, fields: {} } }, permissions: [] } },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ id: 'key_accounts', builtin: false, version: 1 });

    const company = (await t.call('POST', '/api/v1/companies', { token: admin, body: { name: 'Acme Key' } })).json();
    const { token: rep, user } = await t.makeUser({ roles: ['auditor'] });
    expect((await t.call('GET', `/api/v1/companies/${company.id}`, { token: rep })).statusCode).toBe(404);

    const assigned = await t.call('PATCH', `/api/v1/users/${user.id}`, { token: admin, body: { roles: ['key_accounts'] } });
    expect(assigned.statusCode, assigned.body).toBe(200);
    expect(assigned.json().roles).toEqual(['key_accounts']);
    expect((await t.call('GET', `/api/v1/companies/${company.id}`, { token: rep })).statusCode).toBe(200);
    expect((await t.call('POST', '/api/v1/companies', { token: rep, body: { name: 'Not allowed' } })).statusCode).toBe(403);

    const changed = await t.call('PATCH', '/api/v1/roles/key_accounts', {
      token: admin,
      body: { version: 1, definition: { records: { companies: { actions: { read: 'all', create: 'own' }, fields: { domain: 'hidden' } } }, permissions: [] } },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    const made = await t.call('POST', '/api/v1/companies', { token: rep, body: { name: 'Allowed now' } });
    expect(made.statusCode, made.body).toBe(201);
    expect('domain' in made.json()).toBe(false);
    // The version read must come back: a stale one is refused.
    expect((await t.call('PATCH', '/api/v1/roles/key_accounts', { token: admin, body: { version: 1, name: 'Stale' } })).statusCode).toBe(409);

    expect((await t.call('DELETE', '/api/v1/roles/key_accounts', { token: admin })).json().error.code).toBe('role.in_use');
    await t.call('PATCH', `/api/v1/users/${user.id}`, { token: admin, body: { roles: ['auditor'] } });
    expect((await t.call('GET', `/api/v1/companies/${company.id}`, { token: rep })).statusCode).toBe(404);
    expect((await t.call('DELETE', '/api/v1/roles/key_accounts', { token: admin })).statusCode).toBe(204);
  });

  it('refuses to change shipped roles, bad definitions, callers without roles.manage, and changes to oneself', async () => {
    expect((await t.call('PATCH', '/api/v1/roles/sales', { token: admin, body: { version: 1, name: 'Sales+' } })).json().error.code).toBe('role.builtin');
    expect((await t.call('DELETE', '/api/v1/roles/admin', { token: admin })).json().error.code).toBe('role.builtin');
    const bad = await t.call('POST', '/api/v1/roles', { token: admin, body: { id: 'bad_role', name: 'Bad', definition: { records: { contacts: { actions: { read: 'everything' }, fields: {} } }, permissions: [] } } });
    expect(bad.statusCode).toBe(400);
    expect(await t.call('GET', '/api/v1/roles/bad_role', { token: admin }).then((r) => r.statusCode)).toBe(404);
    expect((await t.call('POST', '/api/v1/roles', { token: admin, body: { id: 'Bad Id', name: 'Bad' } })).statusCode).toBe(400);

    const { token: manager, user: managerUser } = await t.makeUser({ roles: ['manager'] });
    expect((await t.call('POST', '/api/v1/roles', { token: manager, body: { id: 'sneaky', name: 'Sneaky' } })).statusCode).toBe(403);
    expect((await t.call('PATCH', `/api/v1/users/${managerUser.id}`, { token: manager, body: { roles: ['admin'] } })).statusCode).toBe(403);
    const self = (await t.call('GET', '/api/v1/users', { token: admin })).json().items.find((u: { roles: string[] }) => u.roles.includes('admin') && u.roles.length === 1);
    const own = await t.call('PATCH', `/api/v1/users/${self.id}`, { token: admin, body: { roles: ['sales'] } });
    expect(own.statusCode).toBe(403);
    const unknown = await t.call('PATCH', `/api/v1/users/${managerUser.id}`, { token: admin, body: { roles: ['no_such_role'] } });
    expect(unknown.json().error.code).toBe('user.invalid_role');
    expect((await t.call('GET', `/api/v1/users/${managerUser.id}`, { token: admin })).json().roles).toEqual(['manager']);
  });
});
