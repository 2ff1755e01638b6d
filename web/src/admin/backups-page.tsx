import './backups.css';
import { useEffect, useRef } from 'react';
import { Alert, Badge, Button, Code, Group, Loader, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { api, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { useStepUp } from '../access/step-up';
import { useAccess } from '../access/use-access';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { Page } from '../shell/page';
import { AdminTabs } from './admin-tabs';

export type BackupStatus = paths['/api/v1/backups/status']['get']['responses'][200]['content']['application/json'];
export type BackupRun = paths['/api/v1/backups/runs']['get']['responses'][200]['content']['application/json']['items'][number];

/** How often the page asks again while a backup or drill runs. */
export const RUNNING_POLL_MS = 2000;
const RUNS_SHOWN = '20';

const backupKeys = { status: ['backups', 'status'] as const, runs: ['backups', 'runs'] as const };

/**
 * Whether this server's backups can be relied on: how fresh the newest one is, whether it was read
 * back whole, whether the last restore drill gave the data back, and the schedule and retention
 * behind them; with the recent runs and buttons to back up or drill now. Starting one needs a
 * recent second factor; the run works in the background, so the page asks again until it ends.
 */
export function BackupsPage() {
  const { t, i18n } = useTranslation('admin');
  const queryClient = useQueryClient();
  const stepUp = useStepUp();
  const { access } = useAccess();
  const status = useQuery({
    queryKey: backupKeys.status,
    queryFn: async () => must(await api.GET('/api/v1/backups/status')),
    refetchInterval: (query) => (query.state.data?.running ? RUNNING_POLL_MS : false),
  });
  const runs = useQuery({
    queryKey: backupKeys.runs,
    queryFn: async () => must(await api.GET('/api/v1/backups/runs', { params: { query: { limit: RUNS_SHOWN } } })),
    refetchInterval: (query) => (status.data?.running || query.state.data?.items.some((run) => run.status === 'running') ? RUNNING_POLL_MS : false),
  });
  // Names who started a run; the users list needs users.read, and without it a run says "a user".
  const users = useQuery({
    queryKey: ['users'],
    queryFn: async () => must(await api.GET('/api/v1/users')),
    enabled: access.may('users.read') || access.may('users.manage'),
    staleTime: 60_000,
  });
  const start = useMutation({
    mutationFn: (kind: 'backup' | 'drill') => stepUp(async () => must(await api.POST('/api/v1/backups/runs', { body: { kind } }))),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: backupKeys.status });
      void queryClient.invalidateQueries({ queryKey: backupKeys.runs });
    },
  });

  const data = status.data;
  const runningRun = runs.data?.items.find((run) => run.status === 'running');
  const running = Boolean(data?.running || runningRun);
  // When a run ends, the status (freshness, the last backup or drill) changes with it.
  const lastRunning = useRef<string | undefined>(undefined);
  useEffect(() => {
    if (lastRunning.current && !runningRun) void queryClient.invalidateQueries({ queryKey: backupKeys.status });
    lastRunning.current = runningRun?.id;
  }, [runningRun, queryClient]);
  const nameOf = (id: string | null) => users.data?.items.find((u) => u.id === id)?.name ?? null;
  return (
    <Page title={t('backupsTitle')}>
      <AdminTabs />
      {status.isPending && <Loader size="sm" aria-label={t('shell:loading')} />}
      {status.error && <Alert color="red" role="alert">{problemMessage(problemFrom(status.error), t)}</Alert>}
      {data && (
        <>
          {!data.configured && (
            <Alert color="yellow" role="status" title={t('backupsNotConfiguredTitle')}>
              {t('backupsNotConfigured')} <Code>RAMPART_BACKUP_DIR</Code>
            </Alert>
          )}
          <BackupFacts status={data} />
          <Group gap="sm">
            <Button onClick={() => start.mutate('backup')} loading={start.isPending && start.variables === 'backup'} disabled={!data.configured || running || start.isPending}>{t('backupNow')}</Button>
            <Button variant="default" onClick={() => start.mutate('drill')} loading={start.isPending && start.variables === 'drill'} disabled={!data.configured || running || start.isPending || !data.lastBackup}>{t('runDrill')}</Button>
            {running && (
              <Group gap="xs" role="status">
                <Loader size="xs" aria-hidden="true" />
                <Text size="sm">{t(runningRun?.kind === 'drill' ? 'drillRunning' : 'backupRunning')}</Text>
              </Group>
            )}
          </Group>
          {start.error && <Alert color="red" role="alert">{problemMessage(problemFrom(start.error), t)}</Alert>}
        </>
      )}
      <Stack gap="xs">
        <Title order={2} size="h4" id="backup-runs-heading">{t('backupRunsHeading')}</Title>
        {runs.error && <Alert color="red" role="alert">{problemMessage(problemFrom(runs.error), t)}</Alert>}
        {runs.data && runs.data.items.length === 0 && <Text c="dimmed" size="sm">{t('noBackupRuns')}</Text>}
        {runs.data && runs.data.items.length > 0 && (
          <div className="admin-scroll">
            <Table aria-labelledby="backup-runs-heading" verticalSpacing="xs" striped withTableBorder className="backups-runs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('runStarted')}</Table.Th>
                  <Table.Th>{t('runKind')}</Table.Th>
                  <Table.Th>{t('runStatus')}</Table.Th>
                  <Table.Th>{t('runFile')}</Table.Th>
                  <Table.Th ta="right">{t('runSize')}</Table.Th>
                  <Table.Th ta="right">{t('runRows')}</Table.Th>
                  <Table.Th>{t('runResult')}</Table.Th>
                  <Table.Th>{t('runStartedBy')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {runs.data.items.map((run) => (
                  <Table.Tr key={run.id}>
                    <Table.Td className="backups-nowrap">{formatDateTime(run.startedAt, i18n.language)}</Table.Td>
                    <Table.Td>{t(`runKind_${run.kind}`)}</Table.Td>
                    <Table.Td><Badge className="backups-badge" variant="light" color={run.status === 'ok' ? 'green' : run.status === 'failed' ? 'red' : 'blue'}>{t(`runStatus_${run.status}`)}</Badge></Table.Td>
                    <Table.Td className="backups-file">{run.file ?? ''}</Table.Td>
                    <Table.Td ta="right" className="backups-nowrap">{run.bytes === null ? '' : formatBytes(run.bytes, i18n.language)}</Table.Td>
                    <Table.Td ta="right">{run.rows === null ? '' : run.rows.toLocaleString(i18n.language)}</Table.Td>
                    <Table.Td>{runResult(run, t, i18n.language)}</Table.Td>
                    <Table.Td>{run.kind === 'scheduled' ? t('bySchedule') : run.requestedBy === null ? t('byCommandLine') : nameOf(run.requestedBy) ?? t('byUser')}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </div>
        )}
      </Stack>
    </Page>
  );
}

/** Freshness, the last backup and drill, the schedule and retention, as small panels. */
export function BackupFacts({ status }: { status: BackupStatus }) {
  const { t, i18n } = useTranslation('admin');
  const when = (iso: string | null) => formatDateTime(iso, i18n.language);
  const last = status.lastBackup;
  const drill = status.lastDrill;
  return (
    <div className="backups-cards">
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="backup-fresh-heading">
        <Stack gap="xs">
          <Group justify="space-between" gap="xs">
            <Title order={2} size="h5" id="backup-fresh-heading">{t('freshnessHeading')}</Title>
            <Badge className="backups-badge" color={status.fresh ? 'green' : 'red'} variant="filled">{t(status.fresh ? 'fresh' : 'stale')}</Badge>
          </Group>
          <Text size="sm">{t(status.fresh ? 'freshNote' : last ? 'staleNote' : 'noBackupNote')}</Text>
          {status.folder && <Text size="sm" c="dimmed">{t('backupFolder', { folder: status.folder })}</Text>}
        </Stack>
      </Paper>
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="backup-last-heading">
        <Stack gap="xs">
          <Title order={2} size="h5" id="backup-last-heading">{t('lastBackupHeading')}</Title>
          {last ? (
            <dl className="backups-facts">
              <dt>{t('takenAt')}</dt>
              <dd>{when(last.at)}</dd>
              <dt>{t('runSize')}</dt>
              <dd>{formatBytes(last.bytes, i18n.language)}</dd>
              <dt>{t('verified')}</dt>
              <dd>{last.verifiedAt ? <Text size="sm" c="green.8">{t('verifiedAt', { at: when(last.verifiedAt) })}</Text> : <Text size="sm" c="orange.8">{t('notVerified')}</Text>}</dd>
            </dl>
          ) : (
            <Text size="sm" c="dimmed">{t('noBackupYet')}</Text>
          )}
        </Stack>
      </Paper>
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="backup-drill-heading">
        <Stack gap="xs">
          <Title order={2} size="h5" id="backup-drill-heading">{t('lastDrillHeading')}</Title>
          {drill ? (
            <dl className="backups-facts">
              <dt>{t('drilledAt')}</dt>
              <dd>{when(drill.at)}</dd>
              <dt>{t('drillOutcome')}</dt>
              <dd>
                {drill.matched === true ? (
                  <Badge className="backups-badge" color="green" variant="light">{t('drillMatched')}</Badge>
                ) : drill.matched === false ? (
                  <Badge className="backups-badge" color="red" variant="light">{t('drillDiffered')}</Badge>
                ) : (
                  <Badge className="backups-badge" color="red" variant="light">{t('drillFailed')}</Badge>
                )}
              </dd>
            </dl>
          ) : (
            <Text size="sm" c="dimmed">{t('noDrillYet')}</Text>
          )}
        </Stack>
      </Paper>
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="backup-schedule-heading">
        <Stack gap="xs">
          <Title order={2} size="h5" id="backup-schedule-heading">{t('scheduleHeading')}</Title>
          <dl className="backups-facts">
            <dt>{t('schedule')}</dt>
            <dd>{scheduleText(status.schedule, t)}</dd>
            <dt>{t('nextRun')}</dt>
            <dd>{status.nextRunAt ? (Date.parse(status.nextRunAt) <= Date.now() ? t('dueNow') : when(status.nextRunAt)) : t('notScheduled')}</dd>
            <dt>{t('drillFrequency')}</dt>
            <dd>{t(`drill_${status.drill}`)}</dd>
          </dl>
        </Stack>
      </Paper>
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="backup-retention-heading">
        <Stack gap="xs">
          <Title order={2} size="h5" id="backup-retention-heading">{t('retentionHeading')}</Title>
          <dl className="backups-facts">
            <dt>{t('keepDaily')}</dt>
            <dd>{status.retention.daily}</dd>
            <dt>{t('keepWeekly')}</dt>
            <dd>{status.retention.weekly}</dd>
            <dt>{t('keepMonthly')}</dt>
            <dd>{status.retention.monthly}</dd>
            <dt>{t('filesKept')}</dt>
            <dd>{status.filesKept}</dd>
          </dl>
        </Stack>
      </Paper>
    </div>
  );
}

/** `02:30` reads as a daily time in UTC, `6h` as an interval; anything else as written. */
export function scheduleText(schedule: string, t: TFunction<'admin'>): string {
  if (/^\d{2}:\d{2}$/.test(schedule)) return t('scheduleDaily', { time: schedule });
  const hours = /^(\d{1,2})h$/.exec(schedule);
  if (hours) return t('scheduleEvery', { count: Number(hours[1]) });
  return schedule;
}

/** A size in bytes, in the largest unit that keeps it above one. */
export function formatBytes(bytes: number, language: string): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toLocaleString(language, { maximumFractionDigits: unit === 0 ? 0 : 1 })} ${units[unit]}`;
}

function runResult(run: BackupRun, t: TFunction<'admin'>, language: string): string {
  if (run.status === 'running') return '';
  if (run.error) return problemMessage({ code: run.error.code, message: run.error.message, status: 0 }, t);
  if (run.kind === 'drill') return run.drill?.matched ? t('drillMatched') : t('drillDiffered');
  const parts = [run.verifiedAt ? t('verifiedAt', { at: formatDateTime(run.verifiedAt, language) }) : t('notVerified')];
  if (run.prunedAt) parts.push(t('prunedAt', { at: formatDateTime(run.prunedAt, language) }));
  else if (run.tier) parts.push(t(`tier_${run.tier}`));
  return parts.join(' · ');
}
