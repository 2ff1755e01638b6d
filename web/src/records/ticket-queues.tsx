import { useState, type ReactNode } from 'react';
import { Tabs } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useUser } from '../access/session';
import { RecordList } from './record-list';

/**
 * Ticket queues as tabs over the list's exact filters (status, priority, assignee): the API
 * filters by one value each, so each queue is one of them.
 */
export function TicketQueues({ header }: { header?: ReactNode }) {
  const { t } = useTranslation('records');
  const user = useUser();
  const queues: Record<string, Record<string, string>> = {
    open: { status: 'open' },
    new: { status: 'new' },
    pending: { status: 'pending' },
    urgent: { priority: 'urgent' },
    mine: { assigneeId: user.id },
    all: {},
  };
  const [queue, setQueue] = useState('open');
  return (
    <Tabs value={queue} onChange={(value) => value && setQueue(value)} keepMounted={false}>
      <Tabs.List>
        {Object.keys(queues).map((name) => (
          <Tabs.Tab key={name} value={name}>{t(`queue.${name}`)}</Tabs.Tab>
        ))}
      </Tabs.List>
      {Object.entries(queues).map(([name, filters]) => (
        <Tabs.Panel key={name} value={name} pt="sm">
          <RecordList type="tickets" fixedFilters={filters} caption={t('queueCaption', { queue: t(`queue.${name}`) })} header={header} />
        </Tabs.Panel>
      ))}
    </Tabs>
  );
}
