import type { DataDeps } from '../src/data/record-store.js';
import { listRecords } from '../src/data/record-store.js';
import { findUserByEmail, insertUser, type UserView } from '../src/modules/users/users.service.js';
import { cliContext, type ActorContext } from '../src/shared/principal.js';
import { envNumber, ms, printTable, summarize, type Latencies } from './support.js';

/**
 * (e) What the policy costs on the 50-contact list page: a seller whose read scope is their team
 * (the sample data's first sales team) against an administrator who reads everything, through
 * `listRecords`, and both against the operator, whom no policy limits. Every call builds a new
 * request context, so each pays what a request pays: its roles and team tree read from the
 * database, the scope as SQL, and each record shaped (the administrator's sensitive values masked
 * too). Rounds alternate so all three see the same machine. Target: the policy adds at most 10%.
 */
export async function benchPolicy(deps: DataDeps, contacts: number): Promise<void> {
  const rounds = envNumber('BENCH_LIST_ROUNDS', 300);
  const seller = await findUserByEmail(deps, 'li.qiang@demo.example.com');
  if (!seller?.teamId) throw new Error('the policy benchmark needs the sample data (a seller in a team)');
  const admin = await insertUser(deps, cliContext('bench'), { email: `policy.bench.${Date.now()}@example.com`, name: 'Policy bench', password: null, roles: ['admin'] });
  const contextOf = (user: UserView): ActorContext => ({
    principal: { kind: 'user', userId: user.id, email: user.email, roles: user.roles, teamId: user.teamId, sessionId: 'bench' },
    channel: 'web',
    requestId: null,
    sourceAddress: null,
    userAgent: null,
  });

  const page = async (user: UserView | null): Promise<number> => {
    const started = performance.now();
    const result = await listRecords(deps, user ? contextOf(user) : cliContext('bench'), 'contacts', { limit: 50 });
    if (result.items.length !== 50) throw new Error('a page came back short');
    return performance.now() - started;
  };
  for (let i = 0; i < 20; i++) {
    await page(null);
    await page(admin);
    await page(seller);
  }
  const took = { operator: [] as number[], admin: [] as number[], seller: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    took.operator.push(await page(null));
    took.admin.push(await page(admin));
    took.seller.push(await page(seller));
  }
  const o = summarize(took.operator);
  const a = summarize(took.admin);
  const s = summarize(took.seller);
  const row = (name: string, l: Latencies) => [name, l.count, ms(l.p50), ms(l.p95), ms(l.p99)];
  printTable(
    `(e) policy cost, page of 50 contacts through listRecords, ${contacts.toLocaleString('en-US')} contacts (target: scoped seller within 10% of the administrator)`,
    ['principal', 'runs', 'p50 ms', 'p95 ms', 'p99 ms'],
    [row('operator, no policy', o), row('administrator (scope: all)', a), row('seller (scope: own team)', s)],
  );
  const ratio = (x: Latencies, y: Latencies) => `p50 ${((x.p50 / y.p50) * 100).toFixed(0)}%, p95 ${((x.p95 / y.p95) * 100).toFixed(0)}%`;
  process.stdout.write(`seller / administrator: ${ratio(s, a)}; seller / no policy: ${ratio(s, o)}; administrator / no policy: ${ratio(a, o)} (target: at most 110%)\n`);
}
