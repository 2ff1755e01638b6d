import '../trash/trash.css';
import { useState } from 'react';
import { Button, Group, NativeSelect, Stack, Text, Textarea } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom, type ApiProblem } from '../api/client';
import { useUser } from '../access/session';
import { useAccess } from '../access/use-access';
import { ConfirmDialog } from '../security/confirm-dialog';
import { problemMessage } from '../shared/problems';
import { AskedChangeNotice } from '../trash/approved-change';
import { rememberAskedChange, sendBulkChange, useAskedChanges, type BulkChange, type OwnershipChanges } from '../trash/trash-api';
import { recordKeys } from './record-api';
import { useRecordActions } from './record-access';
import type { RecordItem, RecordType } from './record-types';

type Asking = 'bulk_delete' | 'bulk_update';
// NativeSelect values: nothing chosen, or "none" for clearing the team.
const KEEP = '';
const NONE = '-';

/**
 * What can be done with the records selected in a list: move them to the trash, or give them
 * another owner or team, after a confirmation naming how many. Each is one all-or-nothing request;
 * over the server's threshold it asks a second person's approval instead (with a reason), and the
 * change waits beside the list until it is approved and the user runs it.
 */
export function BulkActions({ type, selected, onClear }: { type: RecordType; selected: RecordItem[]; onClear: () => void }) {
  const { t } = useTranslation('trash');
  const { access } = useAccess();
  const reaches = useRecordActions(type);
  const queryClient = useQueryClient();
  const asked = useAskedChanges().filter(([, change]) => change.type === type);
  const [asking, setAsking] = useState<Asking | null>(null);
  const [changes, setChanges] = useState<OwnershipChanges>({});
  const [reason, setReason] = useState('');
  const [needsReason, setNeedsReason] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  // Kept as a text key and its count, so it reads in the language chosen since.
  const [done, setDone] = useState<{ key: 'deletedDone' | 'changedDone'; count: number } | null>(null);

  const count = selected.length;
  const things = t(`things_${type}`);
  const mayDelete = access.can(type, 'delete');
  const mayChange = access.can(type, 'update') && access.can(type, 'assign');
  const allDeletable = selected.every((record) => reaches('delete', record));
  const allChangeable = selected.every((record) => reaches('update', record));

  const close = () => {
    setAsking(null);
    setChanges({});
    setReason('');
    setNeedsReason(false);
    setProblem(null);
  };
  const send = useMutation({
    mutationFn: (change: BulkChange) => sendBulkChange(change, needsReason ? reason.trim() : undefined),
    onSuccess: (outcome, change) => {
      if ('approval' in outcome) {
        rememberAskedChange(outcome.approval.id, { kind: change.kind, type, records: change.ids.length, fields: Object.keys(change.changes ?? {}) });
        setDone(null);
      } else {
        setDone({ key: change.kind === 'bulk_delete' ? 'deletedDone' : 'changedDone', count: outcome.done });
      }
      close();
      onClear();
      void queryClient.invalidateQueries({ queryKey: recordKeys.all(type) });
      void queryClient.invalidateQueries({ queryKey: ['trash'] });
    },
    onError: (failure) => {
      const answer = problemFrom(failure);
      // Over the threshold an approval is asked for, and that needs a reason the approver reads.
      if (wantsReason(answer) && !needsReason) {
        setNeedsReason(true);
        setProblem(null);
        return;
      }
      setProblem(wantsReason(answer) ? t('approvalNeeded') : problemMessage(answer, t));
    },
  });
  const confirm = () => {
    if (!asking) return;
    if (asking === 'bulk_update' && Object.keys(changes).length === 0) return setProblem(t('nothingToChange'));
    if (needsReason && !reason.trim()) return setProblem(t('approvalNeeded'));
    setProblem(null);
    send.mutate({ kind: asking, type, ids: selected.map((record) => record.id), ...(asking === 'bulk_update' ? { changes } : {}) });
  };

  if (!mayDelete && !mayChange && asked.length === 0) return null;
  return (
    <Stack gap="xs">
      {asked.map(([approvalId, change]) => (
        <AskedChangeNotice key={approvalId} approvalId={approvalId} change={change} />
      ))}
      {done && count === 0 && (
        <Text size="sm" role="status" className="trash-done">{t(done.key, { count: done.count, things })}</Text>
      )}
      {count > 0 && (
        <Group gap="sm" className="trash-bulk-bar" role="group" aria-label={t('bulkActions')}>
          <Text size="sm" fw={600} role="status">{t('selected', { count })}</Text>
          {mayDelete && (
            <Button size="xs" color="red" variant="light" disabled={!allDeletable} onClick={() => setAsking('bulk_delete')}>
              {t('bulkDelete')}
            </Button>
          )}
          {mayChange && (
            <Button size="xs" variant="default" disabled={!allChangeable} onClick={() => setAsking('bulk_update')}>
              {t('bulkChange')}
            </Button>
          )}
          <Button size="xs" variant="subtle" onClick={onClear}>{t('clearSelection')}</Button>
          {mayDelete && !allDeletable && <Text size="xs" c="dimmed">{t('notAllDeletable')}</Text>}
          {mayChange && allDeletable && !allChangeable && <Text size="xs" c="dimmed">{t('notAllChangeable')}</Text>}
        </Group>
      )}
      <ConfirmDialog
        opened={asking !== null}
        title={asking === 'bulk_update' ? t('changeTitle', { count, things }) : t('deleteTitle', { count, things })}
        message={asking === 'bulk_update' ? t('changeMessage') : t('deleteMessage')}
        confirmLabel={needsReason ? t('askApproval') : asking === 'bulk_update' ? t('changeConfirm', { count }) : t('deleteConfirm')}
        danger={asking === 'bulk_delete'}
        busy={send.isPending}
        error={problem}
        onConfirm={confirm}
        onCancel={close}
      >
        {asking === 'bulk_update' && <OwnershipFields value={changes} onChange={setChanges} />}
        {needsReason && (
          <Stack gap={4}>
            <Text size="sm">{t('approvalNeeded')}</Text>
            <Textarea label={t('reason')} required rows={3} maxLength={500} value={reason} onChange={(e) => setReason(e.currentTarget.value)} data-autofocus />
          </Stack>
        )}
      </ConfirmDialog>
    </Stack>
  );
}

