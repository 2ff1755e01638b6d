import { Anchor, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { api, must } from '../api/client';
import { useUser } from '../access/session';
import type { FieldSpec, RecordItem, RecordType } from './record-types';
import { RECORD_SPECS, isRecordType } from './record-types';
import { readRecord, recordKeys } from './record-api';

/** A date or time as the reader's language writes it; the value as given when it is not one. */
export function formatWhen(value: string, language: string, withTime = true): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return new Intl.DateTimeFormat(language, withTime ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium', timeZone: 'UTC' }).format(date);
}

export function formatMoney(amount: number, currency: unknown, language: string): string {
  if (typeof currency === 'string' && /^[A-Z]{3}$/.test(currency)) {
    try {
      return new Intl.NumberFormat(language, { style: 'currency', currency }).format(amount);
    } catch {
      // An unknown code: the plain number below.
    }
  }
  return new Intl.NumberFormat(language, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount);
}

/**
 * One field's value for reading. Masked values arrive masked from the server and are shown as
 * they came; the reveal is the record page's. References link to their record.
 */
export function FieldValue({ field, record, compact = false }: { field: FieldSpec; record: RecordItem; compact?: boolean }) {
  const { t, i18n } = useTranslation('records');
  const value = record[field.key];
  if (value === null || value === undefined || value === '') return <Text span c="dimmed">—</Text>;
  if (record.maskedFields?.includes(field.key)) return <Text span ff="monospace" className="records-masked">{String(value)}</Text>;
  switch (field.kind) {
    case 'date':
      return <>{formatWhen(String(value), i18n.language, false)}</>;
    case 'datetime':
      return <>{formatWhen(String(value), i18n.language)}</>;
    case 'money':
      return <>{typeof value === 'number' ? formatMoney(value, record.currency, i18n.language) : String(value)}</>;
    case 'select':
      return <>{t(`option.${String(value)}`, { defaultValue: String(value) })}</>;
    case 'url':
      return /^https?:\/\//i.test(String(value)) ? <Anchor href={String(value)} target="_blank" rel="noreferrer noopener">{String(value)}</Anchor> : <>{String(value)}</>;
    case 'email':
      return <Anchor href={`mailto:${String(value)}`}>{String(value)}</Anchor>;
    case 'reference':
      return <Reference target={field.references} id={String(value)} compact={compact} record={record} />;
    default:
      return <>{String(value)}</>;
  }
}

function Reference({ target, id, compact, record }: { target: FieldSpec['references']; id: string; compact: boolean; record: RecordItem }) {
  const { t } = useTranslation('records');
  const user = useUser();
  if (target === 'users') return <>{id === user.id ? t('you') : t('someoneElse')}</>;
  if (target === 'pipelines' || target === 'stages') return <PipelineName id={id} stage={target === 'stages'} pipelineId={String(record.pipelineId ?? '')} />;
  if (!target || !isRecordType(target)) return <>{id}</>;
  // Lists link without fetching each referenced record: reading one is recorded, and a list
  // would read a record per row.
  if (compact) return <Anchor component={Link} href={`/${target}/${id}`}>{t('open')}</Anchor>;
  return <RecordLink type={target} id={id} />;
}

/** A link to a record, named by its title once it is read. */
export function RecordLink({ type, id }: { type: RecordType; id: string }) {
  const { t } = useTranslation('records');
  const record = useQuery({ queryKey: recordKeys.one(type, id), queryFn: () => readRecord(type, id) });
  const title = record.data ? RECORD_SPECS[type].title(record.data) : '';
  return (
    <Anchor component={Link} href={`/${type}/${id}`}>
      {title || t(record.isError ? 'unreachable' : 'open')}
    </Anchor>
  );
}

/** Pipelines, read once and kept: the board and deal pages name stages from them. */
export function usePipelines() {
  return useQuery({ queryKey: ['pipelines'], queryFn: async () => must(await api.GET('/api/v1/pipelines')).items, staleTime: 5 * 60_000 });
}

function PipelineName({ id, stage, pipelineId }: { id: string; stage: boolean; pipelineId: string }) {
  const pipelines = usePipelines();
  const pipeline = pipelines.data?.find((p) => (stage ? p.id === pipelineId || p.stages.some((s) => s.id === id) : p.id === id));
  const name = stage ? pipeline?.stages.find((s) => s.id === id)?.name : pipeline?.name;
  return <>{name ?? '…'}</>;
}
