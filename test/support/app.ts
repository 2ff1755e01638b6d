import type { Clock } from '../../src/shared/clock.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { insertUser, type UserView } from '../../src/modules/users/users.service.js';
import { createToken } from '../../src/modules/tokens/tokens.service.js';
import { createTeam } from '../../src/modules/teams/teams.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export interface TestApp extends RampartApp {
  testDb: TestDatabase;
  dataDir: string;
  /** Sends a request as the given caller (a token), or with no credentials. */
  call(method: string, url: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  /** Creates a user with a bearer token and answers both. */
  makeUser(options?: { roles?: string[]; email?: string; name?: string; teamId?: string | null; scopes?: string[] }): Promise<{ user: UserView; token: string; password: string }>;
  /** Creates a team (under `parentId`, if given) and answers its id. */
  makeTeam(name?: string, parentId?: string | null): Promise<string>;
  close(): Promise<void>;
}

let userCounter = 0;

export async function createTestApp(env: Record<string, string> = {}, parts: { clock?: Clock } = {}): Promise<TestApp> {
  // The keyring follows the settings that size blind indexes, as a configured one would.
  const testDb = await createTestDatabase(env.RAMPART_EXPECTED_PEOPLE ? { expectedPeople: Number(env.RAMPART_EXPECTED_PEOPLE) } : {});
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-data-'));
  const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_DETECTION: 'off', ...env }, cwd: dataDir });
  const built = await buildApp(config, { database: testDb.database, migrated: true, keyring: testDb.keyring, ...parts });
  const testApp: TestApp = {
    ...built,
    testDb,
    dataDir,
    call(method, url, options = {}) {
      const headers: Record<string, string> = { ...(options.headers ?? {}) };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      return built.app.inject({ method: method as 'GET', url, headers, ...(options.body !== undefined ? { payload: options.body as object } : {}) });
    },
    async makeUser(options = {}) {
      userCounter += 1;
      const password = `correct horse battery ${userCounter} staple`;
      const user = await insertUser(built.deps, cliContext('test'), {
        email: options.email ?? `user${userCounter}.${Date.now()}@example.com`,
        name: options.name ?? `Test User ${userCounter}`,
        password,
        roles: options.roles ?? ['admin'],
        teamId: options.teamId ?? null,
      });
      const { token } = await createToken(built.deps, cliContext('test'), { userId: user.id, name: 'test', ...(options.scopes ? { scopes: options.scopes } : {}) });
      return { user, token, password };
    },
    async makeTeam(name, parentId = null) {
      userCounter += 1;
      const team = await createTeam(built.deps, cliContext('test'), { name: name ?? `Team ${userCounter}.${Date.now()}`, parentId });
      return team.id;
    },
    async close() {
      await built.app.close();
      await testDb.cleanup();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return testApp;
}
