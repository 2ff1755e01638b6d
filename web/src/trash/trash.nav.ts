import type { UserAccess } from '../access/use-access';
import { RECORD_TYPES, type RecordType } from '../records/record-types';
import type { NavItem } from '../shell/navigation';

/** The record types whose trash the user may act on: restore some of their records, or purge them. */
export function trashTypes(access: UserAccess): RecordType[] {
  return RECORD_TYPES.filter((type) => access.can(type, 'restore') || (access.may('trash.purge') && access.can(type, 'delete')));
}

/** The Trash shows to those who may restore, or purge, records of some type. */
export const trashNav: NavItem[] = [{ path: '/trash', label: 'trash:navTrash', visible: (_user, access) => trashTypes(access).length > 0 }];
