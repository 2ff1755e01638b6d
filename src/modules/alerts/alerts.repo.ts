import type { Executor } from '../../db/database.js';
import type { AlertResponsesTable, AlertSeverity, AlertsTable, AlertStatus } from '../../db/schema.js';

/** All SQL on alerts and the responses taken to them. */
export type AlertRow = AlertsTable;
export type AlertResponseRow = AlertResponsesTable;

export interface AlertRowFilter {
  statuses: readonly AlertStatus[];
  severities: readonly AlertSeverity[];
  rules: readonly string[];
  actorId: string | null;
  /** ISO-8601 bounds on `created_at`: from inclusive, until exclusive. */
  since: string | null;
  until: string | null;
}

/**
 * One page of alerts, newest first, after the keyset position `after`; asks for `limit` rows (the
 * caller asks for one more than it shows, to know whether another page follows).
 */
export async function selectAlertPage(db: Executor, filter: AlertRowFilter, limit: number, after: { createdAt: string; id: string } | null): Promise<AlertRow[]> {
  let qb = db.selectFrom('alerts').selectAll();
  if (filter.statuses.length > 0) qb = qb.where('status', 'in', [...filter.statuses]);
  if (filter.severities.length > 0) qb = qb.where('severity', 'in', [...filter.severities]);
  if (filter.rules.length > 0) qb = qb.where('rule', 'in', [...filter.rules]);
  if (filter.actorId !== null) qb = qb.where('actor_id', '=', filter.actorId);
  if (filter.since !== null) qb = qb.where('created_at', '>=', filter.since);
  if (filter.until !== null) qb = qb.where('created_at', '<', filter.until);
  if (after) {
    const { createdAt, id } = after;
    qb = qb.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]));
  }
  return qb.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

export async function selectAlert(db: Executor, id: string): Promise<AlertRow | undefined> {
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The state, note and handler of an alert, if its stored version is still `version`; answers whether it was. */
export async function updateAlertRow(
  db: Executor,
  id: string,
  version: number,
  changes: Partial<Pick<AlertRow, 'status' | 'note' | 'handled_by' | 'handled_at' | 'incident_id'>> & { updated_at: string },
): Promise<boolean> {
  const result = await db
    .updateTable('alerts')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The responses taken or offered for an alert, in the order they were recorded. */
export async function selectResponses(db: Executor, alertId: string): Promise<AlertResponseRow[]> {
  return db.selectFrom('alert_responses').selectAll().where('alert_id', '=', alertId).orderBy('created_at').orderBy('id').execute();
}
