import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../src/audit/checkpoint.js';
import { leafHash, verifyInclusion } from '../src/audit/merkle.js';
import { archiveAudit, checkArchiveFile } from '../src/data/audit-archive.js';
import { appendAudit, sealCheckpoint, verifyAuditLog } from '../src/data/audit-log.js';
import { writeAuditBundle } from '../src/data/audit-export.js';
import { proveInclusion } from '../src/modules/audit/audit.service.js';
import { writeFileAtomically } from '../src/shared/atomic-file.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { auditEntry } from './support/audit.js';
import { testDialect } from './support/database.js';

const run = promisify(execFile);
const VERIFIER = path.resolve('verifier/rampart-audit-verify.mjs');


describe(`archiving the audit log (${testDialect})`, () => {
  let t: TestApp;
  const key = { origin: 'archive.test/rampart-audit', ...generateSigningKey('archive.test/rampart-audit') };
  let old = Date.parse('2026-01-10T00:00:00Z');
  const at = (ms: () => number) => ({ now: () => new Date(ms()) });
  const size = async () => Number((await sql<{ seq: number | string }>`select seq from audit_head`.execute(t.deps.db)).rows[0]!.seq);
  const count = async (table: string) => Number((await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(t.deps.db)).rows[0]!.n);
  const archive = (file: string, before: string) => archiveAudit(t.deps, key, { before: new Date(before), writeFile: (write) => writeFileAtomically(file, 'request.invalid', {}, write) });
  const offline = async (file: string) => {
    try {
      return { code: 0, stdout: (await run(process.execPath, [VERIFIER, file, '--key', key.verifierKey])).stdout };
    } catch (error) {
      return { code: (error as { code: number }).code, stdout: (error as { stdout: string }).stdout };
    }
  };

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('moves old, signed entries into a file the verifier checks alone, keeping their hashes, and the log still verifies', async () => {
    const base = await size();
    const aged = { ...t.deps, clock: at(() => (old += 60_000)) };
    for (let i = 0; i < 3; i++) await appendAudit(aged, Array.from({ length: 10 }, (_, k) => auditEntry(i * 10 + k)));
    // Not covered by a checkpoint yet: nothing may leave.
    expect(await archive(path.join(t.dataDir, 'never.jsonl'), '2026-06-01T00:00:00Z')).toBeNull();
    await sealCheckpoint(t.deps, key);
    await appendAudit(t.deps, Array.from({ length: 5 }, (_, k) => auditEntry(100 + k)));

    const first = path.join(t.dataDir, 'archive-1.jsonl');
    const result = await archive(first, '2026-06-01T00:00:00Z');
    expect(result).toMatchObject({ fromSeq: 1, throughSeq: base + 30, entries: base + 30 });
    expect(fs.statSync(first).mode & 0o777).toBe(0o600);
    expect(await count('audit_entries')).toBe(5);
    expect(await count('audit_archived')).toBe(base + 30);

    const verified = await verifyAuditLog(t.deps, { verifierKey: key.verifierKey });
    expect(verified.problems).toEqual([]);
    expect(verified.entries).toBe(base + 35);
    expect((await checkArchiveFile(t.deps, first, key.verifierKey)).problems).toEqual([]);
    expect(await offline(first)).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^OK: .* intact up to entry ${base + 30} .*signed up to entry ${base + 30}`)) });

    // Proofs still reach archived entries, by their kept hashes.
    const proof = await proveInclusion(t.deps, cliContext('operator'), 3);
    expect(verifyInclusion(2, proof.treeSize, leafHash(Buffer.from(proof.entryHash, 'hex')), proof.proof.map((h) => Buffer.from(h, 'hex')), Buffer.from(proof.rootHash, 'hex'))).toBe(true);
  });

  it('archives again from where the last archive ended, and the export of what is left starts there', async () => {
    const aged = { ...t.deps, clock: at(() => (old += 60_000)) };
    await appendAudit(aged, Array.from({ length: 8 }, (_, k) => auditEntry(200 + k)));
    await sealCheckpoint(t.deps, key);
    const before = await size();
    const second = path.join(t.dataDir, 'archive-2.jsonl');
    const result = await archive(second, '2026-06-01T00:00:00Z');
    expect(result!.throughSeq).toBe(before);
    expect(result!.fromSeq).toBeGreaterThan(1);
    expect((await checkArchiveFile(t.deps, second, key.verifierKey)).problems).toEqual([]);
    expect((await offline(second)).code).toBe(0);
    expect((await verifyAuditLog(t.deps, { verifierKey: key.verifierKey })).problems).toEqual([]);

    await appendAudit(t.deps, [auditEntry(300)]);
    await sealCheckpoint(t.deps, key);
    const rest = path.join(t.dataDir, 'rest.jsonl');
    await writeAuditBundle(t.deps, fs.createWriteStream(rest), { origin: key.origin, verifierKey: key.verifierKey });
    const header = JSON.parse(fs.readFileSync(rest, 'utf8').split('\n')[0]!).bundle;
    expect(header.start.seq).toBe(result!.throughSeq);
    expect((await offline(rest)).code).toBe(0);
  });

  it('catches a changed archive file, and still refuses to delete entries no archive covers', async () => {
    const file = path.join(t.dataDir, 'archive-1.jsonl');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const row = lines.findIndex((l) => l.startsWith('{"row"'));
    lines[row] = lines[row]!.replace('"192.0.2.1"', '"192.0.2.10"');
    const changed = path.join(t.dataDir, 'changed.jsonl');
    fs.writeFileSync(changed, lines.join('\n'));
    const kinds = (await checkArchiveFile(t.deps, changed, key.verifierKey)).problems.map((p) => p.kind);
    expect(kinds).toContain('modified');
    expect((await offline(changed)).code).toBe(1);

    const live = Number((await sql<{ seq: number | string }>`select min(seq) as seq from audit_entries`.execute(t.deps.db)).rows[0]!.seq);
    await expect(sql`delete from audit_entries where seq = ${live}`.execute(t.deps.db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_archived`.execute(t.deps.db)).rejects.toThrow(/append-only/);
    await expect(sql`update audit_archives set file_sha256 = 'x'`.execute(t.deps.db)).rejects.toThrow(/append-only/);
  });
});