/** The batch is over the server's threshold, and asking a second person's approval needs a reason. */
function wantsReason(problem: ApiProblem): boolean {
  return problem.code === 'bulk.approval_required' || (problem.code === 'approval.invalid_request' && (problem.fields ?? []).some((f) => f.field === 'reason'));
}

/**
 * The new owner and team. Owners are offered from the users list for those who may read it;
 * others may hand records to themselves. Teams are listed for everyone.
 */
function OwnershipFields({ value, onChange }: { value: OwnershipChanges; onChange: (next: OwnershipChanges) => void }) {
  const { t } = useTranslation('trash');
  const me = useUser();
  const { access } = useAccess();
  const users = useQuery({ queryKey: ['users'], queryFn: async () => must(await api.GET('/api/v1/users')), enabled: access.may('users.read') || access.may('users.manage'), staleTime: 60_000 });
  const teams = useQuery({ queryKey: ['teams'], queryFn: async () => must(await api.GET('/api/v1/teams')), staleTime: 60_000 });
  const people = (users.data?.items ?? []).filter((user) => user.status === 'active' && user.id !== me.id);
  const set = (key: keyof OwnershipChanges, picked: string) => {
    const next = { ...value };
    if (picked === KEEP) delete next[key];
    else next[key] = picked === NONE ? null : picked;
    onChange(next);
  };
  const shown = (key: keyof OwnershipChanges) => (value[key] === undefined ? KEEP : value[key] === null ? NONE : value[key]!);
  return (
    <Stack gap="sm">
      <NativeSelect
        label={t('owner')}
        value={shown('ownerId')}
        onChange={(e) => set('ownerId', e.currentTarget.value)}
        data={[{ value: KEEP, label: t('leaveAsIs') }, { value: me.id, label: t('me', { name: me.name }) }, ...people.map((user) => ({ value: user.id, label: user.name }))]}
      />
      <NativeSelect
        label={t('team')}
        value={shown('teamId')}
        onChange={(e) => set('teamId', e.currentTarget.value)}
        data={[{ value: KEEP, label: t('leaveAsIs') }, { value: NONE, label: t('noTeam') }, ...(teams.data?.items ?? []).map((team) => ({ value: team.id, label: team.name }))]}
      />
    </Stack>
  );
}
