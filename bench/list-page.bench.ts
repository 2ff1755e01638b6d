import { sql } from 'kysely';
import type { DataDeps } from '../src/data/record-store.js';
import { encodeCursor } from '../src/data/cursor.js';
import { getRecord, listRecords, type ListQuery } from '../src/data/record-store.js';
import { cliContext } from '../src/shared/principal.js';
import { envNumber, ms, printTable, summarize, type Latencies } from './support.js';

/**
 * (b) One page of 50 contacts through `listRecords` at the loaded size: the first page, pages deep
 * in the list (by cursor), exact lookup by email, and a name search. Target: p95 <= 25 ms for a
 * page, <= 5 ms for an email lookup.
 */
export async function benchListPage(deps: DataDeps, contacts: number): Promise<void> {
  const ctx = cliContext('bench');
  const rounds = envNumber('BENCH_LIST_ROUNDS', 300);

  // Sample positions with plain SQL and their (sealed) values through the data layer: setting up
  // the benchmark, not measuring it.
  const positions = (await sql<{ id: string; created_at: string }>`
    select id, created_at from contacts where deleted_at is null order by random() limit ${rounds}
  `.execute(deps.db)).rows;
  const samples: { id: string; created_at: string; email: string | null; first_name: string | null }[] = [];
  for (const p of positions) {
    const contact = await getRecord(deps, ctx, 'contacts', p.id);
    samples.push({ ...p, email: contact.email as string | null, first_name: contact.firstName as string | null });
  }

  const time = async (queries: ListQuery[]): Promise<Latencies> => {
    for (const query of queries.slice(0, 20)) await listRecords(deps, ctx, 'contacts', query);
    const took: number[] = [];
    for (const query of queries) {
      const started = performance.now();
      await listRecords(deps, ctx, 'contacts', query);
      took.push(performance.now() - started);
    }
    return summarize(took);
  };

  const firstPage = await time(Array.from({ length: rounds }, () => ({ limit: 50 })));

  // Walking on from the first page, as a client paging through does.
  const walked: ListQuery[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < Math.min(rounds, 200); i++) {
    const page = await listRecords(deps, ctx, 'contacts', { limit: 50, ...(cursor ? { cursor } : {}) });
    cursor = page.nextCursor;
    if (!cursor) break;
    walked.push({ limit: 50, cursor });
  }
  const nextPages = await time(walked);
  // Random depths anywhere in the list: the cursor of a sampled row, as deep pages would carry.
  const deepPages = await time(samples.map((s) => ({ limit: 50, cursor: encodeCursor('-createdAt', s.created_at, s.id) })));
  const byEmail = await time(samples.filter((s) => s.email).map((s) => ({ limit: 50, filters: { email: s.email! } })));
  const search = await time(samples.filter((s) => s.first_name).slice(0, 100).map((s) => ({ limit: 50, q: s.first_name! })));

  printTable(
    `(b) listRecords, page of 50 contacts, ${contacts.toLocaleString('en-US')} contacts on SQLite (target: page p95 <= 25 ms, email p95 <= 5 ms)`,
    ['query', 'runs', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
    [
      ['first page', firstPage],
      ['next pages by cursor', nextPages],
      ['random deep pages by cursor', deepPages],
      ['?email= exact lookup', byEmail],
      ['?q= first-name search', search],
    ].map(([name, l]) => [name as string, (l as Latencies).count, ms((l as Latencies).p50), ms((l as Latencies).p95), ms((l as Latencies).p99), ms((l as Latencies).max)]),
  );
}
