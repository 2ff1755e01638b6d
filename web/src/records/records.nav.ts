import type { NavItem } from '../shell/navigation';

export const recordsNav: NavItem[] = [];

/** Every address the records screens answer; app.tsx hands these to records-pages. */
export const RECORD_PATHS = /^\/(companies|contacts|leads|deals|activities|tasks|tickets|search)(\/.*)?$/;
