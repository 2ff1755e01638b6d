import '@mantine/charts/styles.css';
import './dashboard.css';
import { useState, type ReactNode } from 'react';
import { AreaChart, BarChart, DonutChart } from '@mantine/charts';
import { Alert, Loader, Paper, Select, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { useUser } from '../access/session';
import { Page } from '../shell/page';
import { problemMessage } from '../shared/problems';

type Figures = paths['/api/v1/dashboard']['get']['responses'][200]['content']['application/json'];

const CURRENCY_COLORS = ['blue.6', 'teal.6', 'violet.6', 'orange.6', 'cyan.6', 'grape.6'];
const STATUS_COLORS: Record<string, string> = { new: 'blue.5', open: 'cyan.6', pending: 'yellow.6', solved: 'teal.6', closed: 'gray.5' };
const PRIORITY_COLORS: Record<string, string> = { low: 'gray.5', normal: 'blue.5', high: 'orange.6', urgent: 'red.6' };

/**
 * The home page: the greeting, then the figures of GET /api/v1/dashboard as charts. A figure the
 * user's roles do not reach comes back null and its card is left out; the server has already
 * counted only the records the user may read.
 */
export default function DashboardPages() {
  const { t } = useTranslation('shell');
  const user = useUser();
  return (
    <Page title={t('welcome', { name: user.name })}>
      <DashboardFigures />
    </Page>
  );
}

/** The figures' cards, each shown only when the user's roles reach its records. */
export function DashboardFigures() {
  const { t } = useTranslation('dashboard');
  const [pipelineId, setPipelineId] = useState<string | null>(null);
  const figures = useQuery({
    queryKey: ['dashboard', pipelineId],
    queryFn: async () => must(await api.GET('/api/v1/dashboard', { params: { query: pipelineId ? { pipelineId } : {} } })),
    placeholderData: (previous) => previous,
  });
  if (figures.isPending) return <Loader aria-label={t('shell:loading')} />;
  if (figures.isError) {
    return (
      <Alert color="red" title={t('loadFailed')} role="alert">
        {problemMessage(problemFrom(figures.error), t)}
      </Alert>
    );
  }
  const view = figures.data;
  const none = !view.pipeline && !view.dealOutcomes && !view.ticketsByStatus && !view.activitiesByUser;
  if (none) return <Text c="dimmed">{t('nothingForYou')}</Text>;
  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">{t('scopeNote')}</Text>
      <div className="dashboard-grid">
        {view.pipeline && <PipelineCard pipeline={view.pipeline} onPipeline={setPipelineId} />}
        {view.dealOutcomes && <OutcomesCard outcomes={view.dealOutcomes} />}
        {view.ticketsByStatus && view.ticketsByPriority && <TicketsCard byStatus={view.ticketsByStatus} byPriority={view.ticketsByPriority} />}
        {view.activitiesByUser && <ActivitiesCard rows={view.activitiesByUser} />}
      </div>
    </Stack>
  );
}

function Card({ title, subtitle, action, children, id }: { title: string; subtitle?: string; action?: ReactNode; children: ReactNode; id: string }) {
  return (
    <Paper withBorder p="md" radius="md" className="dashboard-card" component="section" aria-labelledby={id}>
      <div className="dashboard-card-head">
        <div>
          <Title order={2} size="h4" id={id}>{title}</Title>
          {subtitle && <Text size="sm" c="dimmed">{subtitle}</Text>}
        </div>
        {action}
      </div>
      {children}
    </Paper>
  );
}

function Empty({ children }: { children: ReactNode }) {
  return (
    <div className="dashboard-empty">
      <Text c="dimmed">{children}</Text>
    </div>
  );
}

/** A chart as one image for screen readers, named by what it shows. */
function Chart({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div role="img" aria-label={label}>
      {children}
    </div>
  );
}

function useNumbers() {
  const { i18n } = useTranslation();
  const whole = new Intl.NumberFormat(i18n.language);
  const compact = new Intl.NumberFormat(i18n.language, { notation: 'compact', maximumFractionDigits: 1 });
  return { whole: (n: number) => whole.format(n), compact: (n: number) => compact.format(n), language: i18n.language };
}

function PipelineCard({ pipeline, onPipeline }: { pipeline: NonNullable<Figures['pipeline']>; onPipeline: (id: string) => void }) {
  const { t } = useTranslation('dashboard');
  const numbers = useNumbers();
  const pipelines = useQuery({ queryKey: ['pipelines'], queryFn: async () => must(await api.GET('/api/v1/pipelines')) });
  const currencies = [...new Set(pipeline.stages.flatMap((s) => s.amounts.map((a) => a.currency)))];
  const data = pipeline.stages.map((stage) => ({
    stage: stage.name,
    ...Object.fromEntries(currencies.map((c) => [c, stage.amounts.find((a) => a.currency === c)?.amount ?? 0])),
  }));
  const choices = pipelines.data?.items ?? [];
  return (
    <Card
      id="dashboard-pipeline"
      title={t('pipelineTitle')}
      subtitle={t('dealCount', { count: pipeline.stages.reduce((n, s) => n + s.count, 0) })}
      action={
        choices.length > 1 ? (
          <Select
            label={t('pipelineChoice')}
            size="xs"
            allowDeselect={false}
            data={choices.map((p) => ({ value: p.id, label: p.name }))}
            value={pipeline.id}
            onChange={(value) => value && onPipeline(value)}
          />
        ) : undefined
      }
    >
      {currencies.length === 0 ? (
        <Empty>{t('pipelineEmpty')}</Empty>
      ) : (
        <Chart label={t('pipelineChart', { name: pipeline.name })}>
          <BarChart
            // Stages run down the side, so every stage's name reads in full however many there are.
            h={Math.max(220, pipeline.stages.length * (currencies.length > 1 ? 40 : 32) + 60)}
            data={data}
            dataKey="stage"
            orientation="vertical"
            series={currencies.map((currency, i) => ({ name: currency, color: CURRENCY_COLORS[i % CURRENCY_COLORS.length]! }))}
            withLegend={currencies.length > 1}
            valueFormatter={numbers.whole}
            xAxisProps={{ tickFormatter: numbers.compact }}
            yAxisProps={{ width: 110 }}
          />
        </Chart>
      )}
    </Card>
  );
}

