import { Fragment, useState, type ReactNode } from 'react';
import { Alert, Anchor, Badge, Button, Drawer, Group, Loader, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { useStepUp } from '../access/step-up';
import { useAccess } from '../access/use-access';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { figureText, humanize, isClosed, ON_USER, REFRESH_MS, responseStateColor, responseTarget, REVERSIBLE_KINDS, severityColor, statusColor, type AlertDetail, type AlertResponse } from './alert-model';
import { ConfirmDialog } from './confirm-dialog';
import { UserRef } from './user-ref';

/** One alert with its evidence and responses, asked again every few seconds while it is shown. */
export function useAlert(alertId: string | null) {
  return useQuery({
    queryKey: ['alerts', 'detail', alertId],
    queryFn: async () => must(await api.GET('/api/v1/alerts/{id}', { params: { path: { id: alertId! } } })),
    enabled: alertId !== null,
    refetchInterval: REFRESH_MS,
  });
}

/** One alert in full, beside the list: what happened, what was done about it, and the means to handle it. */
export function AlertDrawer({ alertId, onClose }: { alertId: string | null; onClose: () => void }) {
  const { t } = useTranslation('security');
  const alert = useAlert(alertId);
  const title = alert.data ? t(`rule_${alert.data.rule}`, { defaultValue: alert.data.rule }) : t('alert');
  return (
    <Drawer opened={alertId !== null} onClose={onClose} position="right" size="xl" title={title} closeButtonProps={{ 'aria-label': t('close') }}>
      {alert.isPending && alertId !== null && <Loader size="sm" aria-label={t('loading')} />}
      {alert.error && <Alert color="red" role="alert">{problemMessage(problemFrom(alert.error), t)}</Alert>}
      {alert.data && alert.data.id === alertId && <AlertBody key={alert.data.id} alert={alert.data} />}
    </Drawer>
  );
}

type Transition = 'acknowledge' | 'resolve' | 'false-positive';

/**
 * The alert's facts, then handling it: a note and the transitions its status allows (each sends
 * the version read, so two handlers cannot overwrite each other), and the incident it belongs to.
 */
export function AlertBody({ alert }: { alert: AlertDetail }) {
  const { t, i18n } = useTranslation('security');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [note, setNote] = useState('');
  const [noteError, setNoteError] = useState<string | null>(null);
  const [incident, setIncident] = useState(alert.incidentId ?? '');
  const [done, setDone] = useState<string | null>(null);

  const settle = async (updated?: Partial<AlertDetail>) => {
    if (updated) queryClient.setQueryData<AlertDetail>(['alerts', 'detail', alert.id], (old) => (old ? { ...old, ...updated } : old));
    await queryClient.invalidateQueries({ queryKey: ['alerts'] });
  };

  const transition = useMutation({
    mutationFn: ({ to, note: text }: { to: Transition; note: string }) =>
      withStepUp(async () => {
        const options = { params: { path: { id: alert.id } }, body: { version: alert.version, ...(text ? { note: text } : {}) } };
        if (to === 'acknowledge') return must(await api.POST('/api/v1/alerts/{id}/acknowledge', options));
        if (to === 'resolve') return must(await api.POST('/api/v1/alerts/{id}/resolve', options));
        return must(await api.POST('/api/v1/alerts/{id}/false-positive', options));
      }),
    onSuccess: async (updated, { to }) => {
      setNote('');
      setDone(t(`alertDone_${to}`));
      await settle(updated);
    },
  });
  const run = (to: Transition) => {
    setDone(null);
    if (to === 'false-positive' && !note.trim()) {
      setNoteError(t('falsePositiveNeedsNote'));
      return;
    }
    setNoteError(null);
    transition.mutate({ to, note: note.trim() });
  };

  const link = useMutation({
    mutationFn: (incidentId: string | null) => withStepUp(async () => must(await api.PUT('/api/v1/alerts/{id}/incident', { params: { path: { id: alert.id } }, body: { incidentId, version: alert.version } }))),
    onSuccess: async (updated, incidentId) => {
      setIncident(incidentId ?? '');
      setDone(incidentId ? t('incidentLinked') : t('incidentUnlinked'));
      await settle(updated);
    },
  });

  const closed = isClosed(alert.status);
  const failure = transition.error ?? link.error;
  const row = (label: string, value: ReactNode, mono = false) => (
    <>
      <dt>{label}</dt>
      <dd className={mono ? 'security-mono' : undefined}>{value === null || value === undefined || value === '' ? '—' : value}</dd>
    </>
  );

  return (
    <Stack gap="lg">
      <Stack gap="xs">
        <Group gap="xs">
          <Badge className="security-badge" color={severityColor(alert.severity)} variant="filled">{t(`severity_${alert.severity}`)}</Badge>
          <Badge className="security-badge" color={statusColor(alert.status)} variant="light">{t(`alertStatus_${alert.status}`)}</Badge>
          <Text size="xs" c="dimmed" className="security-mono">{alert.rule}</Text>
        </Group>
        <Text>{alert.summary}</Text>
      </Stack>

      <dl className="security-details">
        {row(t('actorKind'), alert.actorKind ? t(`actorKind_${alert.actorKind}`, { defaultValue: alert.actorKind }) : null)}
        {row(t('actor'), alert.actorId ? <UserRef id={alert.actorId} /> : null)}
        {row(t('address'), alert.sourceAddress, true)}
        {row(t('events'), alert.eventCount.toLocaleString(i18n.language))}
        {row(t('firstSeenAt'), formatDateTime(alert.firstSeenAt, i18n.language))}
        {row(t('lastSeenAt'), formatDateTime(alert.lastSeenAt, i18n.language))}
        {row(t('raisedAt'), formatDateTime(alert.createdAt, i18n.language))}
        {row(t('handledBy'), alert.handledBy ? <><UserRef id={alert.handledBy} /> · {formatDateTime(alert.handledAt, i18n.language)}</> : null)}
        {row(t('note'), alert.note)}
        {row(t('incident'), alert.incidentId)}
      </dl>

      <Stack gap="xs" component="section" aria-labelledby="alert-handle-heading">
        <Title order={3} size="h5" id="alert-handle-heading">{t('handleHeading')}</Title>
        {failure && <Alert color="red" role="alert">{problemMessage(problemFrom(failure), t)}</Alert>}
        {done && <Alert color="green" role="status">{done}</Alert>}
        {closed ? (
          <Text size="sm" c="dimmed">{t('alertClosed')}</Text>
        ) : (
          <>
            <Textarea label={t('note')} description={t('noteHint')} maxLength={1000} rows={2} value={note} error={noteError} onChange={(event) => setNote(event.currentTarget.value)} />
            <div className="security-actions">
              {alert.status === 'open' && (
                <Button variant="light" loading={transition.isPending && transition.variables?.to === 'acknowledge'} onClick={() => run('acknowledge')}>{t('acknowledge')}</Button>
              )}
              <Button color="green" loading={transition.isPending && transition.variables?.to === 'resolve'} onClick={() => run('resolve')}>{t('resolve')}</Button>
              <Button color="gray" variant="light" loading={transition.isPending && transition.variables?.to === 'false-positive'} onClick={() => run('false-positive')}>{t('markFalsePositive')}</Button>
            </div>
            <Text size="xs" c="dimmed">{t('falsePositiveHint')}</Text>
          </>
        )}
        <form
          className="security-inline-form"
          onSubmit={(event) => {
            event.preventDefault();
            setDone(null);
            link.mutate(incident.trim() || null);
          }}
        >
          <TextInput label={t('incident')} description={t('incidentHint')} maxLength={100} value={incident} onChange={(event) => setIncident(event.currentTarget.value)} />
          <Button type="submit" variant="default" loading={link.isPending} disabled={(incident.trim() || null) === (alert.incidentId ?? null)}>
            {!incident.trim() && alert.incidentId ? t('unlinkIncident') : t('linkIncident')}
          </Button>
        </form>
      </Stack>

      <ResponsesSection alert={alert} />

      <FiguresSection figures={alert.evidence.figures} />

      <EvidenceSection alert={alert} />
    </Stack>
  );
}

function FiguresSection({ figures }: { figures: Record<string, unknown> }) {
  const { t, i18n } = useTranslation('security');
  const entries = Object.entries(figures ?? {});
  if (entries.length === 0) return null;
  return (
    <Stack gap="xs" component="section" aria-labelledby="alert-figures-heading">
      <Title order={3} size="h5" id="alert-figures-heading">{t('figuresHeading')}</Title>
      <dl className="security-details">
        {entries.map(([key, value]) => (
          <Fragment key={key}>
            <dt>{t(`figure_${key}`, { defaultValue: humanize(key) })}</dt>
            <dd>{figureText(value, i18n.language, (yes) => t(yes ? 'yes' : 'no'))}</dd>
          </Fragment>
        ))}
      </dl>
    </Stack>
  );
}

/** The audit entries behind the alert, each a link into the audit log for those who may read it. */
function EvidenceSection({ alert }: { alert: AlertDetail }) {
  const { t, i18n } = useTranslation('security');
  const { access } = useAccess();
  const seqs = alert.evidence.auditSeqs;
  const requests = alert.evidence.requestEventIds.length;
  return (
    <Stack gap="xs" component="section" aria-labelledby="alert-evidence-heading">
      <Title order={3} size="h5" id="alert-evidence-heading">{t('evidenceHeading')}</Title>
      {seqs.length === 0 && requests === 0 && <Text size="sm" c="dimmed">{t('noEvidence')}</Text>}
      {seqs.length > 0 && (
        <Stack gap={4}>
          <Text size="sm">{t('evidenceEntries', { count: seqs.length })}</Text>
          <ul className="security-chips" aria-label={t('evidenceEntriesLabel')}>
            {seqs.map((seq) => (
              <li key={seq}>
                {access.may('audit.read') ? (
                  <Anchor component={Link} href={`/audit/${seq}`} size="sm" aria-label={t('openEntry', { entry: seq })}>#{seq}</Anchor>
                ) : (
                  <Text size="sm" component="span">#{seq}</Text>
                )}
              </li>
            ))}
          </ul>
          {!access.may('audit.read') && <Text size="xs" c="dimmed">{t('evidenceNeedsAudit')}</Text>}
        </Stack>
      )}
      {requests > 0 && <Text size="sm">{t('evidenceRequests', { count: requests, formatted: requests.toLocaleString(i18n.language) })}</Text>}
    </Stack>
  );
}

type Operation = { response: AlertResponse; op: 'execute' | 'reverse' };

/** What a response did, in a few words: sessions ended, tokens revoked, until when, why it failed. */
export function responseOutcome(response: AlertResponse, t: TFunction, language: string): string {
  const details = response.details as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof details.error === 'string') parts.push(problemMessage({ code: details.error, message: details.error, status: 0 }, t));
  if (typeof details.sessions === 'number') parts.push(t(details.mode === 'second_factor' ? 'outcomeSecondFactor' : 'outcomeSessions', { count: details.sessions }));
  if (typeof details.tokens === 'number' && details.tokens > 0) parts.push(t('outcomeTokens', { count: details.tokens }));
  if (typeof details.until === 'string') parts.push(t('outcomeUntil', { time: formatDateTime(details.until, language) }));
  if (details.alreadyInForce === true || details.alreadyLocked === true) parts.push(t('outcomeAlready'));
  return parts.join(' · ');
}

