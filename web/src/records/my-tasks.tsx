import { useState } from 'react';
import { Alert, Anchor, Button, Card, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { problemFrom } from '../api/client';
import { useUser } from '../access/session';
import { Page } from '../shell/page';
import { problemMessage } from '../shared/problems';
import { formatWhen } from './field-value';
import { listRecords, updateRecord } from './record-api';
import { useRecordActions } from './record-access';
import type { RecordItem } from './record-types';

const DUE = ['overdue', 'today', 'upcoming'] as const;

/** The signed-in user's open tasks, by when they are due, each with a way to mark it done. */
export function MyTasks() {
  const { t } = useTranslation('records');
  return (
    <Page title={t('nav.tasks')}>
      {DUE.map((due) => (
        <TaskGroup key={due} due={due} />
      ))}
    </Page>
  );
}

function TaskGroup({ due }: { due: (typeof DUE)[number] }) {
  const { t, i18n } = useTranslation('records');
  const user = useUser();
  const can = useRecordActions('activities');
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  // "Today" is the reader's calendar day, not the server's.
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const tasks = useQuery({ queryKey: ['records', 'activities', 'tasks', due], queryFn: () => listRecords('activities', { kind: 'task', due, ownerId: user.id, timeZone, limit: '50' }) });
  const done = async (task: RecordItem) => {
    setError(null);
    try {
      await updateRecord('activities', task.id, { version: task.version, completedAt: new Date().toISOString() });
      await queryClient.invalidateQueries({ queryKey: ['records', 'activities'] });
    } catch (failure) {
      const problem = problemFrom(failure);
      setError(problem.code === 'auth.forbidden' ? t('shell:forbidden') : problemMessage(problem, t));
    }
  };
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">{t(`due.${due}`)}</Title>
      {error && <Alert color="red" role="alert" mb="xs">{error}</Alert>}
      {tasks.isPending ? (
        <Loader size="xs" aria-label={t('shell:loading')} />
      ) : tasks.error ? (
        <Text c="red" size="sm">{problemMessage(problemFrom(tasks.error), t)}</Text>
      ) : tasks.data.items.length === 0 ? (
        <Text c="dimmed" size="sm">{t('noTasks')}</Text>
      ) : (
        <Stack gap={6}>
          {tasks.data.items.map((task) => (
            <Group key={task.id} justify="space-between" wrap="nowrap" className="records-task">
              <div>
                <Anchor component={Link} href={`/activities/${task.id}`}>{String(task.subject ?? t('untitled'))}</Anchor>
                {typeof task.dueAt === 'string' && <Text size="xs" c={due === 'overdue' ? 'red' : 'dimmed'}>{t('dueAt', { when: formatWhen(task.dueAt, i18n.language) })}</Text>}
              </div>
              {can('update', task) && <Button size="compact-sm" variant="light" onClick={() => void done(task)} aria-label={t('markDoneNamed', { name: String(task.subject ?? '') })}>{t('markDone')}</Button>}
            </Group>
          ))}
        </Stack>
      )}
    </Card>
  );
}
