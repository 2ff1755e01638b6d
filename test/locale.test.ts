import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('PUT /api/v1/auth/locale: a user\'s own language', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('keeps the language, writes the notices in it, and records the change', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const { user, token, password } = await t.makeUser({ roles: ['sales'] });
    const res = await t.call('PUT', '/api/v1/auth/locale', { token, body: { locale: 'zh-CN' } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().locale).toBe('zh-CN');
    expect((await t.call('GET', `/api/v1/users/${user.id}`, { token: admin.token })).json().locale).toBe('zh-CN');
    // A sign-in from a second browser is a notice, now in Chinese.
    for (const agent of ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36']) {
      const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password }, headers: { 'user-agent': agent } });
      expect(login.statusCode).toBe(200);
    }
    const notices = (await t.call('GET', '/api/v1/notices', { token })).json();
    expect(notices.items[0].title).toMatch(/登录/);
    const audit = (await t.call('GET', `/api/v1/audit/entries?action=user.update_own&actor=${user.id}`, { token: (await t.makeUser({ roles: ['auditor'] })).token })).json();
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0].fields).toEqual(['locale']);
  });

  it('refuses a language it does not speak, changing nothing', async () => {
    const { user, token } = await t.makeUser({ roles: ['sales'] });
    const res = await t.call('PUT', '/api/v1/auth/locale', { token, body: { locale: 'fr' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('request.invalid');
    const admin = await t.makeUser({ roles: ['admin'] });
    expect((await t.call('GET', `/api/v1/users/${user.id}`, { token: admin.token })).json().locale).toBe('en');
    expect((await t.call('PUT', '/api/v1/auth/locale', { body: { locale: 'en' } })).statusCode).toBe(401);
  });
});
