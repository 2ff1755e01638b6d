import type { Executor } from '../../db/database.js';

/** The display names of users by id, for labelling per-user figures; unknown ids are left out. */
export async function selectUserNames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (let at = 0; at < ids.length; at += 500) {
    const rows = await db.selectFrom('users').select(['id', 'name']).where('id', 'in', ids.slice(at, at + 500)).execute();
    for (const row of rows) names.set(row.id, row.name);
  }
  return names;
}
