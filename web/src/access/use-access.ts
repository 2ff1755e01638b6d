import { useQuery } from '@tanstack/react-query';
import { api, must } from '../api/client';
import type { paths } from '../api/schema';

type AccessView = paths['/api/v1/auth/access']['get']['responses'][200]['content']['application/json'];
export type FieldRule = 'hidden' | 'masked' | 'read' | 'write';

/** What the signed-in user may do, as the server enforces it. */
export interface UserAccess {
  /** Whether `action` reaches any record of `type` (own, team, subtree or all). */
  can(type: string, action: string): boolean;
  /** How a field reads: hidden fields are left out of screens, masked ones offer a reveal. */
  field(type: string, key: string): FieldRule;
  /** Whether a system permission (users.manage, audit.read, …) is held. */
  may(permission: string): boolean;
  /** Whether the last second-factor check still counts for a step-up. */
  steppedUp(): boolean;
}

/** The fields the data layer keeps on every record (SYSTEM_FIELDS on the server). */
const SYSTEM_KEYS = new Set(['id', 'version', 'ownerId', 'teamId', 'createdAt', 'updatedAt', 'createdBy', 'updatedBy', 'deletedAt']);

const NOTHING: UserAccess = { can: () => false, field: () => 'hidden', may: () => false, steppedUp: () => false };

/**
 * The user's access from GET /api/v1/auth/access, for offering only what will be allowed.
 * While it loads, nothing is offered; the server checks every request regardless.
 */
export function useAccess(): { access: UserAccess; loading: boolean } {
  const query = useQuery({ queryKey: ['auth', 'access'], queryFn: async () => must(await api.GET('/api/v1/auth/access')), staleTime: 60_000 });
  if (!query.data) return { access: NOTHING, loading: query.isPending };
  return { access: accessFrom(query.data), loading: false };
}

export function accessFrom(view: AccessView): UserAccess {
  return {
    can: (type, action) => Boolean((view.records[type]?.actions as Record<string, string> | undefined)?.[action]),
    // The fields every record has read as they are for anyone who reaches the type. A field this
    // view does not know (a custom field added since) is treated as hidden until the view is
    // fetched again: offering less than allowed is the safe mistake.
    field: (type, key) => (view.records[type]?.fields[key] as FieldRule | undefined) ?? (view.records[type] && SYSTEM_KEYS.has(key) ? 'read' : 'hidden'),
    may: (permission) => (view.permissions as string[]).includes(permission),
    steppedUp: () => view.stepUpUntil !== null && new Date(view.stepUpUntil).getTime() > Date.now(),
  };
}
