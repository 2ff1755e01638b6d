import { useState } from 'react';
import { Alert, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { problemFrom } from '../api/client';
import { recordKeys } from '../records/record-api';
import { isRecordType } from '../records/record-types';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { cancelApproval, forgetAskedChange, listWaitingChanges, readApproval, runApprovedChange, type AskedChange, type WaitingChange } from './trash-api';

/** How often a change waiting for a decision asks whether it was decided. */
export const DECISION_POLL_MS = 10_000;

export const approvalKeys = {
  waiting: ['approvals', 'bulk-changes'] as const,
  one: (id: string) => ['approvals', 'one', id] as const,
};

/** What a mass change does, in a line: "Move 120 contacts to the trash", "Change owner of 80 deals". */
export function changeText(kind: string, type: string, count: number, fields: readonly string[], t: TFunction<'trash'>): string {
  const things = t(`things_${type}`, { defaultValue: type });
  const named = fields.map((field) => t(`field_${field}`, { defaultValue: field })).join(' / ');
  return t(`change_${kind}`, { count, things, fields: named });
}

/**
 * Runs an approved mass change from its approval: the server does the batch it kept when approval
 * was asked for, exactly as approved, and uses the approval up. Refreshes what it touched.
 */
function useRunApproved(approvalId: string, type: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => runApprovedChange(approvalId),
    onSettled: () =>
      Promise.all([
        isRecordType(type) ? queryClient.invalidateQueries({ queryKey: recordKeys.all(type) }) : null,
        queryClient.invalidateQueries({ queryKey: ['trash'] }),
        queryClient.invalidateQueries({ queryKey: ['approvals'] }),
      ]),
  });
}

/**
 * A mass change this tab asked approval for, beside the list it came from: whether it still waits,
 * was approved (then "Run approved change" runs it) or was turned down.
 */
export function AskedChangeNotice({ approvalId, change }: { approvalId: string; change: AskedChange }) {
  const { t, i18n } = useTranslation('trash');
  const approval = useQuery({
    queryKey: approvalKeys.one(approvalId),
    queryFn: () => readApproval(approvalId),
    refetchInterval: (query) => (query.state.data?.status === 'pending' ? DECISION_POLL_MS : false),
  });
  const run = useRunApproved(approvalId, change.type);
  const [ran, setRan] = useState<number | null>(null);
  const status = approval.data?.status ?? 'pending';
  const what = changeText(change.kind, change.type, change.records, change.fields, t);
  const decider = approval.data?.decidedBy?.name;
  const until = formatDateTime(approval.data?.expiresAt, i18n.language);

  if (ran !== null) {
    return (
      <Alert color="green" role="status" title={what} withCloseButton closeButtonLabel={t('dismiss')} onClose={() => forgetAskedChange(approvalId)}>
        {t('ranDone', { count: ran })}
      </Alert>
    );
  }
  const closed = status !== 'pending' && status !== 'approved';
  return (
    <Alert color={status === 'approved' ? 'green' : closed ? 'gray' : 'yellow'} role="status" title={`${t(status === 'approved' ? 'approvedTitle' : closed ? 'closedTitle' : 'awaitingTitle')}: ${what}`}>
      <Stack gap="xs">
        <Text size="sm">
          {status === 'approved'
            ? decider
              ? t('approvedNote', { name: decider, time: until })
              : t('approvedNoteNoName', { time: until })
            : closed
              ? t(`closedNote_${status}`, { name: decider ?? '' })
              : t('awaitingNote')}
        </Text>
        {approval.data?.decisionNote && <Text size="sm">{t('decisionNote', { note: approval.data.decisionNote })}</Text>}
        {run.error && <Text size="sm" c="red" role="alert">{problemMessage(problemFrom(run.error), t)}</Text>}
        <Group gap="xs">
          {status === 'approved' && (
            <Button size="xs" loading={run.isPending} onClick={() => run.mutate(undefined, { onSuccess: (count) => setRan(count) })}>{t('runApproved')}</Button>
          )}
          {status === 'pending' && <Button size="xs" variant="default" loading={approval.isFetching} onClick={() => void approval.refetch()}>{t('checkNow')}</Button>}
          {closed && <Button size="xs" variant="default" onClick={() => forgetAskedChange(approvalId)}>{t('dismiss')}</Button>}
        </Group>
      </Stack>
    </Alert>
  );
}

