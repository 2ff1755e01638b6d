import { useState } from 'react';
import { Anchor, Badge, Button, Group, Loader, Stack, Table, Text, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'wouter';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { formProblem } from '../shared/problems';
import { Page } from '../shell/page';
import { AlertDrawer } from './alert-drawer';
import { ALERT_FILTER_FIELDS, AlertFilters, alertsQuery, NO_ALERT_FILTER, type AlertFilterValues } from './alert-filters';
import { REFRESH_MS, severityColor, statusColor } from './alert-model';
import { CursorPager } from '../shared/cursor-pager';

const PAGE_SIZE = 50;

/**
 * The alerts the engine raised, newest first, with the filters above and one alert in a drawer
 * whose address (/security/alerts/ID) can be shared. Both ask again every few seconds while open,
 * so a new alert or a response that ran shows without a reload.
 */
export function AlertsPage({ alertId = null }: { alertId?: string | null }) {
  const { t, i18n } = useTranslation('security');
  const [, navigate] = useLocation();
  const [filter, setFilter] = useState<AlertFilterValues>(NO_ALERT_FILTER);
  // The cursor of each page opened so far; the first page has none.
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const cursor = pages.at(-1);
  const alerts = useQuery({
    queryKey: ['alerts', 'list', filter, cursor],
    queryFn: async () => must(await api.GET('/api/v1/alerts', { params: { query: { ...alertsQuery(filter), limit: String(PAGE_SIZE), ...(cursor ? { cursor } : {}) } } })),
    placeholderData: keepPreviousData,
    refetchInterval: REFRESH_MS,
  });
  const search = (values: AlertFilterValues) => {
    setFilter(values);
    setPages([undefined]);
  };
  const problem = alerts.error ? formProblem(problemFrom(alerts.error), t, ALERT_FILTER_FIELDS) : null;
  const items = alerts.data?.items ?? [];

  return (
    <Page title={t('alertsHeading')} actions={<Button component={Link} href="/detection" variant="default">{t('navDetection')}</Button>}>
      <AlertFilters initial={filter} onSearch={search} problem={problem} />
      <Stack gap="xs">
        <Group justify="space-between">
          <Title order={2} size="h4" id="alerts-heading">{t('alertsListHeading')}</Title>
          {alerts.isFetching && <Loader size="xs" aria-label={t('loading')} />}
        </Group>
        {!alerts.isPending && !alerts.error && items.length === 0 && <Text c="dimmed">{t('noAlerts')}</Text>}
        {items.length > 0 && (
          <Table.ScrollContainer minWidth={900}>
            <Table aria-labelledby="alerts-heading" className="security-alerts" verticalSpacing="xs" striped highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('severity')}</Table.Th>
                  <Table.Th>{t('alert')}</Table.Th>
                  <Table.Th>{t('alertStatus')}</Table.Th>
                  <Table.Th ta="right">{t('events')}</Table.Th>
                  <Table.Th className="security-nowrap">{t('lastSeenAt')}</Table.Th>
                  <Table.Th className="security-nowrap">{t('address')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((alert) => (
                  <Table.Tr key={alert.id} data-selected={alert.id === alertId || undefined}>
                    <Table.Td><Badge className="security-badge" color={severityColor(alert.severity)} variant="filled">{t(`severity_${alert.severity}`)}</Badge></Table.Td>
                    <Table.Td>
                      <Stack gap={2}>
                        <Anchor component={Link} href={`/alerts/${alert.id}`} fw={600} size="sm">{t(`rule_${alert.rule}`, { defaultValue: alert.rule })}</Anchor>
                        <Text size="sm" c="dimmed">{alert.summary}</Text>
                      </Stack>
                    </Table.Td>
                    <Table.Td><Badge className="security-badge" color={statusColor(alert.status)} variant="light">{t(`alertStatus_${alert.status}`)}</Badge></Table.Td>
                    <Table.Td ta="right">{alert.eventCount.toLocaleString(i18n.language)}</Table.Td>
                    <Table.Td className="security-nowrap"><Text size="sm">{formatDateTime(alert.lastSeenAt, i18n.language)}</Text></Table.Td>
                    <Table.Td className="security-nowrap"><Text size="sm" className="security-mono">{alert.sourceAddress ?? ''}</Text></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <CursorPager pages={pages} next={alerts.data?.nextCursor} onPages={setPages} t={t} />
      </Stack>
      <AlertDrawer alertId={alertId} onClose={() => navigate('/alerts')} />
    </Page>
  );
}
