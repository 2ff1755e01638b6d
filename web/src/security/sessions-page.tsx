import { useState } from 'react';
import { Accordion, Alert, Badge, Button, Group, Loader, Stack, Table, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { useStepUp } from '../access/step-up';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { Page } from '../shell/page';

/**
 * Every user and their live sessions, for ending a stolen or forgotten one. Ending needs a second
 * factor proved in the last minutes: the server asks for it, and the step-up dialog takes over.
 */
export function SessionsPage() {
  const { t } = useTranslation('security');
  const users = useQuery({ queryKey: ['users'], queryFn: async () => must(await api.GET('/api/v1/users')) });
  const [opened, setOpened] = useState<string | null>(null);
  return (
    <Page title={t('sessionsHeading')}>
      <Text size="sm" c="dimmed">{t('sessionsIntro')}</Text>
      {users.isPending && <Loader size="sm" aria-label={t('loading')} />}
      {users.error && <Alert color="red" role="alert">{problemMessage(problemFrom(users.error), t)}</Alert>}
      {users.data && (
        <Accordion variant="contained" value={opened} onChange={setOpened}>
          {users.data.items.map((user) => (
            <Accordion.Item key={user.id} value={user.id}>
              <Accordion.Control>
                <Group gap="sm" wrap="wrap">
                  <Text fw={600}>{user.name}</Text>
                  <Text size="sm" c="dimmed">{user.email}</Text>
                  {user.roles.map((role) => <Badge key={role} variant="light" size="sm">{role}</Badge>)}
                  {user.status === 'disabled' && <Badge color="gray" size="sm">{t('disabled')}</Badge>}
                </Group>
              </Accordion.Control>
              <Accordion.Panel>{opened === user.id && <UserSessions userId={user.id} name={user.name} />}</Accordion.Panel>
            </Accordion.Item>
          ))}
        </Accordion>
      )}
    </Page>
  );
}

function UserSessions({ userId, name }: { userId: string; name: string }) {
  const { t, i18n } = useTranslation('security');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [ended, setEnded] = useState<number | null>(null);
  const key = ['users', userId, 'sessions'];
  const sessions = useQuery({ queryKey: key, queryFn: async () => must(await api.GET('/api/v1/users/{id}/sessions', { params: { path: { id: userId } } })) });
  const end = useMutation({
    mutationFn: () => withStepUp(async () => must(await api.POST('/api/v1/users/{id}/sessions/end', { params: { path: { id: userId } } }))),
    onSuccess: (result) => {
      setEnded(result.ended);
      return queryClient.invalidateQueries({ queryKey: key });
    },
  });
  const items = sessions.data?.items ?? [];
  const failure = sessions.error ?? end.error;
  const tableId = `sessions-of-${userId}`;
  return (
    <Stack gap="sm">
      {failure && <Alert color="red" role="alert">{problemMessage(problemFrom(failure), t)}</Alert>}
      {ended !== null && <Alert color="green" role="status">{t('sessionsEnded', { count: ended, name })}</Alert>}
      {sessions.isPending && <Loader size="xs" aria-label={t('loading')} />}
      {sessions.data && items.length === 0 && <Text size="sm" c="dimmed">{t('noSessions')}</Text>}
      {items.length > 0 && (
        <Table.ScrollContainer minWidth={560}>
          <Table aria-label={t('sessionsOf', { name })} id={tableId} verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('device')}</Table.Th>
                <Table.Th>{t('address')}</Table.Th>
                <Table.Th>{t('started')}</Table.Th>
                <Table.Th>{t('lastSeen')}</Table.Th>
                <Table.Th>{t('stage')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((session) => (
                <Table.Tr key={session.id}>
                  <Table.Td>
                    <Group gap="xs">
                      <Text size="sm">{session.device}</Text>
                      {session.current && <Badge variant="light">{t('yourSession')}</Badge>}
                    </Group>
                  </Table.Td>
                  <Table.Td><Text size="sm" className="security-mono">{session.sourceAddress ?? ''}</Text></Table.Td>
                  <Table.Td><Text size="sm">{formatDateTime(session.createdAt, i18n.language)}</Text></Table.Td>
                  <Table.Td><Text size="sm">{formatDateTime(session.lastSeenAt, i18n.language)}</Text></Table.Td>
                  <Table.Td><Text size="sm">{t(`stage_${session.stage}`)}</Text></Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Group>
        <Button color="red" variant="light" size="xs" disabled={items.length === 0} loading={end.isPending} onClick={() => end.mutate()} aria-label={t('endSessionsOf', { name })}>
          {t('endSessions')}
        </Button>
      </Group>
    </Stack>
  );
}
