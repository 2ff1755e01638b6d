import { accessOf } from '../../data/access.js';
import { loadCustomFieldDefs } from '../../data/custom-field-defs.js';
import { RECORD_TYPES, SYSTEM_FIELDS, type FieldDef, type RecordType } from '../../data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';
import type { DataDeps } from '../../data/record-store.js';
import { STEP_UP_WINDOW_MS } from '../../data/step-up.js';
import { currentLockdown } from '../detection/containment.service.js';
import { ACTIONS, PERMISSIONS, type Action, type FieldRule, type Permission, type Scope } from '../../policy/model.js';
import type { ActorContext } from '../../shared/principal.js';

export interface RecordAccess {
  /** Per action, the records it reaches; actions that reach none are left out. */
  actions: Partial<Record<Action, Scope>>;
  /** Per field key (custom fields as customFields.<key>), how the field reads for this principal. */
  fields: Record<string, FieldRule>;
}

export interface AccessView {
  permissions: Permission[];
  records: Partial<Record<RecordType, RecordAccess>>;
  /** Until when the last second-factor check counts for a step-up; null when it does not now. */
  stepUpUntil: string | null;
  /** Whether the organisation is in lockdown (read-only but for those who handle alerts, no exports). */
  lockdown: boolean;
}

/**
 * What the principal may do right now, from the same Access the data layer enforces (network
 * rules included): for screens to offer only what will be allowed. It decides nothing: every
 * request is checked again where it lands.
 */
export async function describeAccess(deps: DataDeps, ctx: ActorContext): Promise<AccessView> {
  const access = await accessOf(deps, ctx);
  const records: AccessView['records'] = {};
  for (const type of RECORD_TYPES) {
    const actions: RecordAccess['actions'] = {};
    for (const action of ACTIONS) {
      const scope = access.scope(type, action);
      if (scope) actions[action] = scope;
    }
    if (Object.keys(actions).length === 0) continue;
    // A field is writable only where a write reaches: a role (or token) that can neither create
    // nor update the type reads its writable fields.
    const writes = Boolean(actions.create || actions.update);
    const rule = (def: FieldDef): FieldRule => {
      const given = access.fieldRule(type, def);
      return given === 'write' && !writes ? 'read' : given;
    };
    const fields: Record<string, FieldRule> = {};
    for (const def of RECORD_TYPE_DEFS[type].fields) if (!SYSTEM_FIELDS.includes(def)) fields[def.key] = rule(def);
    for (const def of await loadCustomFieldDefs(deps.db, type)) fields[`customFields.${def.key}`] = rule(def);
    records[type] = { actions, fields };
  }
  return { permissions: PERMISSIONS.filter((p) => access.may(p)), records, stepUpUntil: await stepUpUntil(deps, ctx), lockdown: (await currentLockdown(deps)) !== null };
}

async function stepUpUntil(deps: DataDeps, ctx: ActorContext): Promise<string | null> {
  if (ctx.principal.kind !== 'user') return null;
  const row = await deps.db.selectFrom('sessions').select('mfa_at').where('id_hash', '=', ctx.principal.sessionId).executeTakeFirst();
  if (!row?.mfa_at) return null;
  const until = new Date(row.mfa_at).getTime() + STEP_UP_WINDOW_MS;
  return until > deps.clock.now().getTime() ? new Date(until).toISOString() : null;
}
