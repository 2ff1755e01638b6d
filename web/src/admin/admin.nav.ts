import type { NavItem } from '../shell/navigation';

export const adminNav: NavItem[] = [];
