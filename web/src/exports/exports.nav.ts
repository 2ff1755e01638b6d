import type { NavItem } from '../shell/navigation';
import { EXPORT_TYPES } from './exports-api';

/** The Exports page shows to those who may export some type, and to those who decide approvals. */
export const exportsNav: NavItem[] = [
  { path: '/exports', label: 'exports:navExports', visible: (_user, access) => EXPORT_TYPES.some((type) => access.can(type, 'export')) || access.may('approvals.decide') },
];