/**
 * The caller's own mass changes that wait for a decision or were approved and not yet run, from
 * the server (GET /api/v1/bulk-changes): reachable long after the list that asked is gone. An
 * approved one runs from here; either may be withdrawn.
 */
export function MyBulkChanges() {
  const { t } = useTranslation('trash');
  const [ran, setRan] = useState<number | null>(null);
  const waiting = useQuery({ queryKey: approvalKeys.waiting, queryFn: listWaitingChanges, refetchInterval: (query) => (query.state.data?.some((c) => c.status === 'pending') ? DECISION_POLL_MS : false) });
  const ranNote = ran !== null && <Text size="sm" role="status" className="trash-done">{t('ranDone', { count: ran })}</Text>;
  if (!waiting.data || waiting.data.length === 0) return ranNote || null;
  return (
    <Stack gap="xs" component="section" aria-labelledby="my-bulk-heading">
      <Title order={2} size="h4" id="my-bulk-heading">{t('myChangesHeading')}</Title>
      {ranNote}
      <div className="trash-table-wrap">
        <Table verticalSpacing="xs" striped className="trash-table">
          <Table.Caption>{t('myChangesCaption')}</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t('change')}</Table.Th>
              <Table.Th>{t('status')}</Table.Th>
              <Table.Th>{t('askedAt')}</Table.Th>
              <Table.Th>{t('until')}</Table.Th>
              <Table.Th>{t('actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {waiting.data.map((change) => (
              <WaitingChangeRow key={change.approvalId} change={change} onRan={setRan} />
            ))}
          </Table.Tbody>
        </Table>
      </div>
    </Stack>
  );
}

function WaitingChangeRow({ change, onRan }: { change: WaitingChange; onRan: (count: number) => void }) {
  const { t, i18n } = useTranslation('trash');
  const queryClient = useQueryClient();
  const run = useRunApproved(change.approvalId, change.type);
  const withdraw = useMutation({
    mutationFn: () => cancelApproval(change.approvalId),
    onSuccess: () => forgetAskedChange(change.approvalId),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['approvals'] }),
  });
  const problem = run.error ?? withdraw.error;
  const what = changeText(change.kind, change.type, change.records, change.fields, t);
  return (
    <Table.Tr>
      <Table.Td>{what}</Table.Td>
      <Table.Td><Badge className="trash-badge" variant="light" color={change.status === 'approved' ? 'green' : 'yellow'}>{t(`status_${change.status}`)}</Badge></Table.Td>
      <Table.Td className="trash-nowrap">{formatDateTime(change.requestedAt, i18n.language)}</Table.Td>
      <Table.Td className="trash-nowrap">{formatDateTime(change.expiresAt, i18n.language)}</Table.Td>
      <Table.Td>
        <Stack gap={4}>
          <Group gap="xs" wrap="nowrap">
            {change.status === 'approved' && (
              <Button size="xs" aria-label={`${t('runApproved')}: ${what}`} loading={run.isPending} onClick={() => run.mutate(undefined, { onSuccess: (count) => { forgetAskedChange(change.approvalId); onRan(count); } })}>
                {t('runApproved')}
              </Button>
            )}
            <Button size="xs" variant="default" aria-label={`${t('withdraw')}: ${what}`} loading={withdraw.isPending} onClick={() => withdraw.mutate()}>
              {t('withdraw')}
            </Button>
          </Group>
          {problem && <Text size="xs" c="red" role="alert">{problemMessage(problemFrom(problem), t)}</Text>}
        </Stack>
      </Table.Td>
    </Table.Tr>
  );
}
