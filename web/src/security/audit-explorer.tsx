import { useEffect, useState } from 'react';
import { Alert, Button, Code, Drawer, Group, Loader, Stack, Table, Text, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { formatDateTime } from '../shared/format';
import { formProblem, problemMessage } from '../shared/problems';
import { Page } from '../shell/page';
import { AuditFilters, auditQuery, FILTER_FIELDS, NO_FILTER, type AuditFilterValues } from './audit-filters';
import { ChainStatusPanel } from './chain-status';
import { CursorPager } from '../shared/cursor-pager';

export type AuditEntry = paths['/api/v1/audit/entries']['get']['responses'][200]['content']['application/json']['items'][number];

const PAGE_SIZE = 50;

/** The colour of an outcome, the same in the table and the drawer. */
export function outcomeColor(outcome: string): string {
  return outcome === 'success' ? 'green' : outcome === 'denied' ? 'orange' : 'red';
}

/**
 * Searching the audit log: the chain's status on top, the filters, a page of entries newest
 * first, and one entry in full in a drawer. Filters and paging live in this component's state:
 * actor ids, addresses and times say who did what, and stay out of the address bar. An entry
 * number (an alert's evidence links here) starts the page at that entry and opens it.
 */
export function AuditExplorer({ focusSeq = null }: { focusSeq?: number | null }) {
  const { t, i18n } = useTranslation('security');
  const [filter, setFilter] = useState<AuditFilterValues>(NO_FILTER);
  // The `before` of each page opened so far; the first page has none.
  const [pages, setPages] = useState<(number | undefined)[]>([focusSeq === null ? undefined : focusSeq + 1]);
  const [open, setOpen] = useState<AuditEntry | null>(null);
  const [focused, setFocused] = useState(false);
  const before = pages.at(-1);
  const entries = useQuery({
    queryKey: ['audit', 'entries', filter, before],
    queryFn: async () => must(await api.GET('/api/v1/audit/entries', { params: { query: { ...auditQuery(filter), limit: String(PAGE_SIZE), ...(before ? { before: String(before) } : {}) } } })),
    placeholderData: keepPreviousData,
  });
  // Opened once, when the entry asked for arrives; closing it leaves the page as it is.
  const focusEntry = focusSeq !== null && !focused ? entries.data?.items.find((entry) => entry.seq === focusSeq) : undefined;
  useEffect(() => {
    if (focusEntry) {
      setFocused(true);
      setOpen(focusEntry);
    }
  }, [focusEntry]);
  const search = (values: AuditFilterValues) => {
    setFilter(values);
    setPages([undefined]);
  };
  const problem = entries.error ? formProblem(problemFrom(entries.error), t, FILTER_FIELDS) : null;
  const items = entries.data?.items ?? [];

  return (
    <Page title={t('auditHeading')}>
      <ChainStatusPanel />
      <AuditFilters initial={filter} onSearch={search} problem={problem} />
      <Stack gap="xs">
        <Group justify="space-between">
          <Title order={2} size="h4" id="audit-entries-heading">{t('entriesHeading')}</Title>
          {entries.isFetching && <Loader size="xs" aria-label={t('loading')} />}
        </Group>
        {!entries.isPending && !entries.error && items.length === 0 && <Text c="dimmed">{t('noEntries')}</Text>}
        {items.length > 0 && (
          <Table.ScrollContainer minWidth={960}>
            <Table aria-labelledby="audit-entries-heading" verticalSpacing="xs" striped highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th className="security-nowrap">{t('entry')}</Table.Th>
                  <Table.Th className="security-nowrap">{t('time')}</Table.Th>
                  <Table.Th>{t('actor')}</Table.Th>
                  <Table.Th>{t('action')}</Table.Th>
                  <Table.Th className="security-nowrap">{t('outcome')}</Table.Th>
                  <Table.Th>{t('records')}</Table.Th>
                  <Table.Th className="security-nowrap">{t('address')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((entry) => (
                  <Table.Tr key={entry.seq}>
                    <Table.Td>
                      <Button size="compact-sm" variant="subtle" onClick={() => setOpen(entry)} aria-label={t('openEntry', { entry: entry.seq })}>
                        {entry.seq}
                      </Button>
                    </Table.Td>
                    <Table.Td className="security-nowrap"><Text size="sm">{formatDateTime(entry.time, i18n.language)}</Text></Table.Td>
                    <Table.Td><Text size="sm" className="security-mono">{entry.actorKind}{entry.actorId ? `: ${entry.actorId}` : ''}</Text></Table.Td>
                    <Table.Td className="security-nowrap"><Text size="sm">{entry.action}</Text></Table.Td>
                    <Table.Td className="security-nowrap"><Text size="sm" fw={600} c={outcomeColor(entry.outcome)}>{t(`outcome_${entry.outcome}`)}</Text></Table.Td>
                    <Table.Td><Text size="sm">{recordsOf(entry, t)}</Text></Table.Td>
                    <Table.Td className="security-nowrap"><Text size="sm" className="security-mono">{entry.sourceAddress ?? ''}</Text></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <CursorPager pages={pages} next={entries.data?.nextBefore} onPages={setPages} t={t} />
      </Stack>
      <EntryDrawer entry={open} onClose={() => setOpen(null)} />
    </Page>
  );
}

function recordsOf(entry: AuditEntry, t: (key: string, options?: Record<string, unknown>) => string): string {
  if (entry.recordIds.length === 1) return `${entry.recordType ?? ''} ${entry.recordIds[0]}`.trim();
  if (entry.recordIds.length > 1) return t('recordCount', { count: entry.recordIds.length, type: entry.recordType ?? '' });
  return entry.recordType ?? '';
}

/**
 * One entry with every field, and its place in the Merkle tree: its hash, the tree head it is
 * proved into (the first signed checkpoint covering it) and the proof itself.
 */
export function EntryDrawer({ entry, onClose }: { entry: AuditEntry | null; onClose: () => void }) {
  const { t, i18n } = useTranslation('security');
  const proof = useQuery({
    queryKey: ['audit', 'inclusion', entry?.seq],
    queryFn: async () => must(await api.GET('/api/v1/audit/proofs/inclusion', { params: { query: { seq: String(entry!.seq) } } })),
    enabled: entry !== null,
    staleTime: Infinity,
  });
  const row = (label: string, value: string | null | undefined, mono = false) => (
    <>
      <dt>{label}</dt>
      <dd className={mono ? 'security-mono' : undefined}>{value === null || value === undefined || value === '' ? '—' : value}</dd>
    </>
  );
  return (
    <Drawer opened={entry !== null} onClose={onClose} position="right" size="lg" title={entry ? t('entryHeading', { entry: entry.seq }) : ''} closeButtonProps={{ 'aria-label': t('close') }}>
      {entry && (
        <Stack gap="md">
          <dl className="security-details">
            {row(t('time'), formatDateTime(entry.time, i18n.language))}
            {row(t('timeExact'), entry.time, true)}
            {row(t('actorKind'), t(`actorKind_${entry.actorKind}`))}
            {row(t('actor'), entry.actorId, true)}
            {row(t('session'), entry.sessionId, true)}
            {row(t('channel'), entry.channel)}
            {row(t('address'), entry.sourceAddress, true)}
            {row(t('userAgent'), entry.userAgent)}
            {row(t('action'), entry.action)}
            {row(t('outcome'), t(`outcome_${entry.outcome}`))}
            {row(t('recordType'), entry.recordType)}
            {row(t('records'), entry.recordIds.join(', '), true)}
            {row(t('fields'), entry.fields.join(', '))}
            {row(t('requestId'), entry.requestId, true)}
          </dl>
          <Stack gap={4}>
            <Title order={3} size="h5">{t('details')}</Title>
            <Code block className="security-json">{JSON.stringify(entry.details, null, 2)}</Code>
          </Stack>
          <Stack gap={4}>
            <Title order={3} size="h5">{t('proofHeading')}</Title>
            {proof.isPending && <Loader size="xs" aria-label={t('loading')} />}
            {proof.error && <Alert color="red" role="alert">{problemMessage(problemFrom(proof.error), t)}</Alert>}
            {proof.data && (
              <>
                <dl className="security-details">
                  {row(t('entryHash'), proof.data.entryHash, true)}
                  {row(t('treeSize'), String(proof.data.treeSize))}
                  {row(t('rootHash'), proof.data.rootHash, true)}
                  {row(t('proofLength'), String(proof.data.proof.length))}
                </dl>
                <Text size="sm" c={proof.data.checkpoint ? undefined : 'dimmed'}>{proof.data.checkpoint ? t('provedSigned', { size: proof.data.treeSize }) : t('provedUnsigned')}</Text>
                {proof.data.proof.length > 0 && <Code block className="security-json">{proof.data.proof.join('\n')}</Code>}
              </>
            )}
          </Stack>
        </Stack>
      )}
    </Drawer>
  );
}
