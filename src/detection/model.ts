import type { AlertSeverity, ResponseKind } from '../db/schema.js';

export type { AlertSeverity, ResponseKind };

export const ALERT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const satisfies readonly AlertSeverity[];

/**
 * What a response does: tell the people who handle alerts; make the actor's sessions prove a second
 * factor again; end the actor's sessions and revoke their tokens; lock the account; block the source
 * address for a while; put the whole organisation in read-only lockdown.
 */
export const RESPONSE_KINDS = ['notify', 'step_up', 'end_sessions', 'lock_account', 'block_address', 'lockdown'] as const satisfies readonly ResponseKind[];

/** An alert as the engine raised it, handed to the responder in the transaction that stored it. */
export interface RaisedAlert {
  readonly id: string;
  readonly rule: string;
  readonly severity: AlertSeverity;
  readonly summary: string;
  /** `user`, `token`, `anonymous`… as in the audit log. */
  readonly actorKind: string | null;
  /** The user acted as or attacked, when there is one. */
  readonly actorId: string | null;
  /** A session id or token id the evidence came through, when there is one. */
  readonly sessionId: string | null;
  readonly sourceAddress: string | null;
  /** When the engine raised it (the clock of the events it read). */
  readonly raisedAt: Date;
}

/** What a rule does once it fires: responses taken at once, and those only offered to a person. */
export interface RulePlan {
  readonly automatic: readonly ResponseKind[];
  readonly suggested: readonly ResponseKind[];
}
