import { useState } from 'react';
import { Alert, Badge, Button, Group, Loader, Modal, Stack, Table, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { cancelExport, downloadExport, listApprovals, listExports, type Approval, type ExportStatus, type ExportView } from './exports-api';
import { CursorPager } from '../shared/cursor-pager';

const PAGE_SIZE = 50;
/** Often enough that an approval shows while the requester waits on the page. */
const REFRESH_MS = 10_000;

const STATUS_COLOR: Record<ExportStatus, string> = { pending_approval: 'yellow', ready: 'teal', downloaded: 'gray', denied: 'red', cancelled: 'gray', expired: 'gray' };

/**
 * The signed-in user's exports, newest first: each with its status (pending approval, ready until
 * a time, downloaded, denied, cancelled, expired), the one download of a ready export and the
 * cancelling of a pending one. An approver's note shows beside a decided export.
 */
export function MyExports() {
  const { t, i18n } = useTranslation('exports');
  const queryClient = useQueryClient();
  const stepUp = useStepUp();
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [cancelling, setCancelling] = useState<ExportView | null>(null);
  const cursor = pages.at(-1);
  const exports = useQuery({
    queryKey: ['exports', 'list', 'mine', cursor],
    queryFn: () => listExports({ mine: true, limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  });
  // The decisions on the user's own export requests, for the approver's name and note.
  const decisions = useQuery({
    queryKey: ['exports', 'list', 'my-approvals'],
    queryFn: () => listApprovals({ mine: true, kind: 'export', limit: 200 }),
    refetchInterval: REFRESH_MS,
  });
  const decisionOf = (item: ExportView): Approval | undefined => (item.approval ? decisions.data?.items.find((a) => a.id === item.approval!.id) : undefined);

  const download = useMutation({
    mutationFn: (item: ExportView) => stepUp(() => downloadExport(item.id)),
    onSuccess: (_done, item) => notifications.show({ color: 'teal', message: t('downloaded', { no: item.exportNo }) }),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['exports', 'list'] }),
  });
  const cancel = useMutation({
    mutationFn: (item: ExportView) => cancelExport(item.id),
    onSuccess: (_done, item) => {
      setCancelling(null);
      notifications.show({ color: 'teal', message: t('cancelled', { no: item.exportNo }) });
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['exports', 'list'] }),
  });

  const items = exports.data?.items ?? [];
  const when = (iso: string | null) => formatDateTime(iso, i18n.language);
  const number = (value: number) => value.toLocaleString(i18n.language);

  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Title order={2} size="h4" id="my-exports-heading">{t('mineHeading')}</Title>
        {exports.isFetching && <Loader size="xs" aria-label={t('loading')} />}
      </Group>
      <Text size="sm" c="dimmed">{t('mineIntro')}</Text>
      {exports.error && <Alert color="red" role="alert">{problemMessage(problemFrom(exports.error), t)}</Alert>}
      {download.error && (
        <Alert color="red" role="alert" title={t('downloadFailed')} withCloseButton closeButtonLabel={t('close')} onClose={() => download.reset()}>
          {problemMessage(problemFrom(download.error), t)}
        </Alert>
      )}
      {!exports.isPending && !exports.error && items.length === 0 && <Text c="dimmed">{t('noExports')}</Text>}
      {items.length > 0 && (
        <Table.ScrollContainer minWidth={860}>
          <Table aria-labelledby="my-exports-heading" verticalSpacing="xs" striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('colNo')}</Table.Th>
                <Table.Th>{t('colWhat')}</Table.Th>
                <Table.Th ta="right">{t('colRows')}</Table.Th>
                <Table.Th>{t('colReason')}</Table.Th>
                <Table.Th className="exports-nowrap">{t('colRequested')}</Table.Th>
                <Table.Th>{t('colStatus')}</Table.Th>
                <Table.Th>{t('colActions')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((item) => {
                const decision = decisionOf(item);
                return (
                  <Table.Tr key={item.id}>
                    <Table.Td className="exports-nowrap">#{item.exportNo}</Table.Td>
                    <Table.Td className="exports-nowrap">{t('what', { type: t(`type_${item.type}`, { defaultValue: item.type }), format: t(`format_${item.format}`) })}</Table.Td>
                    <Table.Td ta="right">{number(item.rowsWritten ?? item.rows)}</Table.Td>
                    <Table.Td><Text size="sm" className="exports-reason">{item.reason}</Text></Table.Td>
                    <Table.Td className="exports-nowrap"><Text size="sm">{when(item.createdAt)}</Text></Table.Td>
                    <Table.Td>
                      <Stack gap={2}>
                        <Badge className="exports-badge" color={STATUS_COLOR[item.status]} variant="light">{t(`status_${item.status}`)}</Badge>
                        {item.status === 'ready' && item.downloadExpiresAt && <Text size="xs" c="dimmed">{t('readyUntil', { time: when(item.downloadExpiresAt) })}</Text>}
                        {item.status === 'downloaded' && item.downloadedAt && <Text size="xs" c="dimmed">{when(item.downloadedAt)}</Text>}
                        {decision?.decidedBy && (item.status === 'denied' || decision.decisionNote) && (
                          <Text size="xs" c="dimmed" className="exports-reason">
                            {decision.decisionNote ? t('decisionWithNote', { name: decision.decidedBy.name || t('unnamed'), note: decision.decisionNote }) : t('decisionBy', { name: decision.decidedBy.name || t('unnamed') })}
                          </Text>
                        )}
                      </Stack>
                    </Table.Td>
                    <Table.Td>
                      <div className="exports-actions">
                        {item.status === 'ready' && (
                          <Button size="xs" aria-label={t('downloadOf', { no: item.exportNo })} loading={download.isPending && download.variables?.id === item.id} onClick={() => { download.reset(); download.mutate(item); }}>
                            {t('download')}
                          </Button>
                        )}
                        {item.status === 'pending_approval' && (
                          <Button size="xs" variant="default" aria-label={t('cancelOf', { no: item.exportNo })} onClick={() => { cancel.reset(); setCancelling(item); }}>
                            {t('cancelExport')}
                          </Button>
                        )}
                      </div>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <CursorPager pages={pages} next={exports.data?.nextCursor} onPages={setPages} t={t} />
      <Modal opened={cancelling !== null} onClose={() => setCancelling(null)} title={t('cancelTitle', { no: cancelling?.exportNo ?? '' })} closeButtonProps={{ 'aria-label': t('close') }}>
        <Stack gap="md">
          <Text size="sm">{t('cancelMessage')}</Text>
          {cancel.error && <Alert color="red" role="alert">{problemMessage(problemFrom(cancel.error), t)}</Alert>}
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={() => setCancelling(null)}>{t('keepIt')}</Button>
            <Button color="red" loading={cancel.isPending} onClick={() => cancelling && cancel.mutate(cancelling)}>{t('cancelExport')}</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
