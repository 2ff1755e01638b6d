import { useState } from 'react';
import { Alert, Badge, Button, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';

/** The user's own sessions: device, address, when last seen; end one, or all but this one. */
export function SessionsPanel() {
  const { t, i18n } = useTranslation('account');
  const queryClient = useQueryClient();
  const [done, setDone] = useState<string | null>(null);
  const sessions = useQuery({ queryKey: ['auth', 'sessions'], queryFn: async () => must(await api.GET('/api/v1/auth/sessions')) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['auth', 'sessions'] });
  const endOne = useMutation({
    mutationFn: async (id: string) => must(await api.DELETE('/api/v1/auth/sessions/{id}', { params: { path: { id } } })),
    onSuccess: refresh,
  });
  const endOthers = useMutation({
    mutationFn: async () => must(await api.POST('/api/v1/auth/sessions/end-others')),
    onSuccess: (result) => {
      setDone(result.ended === 0 ? t('noOtherSessions') : t('othersEnded', { count: result.ended }));
      return refresh();
    },
  });
  const failure = sessions.error ?? endOne.error ?? endOthers.error;
  const items = sessions.data?.items ?? [];
  return (
    <Paper withBorder p="lg" radius="md" component="section" aria-labelledby="sessions-heading">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4" id="sessions-heading">{t('sessionsHeading')}</Title>
          <Button size="xs" variant="default" color="red" onClick={() => endOthers.mutate()} loading={endOthers.isPending} disabled={items.length < 2}>
            {t('endOthers')}
          </Button>
        </Group>
        <Text size="sm" c="dimmed">{t('sessionsIntro')}</Text>
        {failure && <Alert color="red" role="alert">{problemMessage(problemFrom(failure), t)}</Alert>}
        {done && <Alert color="green" role="status">{done}</Alert>}
        <Table.ScrollContainer minWidth={560}>
          <Table aria-labelledby="sessions-heading" verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('device')}</Table.Th>
                <Table.Th>{t('address')}</Table.Th>
                <Table.Th>{t('started')}</Table.Th>
                <Table.Th>{t('lastSeen')}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((session) => (
                <Table.Tr key={session.id}>
                  <Table.Td>
                    <Group gap="xs">
                      <Text size="sm">{session.device}</Text>
                      {session.current && <Badge variant="light">{t('thisSession')}</Badge>}
                    </Group>
                  </Table.Td>
                  <Table.Td><Text size="sm">{session.sourceAddress ?? ''}</Text></Table.Td>
                  <Table.Td><Text size="sm">{formatDateTime(session.createdAt, i18n.language)}</Text></Table.Td>
                  <Table.Td><Text size="sm">{formatDateTime(session.lastSeenAt, i18n.language)}</Text></Table.Td>
                  <Table.Td>
                    {!session.current && (
                      <Button size="xs" variant="subtle" color="red" aria-label={t('endSessionOf', { device: session.device })} onClick={() => endOne.mutate(session.id)}>
                        {t('endSession')}
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      </Stack>
    </Paper>
  );
}
