import type { SelectQueryBuilder } from 'kysely';
import { maskValue, type MaskKind } from '../crypto/masking.js';
import type { Access } from '../policy/access.js';
import { ruleRank, type Action, type Scope } from '../policy/model.js';
import { AppError, type FieldProblem } from '../shared/errors.js';
import { isPersonal, type FieldDef, type RecordType, type RecordTypeDef } from './field-registry.js';

/**
 * The policy as the record store applies it: which rows an action reaches (a SQL condition on
 * owner and team), how a record reads (hidden fields dropped, masked ones masked), and which fields
 * a write may set. The record store calls these on every path; routes and services never do.
 */
type AnySelect = SelectQueryBuilder<any, any, any>;

interface SchemaLike {
  readonly def: RecordTypeDef;
  readonly fields: readonly FieldDef[];
  readonly custom: readonly FieldDef[];
}

/**
 * Limits a query on `<type> as r` to the rows the action's scope reaches. Answers null when the
 * principal has no such action on the type at all.
 */
export function applyScope(qb: AnySelect, access: Access, type: RecordType, action: Action): AnySelect | null {
  const scope = access.scope(type, action);
  if (scope === null) return null;
  if (scope === 'all') return qb;
  const { userId, teamIds } = access.holder;
  return qb.where((eb: any) => {
    const mine = userId === null ? eb.val(false) : eb('r.owner_id', '=', userId);
    if (scope === 'own') return mine;
    const teams = scope === 'team' ? teamIds.slice(0, 1) : teamIds;
    return teams.length === 0 ? mine : eb.or([mine, eb('r.team_id', 'in', teams)]);
  });
}

/** Whether a row (as stored) lies in the action's scope. */
export function rowInScope(access: Access, type: RecordType, action: Action, row: { owner_id?: unknown; team_id?: unknown }): boolean {
  return inScope(access, access.scope(type, action), row);
}

function inScope(access: Access, scope: Scope | null, row: { owner_id?: unknown; team_id?: unknown }): boolean {
  if (scope === null) return false;
  if (scope === 'all') return true;
  const { userId, teamIds } = access.holder;
  if (userId !== null && row.owner_id === userId) return true;
  if (scope === 'own' || typeof row.team_id !== 'string') return false;
  return scope === 'team' ? teamIds[0] === row.team_id : teamIds.includes(row.team_id);
}

/** Refuses an action the principal may not take on this row: `forbidden` for a record it can read. */
export function requireInScope(access: Access, def: RecordTypeDef, action: Action, row: { owner_id?: unknown; team_id?: unknown }): void {
  if (!rowInScope(access, def.type, action, row)) throw new AppError('auth.forbidden', `Your roles do not allow you to ${action} this ${def.singular}`);
}

export function canRead(access: Access, type: RecordType, def: FieldDef): boolean {
  return ruleRank(access.fieldRule(type, def)) >= ruleRank('read');
}

const MASK_KIND: Partial<Record<FieldDef['type'], MaskKind>> = { email: 'email', phone: 'phone', date: 'date', datetime: 'date' };

function maskKind(def: FieldDef): MaskKind | null {
  if (def.blindIndex === 'id-number') return 'id-number';
  if (MASK_KIND[def.type]) return MASK_KIND[def.type]!;
  return def.type === 'text' || def.type === 'longtext' || def.type === 'url' ? 'text' : null;
}

/** A field's value as a principal with a `masked` rule sees it; values that have no mask read as null. */
export function maskedValue(def: FieldDef, value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  const kind = maskKind(def);
  return kind !== null && typeof value === 'string' ? maskValue(kind, value) : null;
}

/**
 * A record as the principal may see it: hidden fields left out, masked ones masked and listed in
 * `maskedFields` so a client knows what a reveal would show. The view is changed in place.
 */
export function shapeView<V extends Record<string, unknown>>(access: Access, schema: SchemaLike, view: V): V {
  if (access.isUnrestricted) return view;
  const plan = shapingPlan(access, schema);
  if (plan.length === 0) return view;
  const masked: string[] = [];
  const custom = view.customFields as Record<string, unknown> | undefined;
  for (const step of plan) {
    const bag = step.custom ? custom : view;
    if (!bag) continue;
    if (step.rule === 'hidden') delete bag[step.def.key];
    else {
      bag[step.def.key] = maskedValue(step.def, bag[step.def.key]);
      masked.push(step.name);
    }
  }
  if (masked.length > 0) (view as Record<string, unknown>).maskedFields = masked;
  return view;
}

interface ShapingStep {
  def: FieldDef;
  rule: 'hidden' | 'masked';
  custom: boolean;
  name: string;
}

const plans = new WeakMap<Access, WeakMap<SchemaLike, ShapingStep[]>>();

/** The fields of a schema that a principal sees hidden or masked, worked out once per schema read (once per list). */
function shapingPlan(access: Access, schema: SchemaLike): ShapingStep[] {
  let byFields = plans.get(access);
  if (!byFields) {
    byFields = new WeakMap();
    plans.set(access, byFields);
  }
  let plan = byFields.get(schema);
  if (!plan) {
    plan = [];
    const type = schema.def.type;
    for (const def of schema.fields) {
      const rule = access.fieldRule(type, def);
      if (rule === 'hidden' || rule === 'masked') plan.push({ def, rule, custom: false, name: def.key });
    }
    for (const def of schema.custom) {
      const rule = access.fieldRule(type, def);
      if (rule === 'hidden' || rule === 'masked') plan.push({ def, rule, custom: true, name: `customFields.${def.key}` });
    }
    byFields.set(schema, plan);
  }
  return plan;
}

/**
 * The fields of a write the principal may not set: every field sent must have the `write` rule.
 * Ownership fields are governed by the assign action instead (see the record store).
 */
export function unwritableFields(access: Access, schema: SchemaLike, input: Record<string, unknown>): FieldProblem[] {
  if (access.isUnrestricted) return [];
  const type = schema.def.type;
  const problems: FieldProblem[] = [];
  const byKey = new Map(schema.fields.map((f) => [f.key, f]));
  for (const key of Object.keys(input)) {
    const def = byKey.get(key);
    if (def && access.fieldRule(type, def) !== 'write') problems.push({ field: key, message: 'is not writable for your roles' });
  }
  const custom = input.customFields;
  if (custom && typeof custom === 'object' && !Array.isArray(custom)) {
    for (const key of Object.keys(custom)) {
      const def = schema.custom.find((f) => f.key === key);
      if (def && access.fieldRule(type, def) !== 'write') problems.push({ field: `customFields.${key}`, message: 'is not writable for your roles' });
    }
  }
  return problems;
}

/** Refuses a filter, sort, group or search on a field the principal cannot read in clear. */
export function requireReadable(access: Access, type: RecordType, def: FieldDef, code: 'request.invalid_filter' | 'request.invalid_sort', what: string): void {
  if (!canRead(access, type, def)) throw new AppError(code, `Cannot ${what} ${def.key}: your roles do not let you read it`);
}

/**
 * How a principal may search a type: fully; on plain fields only (some personal searchable field is
 * masked or hidden to it, so the personal tokens are left out of the query); or not at all (a plain
 * searchable field is hidden, and a prefix match would reveal it).
 */
export function searchReach(access: Access, schema: SchemaLike): 'all' | 'plain' | 'none' {
  const type = schema.def.type;
  let reach: 'all' | 'plain' = 'all';
  for (const def of [...schema.fields, ...schema.custom]) {
    if (!def.searchable || canRead(access, type, def)) continue;
    if (!isPersonal(def)) return 'none';
    reach = 'plain';
  }
  return reach;
}
