import './trash.css';
import { useState } from 'react';
import { Alert, Button, Group, Loader, Stack, Table, Tabs, Text } from '@mantine/core';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { useAccess } from '../access/use-access';
import { recordKeys, restoreRecord } from '../records/record-api';
import { useRecordActions } from '../records/record-access';
import type { RecordItem, RecordType } from '../records/record-types';
import { ConfirmDialog } from '../security/confirm-dialog';
import { formatDate, formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { Page } from '../shell/page';
import { MyBulkChanges } from './approved-change';
import { listTrash, purgeRecords, readTrashSummary, type TrashEntry, type TrashSummary } from './trash-api';
import { trashTypes } from './trash.nav';

const PAGE_SIZE = '25';
const DAY_MS = 86_400_000;

/** Whole days until a record is purged automatically at `purgeAt`; 0 means at the next run. */
export function daysUntilPurge(purgeAt: string, now = Date.now()): number {
  return Math.max(0, Math.ceil((new Date(purgeAt).getTime() - now) / DAY_MS));
}

/**
 * The trash: per record type, what was deleted and is still restorable, when, and how long until
 * the retention job purges it; Restore for those who may, Purge (for good, after a confirmation and
 * a recent second factor) for holders of trash.purge. Above, the user's own mass changes that wait
 * for approval or for being run.
 */
export default function TrashPage() {
  const { t, i18n } = useTranslation('trash');
  const { access, loading } = useAccess();
  const types = trashTypes(access);
  const [shown, setShown] = useState<RecordType | null>(null);
  const summary = useQuery({ queryKey: ['trash', 'summary'], queryFn: readTrashSummary, enabled: types.length > 0 });
  if (loading) return null;
  if (types.length === 0) {
    return (
      <Page title={t('heading')}>
        <Text>{t('shell:forbidden')}</Text>
      </Page>
    );
  }
  const current = shown && types.includes(shown) ? shown : types[0]!;
  const countOf = (type: RecordType) => summary.data?.types.find((s) => s.type === type)?.count ?? 0;
  return (
    <Page title={t('heading')}>
      {summary.data && (
        <Text size="sm">
          {t('retentionNote', { days: summary.data.retentionDays })}{' '}
          {summary.data.lastRetentionRunAt ? t('lastRun', { time: formatDateTime(summary.data.lastRetentionRunAt, i18n.language) }) : t('neverRun')}
        </Text>
      )}
      {summary.error && <Alert color="red" role="alert">{problemMessage(problemFrom(summary.error), t)}</Alert>}
      <MyBulkChanges />
      <Tabs value={current} onChange={(value) => value && setShown(value as RecordType)} keepMounted={false}>
        <Tabs.List>
          {types.map((type) => (
            <Tabs.Tab key={type} value={type}>{t('typeTab', { type: t(`records:nav.${type}`), count: countOf(type) })}</Tabs.Tab>
          ))}
        </Tabs.List>
        {types.map((type) => (
          <Tabs.Panel key={type} value={type} pt="sm">
            <TrashList type={type} summary={summary.data} />
          </Tabs.Panel>
        ))}
      </Tabs>
    </Page>
  );
}

function TrashList({ type, summary }: { type: RecordType; summary: TrashSummary | undefined }) {
  const { t, i18n } = useTranslation('trash');
  const { access } = useAccess();
  const reaches = useRecordActions(type);
  const stepUp = useStepUp();
  const queryClient = useQueryClient();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [purging, setPurging] = useState<TrashEntry | null>(null);
  // Kept as a text key and its values, so it reads in the language chosen since.
  const [done, setDone] = useState<{ key: 'restored' | 'purged'; title: string } | null>(null);
  const cursor = cursors.at(-1) ?? null;
  const list = useQuery({
    queryKey: ['trash', 'list', type, cursor ?? ''],
    queryFn: () => listTrash(type, cursor, PAGE_SIZE),
    placeholderData: keepPreviousData,
  });
  const titleOf = (entry: TrashEntry) => entry.title || t('untitled');
  // An item is offered an action only where the role's scope reaches its owner and team.
  const offers = (action: 'restore' | 'delete', entry: TrashEntry) => reaches(action, entry as unknown as RecordItem);
  const refresh = () =>
    Promise.all([queryClient.invalidateQueries({ queryKey: ['trash'] }), queryClient.invalidateQueries({ queryKey: recordKeys.all(type) })]);
  const restore = useMutation({
    mutationFn: (entry: TrashEntry) => restoreRecord(type, entry.id),
    onSuccess: (_restored, record) => setDone({ key: 'restored', title: titleOf(record) }),
    onSettled: refresh,
  });
  const purge = useMutation({
    mutationFn: (entry: TrashEntry) => stepUp(() => purgeRecords(type, [entry.id])),
    onSuccess: (_result, record) => {
      setDone({ key: 'purged', title: titleOf(record) });
      setPurging(null);
    },
    onSettled: refresh,
  });
  const typeSummary = summary?.types.find((s) => s.type === type);
  const mayPurge = access.may('trash.purge');
  const items = list.data?.items ?? [];
  const whenPurged = (days: number) => (days === 0 ? t('atNextRun') : t('inDays', { count: days }));
  const problem = list.error ?? restore.error;

  return (
    <Stack gap="sm">
      {typeSummary?.oldestDeletedAt && typeSummary.daysUntilPurge !== null && (
        <Text size="sm" c="dimmed">{t('typeOldest', { date: formatDate(typeSummary.oldestDeletedAt, i18n.language), when: whenPurged(typeSummary.daysUntilPurge) })}</Text>
      )}
      {done && <Text size="sm" role="status" className="trash-done">{t(done.key, { title: done.title })}</Text>}
      {problem && <Alert color="red" role="alert">{problemMessage(problemFrom(problem), t)}</Alert>}
      <div className="trash-table-wrap">
        <Table striped highlightOnHover verticalSpacing="xs" className="trash-table" aria-busy={list.isFetching}>
          <Table.Caption>{t('caption', { type: t(`records:nav.${type}`) })}</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('record')}</Table.Th>
              <Table.Th>{t('deletedAt')}</Table.Th>
              <Table.Th>{t('deletedBy')}</Table.Th>
              <Table.Th>{t('purgeIn')}</Table.Th>
              <Table.Th>{t('actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((record) => {
              const title = titleOf(record);
              return (
                <Table.Tr key={record.id}>
                  <Table.Td>{title}</Table.Td>
                  <Table.Td className="trash-nowrap">{formatDateTime(record.deletedAt, i18n.language)}</Table.Td>
                  <Table.Td>{record.deletedBy ? record.deletedBy.name || t('removedUser') : t('bySystem')}</Table.Td>
                  <Table.Td className="trash-nowrap">{whenPurged(daysUntilPurge(record.purgeAt))}</Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      {offers('restore', record) && (
                        <Button size="xs" variant="light" aria-label={t('restoreOne', { title })} loading={restore.isPending && restore.variables?.id === record.id} onClick={() => restore.mutate(record)}>
                          {t('restore')}
                        </Button>
                      )}
                      {mayPurge && offers('delete', record) && (
                        <Button size="xs" variant="subtle" color="red" aria-label={t('purgeOne', { title })} onClick={() => { purge.reset(); setPurging(record); }}>
                          {t('purge')}
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </div>
      {list.isPending && <Loader size="sm" aria-label={t('shell:loading')} />}
      {list.data && items.length === 0 && <Text c="dimmed" size="sm">{t('emptyType')}</Text>}
      {(cursors.length > 1 || list.data?.nextCursor) && (
        <Group justify="flex-end" gap="xs">
          <Button variant="default" size="xs" disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>{t('previous')}</Button>
          <Button variant="default" size="xs" disabled={!list.data?.nextCursor || list.isPlaceholderData} onClick={() => list.data?.nextCursor && setCursors((c) => [...c, list.data!.nextCursor])}>{t('next')}</Button>
        </Group>
      )}
      <ConfirmDialog
        opened={purging !== null}
        title={purging ? t('purgeTitle', { title: titleOf(purging) }) : ''}
        message={t('purgeMessage')}
        confirmLabel={t('purgeConfirm')}
        danger
        busy={purge.isPending}
        error={purge.error ? problemMessage(problemFrom(purge.error), t) : null}
        onConfirm={() => purging && purge.mutate(purging)}
        onCancel={() => setPurging(null)}
      />
    </Stack>
  );
}
