import { RECORD_TYPES, type RecordType } from '../data/field-registry.js';
import type { Action, FieldRule, FieldTarget, Permission, RoleDefinition, Scope, TypeGrant } from './model.js';

/**
 * The roles Rampart ships, least privilege first: each sees the records its work needs and no more.
 * `sensitive` values (ID numbers and the like, PIPL Art. 28) read masked to everyone but the privacy
 * officer; the roles that serve customers may reveal one, with a reason, and the reveal is recorded.
 * The administrator runs the system, not the customer relationship: it cannot reveal.
 * The roles with the widest reach (administrator, manager, auditor, privacy officer, security
 * officer) require a second factor; each site may require it of the others too.
 */
export interface ShippedRole {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly definition: RoleDefinition;
}

const WORK: readonly Action[] = ['read', 'create', 'update', 'delete', 'restore', 'merge', 'assign'];

function grant(actions: Partial<Record<Action, Scope>>, fields: Record<FieldTarget, FieldRule> = {}): TypeGrant {
  return { actions, fields };
}

function each(types: readonly RecordType[], make: (type: RecordType) => TypeGrant): Partial<Record<RecordType, TypeGrant>> {
  return Object.fromEntries(types.map((t) => [t, make(t)]));
}

function actions(list: readonly Action[], scope: Scope): Partial<Record<Action, Scope>> {
  return Object.fromEntries(list.map((a) => [a, scope]));
}

const SENSITIVE_MASKED = { '@sensitive': 'masked' } as const;

export const SHIPPED_ROLES: readonly ShippedRole[] = [
  {
    id: 'admin',
    name: 'Administrator',
    description: 'Runs the system: users, roles, teams, settings, keys, backups. Sees every record, but sensitive values only masked, and cannot reveal them.',
    definition: {
      records: each(RECORD_TYPES, () => grant(actions([...WORK, 'export', 'import'], 'all'), SENSITIVE_MASKED)),
      permissions: ['alerts.handle', 'approvals.decide', 'backups.manage', 'incidents.handle', 'keys.manage', 'pipelines.manage', 'roles.manage', 'settings.manage', 'tags.manage', 'teams.manage', 'trash.purge', 'users.manage', 'users.read'],
      mfaRequired: true,
    },
  },
  {
    id: 'manager',
    name: 'Manager',
    description: "Leads a team: the records of the team and the teams below it, with export and import; reveals sensitive values with a reason.",
    definition: {
      records: each(RECORD_TYPES, () => grant(actions([...WORK, 'export', 'import', 'reveal'], 'subtree'), SENSITIVE_MASKED)),
      permissions: ['pipelines.manage', 'tags.manage', 'users.read'],
      mfaRequired: true,
    },
  },
  {
    id: 'sales',
    name: 'Sales',
    description: "Works leads, contacts, companies and deals: reads the team's, changes its own; reads the team's tickets.",
    definition: {
      records: {
        ...each(['companies', 'contacts', 'leads', 'deals', 'activities'], () => grant({ read: 'team', create: 'own', update: 'own', delete: 'own', restore: 'own', merge: 'own', reveal: 'own' }, SENSITIVE_MASKED)),
        tickets: grant({ read: 'team' }, SENSITIVE_MASKED),
      },
      permissions: [],
    },
  },
  {
    id: 'support',
    name: 'Support',
    description: "Works customer service tickets for the team; reads every customer to find who is calling, and reveals a sensitive value to confirm an identity.",
    definition: {
      records: {
        tickets: grant({ read: 'team', create: 'own', update: 'team', delete: 'own', restore: 'own', assign: 'team', reveal: 'team' }, SENSITIVE_MASKED),
        activities: grant({ read: 'team', create: 'own', update: 'own', delete: 'own', restore: 'own' }, SENSITIVE_MASKED),
        contacts: grant({ read: 'all', update: 'team', reveal: 'all' }, SENSITIVE_MASKED),
        companies: grant({ read: 'all' }, SENSITIVE_MASKED),
      },
      permissions: [],
    },
  },
  {
    id: 'marketing',
    name: 'Marketing',
    description: 'Works campaigns and leads: every lead, with import and export; reads contacts and companies; never sees sensitive values.',
    definition: {
      records: {
        leads: grant({ ...actions(WORK, 'all'), export: 'all', import: 'all' }, { '@sensitive': 'hidden' }),
        contacts: grant({ read: 'all', export: 'all' }, { '@sensitive': 'hidden' }),
        companies: grant({ read: 'all', export: 'all' }, { '@sensitive': 'hidden' }),
      },
      permissions: [],
    },
  },
  {
    id: 'auditor',
    name: 'Auditor',
    description: 'Reads audit evidence; no customer data.',
    definition: { records: {}, permissions: ['audit.read'], mfaRequired: true },
  },
  {
    id: 'security_officer',
    name: 'Security officer',
    description: 'Watches for breaches: handles alerts and incidents, contains attacks (blocks, locks, lockdown), reads the audit log and the list of users; no customer data.',
    definition: { records: {}, permissions: ['alerts.handle', 'approvals.decide', 'incidents.handle', 'audit.read', 'users.read'], mfaRequired: true },
  },
  {
    id: 'privacy_officer',
    name: 'Privacy officer',
    description: "Handles consent and data subject requests: reads, corrects and exports any person's data, sensitive values included.",
    definition: {
      records: {
        ...each(['contacts', 'leads'], () => grant({ read: 'all', update: 'all', export: 'all', reveal: 'all' }, { '@sensitive': 'write' })),
        ...each(['activities', 'tickets'], () => grant({ read: 'all', export: 'all', reveal: 'all' }, { '@sensitive': 'read' })),
        companies: grant({ read: 'all' }),
      },
      permissions: ['privacy.handle', 'users.read'] satisfies Permission[],
      mfaRequired: true,
    },
  },
];

export const SHIPPED_ROLE_IDS: ReadonlySet<string> = new Set(SHIPPED_ROLES.map((r) => r.id));
