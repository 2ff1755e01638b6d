/**
 * One run of the audited-writes benchmark, in its own process on a fresh SQLite database: creates
 * then updates contacts one write (one transaction) at a time, as the API does, then creates them
 * 100 to a transaction, as an import does, and prints the rates as JSON. audit.bench.ts runs it twice: as is, and with the audit trail swapped for one that
 * writes nothing (bench/without-audit), the only difference between the two.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDataDir, loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { loadKeyring } from '../src/data/keys.js';
import { createRecord, createRecords, updateRecord } from '../src/data/record-store.js';
import { systemClock } from '../src/shared/clock.js';
import { cliContext } from '../src/shared/principal.js';

const writes = Number(process.env.BENCH_AUDIT_WRITES ?? 3000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-audit-writes-'));
const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' } });
ensureDataDir(config);
const database = openDatabase(config.database);
try {
  await migrateToLatest(database);
  const deps = { db: database.db, dialect: database.dialect, clock: systemClock, keyring: await loadKeyring(database.db, config) };
  const ctx = cliContext('bench');
  for (let i = 0; i < 200; i++) await createRecord(deps, ctx, 'contacts', { lastName: `Warm ${i}`, email: `warm${i}@example.com` });
  const ids: string[] = [];
  let started = performance.now();
  for (let i = 0; i < writes; i++) ids.push((await createRecord(deps, ctx, 'contacts', { firstName: 'Bench', lastName: `Writer ${i}`, email: `writer${i}@example.com`, phone: `+86 138 0013 ${String(i).padStart(4, '0')}` })).id);
  const creates = writes / ((performance.now() - started) / 1000);
  started = performance.now();
  for (const id of ids) await updateRecord(deps, ctx, 'contacts', id, 1, { email: `changed.${id.slice(-6)}@example.com`, jobTitle: 'Buyer' });
  const updates = writes / ((performance.now() - started) / 1000);
  started = performance.now();
  for (let at = 0; at < writes; at += 100) {
    await createRecords(deps, ctx, 'contacts', Array.from({ length: 100 }, (_, k) => ({ firstName: 'Bench', lastName: `Batch ${at + k}`, email: `batch${at + k}@example.com` })), [], { purpose: 'import' });
  }
  const batched = writes / ((performance.now() - started) / 1000);
  const entries = Number((await database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
  process.stdout.write(`${JSON.stringify({ creates, updates, batched, entries })}\n`);
} finally {
  await database.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
