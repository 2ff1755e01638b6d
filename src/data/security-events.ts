import type { Executor } from '../db/database.js';
import type { Clock } from '../shared/clock.js';
import { newId } from '../shared/ids.js';

/** What the policy refused on its own account, for the administrators. Never personal data or secrets. */
export interface SecurityEvent {
  readonly kind: 'network_refused';
  readonly userId: string | null;
  readonly sourceAddress: string | null;
  readonly detail: string;
}

export async function recordSecurityEvent(deps: { readonly db: Executor; readonly clock: Clock }, event: SecurityEvent): Promise<void> {
  await deps.db
    .insertInto('security_events')
    .values({ id: newId(), occurred_at: deps.clock.now().toISOString(), kind: event.kind, user_id: event.userId, source_address: event.sourceAddress, detail: event.detail.slice(0, 500) })
    .execute();
}
