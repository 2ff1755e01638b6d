import type { Executor } from '../db/database.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import type { ActorContext } from '../shared/principal.js';

/** How long a second-factor check counts for the operations that ask for a recent one. */
export const STEP_UP_WINDOW_MS = 5 * 60_000;

/**
 * Refuses, with `auth.step_up_required`, a browser session whose holder has not proved a second
 * factor in the last five minutes: before a reveal, a change of roles or permissions, a new API
 * token, a reset of someone's second factors. An API token is a standing delegation, made from
 * such a session; the command line runs on the server host; neither is asked.
 */
export async function requireStepUp(deps: { readonly db: Executor; readonly clock: Clock }, ctx: ActorContext): Promise<void> {
  if (ctx.principal.kind !== 'user') return;
  const row = await deps.db.selectFrom('sessions').select('mfa_at').where('id_hash', '=', ctx.principal.sessionId).executeTakeFirst();
  if (row?.mfa_at && deps.clock.now().getTime() - new Date(row.mfa_at).getTime() <= STEP_UP_WINDOW_MS) return;
  throw new AppError('auth.step_up_required', 'Confirm it is you with your authenticator app or a recovery code first (POST /api/v1/auth/step-up); set one up if you have none');
}
