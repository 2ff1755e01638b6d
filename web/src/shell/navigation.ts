import type { User } from '../access/session';
import type { UserAccess } from '../access/use-access';
import { adminNav } from '../admin/admin.nav';
import { dashboardNav } from '../dashboard/dashboard.nav';
import { exportsNav } from '../exports/exports.nav';
import { recordsNav } from '../records/records.nav';
import { securityNav } from '../security/security.nav';
import { transferNav } from '../transfer/transfer.nav';
import { trashNav } from '../trash/trash.nav';

/**
 * The sections in the side navigation. `label` is an i18n key with its namespace; `visible`
 * hides a section from users whose access (GET /api/v1/auth/access) cannot use it; the server
 * refuses them anyway.
 */
export interface NavItem {
  path: string;
  label: string;
  visible: (user: User, access: UserAccess) => boolean;
}

export const NAVIGATION: NavItem[] = [
  ...dashboardNav,
  ...recordsNav,
  ...transferNav,
  ...exportsNav,
  ...trashNav,
  ...securityNav,
  ...adminNav,
  { path: '/profile', label: 'shell:profile', visible: () => true },
];
