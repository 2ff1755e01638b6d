import { useEffect } from 'react';
import { Alert, Button, NativeSelect, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useTranslation } from 'react-i18next';
import type { FormProblem } from '../shared/problems';
import { RULE_KEYS, SEVERITIES, STATUSES, type AlertsQuery } from './alert-model';
import { isoFromLocal } from './audit-filters';

/** The alert list's filters as chosen, kept in the page's memory. */
export interface AlertFilterValues {
  status: string;
  severity: string;
  rule: string;
  since: string;
}

/** What still needs someone: the list opens on it. */
export const NEEDS_ATTENTION = 'open,acknowledged';

export const NO_ALERT_FILTER: AlertFilterValues = { status: NEEDS_ATTENTION, severity: '', rule: '', since: '' };

export const ALERT_FILTER_FIELDS = Object.keys(NO_ALERT_FILTER);

/** The query GET /api/v1/alerts takes for these filters, empty ones left out. */
export function alertsQuery(values: AlertFilterValues): AlertsQuery {
  const query: Record<string, string> = {};
  if (values.status) query.status = values.status;
  if (values.severity) query.severity = values.severity;
  if (values.rule) query.rule = values.rule;
  const since = isoFromLocal(values.since);
  if (since) query.since = since;
  return query as AlertsQuery;
}

/** Status, severity, rule and a start time; the server checks them again. */
export function AlertFilters({ initial = NO_ALERT_FILTER, onSearch, problem }: { initial?: AlertFilterValues; onSearch: (values: AlertFilterValues) => void; problem?: FormProblem | null }) {
  const { t } = useTranslation('security');
  const form = useForm<AlertFilterValues>({
    initialValues: initial,
    validate: { since: (value) => (value && !isoFromLocal(value) ? t('invalidTime') : null) },
  });
  const { setErrors } = form;
  useEffect(() => {
    if (problem) setErrors(problem.fields);
  }, [problem, setErrors]);
  return (
    <form onSubmit={form.onSubmit(onSearch)} onReset={() => { form.reset(); onSearch(NO_ALERT_FILTER); }} noValidate aria-label={t('alertFiltersLabel')}>
      {problem?.message && <Alert color="red" role="alert" mb="sm">{problem.message}</Alert>}
      <div className="security-filters">
        <NativeSelect
          label={t('alertStatus')}
          data={[{ value: NEEDS_ATTENTION, label: t('needsAttention') }, { value: '', label: t('anyStatus') }, ...STATUSES.map((status) => ({ value: status, label: t(`alertStatus_${status}`) }))]}
          {...form.getInputProps('status')}
        />
        <NativeSelect
          label={t('severity')}
          data={[{ value: '', label: t('anySeverity') }, ...SEVERITIES.map((severity) => ({ value: severity, label: t(`severity_${severity}`) }))]}
          {...form.getInputProps('severity')}
        />
        <NativeSelect
          label={t('rule')}
          data={[{ value: '', label: t('anyRule') }, ...RULE_KEYS.map((rule) => ({ value: rule, label: t(`rule_${rule}`, { defaultValue: rule }) }))]}
          {...form.getInputProps('rule')}
        />
        <TextInput type="datetime-local" label={t('since')} {...form.getInputProps('since')} />
      </div>
      <div className="security-form-foot">
        <div className="security-actions">
          <Button type="submit">{t('applyFilters')}</Button>
          <Button type="reset" variant="default">{t('clearFilters')}</Button>
        </div>
        <Text size="xs" c="dimmed">{t('alertsRefreshHint')}</Text>
      </div>
    </form>
  );
}
