import type { paths } from '../api/schema';

/** The shapes the administration screens read and send, as the API declares them. */
export type Role = paths['/api/v1/roles/{id}']['get']['responses'][200]['content']['application/json'];
export type RoleDefinition = Role['definition'];
export type RolePatch = NonNullable<paths['/api/v1/roles/{id}']['patch']['requestBody']>['content']['application/json'];
export type AdminUser = paths['/api/v1/users']['get']['responses'][200]['content']['application/json']['items'][number];
export type NewUserBody = NonNullable<paths['/api/v1/users']['post']['requestBody']>['content']['application/json'];
export type Team = paths['/api/v1/teams']['get']['responses'][200]['content']['application/json']['items'][number];
export type CustomField = paths['/api/v1/custom-fields']['get']['responses'][200]['content']['application/json']['items'][number];
export type Permission = RoleDefinition['permissions'][number];
export type ScopeChoice = RoleDefinition['records'][string]['actions'][string];
export type FieldRule = RoleDefinition['records'][string]['fields'][string];

/** The record types a role grants on, in the order the screens list them. */
export { RECORD_TYPES } from '../records/record-types';
export const ACTIONS = ['read', 'create', 'update', 'delete', 'restore', 'export', 'import', 'merge', 'assign', 'reveal'] as const;
export const SCOPE_CHOICES: readonly ScopeChoice[] = ['none', 'own', 'team', 'subtree', 'all'];
export const FIELD_RULES: readonly FieldRule[] = ['hidden', 'masked', 'read', 'write'];
export const CLASSIFICATIONS = ['public', 'internal', 'personal', 'sensitive'] as const;
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
] as const satisfies readonly Permission[];
// Every permission the API declares must be offered: this stops compiling when the server adds one
// the list above lacks.
const everyPermission: Exclude<Permission, (typeof PERMISSIONS)[number]> extends never ? true : never = true;
void everyPermission;

export const CUSTOM_FIELD_TYPES = ['text', 'number', 'date', 'boolean', 'select', 'multiselect', 'email', 'phone', 'url'] as const;

