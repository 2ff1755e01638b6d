import { useQuery } from '@tanstack/react-query';
import { api, must } from '../api/client';
import { useUser } from '../access/session';
import type { RecordItem, RecordType } from './record-types';

type Scope = 'own' | 'team' | 'subtree' | 'all';

/**
 * Whether an action reaches one particular record, from the scope the server reports for it:
 * `useAccess().can` says an action reaches some records, but a sales user who may change their
 * own deals should not be offered an edit on a colleague's. Subteams are not known here, so a
 * subtree scope is offered and the server decides.
 */
export function useRecordActions(type: RecordType) {
  const user = useUser();
  // The same query as useAccess, so both read one answer.
  const view = useQuery({ queryKey: ['auth', 'access'], queryFn: async () => must(await api.GET('/api/v1/auth/access')), staleTime: 60_000 });
  return (action: string, record?: RecordItem): boolean => {
    const scope = (view.data?.records[type]?.actions as Record<string, Scope> | undefined)?.[action];
    if (!scope) return false;
    if (!record || scope === 'all' || scope === 'subtree') return true;
    if (record.ownerId === user.id) return true;
    return scope === 'team' && user.teamId !== null && record.teamId === user.teamId;
  };
}
