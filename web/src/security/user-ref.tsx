import { Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useAccess } from '../access/use-access';
import { api, must } from '../api/client';

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A user named by id, as alerts and containment name them: with the name beside the id for those
 * who may read users; the id alone otherwise (and for labels such as cli:operator or
 * system:detection). Summaries never carry names, so the name is looked up here, on the reader's
 * own access.
 */
export function UserRef({ id }: { id: string }) {
  const { access } = useAccess();
  const lookUp = USER_ID.test(id) && access.may('users.read');
  const user = useQuery({
    queryKey: ['users', id],
    queryFn: async () => must(await api.GET('/api/v1/users/{id}', { params: { path: { id } } })),
    enabled: lookUp,
    staleTime: 5 * 60_000,
    retry: false,
  });
  if (!lookUp || !user.data) return <span className="security-mono">{id}</span>;
  return (
    <span>
      <Text component="span" size="sm">{user.data.name}</Text>{' '}
      <Text component="span" size="xs" c="dimmed" className="security-mono">{id}</Text>
    </span>
  );
}
