import type { UserAccess } from '../access/use-access';
import type { NavItem } from '../shell/navigation';

/** The administration sections and who sees each: the same permissions the API asks for. */
export const ADMIN_SECTIONS: { path: string; label: string; visible: (access: UserAccess) => boolean }[] = [
  { path: '/users', label: 'usersTitle', visible: (a) => a.may('users.read') || a.may('users.manage') },
  { path: '/roles', label: 'rolesTitle', visible: (a) => a.may('roles.manage') },
  { path: '/teams', label: 'teamsTitle', visible: (a) => a.may('teams.manage') || a.may('users.manage') },
  { path: '/custom-fields', label: 'fieldsPageTitle', visible: (a) => a.may('settings.manage') },
  { path: '/settings', label: 'settingsTitle', visible: (a) => a.may('settings.manage') },
  { path: '/backups', label: 'backupsTitle', visible: (a) => a.may('backups.manage') },
];

/** Administration shows to those who may open at least one of its sections. */
export const adminNav: NavItem[] = [{ path: '/admin', label: 'admin:heading', visible: (_user, access) => ADMIN_SECTIONS.some((section) => section.visible(access)) }];
