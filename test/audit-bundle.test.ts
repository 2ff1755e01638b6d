import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointText, generateSigningKey, signNote } from '../src/audit/checkpoint.js';
import { loadAuditSigningKey } from '../src/audit/signing-key-file.js';
import { sealCheckpoint } from '../src/data/audit-log.js';
import { exportAudit } from '../src/modules/audit/audit.service.js';
import { cliContext } from '../src/shared/principal.js';
import { buildVerifier } from '../scripts/build-verifier.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';

const run = promisify(execFile);
const COMMITTED = path.resolve('verifier/rampart-audit-verify.mjs');

describe(`the audit bundle and the standalone verifier (${testDialect})`, { timeout: 60_000 }, () => {
  let t: TestApp;
  let dir: string;
  let verifier: string;
  let key: { origin: string; signerKey: string; verifierKey: string };
  let bundle: string;
  let lines: string[];

  /** Runs the verifier as an auditor would: plain node, a copy of the one file, away from the project. */
  const check = async (file: string, ...args: string[]) => {
    try {
      const { stdout } = await run(process.execPath, [verifier, file, ...args]);
      return { code: 0, stdout };
    } catch (error) {
      const e = error as { code: number; stdout: string };
      return { code: e.code, stdout: e.stdout };
    }
  };
  const variant = (name: string, change: (rows: string[]) => string[]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `${change([...lines]).join('\n')}\n`);
    return file;
  };
  /** The index in `lines` of the row of entry `seq`. */
  const rowOf = (seq: number) => lines.findIndex((l) => l.startsWith('{"row"') && JSON.parse(l).row.entry.seq === seq);

  beforeAll(async () => {
    t = await createTestApp();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-bundle-'));
    verifier = path.join(dir, 'rampart-audit-verify.mjs');
    fs.copyFileSync(COMMITTED, verifier);
    key = loadAuditSigningKey(t.deps.config.audit.keyFile, 'bundle.test/rampart-audit', { create: true });
    const { token } = await t.makeUser({ roles: ['admin'] });
    for (let i = 0; i < 12; i++) await t.call('POST', '/api/v1/contacts', { token, body: { lastName: `Bundled ${i}`, email: `bundled${i}@example.com` } });
    await sealCheckpoint(t.deps, key);
    await t.call('GET', '/api/v1/contacts?limit=20', { token });
    await sealCheckpoint(t.deps, key);
    bundle = path.join(dir, 'audit.jsonl');
    const out = fs.createWriteStream(bundle);
    const written = await exportAudit(t.deps, cliContext('operator'), out, { origin: key.origin, verifierKey: key.verifierKey });
    lines = fs.readFileSync(bundle, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1 + written.checkpoints + written.entries);
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is built from the sources as committed', async () => {
    const fresh = await buildVerifier(path.join(dir, 'build'));
    expect(fs.readFileSync(fresh, 'utf8'), 'verifier/rampart-audit-verify.mjs is stale: run npm run verifier').toBe(fs.readFileSync(COMMITTED, 'utf8'));
    expect(fs.readFileSync(COMMITTED, 'utf8')).not.toMatch(/from ["'](?!node:)/);
  });

  it('verifies an exported log offline, against the key given and the checkpoints kept', async () => {
    const kept = path.join(dir, 'kept.txt');
    const notes = lines.filter((l) => l.startsWith('{"checkpoint"')).map((l) => JSON.parse(l).checkpoint.note as string);
    fs.writeFileSync(kept, notes.map((n) => `${n}\n`).join(''));
    const ok = await check(bundle, '--key', key.verifierKey, '--checkpoint', kept);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^OK: bundle\.test\/rampart-audit: the log is intact up to entry \d+ \(tree head [0-9a-f]{64}\); 4 checkpoint\(s\) hold/);
    const json = JSON.parse((await check(bundle, '--key', key.verifierKey, '--json')).stdout);
    expect(json).toMatchObject({ ok: true, problems: [] });
    expect(json.entries).toBe(JSON.parse(lines[0]!).bundle.head.size);
  });

  it('names what was done to a bundle: a changed, removed, added or moved entry, a cut-off end, a foreign key', async () => {
    const seq = 5;
    const modified = variant('modified.jsonl', (rows) => rows.map((l, i) => (i === rowOf(seq) ? l.replace('"success"', '"denied"') : l)));
    expect(await check(modified, '--key', key.verifierKey)).toMatchObject({ code: 1, stdout: expect.stringMatching(/^BROKEN at entry 5: modified: /) });

    const deleted = variant('deleted.jsonl', (rows) => rows.filter((_, i) => i !== rowOf(seq)));
    expect((await check(deleted, '--key', key.verifierKey)).stdout).toMatch(/^BROKEN at entry 5: deleted: entry 5 is missing/);

    const reordered = variant('reordered.jsonl', (rows) => {
      const a = rowOf(seq);
      const b = rowOf(seq + 1);
      const [first, second] = [JSON.parse(rows[a]!), JSON.parse(rows[b]!)];
      [first.row.entry.seq, second.row.entry.seq] = [second.row.entry.seq, first.row.entry.seq];
      rows[a] = JSON.stringify(second);
      rows[b] = JSON.stringify(first);
      return rows;
    });
    expect((await check(reordered, '--key', key.verifierKey)).stdout).toMatch(/^BROKEN at entry 5: reordered: /);

    const last = JSON.parse(lines.at(-1)!).row;
    const appended = variant('inserted.jsonl', (rows) => [...rows, JSON.stringify({ row: { ...last, entry: { ...last.entry, seq: last.entry.seq + 1 }, prevHash: last.entryHash } })]);
    expect((await check(appended, '--key', key.verifierKey)).stdout).toMatch(new RegExp(`^BROKEN at entry ${last.entry.seq + 1}: inserted: `));

    const truncated = variant('truncated.jsonl', (rows) => {
      const cut = rows.slice(0, rows.length - 3);
      const header = JSON.parse(cut[0]!);
      const end = JSON.parse(cut.at(-1)!).row;
      header.bundle.head = { size: end.entry.seq, hash: end.entryHash };
      cut[0] = JSON.stringify(header);
      return cut;
    });
    expect((await check(truncated, '--key', key.verifierKey)).stdout).toMatch(/^BROKEN: truncated: a checkpoint was signed at size \d+, but the log holds \d+ entries/);

    const stranger = generateSigningKey(key.origin);
    expect((await check(bundle, '--key', stranger.verifierKey)).stdout).toMatch(/^BROKEN: bad signature: /);
    const forgedNote = signNote(checkpointText({ origin: key.origin, size: 3, rootHash: Buffer.alloc(32, 7), time: '2026-11-29T00:00:00Z' }), stranger.signerKey);
    const kept = path.join(dir, 'forged.txt');
    fs.writeFileSync(kept, `${forgedNote}\n`);
    expect((await check(bundle, '--key', key.verifierKey, '--checkpoint', kept)).stdout).toMatch(/bad signature: a checkpoint given is not signed by the audit key/);
  });

  it('vouches for nothing no checkpoint signed: a bundle forged whole, its checkpoints left out, is not verified', async () => {
    const unsigned = variant('unsigned.jsonl', (rows) => rows.filter((l) => !l.startsWith('{"checkpoint"')));
    const result = await check(unsigned, '--key', key.verifierKey);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^NOT VERIFIED: the chain of \d+ entries holds together, but no checkpoint signed by the key covers any of it/);
  });

  it('refuses what is not a bundle, with exit status 2', async () => {
    expect((await check(variant('junk.jsonl', () => ['not json']))).code).toBe(2);
    expect((await check(variant('null.jsonl', (rows) => [rows[0]!, 'null']))).code).toBe(2);
    expect((await check(variant('headless.jsonl', (rows) => rows.slice(1)))).stdout).toMatch(/no header line/);
    expect((await check(bundle, '--key', 'not a key')).code).toBe(2);
  });

  it('streams the bundle from the API to whoever may read the audit log, and records the export', async () => {
    const { token: auditor } = await t.makeUser({ roles: ['auditor'] });
    const response = await t.call('GET', '/api/v1/audit/export', { token: auditor });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const file = path.join(dir, 'from-api.jsonl');
    fs.writeFileSync(file, response.body);
    expect((await check(file, '--key', key.verifierKey)).code).toBe(0);
    const { token: seller } = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('GET', '/api/v1/audit/export', { token: seller })).json().error.code).toBe('auth.forbidden');
    const exports = (await t.call('GET', '/api/v1/audit/entries?action=audit.export,audit.export_completed', { token: auditor })).json().items;
    const size = JSON.parse(response.body.split('\n')[0]!).bundle.head.size;
    // Recorded before the first byte (and so inside the bundle), then once complete with its fingerprint.
    expect(exports.slice(0, 2).map((e: { action: string }) => e.action)).toEqual(['audit.export_completed', 'audit.export']);
    expect(exports[0].details).toMatchObject({ entries: size, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(response.body).toContain('"action":"audit.export"');
  });
});
