import { useState } from 'react';
import { Alert, Badge, Button, Group, Loader, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { useStepUp } from '../access/step-up';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { Page } from '../shell/page';
import { REFRESH_MS } from './alert-model';
import { ConfirmDialog } from './confirm-dialog';
import { UserRef } from './user-ref';
import { BlocksPanel, LockedAccountsPanel } from './containment-panels';
import { DetectionRules } from './detection-rules';
import { HoneytokensPanel } from './honeytokens-panel';

/**
 * Detection administration: whether the engine keeps up, the lockdown switch, the rules and what
 * they do, the addresses blocked and accounts locked (by rules or by hand), and the honeytokens.
 */
export function DetectionPage() {
  const { t } = useTranslation('security');
  return (
    <Page title={t('detectionHeading')} actions={<Button component={Link} href="/alerts" variant="default">{t('navAlerts')}</Button>}>
      <div className="security-cards">
        <EngineStatus />
        <LockdownPanel />
      </div>
      <DetectionRules />
      <div className="security-cards">
        <BlocksPanel />
        <LockedAccountsPanel />
      </div>
      <HoneytokensPanel />
    </Page>
  );
}

/** A minute without a run means no process holds the engine, or the one that does is stuck. */
const STALE_MS = 60_000;

export function EngineStatus() {
  const { t, i18n } = useTranslation('security');
  const status = useQuery({ queryKey: ['detection', 'status'], queryFn: async () => must(await api.GET('/api/v1/detection/status')), refetchInterval: REFRESH_MS });
  const n = (value: number) => value.toLocaleString(i18n.language);
  const data = status.data;
  const running = data ? data.leaseHolder !== null && data.lastRunAt !== null && Date.now() - new Date(data.lastRunAt).getTime() < STALE_MS : false;
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="engine-heading">
      <Stack gap="xs">
        <Group justify="space-between">
          <Title order={2} size="h4" id="engine-heading">{t('engineHeading')}</Title>
          {data && <Badge color={running ? 'green' : 'orange'} variant="light">{running ? t('engineRunning') : t('engineStopped')}</Badge>}
        </Group>
        {status.isPending && <Loader size="xs" aria-label={t('loading')} />}
        {status.error && <Alert color="red" role="alert">{problemMessage(problemFrom(status.error), t)}</Alert>}
        {data && (
          <>
            <dl className="security-details">
              <dt>{t('engineReadUpTo')}</dt>
              <dd>{t('engineEntries', { seq: n(data.auditSeq), head: n(data.auditHead) })}</dd>
              <dt>{t('engineLag')}</dt>
              <dd>{n(data.lagEntries)}</dd>
              <dt>{t('engineLastRun')}</dt>
              <dd>{data.lastRunAt ? formatDateTime(data.lastRunAt, i18n.language) : '—'}</dd>
              <dt>{t('engineHolder')}</dt>
              <dd className="security-mono">{data.leaseHolder ?? '—'}</dd>
            </dl>
            {!running && <Text size="sm" c="dimmed">{t('engineStoppedHint')}</Text>}
          </>
        )}
      </Stack>
    </Paper>
  );
}

/**
 * The organisation-wide read-only mode: started with a reason, lifted by hand; both ask once more.
 * People who handle alerts keep working in it, everyone else can only read, and exports are off.
 */
export function LockdownPanel() {
  const { t, i18n } = useTranslation('security');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [reason, setReason] = useState('');
  const [reasonError, setReasonError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const lockdown = useQuery({ queryKey: ['detection', 'lockdown'], queryFn: async () => must(await api.GET('/api/v1/detection/lockdown')), refetchInterval: REFRESH_MS });
  const current = lockdown.data?.lockdown ?? null;
  const change = useMutation({
    mutationFn: (start: boolean) =>
      withStepUp(async () => (start ? must(await api.PUT('/api/v1/detection/lockdown', { body: { reason: reason.trim() } })) : must(await api.DELETE('/api/v1/detection/lockdown')))),
    onSuccess: async () => {
      setConfirming(false);
      setReason('');
      await Promise.all([queryClient.invalidateQueries({ queryKey: ['detection'] }), queryClient.invalidateQueries({ queryKey: ['auth', 'access'] })]);
    },
  });
  const ask = () => {
    if (!current && !reason.trim()) {
      setReasonError(t('lockdownNeedsReason'));
      return;
    }
    setReasonError(null);
    change.reset();
    setConfirming(true);
  };
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="lockdown-heading" className={current ? 'security-lockdown-on' : undefined}>
      <Stack gap="xs">
        <Group justify="space-between">
          <Title order={2} size="h4" id="lockdown-heading">{t('lockdownHeading')}</Title>
          {lockdown.data && <Badge color={current ? 'red' : 'gray'} variant={current ? 'filled' : 'light'}>{current ? t('lockdownOn') : t('lockdownOff')}</Badge>}
        </Group>
        {lockdown.isPending && <Loader size="xs" aria-label={t('loading')} />}
        {lockdown.error && <Alert color="red" role="alert">{problemMessage(problemFrom(lockdown.error), t)}</Alert>}
        <Text size="sm" c="dimmed">{t('lockdownIntro')}</Text>
        {lockdown.data && current && (
          <>
            <dl className="security-details">
              <dt>{t('reason')}</dt>
              <dd>{current.reason}</dd>
              <dt>{t('startedAt')}</dt>
              <dd>{formatDateTime(current.startedAt, i18n.language)}</dd>
              <dt>{t('startedBy')}</dt>
              <dd><UserRef id={current.startedBy} /></dd>
              {current.alertId && (
                <>
                  <dt>{t('alert')}</dt>
                  <dd><Link href={`/alerts/${current.alertId}`} className="security-mono">{current.alertId}</Link></dd>
                </>
              )}
            </dl>
            <Group>
              <Button color="green" onClick={ask}>{t('liftLockdown')}</Button>
            </Group>
          </>
        )}
        {lockdown.data && !current && (
          <form
            className="security-inline-form"
            onSubmit={(event) => {
              event.preventDefault();
              ask();
            }}
          >
            <TextInput label={t('reason')} maxLength={500} value={reason} error={reasonError} onChange={(event) => setReason(event.currentTarget.value)} />
            <Button type="submit" color="red">{t('startLockdown')}</Button>
          </form>
        )}
      </Stack>
      <ConfirmDialog
        opened={confirming}
        title={current ? t('liftLockdownTitle') : t('startLockdownTitle')}
        message={current ? t('liftLockdownConfirm') : t('startLockdownConfirm', { reason: reason.trim() })}
        confirmLabel={current ? t('liftLockdown') : t('startLockdown')}
        danger={!current}
        busy={change.isPending}
        error={change.error ? problemMessage(problemFrom(change.error), t) : null}
        onConfirm={() => change.mutate(!current)}
        onCancel={() => setConfirming(false)}
      />
    </Paper>
  );
}
