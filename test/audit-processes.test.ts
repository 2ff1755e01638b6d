import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAuditSigningKey } from '../src/audit/signing-key-file.js';
import { verifyAuditLog } from '../src/data/audit-log.js';
import { createTestApp, type TestApp } from './support/app.js';
import { spawnCli } from './support/cli.js';
import { testDialect } from './support/database.js';

interface Server {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Starts `rampart serve` on the test's database, with its own data directory but the shared keys. */
async function serve(t: TestApp, dir: string, name: string): Promise<Server> {
  const dataDir = path.join(dir, name);
  const child = spawnCli(['--data-dir', dataDir, 'serve', '--port', '0'], {
    env: {
      RAMPART_DATABASE_URL: t.testDb.url,
      RAMPART_KEY_FILE: t.testDb.keyFile,
      RAMPART_AUDIT_KEY_FILE: path.join(dir, 'audit-signing.key'),
      RAMPART_AUDIT_CHECKPOINT_ENTRIES: '50',
      RAMPART_AUDIT_CHECKPOINT_FILE: path.join(dir, `${name}-checkpoints.txt`),
    },
  });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!/listening on (http:\/\/\S+)/.test(stdout)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the ${name} server did not start: ${stderr.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, url: /listening on (http:\/\/\S+)/.exec(stdout)![1]!, exited };
}

/**
 * Two server processes on one database, taking requests at the same time: every audited change
 * and read from both lands in one chain, without a gap or a fork, and the checkpoints both sign
 * hold.
 */
describe(`two server processes on one ${testDialect} database`, { timeout: 180_000 }, () => {
  let t: TestApp;
  let dir: string;
  let token: string;
  const servers: Server[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-processes-'));
    ({ token } = await t.makeUser({ roles: ['admin'] }));
    servers.push(await serve(t, dir, 'first'), await serve(t, dir, 'second'));
  });
  afterAll(async () => {
    for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('write one log that verifies, with every request of both in it', async () => {
    const before = (await verifyAuditLog(t.deps)).entries;
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const work = async (server: Server, worker: number) => {
      for (let i = 0; i < 15; i++) {
        const created = await fetch(`${server.url}/api/v1/contacts`, { method: 'POST', headers, body: JSON.stringify({ lastName: `Process ${worker}.${i}`, email: `p${worker}.${i}@example.com` }) });
        expect(created.status).toBe(201);
        const { id } = (await created.json()) as { id: string };
        expect((await fetch(`${server.url}/api/v1/contacts/${id}`, { headers })).status).toBe(200);
      }
    };
    await Promise.all(servers.flatMap((server, s) => [0, 1, 2].map((w) => work(server, s * 10 + w))));
    for (const s of servers) s.child.kill('SIGTERM');
    expect(await Promise.all(servers.map((s) => s.exited))).toEqual([0, 0]);

    const key = loadAuditSigningKey(path.join(dir, 'audit-signing.key'), '', { create: false });
    const verified = await verifyAuditLog(t.deps, { verifierKey: key.verifierKey });
    expect(verified.problems).toEqual([]);
    const counts = (await sql<{ action: string; n: number | string }>`select action, count(*) as n from audit_entries where seq > ${before} group by action`.execute(t.deps.db)).rows;
    const byAction = Object.fromEntries(counts.map((c) => [c.action, Number(c.n)]));
    expect(byAction['record.create']).toBe(90);
    expect(byAction['record.read']).toBe(90);
    // Both signed checkpoints as they went, over the one log, and the last ones cover all of it.
    const signed = (await sql<{ tree_size: number | string }>`select tree_size from audit_checkpoints order by tree_size`.execute(t.deps.db)).rows.map((r) => Number(r.tree_size));
    expect(signed.length).toBeGreaterThanOrEqual(2);
    expect(signed.at(-1)).toBe(verified.entries);
    // Whichever process finds entries uncovered signs them; the other may find nothing left to sign.
    const files = ['first', 'second'].map((name) => path.join(dir, `${name}-checkpoints.txt`)).filter((file) => fs.existsSync(file));
    expect(files.length).toBeGreaterThanOrEqual(1);
    for (const file of files) expect(fs.readFileSync(file, 'utf8')).toMatch(/rampart-audit\n\d+\n/);
  });
});
