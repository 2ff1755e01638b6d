import { Type, type TSchema } from 'typebox';
import { ALERT_SEVERITIES, RESPONSE_KINDS } from '../../detection/model.js';
import { RULE_KEYS } from '../../detection/rules.js';
import { ALERT_STATUSES, MAX_ALERT_PAGE } from './alerts.service.js';

const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const AlertSeveritySchema = Type.String({ enum: [...ALERT_SEVERITIES], description: 'low, medium, high or critical.' });
export const AlertStatusSchema = Type.String({ enum: [...ALERT_STATUSES], description: 'open, acknowledged, resolved or false_positive.' });
export const ResponseKindSchema = Type.String({ enum: [...RESPONSE_KINDS], description: 'notify, step_up, end_sessions, lock_account, block_address or lockdown.' });

const alertProperties = {
  id: Type.String({ description: 'Alert id.' }),
  rule: Type.String({ enum: [...RULE_KEYS], description: 'The key of the rule that raised it, such as auth.brute_force.' }),
  severity: AlertSeveritySchema,
  status: AlertStatusSchema,
  summary: Type.String({ description: 'What happened, in figures and ids; never names or email addresses.' }),
  actorKind: Nullable(Type.String(), 'user, token, anonymous…, as in the audit log; null when the alert is about an address only.'),
  actorId: Nullable(Type.String(), 'The user acting or attacked, when there is one.'),
  sourceAddress: Nullable(Type.String(), 'The address the evidence came from, when there is one.'),
  eventCount: Type.Integer({ description: 'How many times the rule fired on the same subject while the alert was open: repeats fold into it.' }),
  firstSeenAt: Type.String({ description: 'The time of the first evidence.' }),
  lastSeenAt: Type.String({ description: 'The time of the latest evidence.' }),
  createdAt: Type.String({ description: 'When the alert was raised.' }),
  updatedAt: Type.String({ description: 'When the alert last changed.' }),
  handledBy: Nullable(Type.String(), 'Who last changed its status: a user id, or cli:<operator> for the command line.'),
  handledAt: Nullable(Type.String(), 'When its status was last changed by a person.'),
  note: Nullable(Type.String(), 'What the handler wrote.'),
  incidentId: Nullable(Type.String(), 'The incident it is linked to: a free reference.'),
  version: Type.Integer({ description: 'Optimistic-concurrency version; send it back with a change.' }),
};

/** An alert as lists show it. */
export const AlertSchema = Type.Object(alertProperties, { $id: 'Alert', additionalProperties: false });

const Count = (description: string) => Type.Optional(Type.Integer({ minimum: 0, description }));
const Flag = (description: string) => Type.Optional(Type.Boolean({ description }));

