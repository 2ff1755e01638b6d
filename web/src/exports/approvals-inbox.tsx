import { useState } from 'react';
import { Alert, Badge, Button, Group, Loader, Modal, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import type { TFunction } from 'i18next';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { approveRequest, denyRequest, listApprovals, type Approval } from './exports-api';
import { CursorPager } from '../shared/cursor-pager';

const PAGE_SIZE = 50;
const REFRESH_MS = 10_000;
/** The longest decision note the server keeps. */
const MAX_NOTE = 500;

type Decision = { approval: Approval; verdict: 'approve' | 'deny' };

/**
 * The requests waiting for a second person, of every kind (exports, mass deletes, mass changes),
 * for holders of approvals.decide: who asks, for what, how many records and why. Approving asks
 * for a recent second factor; denying takes an optional note for the requester. Nobody decides
 * their own request: the server refuses it, and the buttons are not offered.
 */
export function ApprovalsInbox({ myId }: { myId: string }) {
  const { t, i18n } = useTranslation('exports');
  const queryClient = useQueryClient();
  const stepUp = useStepUp();
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [deciding, setDeciding] = useState<Decision | null>(null);
  const [note, setNote] = useState('');
  const cursor = pages.at(-1);
  const pending = useQuery({
    queryKey: ['approvals', 'pending', cursor],
    queryFn: () => listApprovals({ status: 'pending', limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  });
  const decide = useMutation({
    mutationFn: ({ approval, verdict }: Decision) => (verdict === 'approve' ? stepUp(() => approveRequest(approval.id, note)) : denyRequest(approval.id, note)),
    onSuccess: (_done, { verdict }) => {
      setDeciding(null);
      notifications.show({ color: 'teal', message: t(verdict === 'approve' ? 'approvedDone' : 'deniedDone') });
    },
    onSettled: () => Promise.all([queryClient.invalidateQueries({ queryKey: ['approvals'] }), queryClient.invalidateQueries({ queryKey: ['exports', 'list'] })]),
  });
  const open = (approval: Approval, verdict: Decision['verdict']) => {
    decide.reset();
    setNote('');
    setDeciding({ approval, verdict });
  };

  const items = pending.data?.items ?? [];
  const nameOf = (approval: Approval) => approval.requestedBy.name || t('unnamed');

  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Title order={2} size="h4" id="approvals-heading">{t('approveHeading')}</Title>
        {pending.isFetching && <Loader size="xs" aria-label={t('loading')} />}
      </Group>
      <Text size="sm" c="dimmed">{t('approveIntro')}</Text>
      {pending.error && <Alert color="red" role="alert">{problemMessage(problemFrom(pending.error), t)}</Alert>}
      {!pending.isPending && !pending.error && items.length === 0 && <Text c="dimmed">{t('noPending')}</Text>}
      {items.length > 0 && (
        <Table.ScrollContainer minWidth={960}>
          <Table aria-labelledby="approvals-heading" verticalSpacing="xs" striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('colKind')}</Table.Th>
                <Table.Th>{t('colRequester')}</Table.Th>
                <Table.Th ta="right">{t('colRecords')}</Table.Th>
                <Table.Th>{t('colSummary')}</Table.Th>
                <Table.Th>{t('colReason')}</Table.Th>
                <Table.Th className="exports-nowrap">{t('colWhen')}</Table.Th>
                <Table.Th>{t('colActions')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((approval) => (
                <Table.Tr key={approval.id}>
                  <Table.Td><Badge className="exports-badge" color={approval.kind === 'export' ? 'blue' : 'orange'} variant="light">{t(`kind_${approval.kind}`)}</Badge></Table.Td>
                  <Table.Td className="exports-nowrap">{nameOf(approval)}</Table.Td>
                  <Table.Td ta="right">{approval.recordCount.toLocaleString(i18n.language)}</Table.Td>
                  <Table.Td><Text size="sm">{summaryText(approval, t, i18n.language)}</Text></Table.Td>
                  <Table.Td><Text size="sm" className="exports-reason">{approval.reason}</Text></Table.Td>
                  <Table.Td className="exports-nowrap">
                    <Stack gap={2}>
                      <Text size="sm">{formatDateTime(approval.requestedAt, i18n.language)}</Text>
                      <Text size="xs" c="dimmed">{t('lapses', { time: formatDateTime(approval.expiresAt, i18n.language) })}</Text>
                    </Stack>
                  </Table.Td>
                  <Table.Td>
                    {approval.requestedBy.id === myId ? (
                      <Text size="xs" c="dimmed">{t('ownRequest')}</Text>
                    ) : (
                      <div className="exports-actions">
                        <Button size="xs" aria-label={t('approveOf', { name: nameOf(approval) })} onClick={() => open(approval, 'approve')}>{t('approve')}</Button>
                        <Button size="xs" variant="default" color="red" aria-label={t('denyOf', { name: nameOf(approval) })} onClick={() => open(approval, 'deny')}>{t('deny')}</Button>
                      </div>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <CursorPager pages={pages} next={pending.data?.nextCursor} onPages={setPages} t={t} />
      <Modal
        opened={deciding !== null}
        onClose={() => !decide.isPending && setDeciding(null)}
        title={deciding ? t(deciding.verdict === 'approve' ? 'approveTitle' : 'denyTitle') : ''}
        closeButtonProps={{ 'aria-label': t('close') }}
      >
        {deciding && (
          <Stack gap="md">
            <Text size="sm" fw={600}>{summaryText(deciding.approval, t, i18n.language)}</Text>
            <Text size="sm">{t(deciding.verdict === 'approve' ? 'approveMessage' : 'denyMessage', { name: nameOf(deciding.approval) })}</Text>
            <Textarea label={t('note')} description={t('noteHint')} rows={3} maxLength={MAX_NOTE} value={note} onChange={(event) => setNote(event.currentTarget.value)} />
            {decide.error && <Alert color="red" role="alert">{problemMessage(problemFrom(decide.error), t)}</Alert>}
            <Group justify="flex-end" gap="sm">
              <Button variant="default" onClick={() => setDeciding(null)}>{t('cancel')}</Button>
              <Button color={deciding.verdict === 'deny' ? 'red' : undefined} loading={decide.isPending} onClick={() => decide.mutate(deciding)}>
                {t(deciding.verdict === 'approve' ? 'approve' : 'deny')}
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}

/** What a request asks for, in words, from its summary (figures only, never personal data). */
export function summaryText(approval: Approval, t: TFunction, language: string): string {
  const summary = approval.summary as { type?: unknown; format?: unknown; rows?: unknown; records?: unknown; fields?: unknown; exportNo?: unknown };
  const type = typeof summary.type === 'string' ? t(`type_${summary.type}`, { defaultValue: summary.type }) : '';
  const count = (value: unknown) => (typeof value === 'number' ? value : approval.recordCount).toLocaleString(language);
  if (approval.kind === 'export') {
    const format = typeof summary.format === 'string' ? t(`format_${summary.format}`, { defaultValue: summary.format }) : '';
    return t('summaryExport', { type, format, rows: count(summary.rows) });
  }
  if (approval.kind === 'bulk_delete') return t('summaryDelete', { type, records: count(summary.records) });
  const fields = Array.isArray(summary.fields) ? summary.fields.filter((f): f is string => typeof f === 'string').join(', ') : '';
  return t('summaryUpdate', { type, records: count(summary.records), fields });
}
