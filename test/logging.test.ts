import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { describeError } from '../src/http/errors.js';
import { createToken } from '../src/modules/tokens/tokens.service.js';
import { insertUser } from '../src/modules/users/users.service.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('logs', () => {
  const lines: string[] = [];
  let testDb: TestDatabase;
  let built: RampartApp;
  let token: string;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-log-'));

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'debug' }, cwd: dataDir });
    built = await buildApp(config, { database: testDb.database, migrated: true, logStream: { write: (line) => void lines.push(line) } });
    const user = await insertUser(built.deps, cliContext('test'), { email: 'logger@example.com', name: 'Log Reader', password: 'a long enough passphrase', roles: ['admin'] });
    ({ token } = await createToken(built.deps, cliContext('test'), { userId: user.id, name: 'log' }));
  });
  afterAll(async () => {
    await built.app.close();
    await testDb.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('never carry tokens, cookies, query strings or record values', async () => {
    const headers = { authorization: `Bearer ${token}`, cookie: 'rampart_session=rps_secretcookievalue' };
    await built.app.inject({ method: 'POST', url: '/api/v1/contacts', headers, payload: { lastName: 'Zhangsecret', email: 'hidden.person@example.com', phone: '+86 139 0000 1111' } });
    await built.app.inject({ method: 'GET', url: '/api/v1/contacts?email=hidden.person%40example.com&q=Zhangsecret', headers });
    await built.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'hidden.person@example.com', password: 'my secret password' } });
    const log = lines.join('');
    expect(log).toContain('/api/v1/contacts');
    for (const secret of [token, 'rps_secretcookievalue', 'hidden.person', 'Zhangsecret', '1111', 'my secret password']) expect(log).not.toContain(secret);
  });

  it('keep only codes and schema names of database errors, which can quote values', () => {
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint "users_email_key"'), {
      code: '23505',
      detail: 'Key (email)=(ada@example.com) already exists.',
      constraint: 'users_email_key',
      table: 'users',
    });
    const described = JSON.stringify(describeError(pgError));
    expect(described).toContain('23505');
    expect(described).toContain('users_email_key');
    expect(described).not.toContain('ada@example.com');
  });
});
