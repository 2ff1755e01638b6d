import { Alert, Badge, Button, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';

/** The user's security notices, newest first, with what is new marked. */
export function NoticesPanel() {
  const { t, i18n } = useTranslation('account');
  const queryClient = useQueryClient();
  const notices = useQuery({ queryKey: ['notices'], queryFn: async () => must(await api.GET('/api/v1/notices', { params: { query: { limit: '20' } } })) });
  const markRead = useMutation({
    mutationFn: async () => must(await api.POST('/api/v1/notices/read')),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['notices'] }),
  });
  const unread = notices.data?.unread ?? 0;
  return (
    <Paper withBorder p="lg" radius="md" component="section" aria-labelledby="notices-heading">
      <Stack gap="sm">
        <Group justify="space-between">
          <Group gap="xs">
            <Title order={2} size="h4" id="notices-heading">{t('noticesHeading')}</Title>
            {unread > 0 && <Badge color="red" data-testid="notices-unread">{t('unreadCount', { count: unread })}</Badge>}
          </Group>
          {unread > 0 && <Button size="xs" variant="default" onClick={() => markRead.mutate()} loading={markRead.isPending}>{t('markAllRead')}</Button>}
        </Group>
        {notices.error && <Alert color="red" role="alert">{problemMessage(problemFrom(notices.error), t)}</Alert>}
        {notices.data && notices.data.items.length === 0 && <Text size="sm" c="dimmed">{t('noticesEmpty')}</Text>}
        {notices.data && notices.data.items.length > 0 && (
          <Stack gap="xs" component="ul" className="account-notices" aria-label={t('noticesHeading')}>
            {notices.data.items.map((notice) => (
              <li key={notice.id} className="account-notice" data-unread={notice.readAt === null}>
                <Group justify="space-between" gap="xs">
                  <Text fw={600} size="sm">{notice.title}</Text>
                  <Text size="xs" c="dimmed" component="time" dateTime={notice.createdAt}>{formatDateTime(notice.createdAt, i18n.language)}</Text>
                </Group>
                <Text size="sm">{notice.body}</Text>
              </li>
            ))}
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}
