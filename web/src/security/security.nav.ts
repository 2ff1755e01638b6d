import type { NavItem } from '../shell/navigation';

function holds(permission: string): NavItem['visible'] {
  return (_user, access) => access.may(permission);
}

/** The security screens in the side navigation; each shows only to those who may use it. */
export const securityNav: NavItem[] = [
  { path: '/security/alerts', label: 'security:navAlerts', visible: holds('alerts.handle') },
  { path: '/security/detection', label: 'security:navDetection', visible: holds('alerts.handle') },
  { path: '/security/audit', label: 'security:navAudit', visible: holds('audit.read') },
  { path: '/security/blast-radius', label: 'security:navBlastRadius', visible: holds('audit.read') },
  { path: '/security/trace', label: 'exports:navTrace', visible: holds('audit.read') },
  { path: '/security/sessions', label: 'security:navSessions', visible: holds('users.manage') },
  { path: '/security/keys', label: 'security:navKeys', visible: holds('keys.manage') },
];

/** The permission each security address needs; /security opens the first one the user holds. */
export const SECURITY_PERMISSIONS = {
  '/alerts': 'alerts.handle',
  '/audit': 'audit.read',
  '/blast-radius': 'audit.read',
  '/trace': 'audit.read',
  '/sessions': 'users.manage',
  '/keys': 'keys.manage',
  '/detection': 'alerts.handle',
} as const;
