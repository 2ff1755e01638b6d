import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { signInFully } from './support/sign-in.js';

describe('GET /api/v1/auth/access: what the caller may do now', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('answers a sales user their scopes, masked sensitive fields and no system permissions', async () => {
    const { token } = await t.makeUser({ roles: ['sales'] });
    const res = await t.call('GET', '/api/v1/auth/access', { token });
    expect(res.statusCode).toBe(200);
    const view = res.json();
    expect(view.permissions).toEqual([]);
    expect(view.records.contacts.actions).toEqual({ read: 'team', create: 'own', update: 'own', delete: 'own', restore: 'own', merge: 'own', reveal: 'own' });
    expect(view.records.contacts.fields.idNumber).toBe('masked');
    expect(view.records.contacts.fields.email).toBe('write');
    expect(view.records.tickets.actions).toEqual({ read: 'team' });
    expect(view.records.tickets.fields.subject).toBe('read');
    // A token is no browser session: no step-up to report.
    expect(view.stepUpUntil).toBeNull();
  });

  it('lists custom fields under customFields.<key> with the rule of their classification', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const defined = await t.call('POST', '/api/v1/custom-fields', { token: admin.token, body: { recordType: 'contacts', key: 'passportNo', label: 'Passport', type: 'text', classification: 'sensitive' } });
    expect(defined.statusCode).toBe(201);
    const sales = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('GET', '/api/v1/auth/access', { token: sales.token })).json().records.contacts.fields['customFields.passportNo']).toBe('masked');
    const adminView = (await t.call('GET', '/api/v1/auth/access', { token: admin.token })).json();
    expect(adminView.records.contacts.fields['customFields.passportNo']).toBe(adminView.records.contacts.fields.idNumber);
    expect(adminView.permissions).toContain('users.manage');
    // Separation of duties: administrators do not read the audit log; auditors do.
    expect(adminView.permissions).not.toContain('audit.read');
    const auditor = await t.makeUser({ roles: ['auditor'] });
    expect((await t.call('GET', '/api/v1/auth/access', { token: auditor.token })).json().permissions).toContain('audit.read');
  });

  it('narrows to a token\'s scopes: a read-only token of an administrator may read, never write', async () => {
    const { token } = await t.makeUser({ roles: ['admin'], scopes: ['*:read'] });
    const view = (await t.call('GET', '/api/v1/auth/access', { token })).json();
    const full = (await t.call('GET', '/api/v1/auth/access', { token: (await t.makeUser({ roles: ['admin'] })).token })).json();
    expect(full.records.contacts.actions.update).toBe('all');
    for (const type of ['contacts', 'deals', 'tickets']) {
      expect(view.records[type].actions.read).toBe('all');
      expect(Object.keys(view.records[type].actions).every((action) => ['read', 'export', 'reveal'].includes(action)), type).toBe(true);
    }
    expect(view.permissions).toContain('users.read');
    expect(view.permissions).not.toContain('users.manage');
    // Where no write reaches, no field is offered for writing.
    expect(full.records.contacts.fields.email).toBe('write');
    expect(view.records.contacts.fields.email).toBe('read');
  });

  it('says until when a browser session\'s second factor counts for a step-up', async () => {
    const { user, password } = await t.makeUser({ roles: ['admin'] });
    const session = await signInFully(t, user.email, password);
    const view = (await t.call('GET', '/api/v1/auth/access', { headers: { cookie: session.cookie } })).json();
    const until = new Date(view.stepUpUntil).getTime();
    expect(until).toBeGreaterThan(Date.now());
    expect(until).toBeLessThanOrEqual(Date.now() + 5 * 60_000);
  });

  it('refuses without credentials', async () => {
    const res = await t.call('GET', '/api/v1/auth/access');
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('auth.unauthenticated');
  });
});