function OutcomesCard({ outcomes }: { outcomes: NonNullable<Figures['dealOutcomes']> }) {
  const { t } = useTranslation('dashboard');
  const numbers = useNumbers();
  const monthName = new Intl.DateTimeFormat(numbers.language, { month: 'short', year: '2-digit', timeZone: 'UTC' });
  const data = outcomes.map((m) => ({ month: monthName.format(new Date(`${m.month}-01T00:00:00Z`)), won: m.won, lost: m.lost }));
  const empty = outcomes.every((m) => m.won === 0 && m.lost === 0);
  return (
    <Card id="dashboard-outcomes" title={t('outcomesTitle')} subtitle={t('outcomesSubtitle')}>
      {empty ? (
        <Empty>{t('outcomesEmpty')}</Empty>
      ) : (
        <Chart label={t('outcomesChart')}>
          <AreaChart
            h={260}
            data={data}
            dataKey="month"
            curveType="monotone"
            withLegend
            series={[
              { name: 'won', label: t('won'), color: 'teal.6' },
              { name: 'lost', label: t('lost'), color: 'red.6' },
            ]}
            valueFormatter={numbers.whole}
            yAxisProps={{ allowDecimals: false, width: 40 }}
          />
        </Chart>
      )}
    </Card>
  );
}

function TicketsCard({ byStatus, byPriority }: { byStatus: NonNullable<Figures['ticketsByStatus']>; byPriority: NonNullable<Figures['ticketsByPriority']> }) {
  const { t } = useTranslation('dashboard');
  const numbers = useNumbers();
  const total = byStatus.reduce((n, s) => n + s.count, 0);
  return (
    <Card id="dashboard-tickets" title={t('ticketsTitle')} subtitle={t('ticketCount', { count: total })}>
      {total === 0 ? (
        <Empty>{t('ticketsEmpty')}</Empty>
      ) : (
        <div className="dashboard-tickets">
          <div>
            <Text size="sm" fw={500} mb="xs">{t('byStatus')}</Text>
            <Chart label={t('statusChart')}>
              <div className="dashboard-donut">
                <DonutChart
                  size={180}
                  thickness={28}
                  withLabels={false}
                  withTooltip
                  tooltipDataSource="segment"
                  chartLabel={numbers.whole(total)}
                  valueFormatter={numbers.whole}
                  data={byStatus.filter((s) => s.count > 0).map((s) => ({ name: t(`status_${s.value}`), value: s.count, color: STATUS_COLORS[s.value] ?? 'gray.5' }))}
                />
              </div>
            </Chart>
            <Legend items={byStatus.map((s) => ({ label: t(`status_${s.value}`), value: numbers.whole(s.count), color: STATUS_COLORS[s.value] ?? 'gray.5' }))} />
          </div>
          <div>
            <Text size="sm" fw={500} mb="xs">{t('byPriority')}</Text>
            <Chart label={t('priorityChart')}>
              <BarChart
                h={220}
                data={byPriority.map((p) => ({ priority: t(`priority_${p.value}`), tickets: p.count, color: PRIORITY_COLORS[p.value] ?? 'gray.5' }))}
                dataKey="priority"
                series={[{ name: 'tickets', label: t('tickets'), color: 'blue.6' }]}
                getBarColor={(_value, entry) => String((entry as { color?: string }).color ?? 'blue.6')}
                valueFormatter={numbers.whole}
                yAxisProps={{ allowDecimals: false, width: 32 }}
              />
            </Chart>
          </div>
        </div>
      )}
    </Card>
  );
}

/** The donut's key, as text: the colours alone would not say which is which. */
function Legend({ items }: { items: { label: string; value: string; color: string }[] }) {
  return (
    <ul className="dashboard-legend">
      {items.map((item) => (
        <li key={item.label}>
          <span className="dashboard-swatch" style={{ background: `var(--mantine-color-${item.color.replace('.', '-')})` }} aria-hidden="true" />
          <span>{item.label}</span>
          <span className="dashboard-legend-value">{item.value}</span>
        </li>
      ))}
    </ul>
  );
}

function ActivitiesCard({ rows }: { rows: NonNullable<Figures['activitiesByUser']> }) {
  const { t } = useTranslation('dashboard');
  const numbers = useNumbers();
  const shown = rows.slice(0, 10);
  return (
    <Card id="dashboard-activities" title={t('activitiesTitle')} subtitle={t('activitiesSubtitle')}>
      {shown.length === 0 ? (
        <Empty>{t('activitiesEmpty')}</Empty>
      ) : (
        <Chart label={t('activitiesChart')}>
          <BarChart
            h={Math.max(160, shown.length * 36 + 40)}
            data={shown.map((r) => ({ person: r.name || t('unknownUser'), activities: r.count }))}
            dataKey="person"
            orientation="vertical"
            series={[{ name: 'activities', label: t('activities'), color: 'indigo.6' }]}
            valueFormatter={numbers.whole}
            yAxisProps={{ width: 120 }}
            xAxisProps={{ allowDecimals: false }}
          />
        </Chart>
      )}
    </Card>
  );
}
