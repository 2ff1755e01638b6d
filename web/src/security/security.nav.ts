import type { NavItem } from '../shell/navigation';

export const securityNav: NavItem[] = [];
