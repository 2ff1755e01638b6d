import type { NavItem } from '../shell/navigation';

export const transferNav: NavItem[] = [];
