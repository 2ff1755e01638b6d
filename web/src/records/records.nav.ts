import type { NavItem } from '../shell/navigation';

/** The record lists in the side navigation, each shown only to roles that may read its type. */
export const recordsNav: NavItem[] = [
  { path: '/companies', label: 'records:nav.companies', visible: (_user, access) => access.can('companies', 'read') },
  { path: '/contacts', label: 'records:nav.contacts', visible: (_user, access) => access.can('contacts', 'read') },
  { path: '/leads', label: 'records:nav.leads', visible: (_user, access) => access.can('leads', 'read') },
  { path: '/deals', label: 'records:nav.deals', visible: (_user, access) => access.can('deals', 'read') },
  { path: '/tasks', label: 'records:nav.tasks', visible: (_user, access) => access.can('activities', 'read') },
  { path: '/tickets', label: 'records:nav.tickets', visible: (_user, access) => access.can('tickets', 'read') },
  { path: '/search', label: 'records:nav.search', visible: () => true },
];

/** Every address the records screens answer; app.tsx hands these to records-pages. */
export const RECORD_PATHS = /^\/(companies|contacts|leads|deals|activities|tasks|tickets|search)(\/.*)?$/;
