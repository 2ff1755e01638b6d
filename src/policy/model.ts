import { CLASSIFICATIONS, RECORD_TYPES, type Classification, type RecordType } from '../data/field-registry.js';
import { isNetworkRange, type NetworkRule } from './networks.js';

/**
 * What a role grants. A role names, per record type, the actions it allows and over which records
 * (its scope), and how each field reads to its holders (field rules); and, apart from records, the
 * system permissions it carries. A user holds one or more roles and gets their union.
 */

/** What may be done to records of a type. */
export const ACTIONS = ['read', 'create', 'update', 'delete', 'restore', 'export', 'import', 'merge', 'assign', 'reveal'] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * Over which records an action applies: those the user owns; also those of the user's team; also
 * those of the teams below it; all. No grant at all means none.
 */
export const SCOPES = ['own', 'team', 'subtree', 'all'] as const;
export type Scope = (typeof SCOPES)[number];

/** How a field reads: not at all, masked, in clear, or in clear and writable. Ordered from least to most. */
export const FIELD_RULES = ['hidden', 'masked', 'read', 'write'] as const;
export type FieldRule = (typeof FIELD_RULES)[number];

/** Rights outside records. */
export const PERMISSIONS = [
  'users.read',
  'users.manage',
  'roles.manage',
  'teams.manage',
  'settings.manage',
  'pipelines.manage',
  'tags.manage',
  'keys.manage',
  'backups.manage',
  'audit.read',
  'alerts.handle',
  'incidents.handle',
  'privacy.handle',
  'approvals.decide',
  'trash.purge',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** A field rule's target: a field key, or every field of a classification (`@sensitive`). */
export type FieldTarget = string;

export interface TypeGrant {
  readonly actions: Partial<Record<Action, Scope>>;
  /** Field rules by field key or `@<classification>`; a field's own rule wins over its class's. */
  readonly fields: Readonly<Record<FieldTarget, FieldRule>>;
}

export interface RoleDefinition {
  readonly records: Partial<Record<RecordType, TypeGrant>>;
  readonly permissions: readonly Permission[];
  /** Where the role counts from: outside these networks its holders act without it. */
  readonly networks?: NetworkRule;
  /** Its holders sign in with a second factor, and set one up at their next sign-in if they have none. */
  readonly mfaRequired?: true;
  /** Shorter session limits for its holders than the configured ones; the strictest role wins. */
  readonly session?: SessionLimits;
  /** Caps on its holders' exports, overriding the configured ones; of the roles granting the export (or, for list pages, the read) of a type, the most generous wins. */
  readonly exports?: ExportLimits;
}

export interface ExportLimits {
  /** The most rows one export may hold. */
  readonly maxRows?: number;
  /** Rows a holder may export (or read through list pages) in a UTC day. */
  readonly dailyRows?: number;
  /** Exports of more rows than this need a second person's approval. */
  readonly approvalAboveRows?: number;
}

export interface SessionLimits {
  readonly idleMinutes?: number;
  readonly absoluteHours?: number;
}

export const READ_ACTIONS: ReadonlySet<Action> = new Set(['read', 'export', 'reveal']);

export function scopeRank(scope: Scope | undefined): number {
  return scope === undefined ? 0 : SCOPES.indexOf(scope) + 1;
}

export function ruleRank(rule: FieldRule): number {
  return FIELD_RULES.indexOf(rule);
}

export function classTarget(classification: Classification): FieldTarget {
  return `@${classification}`;
}

const FIELD_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** A problem with a role definition sent by a caller: where, and what. */
export interface DefinitionProblem {
  readonly field: string;
  readonly message: string;
}

/**
 * Checks a role definition as sent by a caller and returns it in canonical form, or the list of
 * problems. Field rule targets are checked for shape only: a rule on a custom field may be written
 * before the field exists.
 */
export function parseRoleDefinition(raw: unknown): { ok: true; definition: RoleDefinition } | { ok: false; problems: DefinitionProblem[] } {
  const problems: DefinitionProblem[] = [];
  const input = (raw ?? {}) as { records?: unknown; permissions?: unknown; networks?: unknown; mfaRequired?: unknown; session?: unknown; exports?: unknown };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, problems: [{ field: 'definition', message: 'must be an object' }] };
  const records: Partial<Record<RecordType, TypeGrant>> = {};
  const rawRecords = input.records ?? {};
  if (typeof rawRecords !== 'object' || rawRecords === null || Array.isArray(rawRecords)) {
    problems.push({ field: 'records', message: 'must be an object keyed by record type' });
  } else {
    for (const [type, grant] of Object.entries(rawRecords)) {
      if (!(RECORD_TYPES as readonly string[]).includes(type)) {
        problems.push({ field: `records.${type.slice(0, 40)}`, message: 'is not a record type' });
        continue;
      }
      const g = (grant ?? {}) as { actions?: unknown; fields?: unknown };
      const actions: Partial<Record<Action, Scope>> = {};
      for (const [action, scope] of Object.entries((g.actions ?? {}) as Record<string, unknown>)) {
        if (!(ACTIONS as readonly string[]).includes(action)) problems.push({ field: `records.${type}.actions`, message: `has an unknown action; actions are ${ACTIONS.join(', ')}` });
        else if (scope === 'none') continue;
        else if (!(SCOPES as readonly unknown[]).includes(scope)) problems.push({ field: `records.${type}.actions.${action}`, message: `must be one of none, ${SCOPES.join(', ')}` });
        else actions[action as Action] = scope as Scope;
      }
      const fields: Record<FieldTarget, FieldRule> = {};
      for (const [target, rule] of Object.entries((g.fields ?? {}) as Record<string, unknown>)) {
        const validTarget = target.startsWith('@') ? (CLASSIFICATIONS as readonly string[]).includes(target.slice(1)) : FIELD_KEY.test(target);
        if (!validTarget) problems.push({ field: `records.${type}.fields`, message: 'names a target that is neither a field key nor @public, @internal, @personal or @sensitive' });
        else if (!(FIELD_RULES as readonly unknown[]).includes(rule)) problems.push({ field: `records.${type}.fields.${target}`, message: `must be one of ${FIELD_RULES.join(', ')}` });
        else fields[target] = rule as FieldRule;
      }
      records[type as RecordType] = { actions, fields };
    }
  }
  const rawPermissions = input.permissions ?? [];
  const permissions: Permission[] = [];
  if (!Array.isArray(rawPermissions)) problems.push({ field: 'permissions', message: 'must be a list' });
  else {
    for (const p of rawPermissions) {
      if (!(PERMISSIONS as readonly unknown[]).includes(p)) problems.push({ field: 'permissions', message: `holds an unknown permission; permissions are ${PERMISSIONS.join(', ')}` });
      else if (!permissions.includes(p as Permission)) permissions.push(p as Permission);
    }
  }
  let networks: NetworkRule | undefined;
  if (input.networks !== undefined) {
    const n = input.networks as { allow?: unknown; deny?: unknown } | null;
    const list = (value: unknown, field: string): string[] => {
      if (value === undefined) return [];
      if (!Array.isArray(value) || value.length > 100) {
        problems.push({ field, message: 'must be a list of at most 100 address ranges' });
        return [];
      }
      if (!value.every((v) => typeof v === 'string' && isNetworkRange(v))) problems.push({ field, message: 'holds something that is not an address or a CIDR range (10.0.0.0/8, 2001:db8::/32)' });
      return value.filter((v): v is string => typeof v === 'string').map((v) => v.trim());
    };
    if (typeof n !== 'object' || n === null || Array.isArray(n)) problems.push({ field: 'networks', message: 'must be an object with allow and deny lists' });
    else networks = { allow: list(n.allow, 'networks.allow'), deny: list(n.deny, 'networks.deny') };
  }
  if (input.mfaRequired !== undefined && typeof input.mfaRequired !== 'boolean') problems.push({ field: 'mfaRequired', message: 'must be true or false' });
  let session: SessionLimits | undefined;
  if (input.session !== undefined) {
    const s = input.session as { idleMinutes?: unknown; absoluteHours?: unknown } | null;
    const whole = (value: unknown, field: string, max: number): number | undefined => {
      if (value === undefined) return undefined;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) problems.push({ field, message: `must be a whole number from 1 to ${max}` });
      return typeof value === 'number' ? value : undefined;
    };
    if (typeof s !== 'object' || s === null || Array.isArray(s)) problems.push({ field: 'session', message: 'must be an object with idleMinutes and/or absoluteHours' });
    else {
      const idleMinutes = whole(s.idleMinutes, 'session.idleMinutes', 24 * 60);
      const absoluteHours = whole(s.absoluteHours, 'session.absoluteHours', 24 * 30);
      session = { ...(idleMinutes !== undefined ? { idleMinutes } : {}), ...(absoluteHours !== undefined ? { absoluteHours } : {}) };
    }
  }
  let exportLimits: ExportLimits | undefined;
  if (input.exports !== undefined) {
    const e = input.exports as { maxRows?: unknown; dailyRows?: unknown; approvalAboveRows?: unknown } | null;
    const rows = (value: unknown, field: string, min: number): number | undefined => {
      if (value === undefined) return undefined;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 1_000_000_000) problems.push({ field, message: `must be a whole number from ${min} to 1000000000` });
      return typeof value === 'number' ? value : undefined;
    };
    if (typeof e !== 'object' || e === null || Array.isArray(e)) problems.push({ field: 'exports', message: 'must be an object with maxRows, dailyRows and/or approvalAboveRows' });
    else {
      const unknown = Object.keys(e).filter((k) => !['maxRows', 'dailyRows', 'approvalAboveRows'].includes(k));
      if (unknown.length > 0) problems.push({ field: 'exports', message: 'may hold only maxRows, dailyRows and approvalAboveRows' });
      const maxRows = rows(e.maxRows, 'exports.maxRows', 1);
      const dailyRows = rows(e.dailyRows, 'exports.dailyRows', 1);
      const approvalAboveRows = rows(e.approvalAboveRows, 'exports.approvalAboveRows', 0);
      exportLimits = { ...(maxRows !== undefined ? { maxRows } : {}), ...(dailyRows !== undefined ? { dailyRows } : {}), ...(approvalAboveRows !== undefined ? { approvalAboveRows } : {}) };
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  const restricted = networks && (networks.allow.length > 0 || networks.deny.length > 0);
  return {
    ok: true,
    definition: {
      records,
      permissions: permissions.sort(),
      ...(restricted ? { networks } : {}),
      ...(input.mfaRequired === true ? { mfaRequired: true } : {}),
      ...(session && Object.keys(session).length > 0 ? { session } : {}),
      ...(exportLimits && Object.keys(exportLimits).length > 0 ? { exports: exportLimits } : {}),
    },
  };
}
