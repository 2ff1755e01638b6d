import type { NavItem } from '../shell/navigation';

function holds(permission: string): NavItem['visible'] {
  return (_user, access) => access.may(permission);
}

/** The security screens in the side navigation; each shows only to those who may use it. */
export const securityNav: NavItem[] = [
  { path: '/security/audit', label: 'security:navAudit', visible: holds('audit.read') },
  { path: '/security/blast-radius', label: 'security:navBlastRadius', visible: holds('audit.read') },
  { path: '/security/sessions', label: 'security:navSessions', visible: holds('users.manage') },
  { path: '/security/keys', label: 'security:navKeys', visible: holds('keys.manage') },
];

/** The permission each security address needs. */
export const SECURITY_PERMISSIONS = { '/audit': 'audit.read', '/blast-radius': 'audit.read', '/sessions': 'users.manage', '/keys': 'keys.manage' } as const;
