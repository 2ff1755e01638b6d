import type { FieldDef, RecordType } from '../data/field-registry.js';
import { classTarget, FIELD_RULES, READ_ACTIONS, ruleRank, scopeRank, SCOPES, type Action, type ExportLimits, type FieldRule, type Permission, type RoleDefinition, type Scope } from './model.js';

/**
 * What one principal may do, compiled for one request from the roles it holds: the union of the
 * roles' grants, cut down by an API token's scopes. The data layer asks it three questions: over
 * which records an action applies (`scope`), how a field reads (`fieldRule`), and whether a system
 * permission is held (`may`). Nothing else decides access.
 */
export interface AccessHolder {
  /** The user the principal acts for, or null for the operator and system jobs. */
  readonly userId: string | null;
  /** The user's team, and the teams below it (the user's own team first). */
  readonly teamIds: readonly string[];
}

/** A token's scopes: `contacts:read`, `*:write` (write implies read). */
export type TokenScopes = readonly string[];

export class Access {
  private readonly ruleCache = new Map<FieldDef, FieldRule>();

  private constructor(
    readonly holder: AccessHolder,
    private readonly roles: readonly RoleDefinition[],
    private readonly unrestricted: boolean,
    private readonly tokenScopes: TokenScopes | null,
    /** Every role the principal holds was left out because the request came from outside its networks. */
    readonly refusedByNetwork: boolean,
  ) {}

  /** Access through roles: a signed-in user, or an API token narrowed by its scopes. */
  static ofRoles(holder: AccessHolder, roles: readonly RoleDefinition[], tokenScopes: TokenScopes | null = null, refusedByNetwork = false): Access {
    return new Access(holder, roles, false, tokenScopes, refusedByNetwork);
  }

  /**
   * Access of whoever runs the server: the operator at its command line, who holds the database
   * and the key file already, and the server's own jobs. Every action on every record, every field.
   */
  static unrestricted(holder: AccessHolder = { userId: null, teamIds: [] }): Access {
    return new Access(holder, [], true, null, false);
  }

  get isUnrestricted(): boolean {
    return this.unrestricted;
  }

  /** The widest scope any of the roles gives for the action, or null for none. */
  scope(type: RecordType, action: Action): Scope | null {
    if (this.unrestricted) return 'all';
    if (this.tokenScopes && !tokenAllows(this.tokenScopes, type, READ_ACTIONS.has(action) ? 'read' : 'write')) return null;
    let best = 0;
    for (const role of this.roles) best = Math.max(best, scopeRank(role.records[type]?.actions[action]));
    return best === 0 ? null : SCOPES[best - 1]!;
  }

  /**
   * How a field reads: the most open rule among the roles that grant anything on the record type.
   * Within a role, a rule on the field itself wins over one on its classification; a field no rule
   * names is writable.
   */
  fieldRule(type: RecordType, def: FieldDef): FieldRule {
    if (this.unrestricted) return 'write';
    // Field declarations are objects of one record type each, so the object is the key.
    const cached = this.ruleCache.get(def);
    if (cached) return cached;
    let best = -1;
    for (const role of this.roles) {
      const grant = role.records[type];
      if (!grant || Object.keys(grant.actions).length === 0) continue;
      const rule = grant.fields[def.key] ?? grant.fields[classTarget(def.classification)] ?? 'write';
      best = Math.max(best, ruleRank(rule));
    }
    const rule = best < 0 ? 'hidden' : FIELD_RULES[best]!;
    this.ruleCache.set(def, rule);
    return rule;
  }

  /**
   * The export caps set by the roles that grant `action` on the type (an empty object for such a
   * role that sets none), for the caller to fill from the configured defaults and take the most
   * generous; null for unrestricted access. A role that does not grant the action on the type has
   * no say, so holding it cannot loosen a stricter role's caps.
   */
  exportLimits(type: RecordType, action: 'export' | 'read'): readonly ExportLimits[] | null {
    if (this.unrestricted) return null;
    return this.roles.filter((role) => scopeRank(role.records[type]?.actions[action]) > 0).map((role) => role.exports ?? {});
  }

  may(permission: Permission): boolean {
    if (this.unrestricted) return true;
    if (this.tokenScopes && !tokenAllows(this.tokenScopes, ...PERMISSION_SCOPE[permission])) return false;
    return this.roles.some((role) => role.permissions.includes(permission));
  }
}

/** The token scope a system permission needs as well: a token with `users:read` cannot manage users. */
const PERMISSION_SCOPE: Record<Permission, [string, 'read' | 'write']> = {
  'users.read': ['users', 'read'],
  'users.manage': ['users', 'write'],
  'roles.manage': ['roles', 'write'],
  'teams.manage': ['teams', 'write'],
  'settings.manage': ['custom-fields', 'write'],
  'pipelines.manage': ['pipelines', 'write'],
  'tags.manage': ['tags', 'write'],
  'keys.manage': ['keys', 'write'],
  'backups.manage': ['backups', 'write'],
  'audit.read': ['audit', 'read'],
  'alerts.handle': ['alerts', 'write'],
  'incidents.handle': ['incidents', 'write'],
  'privacy.handle': ['privacy-requests', 'write'],
  'approvals.decide': ['approvals', 'write'],
  'trash.purge': ['trash', 'write'],
};

export function tokenAllows(scopes: TokenScopes, resource: string, access: 'read' | 'write'): boolean {
  return scopes.some((s) => {
    const [res, level] = s.split(':');
    return (res === '*' || res === resource) && (level === access || (level === 'write' && access === 'read'));
  });
}
