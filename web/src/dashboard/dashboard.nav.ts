import type { NavItem } from '../shell/navigation';

export const dashboardNav: NavItem[] = [{ path: '/', label: 'shell:home', visible: () => true }];
