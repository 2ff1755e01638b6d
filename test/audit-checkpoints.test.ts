import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, openNote, parseCheckpoint } from '../src/audit/checkpoint.js';
import { loadConfig } from '../src/config/config.js';
import { AuditCheckpointer } from '../src/data/audit-checkpointer.js';
import { appendAudit } from '../src/data/audit-log.js';
import { startServer } from '../src/server.js';
import { createTestApp, type TestApp } from './support/app.js';
import { auditEntry } from './support/audit.js';
import { testDialect } from './support/database.js';


describe(`automatic audit checkpoints (${testDialect})`, () => {
  let t: TestApp;
  let dir: string;
  let now = Date.parse('2026-11-29T10:00:00Z');
  const clock = { now: () => new Date(now) };
  const key = { origin: 'crm.example.com/rampart-audit', ...generateSigningKey('crm.example.com/rampart-audit') };
  const received: unknown[] = [];
  let webhook: http.Server;
  let webhookUrl: string;
  let webhookFails = false;
  const logged: string[] = [];
  const log = { warn: (m: string) => logged.push(`warn ${m}`), error: (m: string) => logged.push(`error ${m}`) };

  beforeAll(async () => {
    t = await createTestApp();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-checkpoints-'));
    webhook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString('utf8')));
      req.on('end', () => {
        if (webhookFails) res.writeHead(503).end();
        else {
          received.push(JSON.parse(body));
          res.writeHead(204).end();
        }
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    webhookUrl = `http://127.0.0.1:${(webhook.address() as { port: number }).port}/checkpoints`;
  });
  afterAll(async () => {
    await new Promise((resolve) => webhook.close(resolve));
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const headSize = async () => Number((await sql<{ seq: number | string }>`select seq from audit_head`.execute(t.deps.db)).rows[0]!.seq);

  it('signs every N entries and after T seconds, and sends each checkpoint to the file, webhook and standard output', async () => {
    const file = path.join(dir, 'checkpoints.txt');
    const lines: string[] = [];
    const stdout = { write: (line: string) => lines.push(line) };
    const checkpointer = new AuditCheckpointer({ ...t.deps, clock }, key, { entries: 5, seconds: 60, file, url: webhookUrl, stdout }, log);
    await appendAudit(t.deps, [auditEntry(1)]);
    // Entries written before (users made by the test app) count as uncovered too.
    const start = await headSize();
    const first = await checkpointer.tick();
    expect(first === null || first.size === start).toBe(true);
    const covered = first?.size ?? 0;
    if (start - covered < 5) expect(first).toBeNull();

    await appendAudit(t.deps, Array.from({ length: 5 - ((start - covered) % 5) }, (_, i) => auditEntry(10 + i)));
    const byCount = await checkpointer.tick();
    expect(byCount?.size).toBe(await headSize());

    await appendAudit(t.deps, [auditEntry(20)]);
    expect(await checkpointer.tick()).toBeNull();
    now += 59_000;
    expect(await checkpointer.tick()).toBeNull();
    now += 2_000;
    const byTime = await checkpointer.tick();
    expect(byTime?.size).toBe(byCount!.size + 1);

    // The file holds each note signed, in order, each opening with the verifier key.
    const signed = [first, byCount, byTime].filter((c) => c !== null);
    expect(fs.readFileSync(file, 'utf8')).toBe(signed.map((c) => `${c!.note}\n`).join(''));
    for (const c of signed) expect(parseCheckpoint(openNote(c!.note, key.verifierKey))).toMatchObject({ size: c!.size, origin: key.origin });
    expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('600');
    expect((received.at(-1) as { size: number }).size).toBe(byTime!.size);
    expect(JSON.parse(lines.at(-1)!).auditCheckpoint.rootHash).toBe(byTime!.rootHash);
    const stored = (await sql<{ tree_size: number | string; root_hash: string }>`select tree_size, root_hash from audit_checkpoints order by tree_size`.execute(t.deps.db)).rows;
    expect(stored.map((c) => Number(c.tree_size))).toContain(byTime!.size);
    expect(logged).toEqual([]);
  });

  it('keeps sending the newest checkpoint to a webhook that failed, and a second signer of the same size gets the stored one', async () => {
    const checkpointer = new AuditCheckpointer({ ...t.deps, clock }, key, { entries: 1, seconds: 60, url: webhookUrl }, log);
    webhookFails = true;
    await appendAudit(t.deps, [auditEntry(30)]);
    const signed = await checkpointer.tick();
    expect(signed?.size).toBe(await headSize());
    expect(logged.filter((l) => l.startsWith('warn'))).toHaveLength(1);
    webhookFails = false;
    await new Promise((resolve) => setTimeout(resolve, 10));
    // Retried on a later tick (after its pause), even with nothing new to sign.
    (checkpointer as unknown as { webhookRetryAt: number }).webhookRetryAt = 0;
    expect(await checkpointer.tick()).toBeNull();
    expect((received.at(-1) as { size: number }).size).toBe(signed!.size);

    const other = new AuditCheckpointer({ ...t.deps, clock }, key, { entries: 1, seconds: 60 }, log);
    expect(await other.tick()).toBeNull();
  });

  it('signs nothing over a broken log, and says so once', async () => {
    const checkpointer = new AuditCheckpointer({ ...t.deps, clock }, key, { entries: 1, seconds: 60 }, log);
    await appendAudit(t.deps, [auditEntry(40)]);
    if (testDialect === 'postgres') await sql`alter table audit_entries disable trigger user`.execute(t.deps.db);
    else await sql`drop trigger audit_entries_no_update`.execute(t.deps.db);
    await sql`update audit_entries set action = 'test.other' where seq = (select max(seq) from audit_entries)`.execute(t.deps.db);
    logged.length = 0;
    expect(await checkpointer.tick()).toBeNull();
    await appendAudit(t.deps, [auditEntry(41)]);
    expect(await checkpointer.tick()).toBeNull();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^error the audit log is broken \((modified|truncated or modified) at entry \d+: /);
  });
});

describe('the server signs checkpoints while it runs and when it stops', () => {
  it('leaves a checkpoint covering the last entry in the configured file and on standard output', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-checkpoint-server-'));
    const out: string[] = [];
    const sink = new Writable({ write: (chunk, _encoding, done) => (out.push(String(chunk)), done()) });
    try {
      const file = path.join(dir, 'off-server', 'checkpoints.txt');
      fs.mkdirSync(path.dirname(file));
      const config = loadConfig({ env: { RAMPART_DATA_DIR: dir, RAMPART_PORT: '0', RAMPART_LOG_LEVEL: 'silent', RAMPART_AUDIT_CHECKPOINT_FILE: file, RAMPART_AUDIT_CHECKPOINT_STDOUT: 'true' } });
      const server = await startServer(config, { out: sink, handleSignals: false });
      const failed = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'nobody@example.com', password: 'not the password at all' }) });
      expect(failed.status).toBe(401);
      await server.close();
      const lines = out.join('').split('\n').filter((l) => l.startsWith('{"auditCheckpoint"'));
      expect(lines.length).toBeGreaterThanOrEqual(1);
      const last = JSON.parse(lines.at(-1)!).auditCheckpoint as { size: number; note: string };
      expect(last.size).toBeGreaterThanOrEqual(1);
      expect(fs.readFileSync(file, 'utf8')).toContain(last.note);
      const verifier = JSON.parse(fs.readFileSync(path.join(dir, 'audit-signing.key'), 'utf8')).verifierKey as string;
      expect(parseCheckpoint(openNote(last.note, verifier)).size).toBe(last.size);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
