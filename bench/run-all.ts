/**
 * Rampart's benchmarks: `npm run bench`. They print tables and never fail on a time.
 *
 *   BENCH_CONTACTS=100000 npm run bench    quicker run at a smaller size (default 1,000,000)
 *   BENCH_KEEP=1                           keep the temporary data directory afterwards
 *   BENCH_ONLY=crypto                      only the field-encryption comparison (BENCH_CRYPTO_ROWS rows)
 *   BENCH_ONLY=audit                       the sample data and the audit log's costs only (BENCH_AUDIT_ENTRIES,
 *                                          BENCH_AUDIT_WRITES, BENCH_CHECKPOINT_SECONDS)
 *   BENCH_ONLY=detection                   only the detection engine's throughput (BENCH_DETECTION_EVENTS,
 *                                          BENCH_DETECTION_USERS)
 *   BENCH_ONLY=backup                      the sample data, then backup create, verify and restore (BENCH_BACKUP_PG_URL
 *                                          also restores into a new schema of that PostgreSQL database)
 *   BENCH_SKIP_HTTP=1                      leave out the HTTP throughput runs
 *   BENCH_HTTP_SECONDS, BENCH_HTTP_CONNECTIONS, BENCH_LIST_ROUNDS tune the runs
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, ensureDataDir } from '../src/config/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { loadKeyring } from '../src/data/keys.js';
import { systemClock } from '../src/shared/clock.js';
import { LocalKeyFile } from '../src/crypto/key-file.js';
import { benchCrypto } from './crypto.bench.js';
import { benchDemoLoad } from './demo-load.bench.js';
import { benchHttp } from './http-throughput.bench.js';
import { benchListPage } from './list-page.bench.js';
import { benchPolicy } from './policy.bench.js';
import { benchAudit } from './audit.bench.js';
import { benchBackup } from './backup.bench.js';
import { benchDetection } from './detection.bench.js';
import { envNumber } from './support.js';

const contacts = envNumber('BENCH_CONTACTS', 1_000_000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-'));
const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' } });
if (config.database.dialect !== 'sqlite') throw new Error('the benchmarks run on SQLite');
const file = config.database.file;

process.stdout.write(`Rampart benchmarks: ${contacts.toLocaleString('en-US')} contacts, Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'})\n`);
process.stdout.write(`data in ${dataDir}\n`);
ensureDataDir(config);
const database = openDatabase(config.database);
try {
  const only = process.env.BENCH_ONLY;
  if (!only || only === 'crypto') await benchCrypto(LocalKeyFile.open({ file: path.join(dataDir, 'crypto-bench.key'), create: true }), envNumber('BENCH_CRYPTO_ROWS', 20_000));
  if (!only || only === 'detection') await benchDetection(dataDir);
  if (only !== 'crypto' && only !== 'detection') {
    await migrateToLatest(database);
    const deps = { db: database.db, dialect: database.dialect, clock: systemClock, keyring: await loadKeyring(database.db, config) };
    await benchDemoLoad(deps, file, contacts);
    if (!only) {
      await benchListPage(deps, contacts);
      await benchPolicy(deps, contacts);
      if (!process.env.BENCH_SKIP_HTTP) await benchHttp(deps, dataDir);
    }
    if (only !== 'backup') await benchAudit(deps);
    if (!only || only === 'backup') await benchBackup(dataDir, contacts);
  }
} finally {
  await database.close();
  if (process.env.BENCH_KEEP) process.stdout.write(`kept ${dataDir}\n`);
  else fs.rmSync(dataDir, { recursive: true, force: true });
}
