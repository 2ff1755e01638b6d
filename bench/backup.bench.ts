import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { count, printTable } from './support.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * (g) `rampart backup create`, `backup verify` and `backup restore` of the demo database, each in
 * a process of its own so that its peak memory (RSS) is its own: time and peak memory against the
 * targets of under 2 minutes and under 500 MB each at 1,000,000 contacts. The restore goes into a
 * new SQLite data directory; with BENCH_BACKUP_PG_URL (a PostgreSQL URL) also into a new schema
 * there. CPU time is the command's own, over all its threads (a large restore makes search terms on
 * a second one), and PostgreSQL's work is not in it; on a busy machine it shows how much of the wall
 * time was waiting for a processor.
 */
export async function benchBackup(dataDir: string, contacts: number): Promise<void> {
  const file = path.join(dataDir, 'bench-backup.rbk');
  const keyFile = path.join(dataDir, 'rampart.key');
  const rows: (string | number)[][] = [];
  const step = async (label: string, args: string[], env: Record<string, string>) => {
    const started = performance.now();
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(here, 'backup.child.ts'), ...args, '--json'], {
      env: { ...withoutRampart(), RAMPART_LOG_LEVEL: 'silent', ...env },
      maxBuffer: 64 << 20,
    });
    const seconds = (performance.now() - started) / 1000;
    const usage = JSON.parse(stderr.trim().split('\n').at(-1)!) as { code: number; maxRssKb: number; cpuSeconds: number };
    if (usage.code !== 0) throw new Error(`${label} failed: ${stderr}`);
    const result = JSON.parse(stdout) as { rows: number; bytes?: number; contentSha256: string; seconds?: number };
    rows.push([label, seconds.toFixed(1), usage.cpuSeconds.toFixed(1), (usage.maxRssKb / 1024).toFixed(0), count(result.rows / seconds)]);
    return result;
  };

  const created = await step('backup create', ['backup', 'create', '--out', file], { RAMPART_DATA_DIR: dataDir });
  await step('backup verify', ['backup', 'verify', file], { RAMPART_DATA_DIR: dataDir });
  const restoreDir = path.join(dataDir, 'restored');
  const restored = await step('backup restore (SQLite)', ['backup', 'restore', file], { RAMPART_DATA_DIR: restoreDir, RAMPART_KEY_FILE: keyFile });
  if (restored.contentSha256 !== created.contentSha256) throw new Error('the restored content differs from the backup');
  fs.rmSync(restoreDir, { recursive: true, force: true });

  const pgUrl = process.env.BENCH_BACKUP_PG_URL;
  if (pgUrl) {
    const schema = `bench_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    try {
      const url = new URL(pgUrl);
      url.searchParams.set('options', `-c search_path=${schema}`);
      await step('backup restore (PostgreSQL)', ['backup', 'restore', file], { RAMPART_DATA_DIR: path.join(dataDir, 'restored-pg'), RAMPART_DATABASE_URL: url.toString(), RAMPART_KEY_FILE: keyFile });
    } finally {
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    }
  }
  const size = fs.statSync(file).size;
  fs.rmSync(file, { force: true });
  printTable(
    `(g) Backups of the ${count(contacts)}-contact demo database (${count(created.rows)} rows in all tables, file ${(size / 1e6).toFixed(0)} MB; target: each under 120 s and 500 MB)`,
    ['step', 'seconds', 'CPU s (this process)', 'peak RSS MB', 'rows/s'],
    rows,
  );
}

function withoutRampart(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('RAMPART_')));
}