/** What a response did, in counts and plain facts; the hashes and ids it keeps to be undone stay on the server. */
export const ResponseDetailsSchema = Type.Object(
  {
    error: Type.Optional(Type.String({ description: 'The error code, when it failed.' })),
    mode: Type.Optional(Type.String({ enum: ['ended', 'second_factor'], description: 'step_up: second_factor (the sessions must prove a second factor again) or ended (the user has none, so they were ended).' })),
    sessions: Count('Sessions ended, or sent back to the second factor.'),
    tokens: Count('API tokens revoked.'),
    alreadyLocked: Flag('lock_account: the account was locked already.'),
    until: Type.Optional(Type.String({ description: 'block_address: when the block ends by itself.' })),
    alreadyInForce: Flag('lockdown: a lockdown was in force already.'),
    handlers: Count('notify: how many people who handle alerts were told.'),
    channels: Type.Optional(Type.Array(Type.String({ enum: ['email', 'webhook', 'syslog'] }), { description: 'notify: the channels besides the app.' })),
    reversal: Type.Optional(
      Type.Object(
        {
          sessionsRestored: Count('Sessions returned from the second factor.'),
          tokensRestored: Count('Revoked API tokens given back.'),
          unlocked: Flag('The account was unlocked.'),
          blockLifted: Flag('The address block was lifted.'),
          lockdownLifted: Flag('The lockdown was lifted.'),
        },
        { additionalProperties: false, description: 'What undoing it did.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'What it did: sessions ended, tokens revoked, until when an address is blocked, why it failed.' },
);

export const AlertResponseSchema = Type.Object(
  {
    id: Type.String({ description: 'Response id.' }),
    kind: ResponseKindSchema,
    target: Nullable(Type.String(), 'What it acts on: a user id or an address; null for organisation-wide ones.'),
    state: Type.String({ enum: ['done', 'suggested', 'failed', 'reversed'], description: 'done: taken; suggested: offered, for a person to execute; failed: tried and failed; reversed: undone.' }),
    details: ResponseDetailsSchema,
    createdAt: Type.String({ description: 'When it was recorded.' }),
    executedAt: Nullable(Type.String(), 'When it was taken.'),
    reversedAt: Nullable(Type.String(), 'When it was undone.'),
    reversedBy: Nullable(Type.String(), 'Who undid it.'),
  },
  { $id: 'AlertResponse', additionalProperties: false },
);

/** One alert with what the engine saw and what was done about it. */
export const AlertDetailSchema = Type.Object(
  {
    ...alertProperties,
    evidence: Type.Object(
      {
        auditSeqs: Type.Array(Type.Integer(), { description: 'Numbers of the audit entries that made the rule fire (capped); search the audit log for them.' }),
        requestEventIds: Type.Array(Type.String(), { description: 'Ids of the refused or hostile requests that made it fire (capped).' }),
        figures: Type.Record(Type.String(), Type.Unknown(), { description: 'The rule\'s figures: counts, thresholds, baselines.' }),
      },
      { additionalProperties: false },
    ),
    responses: Type.Array(AlertResponseSchema, { description: 'Responses taken or offered, oldest first.' }),
  },
  { $id: 'AlertDetail', additionalProperties: false },
);

export const AlertPageSchema = Type.Object(
  {
    items: Type.Array(AlertSchema),
    nextCursor: Nullable(Type.String(), 'Pass as cursor for the next page; null on the last page.'),
  },
  { additionalProperties: false },
);

const ListText = (description: string, maxLength = 500) => Type.Optional(Type.String({ maxLength, description }));

export const AlertListQuery = Type.Object(
  {
    status: ListText('Statuses, comma-separated (open, acknowledged, resolved, false_positive).'),
    severity: ListText('Severities, comma-separated (low, medium, high, critical).'),
    rule: ListText('Rule keys, comma-separated.', 2000),
    actorId: ListText('Only alerts about this user (or actor id).', 200),
    since: ListText('Raised at or after: a date or ISO-8601 time.', 40),
    until: ListText('Raised before: a date or ISO-8601 time.', 40),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `Page size, 1 to ${MAX_ALERT_PAGE} (default 50).` })),
    cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'The nextCursor of the previous page.' })),
  },
  { additionalProperties: false },
);

export const AlertParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'Alert id.' }) }, { additionalProperties: false });
export const AlertResponseParams = Type.Object(
  { id: Type.String({ maxLength: 64, description: 'Alert id.' }), responseId: Type.String({ maxLength: 64, description: 'Response id.' }) },
  { additionalProperties: false },
);

export const TransitionBody = Type.Object(
  {
    version: Type.Integer({ minimum: 1, description: 'The version you read; a stale version answers 409 record.version_conflict.' }),
    note: Type.Optional(Nullable(Type.String({ maxLength: 1000 }), 'Replaces the alert\'s note; null clears it.')),
  },
  { additionalProperties: false },
);

export const IncidentBody = Type.Object(
  {
    incidentId: Nullable(Type.String({ maxLength: 100 }), 'The incident to link the alert to (a free reference, up to 100 characters), or null to unlink.'),
    version: Type.Optional(Type.Integer({ minimum: 1, description: 'The version you read; when given, a stale one answers 409.' })),
  },
  { additionalProperties: false },
);
