import { Type, type TSchema } from 'typebox';
import { ALERT_SEVERITIES, RESPONSE_KINDS } from '../../detection/model.js';

const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const BlockSchema = Type.Object(
  {
    id: Type.String({ description: 'Block id.' }),
    address: Type.String({ description: 'The blocked IPv4 or IPv6 address.' }),
    reason: Type.String({ description: 'Why: the alert and rule, or what the person who blocked it wrote.' }),
    alertId: Nullable(Type.String(), 'The alert whose response made the block, if one did.'),
    createdBy: Type.String({ description: 'Who blocked it: a user id, cli:<operator> or system:detection.' }),
    createdAt: Type.String({ description: 'When it was blocked.' }),
    until: Type.String({ description: 'When the block ends by itself.' }),
    liftedAt: Nullable(Type.String(), 'When it was lifted early.'),
    liftedBy: Nullable(Type.String(), 'Who lifted it.'),
  },
  { $id: 'AddressBlock', additionalProperties: false },
);

export const BlockList = Type.Object({ items: Type.Array(BlockSchema), nextCursor: Type.Null() }, { additionalProperties: false });

export const BlockListQuery = Type.Object(
  { all: Type.Optional(Type.String({ enum: ['true', 'false'], description: 'true: the latest 500 blocks in any state, not only those in force.' })) },
  { additionalProperties: false },
);

export const BlockBody = Type.Object(
  {
    address: Type.String({ maxLength: 60, description: 'An IPv4 or IPv6 address.' }),
    minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 366 * 24 * 60, description: 'How long the block lasts (default 60 minutes, at most a year).' })),
    reason: Type.String({ maxLength: 500, description: 'Why, 1 to 500 characters.' }),
  },
  { additionalProperties: false },
);

export const BlockParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'Block id.' }) }, { additionalProperties: false });

export const LockdownSchema = Type.Object(
  {
    id: Type.String({ description: 'Lockdown id.' }),
    reason: Type.String({ description: 'Why it was started.' }),
    alertId: Nullable(Type.String(), 'The alert whose response started it, if one did.'),
    startedBy: Type.String({ description: 'Who started it: a user id, cli:<operator> or system:detection.' }),
    startedAt: Type.String({ description: 'When it started.' }),
  },
  { $id: 'Lockdown', additionalProperties: false },
);

export const LockdownState = Type.Object(
  { lockdown: Nullable(LockdownSchema, 'The lockdown in force, or null when there is none.') },
  { $id: 'LockdownState', additionalProperties: false },
);

export const LockdownBody = Type.Object({ reason: Type.String({ maxLength: 500, description: 'Why, 1 to 500 characters.' }) }, { additionalProperties: false });

export const Lifted = Type.Object({ lifted: Type.Boolean({ description: 'Whether there was a lockdown to lift.' }) }, { additionalProperties: false });

export const LockedAccountSchema = Type.Object(
  {
    userId: Type.String({ description: 'The locked user.' }),
    email: Type.String(),
    name: Type.String(),
    lockedAt: Type.String({ description: 'When it was locked.' }),
    lockedReason: Nullable(Type.String(), 'Why: the alert and rule, or what the person who locked it wrote.'),
  },
  { $id: 'LockedAccount', additionalProperties: false },
);

export const LockedAccountList = Type.Object({ items: Type.Array(LockedAccountSchema), nextCursor: Type.Null() }, { additionalProperties: false });

export const LockedAccountParams = Type.Object({ userId: Type.String({ maxLength: 64, description: 'The locked user\'s id.' }) }, { additionalProperties: false });

export const Unlocked = Type.Object({ unlocked: Type.Boolean({ description: 'Whether the account was locked and is no longer.' }) }, { additionalProperties: false });

const SeveritySchema = Type.String({ enum: [...ALERT_SEVERITIES], description: 'low, medium, high or critical.' });
const ResponseKinds = (description: string) => Type.Array(Type.String({ enum: [...RESPONSE_KINDS] }), { maxItems: RESPONSE_KINDS.length, description });
const Settings = (description: string) => Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 30, description });

const SettingSpecSchema = Type.Object(
  {
    kind: Type.String({ enum: ['integer', 'number', 'boolean', 'choice', 'timeZone', 'weekdays', 'roleCaps'], description: 'integer and number: within min and max; choice: one of values; timeZone: an IANA zone; weekdays: ISO days 1 (Monday) to 7; roleCaps: a whole number per role id, within min and max.' }),
    description: Type.String(),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    values: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

export const RuleSchema = Type.Object(
  {
    key: Type.String({ description: 'The rule\'s stable key, such as auth.brute_force.' }),
    description: Type.String({ description: 'What the rule looks for.' }),
    enabled: Type.Boolean(),
    severity: SeveritySchema,
    settings: Settings('The thresholds as they are now, by name.'),
    automatic: ResponseKinds('Responses taken at once when the rule fires.'),
    suggested: ResponseKinds('Responses offered to a person, to execute from the alert.'),
    version: Type.Integer({ description: '0 while the rule runs on its shipped defaults; send it back with a change.' }),
    updatedAt: Nullable(Type.String(), 'When an administrator last changed the rule.'),
    updatedBy: Nullable(Type.String(), 'Who changed it: a user id, or cli:<operator>.'),
    defaults: Type.Object(
      {
        enabled: Type.Boolean(),
        severity: SeveritySchema,
        settings: Settings('The shipped thresholds.'),
        automatic: ResponseKinds('The shipped automatic responses.'),
        suggested: ResponseKinds('The shipped suggested responses.'),
      },
      { additionalProperties: false, description: 'The rule as it shipped, to go back to.' },
    ),
    schema: Type.Record(Type.String(), SettingSpecSchema, { description: 'What each setting means and its bounds.' }),
  },
  { $id: 'DetectionRule', additionalProperties: false },
);

export const RuleList = Type.Object({ items: Type.Array(RuleSchema), nextCursor: Type.Null() }, { additionalProperties: false });

export const RuleParams = Type.Object({ key: Type.String({ maxLength: 80, description: 'Rule key.' }) }, { additionalProperties: false });

export const RuleBody = Type.Object(
  {
    enabled: Type.Boolean(),
    severity: SeveritySchema,
    settings: Settings('Thresholds by name; those left out take their shipped value. Checked against the rule\'s schema.'),
    automatic: ResponseKinds('Responses to take at once.'),
    suggested: ResponseKinds('Responses to offer to a person.'),
    version: Type.Integer({ minimum: 0, description: 'The version read (0 for a rule never changed); a stale one answers 409.' }),
  },
  { additionalProperties: false },
);

export const DetectionStatusSchema = Type.Object(
  {
    leaseHolder: Nullable(Type.String(), 'The server process running the engine now, or null when none is.'),
    leaseUntil: Nullable(Type.String(), 'Until when its lease runs unless renewed.'),
    auditSeq: Type.Integer({ description: 'The last audit entry the engine has read.' }),
    auditHead: Type.Integer({ description: 'The newest audit entry.' }),
    lagEntries: Type.Integer({ description: 'How many audit entries the engine has yet to read.' }),
    lastRunAt: Nullable(Type.String(), 'When the engine last moved on.'),
    lockdown: Nullable(LockdownSchema, 'The lockdown in force, or null.'),
  },
  { $id: 'DetectionStatus', additionalProperties: false },
);