/**
 * What was done or offered: automatic responses as they ran, suggested (or failed) ones with
 * Execute, done ones with Reverse (all but a notice, which has gone out). Each asks once more.
 */
function ResponsesSection({ alert }: { alert: AlertDetail }) {
  const { t, i18n } = useTranslation('security');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [asking, setAsking] = useState<Operation | null>(null);
  const operate = useMutation({
    mutationFn: ({ response, op }: Operation) =>
      withStepUp(async () => {
        const path = { params: { path: { id: alert.id, responseId: response.id } } };
        return op === 'execute'
          ? must(await api.POST('/api/v1/alerts/{id}/responses/{responseId}/execute', path))
          : must(await api.POST('/api/v1/alerts/{id}/responses/{responseId}/reverse', path));
      }),
    onSuccess: async () => {
      setAsking(null);
      // A response changes what the detection page and every screen's lockdown banner show.
      await Promise.all([queryClient.invalidateQueries({ queryKey: ['alerts'] }), queryClient.invalidateQueries({ queryKey: ['detection'] }), queryClient.invalidateQueries({ queryKey: ['auth', 'access'] })]);
    },
  });
  const kindLabel = (response: AlertResponse) => t(`response_${response.kind}`);
  const ask = (response: AlertResponse, op: Operation['op']) => {
    operate.reset();
    setAsking({ response, op });
  };
  return (
    <Stack gap="xs" component="section" aria-labelledby="alert-responses-heading">
      <Title order={3} size="h5" id="alert-responses-heading">{t('responsesHeading')}</Title>
      {alert.responses.length === 0 ? (
        <Text size="sm" c="dimmed">{t('noResponses')}</Text>
      ) : (
        <Table.ScrollContainer minWidth={620}>
          <Table aria-labelledby="alert-responses-heading" verticalSpacing="xs" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('response')}</Table.Th>
                <Table.Th>{t('target')}</Table.Th>
                <Table.Th>{t('state')}</Table.Th>
                <Table.Th>{t('when')}</Table.Th>
                <Table.Th>{t('actions')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {alert.responses.map((response) => {
                const outcome = responseOutcome(response, t, i18n.language);
                const target = responseTarget(response, alert);
                return (
                  <Table.Tr key={response.id}>
                    <Table.Td>
                      <Text size="sm">{kindLabel(response)}</Text>
                      {outcome && <Text size="xs" c="dimmed">{outcome}</Text>}
                    </Table.Td>
                    <Table.Td>
                      {target && ON_USER.has(response.kind) ? <UserRef id={target} /> : <Text size="sm" className="security-mono">{target ?? (response.kind === 'lockdown' ? t('organisationWide') : '—')}</Text>}
                    </Table.Td>
                    <Table.Td><Badge className="security-badge" color={responseStateColor(response.state)} variant="light">{t(`responseState_${response.state}`)}</Badge></Table.Td>
                    <Table.Td>
                      <Text size="xs">{formatDateTime(response.reversedAt ?? response.executedAt ?? response.createdAt, i18n.language)}</Text>
                    </Table.Td>
                    <Table.Td>
                      {(response.state === 'suggested' || response.state === 'failed') && (
                        <Button size="compact-sm" variant="light" color="red" onClick={() => ask(response, 'execute')} aria-label={t('executeResponse', { response: kindLabel(response) })}>
                          {response.state === 'failed' ? t('retry') : t('execute')}
                        </Button>
                      )}
                      {response.state === 'done' && REVERSIBLE_KINDS.has(response.kind) && (
                        <Button size="compact-sm" variant="default" onClick={() => ask(response, 'reverse')} aria-label={t('reverseResponse', { response: kindLabel(response) })}>
                          {t('reverse')}
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <ConfirmDialog
        opened={asking !== null}
        title={asking ? t(asking.op === 'execute' ? 'executeTitle' : 'reverseTitle', { response: kindLabel(asking.response) }) : ''}
        message={asking ? t(`${asking.op}_${asking.response.kind}`, { target: responseTarget(asking.response, alert) ?? '' }) : ''}
        confirmLabel={asking?.op === 'execute' ? t('execute') : t('reverse')}
        danger={asking?.op === 'execute'}
        busy={operate.isPending}
        error={operate.error ? problemMessage(problemFrom(operate.error), t) : null}
        onConfirm={() => asking && operate.mutate(asking)}
        onCancel={() => setAsking(null)}
      />
    </Stack>
  );
}
