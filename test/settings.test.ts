import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

interface Setting {
  id: string;
  key: string | null;
  value: unknown;
  description: string;
}

const settingsOf = (body: { groups: { id: string; settings: Setting[] }[] }) => new Map(body.groups.flatMap((g) => g.settings.map((s) => [s.id, s] as const)));

describe('the settings in effect', () => {
  describe('with every secret configured', () => {
    const DB_PASSWORD = 'db-Pa55word-never-shown';
    const OIDC_SECRET = 'oidc-client-Secret-never-shown';
    const SMTP_PASSWORD = 'smtp-Pa55word-never-shown';
    const PASSPHRASE = 'key-passphrase-never-shown';
    const KEY_CONTENTS = 'key-file-contents-never-shown';
    const CHECKPOINT_TOKEN = 'checkpoint-token-never-shown';
    const WEBHOOK_SECRET = 'webhook-secret-never-shown';
    let t: TestApp;
    let keyDir: string;
    let admin: string;

    beforeAll(async () => {
      keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-settings-'));
      const keyFile = path.join(keyDir, 'operator.key');
      fs.writeFileSync(keyFile, KEY_CONTENTS);
      // The configuration names secrets of every kind; the test database stands in for the one named.
      t = await createTestApp({
        RAMPART_DATABASE_URL: `postgres://rampart:${DB_PASSWORD}@db.internal.example:5432/crm`,
        RAMPART_PUBLIC_URL: 'https://crm.example.com',
        RAMPART_OIDC_ISSUER: 'https://id.example.com',
        RAMPART_OIDC_CLIENT_ID: 'rampart-client',
        RAMPART_OIDC_CLIENT_SECRET: OIDC_SECRET,
        RAMPART_OIDC_DISPLAY_NAME: 'Example ID',
        RAMPART_MAIL_TRANSPORT: `smtp://mailer:${SMTP_PASSWORD}@mail.internal.example:587`,
        RAMPART_MAIL_FROM: 'Rampart <crm@example.com>',
        RAMPART_KEY_FILE: keyFile,
        RAMPART_KEY_PASSPHRASE: PASSPHRASE,
        RAMPART_AUDIT_CHECKPOINT_URL: `https://witness.example.com/in?token=${CHECKPOINT_TOKEN}`,
        RAMPART_AUDIT_CHECKPOINT_STDOUT: 'true',
        RAMPART_SESSION_IDLE_MINUTES: '20',
        RAMPART_ALERT_WEBHOOK_URL: `https://hooks.alerts.example/in?key=${WEBHOOK_SECRET}`,
        RAMPART_ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
        RAMPART_ALERT_SYSLOG: 'udp://syslog.internal.example:514',
      });
      ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
    });
    afterAll(async () => {
      await t?.close();
      fs.rmSync(keyDir, { recursive: true, force: true });
    });

    it('answers the non-secret settings, grouped, each with its variable and a description', async () => {
      const res = await t.call('GET', '/api/v1/settings', { token: admin });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.groups.map((g: { id: string }) => g.id)).toEqual(['server', 'database', 'sessions', 'signIn', 'mail', 'sso', 'audit', 'encryption', 'detection', 'logging']);
      const settings = settingsOf(body);
      expect(settings.get('publicUrl')).toMatchObject({ key: 'RAMPART_PUBLIC_URL', value: 'https://crm.example.com' });
      expect(settings.get('databaseDialect')).toMatchObject({ key: 'RAMPART_DATABASE_URL', value: 'postgres' });
      expect(settings.get('sessionIdleMinutes')).toMatchObject({ key: 'RAMPART_SESSION_IDLE_MINUTES', value: 20 });
      expect(settings.get('cookieSecure')).toMatchObject({ key: null, value: true });
      expect(settings.get('passwordMinLength')?.value).toBe(15);
      expect(settings.get('mailTransport')).toMatchObject({ key: 'RAMPART_MAIL_TRANSPORT', value: 'smtp' });
      expect(settings.get('mailFrom')?.value).toBe('Rampart <crm@example.com>');
      expect(settings.get('ssoConfigured')?.value).toBe(true);
      expect(settings.get('ssoIssuer')?.value).toBe('https://id.example.com');
      expect(settings.get('ssoDisplayName')?.value).toBe('Example ID');
      expect(settings.get('checkpointUrl')).toMatchObject({ key: 'RAMPART_AUDIT_CHECKPOINT_URL', value: true });
      expect(settings.get('checkpointStdout')?.value).toBe(true);
      expect(settings.get('checkpointFile')?.value).toBe(false);
      expect(settings.get('keyPassphrase')).toMatchObject({ key: 'RAMPART_KEY_PASSPHRASE', value: true });
      expect(settings.get('kekAdapter')?.value).toBe('local');
      expect(settings.get('logLevel')?.value).toBe('silent');
      expect(settings.get('alertWebhook')?.value).toBe(true);
      expect(settings.get('alertSyslog')?.value).toBe(true);
      for (const s of settings.values()) {
        expect(s.description.length, s.id).toBeGreaterThan(0);
        if (s.key !== null) expect(s.key, s.id).toMatch(/^RAMPART_[A-Z_]+$/);
      }
    });

    it('never answers a secret, a credential-bearing URL or a key file, even when configured', async () => {
      const res = await t.call('GET', '/api/v1/settings', { token: admin });
      expect(res.statusCode, res.body).toBe(200);
      for (const secret of [DB_PASSWORD, 'db.internal.example', 'postgres://', OIDC_SECRET, 'rampart-client', SMTP_PASSWORD, 'mail.internal.example', 'smtp://', PASSPHRASE, KEY_CONTENTS, keyDir, t.dataDir, CHECKPOINT_TOKEN, 'witness.example.com', WEBHOOK_SECRET, 'hooks.alerts.example', 'syslog.internal.example']) {
        expect(res.body, secret).not.toContain(secret);
      }
    });

    it('answers 403 auth.forbidden to a user without settings.manage, with none of the settings', async () => {
      const { token: seller } = await t.makeUser({ roles: ['sales'] });
      const res = await t.call('GET', '/api/v1/settings', { token: seller });
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('auth.forbidden');
      expect(res.body).not.toContain('groups');
      expect(res.body).not.toContain('crm.example.com');
    });

    it('answers 401 without credentials', async () => {
      const res = await t.call('GET', '/api/v1/settings');
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('auth.unauthenticated');
      expect(res.body).not.toContain('groups');
    });
  });

  describe('with the defaults', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(async () => t?.close());

    it('shows single sign-on as not configured and unset values as null', async () => {
      const { token } = await t.makeUser({ roles: ['admin'] });
      const res = await t.call('GET', '/api/v1/settings', { token });
      expect(res.statusCode, res.body).toBe(200);
      const settings = settingsOf(res.json());
      expect(settings.get('databaseDialect')?.value).toBe('sqlite');
      expect(settings.get('ssoConfigured')?.value).toBe(false);
      expect(settings.get('ssoIssuer')?.value).toBeNull();
      expect(settings.get('mailTransport')?.value).toBe('file');
      expect(settings.get('https')?.value).toBe(false);
      expect(settings.get('networkAllow')?.value).toEqual([]);
      expect(settings.get('archiveDays')?.value).toBeNull();
    });
  });
});
