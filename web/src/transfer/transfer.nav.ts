import type { NavItem } from '../shell/navigation';
import { IMPORT_TYPES } from './transfer-api';

/** The import entry shows to those who may import a type the wizard handles. */
export const transferNav: NavItem[] = [{ path: '/import', label: 'transfer:navImport', visible: (_user, access) => IMPORT_TYPES.some((type) => access.can(type, 'import')) }];
