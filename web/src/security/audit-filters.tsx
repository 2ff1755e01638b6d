import { useEffect } from 'react';
import { Alert, Autocomplete, Button, NativeSelect, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useTranslation } from 'react-i18next';
import type { paths } from '../api/schema';
import type { FormProblem } from '../shared/problems';

export type AuditQuery = NonNullable<paths['/api/v1/audit/entries']['get']['parameters']['query']>;

/** The explorer's filters as typed: kept in the page's memory only, never in the address bar. */
export interface AuditFilterValues {
  actor: string;
  session: string;
  recordType: string;
  record: string;
  action: string;
  outcome: '' | 'success' | 'denied' | 'failure';
  address: string;
  from: string;
  to: string;
}

export const NO_FILTER: AuditFilterValues = { actor: '', session: '', recordType: '', record: '', action: '', outcome: '', address: '', from: '', to: '' };

export const FILTER_FIELDS = Object.keys(NO_FILTER) as (keyof AuditFilterValues)[];

const RECORD_TYPES = ['companies', 'contacts', 'leads', 'deals', 'activities', 'tickets', 'users', 'roles', 'teams', 'tokens', 'pipelines', 'tags', 'custom_fields'];

/** A time typed in a datetime-local field (the reader's own time zone) as the ISO time the API takes. */
export function isoFromLocal(value: string): string | undefined {
  if (!value) return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
}

/** The query the API takes for these filters: empty ones left out, lists without stray spaces. */
export function auditQuery(values: AuditFilterValues): AuditQuery {
  const query: AuditQuery = {};
  const list = (value: string) => value.split(/[\s,]+/).filter(Boolean).join(',');
  if (list(values.actor)) query.actor = list(values.actor);
  if (list(values.session)) query.session = list(values.session);
  if (list(values.action)) query.action = list(values.action);
  if (list(values.address)) query.address = list(values.address);
  if (values.recordType.trim()) query.recordType = values.recordType.trim();
  if (values.record.trim()) query.record = values.record.trim();
  if (values.outcome) query.outcome = values.outcome;
  const from = isoFromLocal(values.from);
  const to = isoFromLocal(values.to);
  if (from) query.from = from;
  if (to) query.to = to;
  return query;
}

/**
 * The audit explorer's filters: what GET /api/v1/audit/entries takes. The browser checks only the
 * time window; the server checks the rest, and its message for a field shows beside that field.
 */
export function AuditFilters({ initial = NO_FILTER, onSearch, problem }: { initial?: AuditFilterValues; onSearch: (values: AuditFilterValues) => void; problem?: FormProblem | null }) {
  const { t } = useTranslation('security');
  const form = useForm<AuditFilterValues>({
    initialValues: initial,
    validate: {
      from: (value) => (value && !isoFromLocal(value) ? t('invalidTime') : null),
      to: (value, values) => {
        if (value && !isoFromLocal(value)) return t('invalidTime');
        const from = isoFromLocal(values.from);
        const to = isoFromLocal(value);
        return from && to && from >= to ? t('toBeforeFrom') : null;
      },
    },
  });
  const { setErrors } = form;
  useEffect(() => {
    if (problem) setErrors(problem.fields);
  }, [problem, setErrors]);

  return (
    <form onSubmit={form.onSubmit(onSearch)} onReset={() => { form.reset(); onSearch(NO_FILTER); }} noValidate aria-label={t('filtersLabel')}>
      {problem?.message && <Alert color="red" role="alert" mb="sm">{problem.message}</Alert>}
      <div className="security-filters">
        <TextInput label={t('actor')} maxLength={2000} {...form.getInputProps('actor')} />
        <TextInput label={t('session')} maxLength={2000} {...form.getInputProps('session')} />
        <Autocomplete label={t('recordType')} data={RECORD_TYPES} maxLength={40} {...form.getInputProps('recordType')} />
        <TextInput label={t('recordId')} maxLength={64} {...form.getInputProps('record')} />
        <TextInput label={t('action')} maxLength={500} {...form.getInputProps('action')} />
        <NativeSelect
          className="security-field"
          label={t('outcome')}
          data={[{ value: '', label: t('anyOutcome') }, { value: 'success', label: t('outcome_success') }, { value: 'denied', label: t('outcome_denied') }, { value: 'failure', label: t('outcome_failure') }]}
          {...form.getInputProps('outcome')}
        />
        <TextInput label={t('address')} maxLength={2000} {...form.getInputProps('address')} />
        <TextInput type="datetime-local" label={t('from')} {...form.getInputProps('from')} />
        <TextInput type="datetime-local" label={t('to')} {...form.getInputProps('to')} />
      </div>
      <div className="security-form-foot">
        <div className="security-actions">
          <Button type="submit">{t('search')}</Button>
          <Button type="reset" variant="default">{t('clearFilters')}</Button>
        </div>
        <Text size="xs" c="dimmed">{t('filtersHint')}</Text>
      </div>
    </form>
  );
}
