import type { RaisedAlert, RulePlan } from '../../detection/model.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { takeResponses } from './containment.service.js';

/**
 * Takes a rule's responses to a newly raised alert, in the caller's transaction when there is one:
 * the automatic ones at once (each recorded in `alert_responses` as done or failed and audited as
 * `response.<kind>` by the system principal `detection`), the suggested ones recorded for a person
 * to execute later. A response that fails is undone alone and recorded as failed; this never
 * throws for one, so a failed response cannot undo the alert that caused it.
 */
export async function respondToAlert(deps: AuthDeps, alert: RaisedAlert, plan: RulePlan): Promise<void> {
  await takeResponses(
    deps,
    {
      id: alert.id,
      rule: alert.rule,
      severity: alert.severity,
      summary: alert.summary,
      actorKind: alert.actorKind,
      actorId: alert.actorId,
      sessionId: alert.sessionId,
      sourceAddress: alert.sourceAddress,
      raisedAt: alert.raisedAt.toISOString(),
    },
    plan,
  );
}
