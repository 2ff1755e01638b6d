import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataDeps } from '../src/data/record-store.js';
import { createToken } from '../src/modules/tokens/tokens.service.js';
import { insertUser } from '../src/modules/users/users.service.js';
import { cliContext } from '../src/shared/principal.js';
import { count, envNumber, ms, printTable, summarize } from './support.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * (c) HTTP throughput of `GET /api/v1/contacts?limit=50`: Rampart (bearer token, full stack)
 * beside a bare Fastify + better-sqlite3 + node:crypto server answering the same page, decrypted
 * the same way, from the same database, one after the other in one run, with their ratio (target:
 * at least 70%). Load comes from keep-alive connections in this process; each server runs in a
 * process of its own.
 */
export async function benchHttp(deps: DataDeps, dataDir: string): Promise<void> {
  const user = await insertUser(deps, cliContext('bench'), { email: `bench.${Date.now()}@example.com`, name: 'Bench', password: null, roles: ['admin'] });
  const { token } = await createToken(deps, cliContext('bench'), { userId: user.id, name: 'bench', scopes: ['contacts:read'] });

  const seconds = envNumber('BENCH_HTTP_SECONDS', 10);
  const connections = envNumber('BENCH_HTTP_CONNECTIONS', 16);
  const real = await loadServer('real', dataDir, { authorization: `Bearer ${token}` }, seconds, connections);
  const bare = await loadServer('bare', dataDir, {}, seconds, connections);

  printTable(
    `(c) GET /api/v1/contacts?limit=50 over loopback, ${connections} connections, ${seconds} s each`,
    ['server', 'requests', 'req/s', 'p50 ms', 'p95 ms', 'errors'],
    [
      ['Rampart (token, full stack)', count(real.requests), count(real.rate), ms(real.p50), ms(real.p95), real.errors],
      ['bare Fastify + better-sqlite3 + node:crypto', count(bare.requests), count(bare.rate), ms(bare.p50), ms(bare.p95), bare.errors],
    ],
  );
  process.stdout.write(`Rampart / bare throughput: ${((real.rate / bare.rate) * 100).toFixed(0)}% (target: at least 70%)\n`);
}

interface LoadResult {
  requests: number;
  rate: number;
  p50: number;
  p95: number;
  errors: number;
}

async function loadServer(kind: 'real' | 'bare', location: string, headers: Record<string, string>, seconds: number, connections: number): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'http-servers.ts'), kind, location], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await readyPort(child);
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    const get = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const request = http.get({ host: '127.0.0.1', port, path: '/api/v1/contacts?limit=50', headers, agent }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
          response.on('error', reject);
        });
        request.on('error', reject);
      });

    const status = await get();
    if (status !== 200) throw new Error(`${kind} server answered ${status}`);
    const run = async (durationMs: number): Promise<{ took: number[]; errors: number; elapsed: number }> => {
      const took: number[] = [];
      let errors = 0;
      const started = performance.now();
      const deadline = started + durationMs;
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < deadline) {
            const t0 = performance.now();
            const code = await get().catch(() => 0);
            if (code === 200) took.push(performance.now() - t0);
            else errors += 1;
          }
        }),
      );
      return { took, errors, elapsed: performance.now() - started };
    };
    await run(Math.min(2000, seconds * 200));
    const { took, errors, elapsed } = await run(seconds * 1000);
    agent.destroy();
    const latencies = summarize(took);
    return { requests: took.length, rate: (took.length / elapsed) * 1000, p50: latencies.p50, p95: latencies.p95, errors };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

function readyPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the benchmark server did not start')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /READY (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`the benchmark server exited with status ${code}`)));
  });
}
