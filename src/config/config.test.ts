import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ensureDataDir, loadConfig } from './config.js';

describe('loadConfig', () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-config-'));

  it('defaults to SQLite under ./data on 127.0.0.1:8080', () => {
    const config = loadConfig({ env: {}, cwd });
    expect(config.database).toEqual({ dialect: 'sqlite', file: path.join(cwd, 'data', 'rampart.db') });
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8080);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.session)).toBe(true);
  });

  it('selects PostgreSQL from RAMPART_DATABASE_URL and never shows its password', () => {
    const config = loadConfig({ env: { RAMPART_DATABASE_URL: 'postgres://app:s3cret@db.internal:5432/crm' }, cwd });
    expect(config.database.dialect).toBe('postgres');
    expect(config.databaseUrl).not.toContain('s3cret');
  });

  it('sends mail to files under the data directory by default, and checks a configured transport without repeating its password', () => {
    const config = loadConfig({ env: {}, cwd });
    expect(config.mail).toEqual({ transport: { kind: 'file', dir: path.join(cwd, 'data', 'mail') }, from: 'Rampart <rampart@localhost>' });
    const smtp = loadConfig({ env: { RAMPART_MAIL_TRANSPORT: 'smtps://crm:p%40ss@mail.example.com:465', RAMPART_MAIL_FROM: 'CRM <crm@example.com>', RAMPART_PUBLIC_URL: 'https://crm.example.com' }, cwd });
    expect(smtp.mail).toEqual({ transport: { kind: 'smtp', url: 'smtps://crm:p%40ss@mail.example.com:465' }, from: 'CRM <crm@example.com>' });
    expect(loadConfig({ env: { RAMPART_PUBLIC_URL: 'https://crm.example.com' }, cwd }).mail.from).toBe('Rampart <rampart@crm.example.com>');
    let error: unknown;
    try {
      loadConfig({ env: { RAMPART_MAIL_TRANSPORT: 'imap://crm:hunter2secret@mail.example.com', RAMPART_MAIL_FROM: 'two\nlines <a@b.c>' }, cwd });
    } catch (e) {
      error = e;
    }
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('RAMPART_MAIL_TRANSPORT');
    expect(problems).toContain('RAMPART_MAIL_FROM');
    expect(problems).not.toContain('hunter2secret');
  });

  it('turns single sign-on on with an issuer, with defaults for the rest, and checks what comes with it', () => {
    expect(loadConfig({ env: {}, cwd }).oidc).toBeUndefined();
    const oidc = loadConfig({ env: { RAMPART_OIDC_ISSUER: 'https://id.example.com', RAMPART_OIDC_CLIENT_ID: 'crm', RAMPART_OIDC_CLIENT_SECRET: 'sso-secret-value' }, cwd }).oidc;
    expect(oidc).toEqual({
      issuer: 'https://id.example.com',
      clientId: 'crm',
      clientSecret: 'sso-secret-value',
      scopes: 'openid email profile',
      displayName: 'SSO',
      groupsClaim: 'groups',
      roleMap: [],
      createUsers: false,
      mfa: 'rampart',
    });
    const mapped = loadConfig({
      env: { RAMPART_OIDC_ISSUER: 'http://127.0.0.1:9000', RAMPART_OIDC_CLIENT_ID: 'crm', RAMPART_OIDC_CLIENT_SECRET: 's', RAMPART_OIDC_ROLE_MAP: 'crm=sales, crm-admins = admin', RAMPART_OIDC_CREATE_USERS: 'true', RAMPART_OIDC_MFA: 'provider' },
      cwd,
    }).oidc;
    expect(mapped).toMatchObject({ roleMap: [{ group: 'crm', role: 'sales' }, { group: 'crm-admins', role: 'admin' }], createUsers: true, mfa: 'provider' });
    const problemsOf = (env: Record<string, string>): string => {
      try {
        loadConfig({ env, cwd });
      } catch (e) {
        return (e as ConfigError).problems.join('\n');
      }
      return '';
    };
    // A plain-HTTP provider elsewhere could be anyone; the client needs its id and secret.
    const remote = problemsOf({ RAMPART_OIDC_ISSUER: 'http://id.example.com', RAMPART_OIDC_SCOPES: 'email', RAMPART_OIDC_ROLE_MAP: 'nogroup', RAMPART_OIDC_MFA: 'both' });
    for (const name of ['RAMPART_OIDC_ISSUER', 'RAMPART_OIDC_CLIENT_ID', 'RAMPART_OIDC_CLIENT_SECRET', 'RAMPART_OIDC_SCOPES', 'RAMPART_OIDC_ROLE_MAP', 'RAMPART_OIDC_MFA']) expect(remote).toContain(name);
    expect(problemsOf({ RAMPART_OIDC_CLIENT_SECRET: 'sso-secret-value' })).toContain('need RAMPART_OIDC_ISSUER');
    expect(problemsOf({ RAMPART_OIDC_CLIENT_SECRET: 'sso-secret-value' })).not.toContain('sso-secret-value');
  });

  it('lists every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ env: { RAMPART_PORT: 'eighty', RAMPART_LOG_LEVEL: 'loud', RAMPART_DATABASE_URL: 'mysql://x', RAMPART_COLOUR: 'blue', RAMPART_TRUST_PROXY: 'maybe' }, cwd });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['RAMPART_PORT', 'RAMPART_LOG_LEVEL', 'RAMPART_DATABASE_URL', 'RAMPART_COLOUR', 'RAMPART_TRUST_PROXY']) expect(problems).toContain(name);
  });

  it('reads a config file, with the environment and flags winning over it', () => {
    const dataDir = path.join(cwd, 'with-file');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'rampart.config.json'), JSON.stringify({ port: 9000, logLevel: 'warn', host: '0.0.0.0' }));
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_HOST: '127.0.0.2' }, cwd, overrides: { PORT: '9001' } });
    expect(config.logLevel).toBe('warn');
    expect(config.host).toBe('127.0.0.2');
    expect(config.port).toBe(9001);
  });

  it('refuses unknown keys in the config file', () => {
    const dataDir = path.join(cwd, 'bad-file');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'rampart.config.json'), JSON.stringify({ prot: 9000 }));
    expect(() => loadConfig({ env: { RAMPART_DATA_DIR: dataDir }, cwd })).toThrow(/prot/);
  });

  it('creates the data directory readable by its owner only', () => {
    const config = loadConfig({ env: { RAMPART_DATA_DIR: path.join(cwd, 'fresh', 'data') }, cwd });
    ensureDataDir(config);
    expect(fs.statSync(config.dataDir).mode & 0o777).toBe(0o700);
  });

  it('reads the key passphrase from a file, never repeats it in a problem, and refuses two sources', () => {
    const file = path.join(cwd, 'passphrase.txt');
    fs.writeFileSync(file, 'correct horse battery staple\n', { mode: 0o600 });
    expect(loadConfig({ env: { RAMPART_KEY_PASSPHRASE_FILE: file }, cwd }).keys.passphrase).toBe('correct horse battery staple');
    const both = (() => {
      try {
        loadConfig({ env: { RAMPART_KEY_PASSPHRASE_FILE: file, RAMPART_KEY_PASSPHRASE: 'tiny' }, cwd });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('accepted');
    })();
    expect(both.problems.join('\n')).toMatch(/cannot both be set/);
    expect(both.message).not.toContain('tiny');
    expect(() => loadConfig({ env: { RAMPART_KEY_PASSPHRASE_FILE: path.join(cwd, 'missing') }, cwd })).toThrow(/cannot be read/);
  });
});
