import { useMemo, useState } from 'react';
import { Alert, Button, Checkbox, Fieldset, Group, MultiSelect, NumberInput, Select, Stack, TextInput, Textarea } from '@mantine/core';
import { useForm, type UseFormReturnType } from '@mantine/form';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { problemFrom } from '../api/client';
import { useAccess } from '../access/use-access';
import { useUser } from '../access/session';
import { formProblem } from '../shared/problems';
import { usePipelines } from './field-value';
import { createRecord, listCustomFields, listRecords, recordKeys, updateRecord, type CustomField } from './record-api';
import { RECORD_SPECS, type FieldSpec, type RecordItem, type RecordType } from './record-types';

type FormValues = Record<string, unknown> & { customFields: Record<string, unknown> };

/** The custom fields of a type, read once per visit. */
export function useCustomFields(type: RecordType) {
  return useQuery({ queryKey: ['custom-fields', type], queryFn: () => listCustomFields(type), staleTime: 5 * 60_000 });
}

/** How a value reads in an input: text inputs hold '' for nothing, date-times are local. */
function toInput(field: { kind: string }, value: unknown): unknown {
  if (value === null || value === undefined) return field.kind === 'boolean' ? false : field.kind === 'multiselect' ? [] : '';
  if (field.kind === 'datetime' && typeof value === 'string') {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return value;
    const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
    return local.toISOString().slice(0, 16);
  }
  return value;
}

/** How an input's value goes to the API: nothing is null, local date-times become instants. */
function fromInput(field: { kind: string }, value: unknown): unknown {
  if (value === '' || value === undefined) return null;
  if (field.kind === 'datetime' && typeof value === 'string') return new Date(value).toISOString();
  if ((field.kind === 'multiselect') && Array.isArray(value) && value.length === 0) return null;
  return value;
}

function customKind(def: CustomField): string {
  return def.type === 'number' ? 'integer' : def.type === 'multiselect' ? 'multiselect' : def.type === 'boolean' ? 'boolean' : def.type;
}

/**
 * Creating or editing a record of any type. Only fields the user may write are inputs; fields
 * they may only read are left to the record page, and hidden ones do not exist here. An edit
 * sends just what changed with the version it read; a stale version is offered a reload.
 */
export function RecordForm({ type, record, defaults = {}, onSaved, onCancel }: { type: RecordType; record?: RecordItem; defaults?: Record<string, unknown>; onSaved: (record: RecordItem) => void; onCancel?: () => void }) {
  const { t } = useTranslation('records');
  const { access } = useAccess();
  const queryClient = useQueryClient();
  const customFields = useCustomFields(type);
  const spec = RECORD_SPECS[type];
  const [error, setError] = useState<string | null>(null);
  const [stale, setStale] = useState(false);

  const writable = (key: string) => access.field(type, key) === 'write' && !record?.maskedFields?.includes(key);
  const groups = spec.groups.map((g) => ({ ...g, fields: g.fields.filter((f) => !f.readOnly && writable(f.key)) })).filter((g) => g.fields.length > 0);
  const customs = (customFields.data ?? []).filter((def) => writable(`customFields.${def.key}`));

  const initialValues = useMemo<FormValues>(() => {
    const values: FormValues = { customFields: {} };
    for (const field of spec.groups.flatMap((g) => g.fields)) values[field.key] = toInput(field, record ? record[field.key] : defaults[field.key]);
    for (const def of customFields.data ?? []) values.customFields[def.key] = toInput({ kind: customKind(def) }, record?.customFields?.[def.key]);
    return values;
    // The form starts from the record as read; a reload after a conflict starts it again.
  }, [record, customFields.data]);

  const form = useForm<FormValues>({
    initialValues,
    validate: (values) => {
      const errors: Record<string, string> = {};
      for (const field of groups.flatMap((g) => g.fields)) if (field.required && !String(values[field.key] ?? '').trim()) errors[field.key] = t('required');
      for (const def of customs) if (def.required && !record && fromInput({ kind: customKind(def) }, values.customFields[def.key]) === null) errors[`customFields.${def.key}`] = t('required');
      return errors;
    },
  });
  // Custom field definitions arrive after the first render; the form follows them once.
  const [initialisedFor, setInitialisedFor] = useState<unknown>(null);
  if (customFields.data && initialisedFor !== initialValues) {
    setInitialisedFor(initialValues);
    form.setInitialValues(initialValues);
    form.setValues(initialValues);
  }

  const known = [...groups.flatMap((g) => g.fields.map((f) => f.key)), ...customs.map((d) => `customFields.${d.key}`)];

  const submit = form.onSubmit(async (values) => {
    setError(null);
    setStale(false);
    const body: Record<string, unknown> = {};
    for (const field of groups.flatMap((g) => g.fields)) {
      const value = fromInput(field, values[field.key]);
      const before = record ? fromInput(field, toInput(field, record[field.key])) : null;
      if (record ? value !== before : value !== null) body[field.key] = value;
    }
    const custom: Record<string, unknown> = {};
    for (const def of customs) {
      const kind = { kind: customKind(def) };
      const value = fromInput(kind, values.customFields[def.key]);
      const before = record ? fromInput(kind, toInput(kind, record.customFields?.[def.key])) : null;
      if (JSON.stringify(value) !== JSON.stringify(before)) custom[def.key] = value;
    }
    if (Object.keys(custom).length > 0) body.customFields = custom;
    try {
      const saved = record ? await updateRecord(type, record.id, { ...body, version: record.version }) : await createRecord(type, body);
      void queryClient.invalidateQueries({ queryKey: recordKeys.all(type) });
      onSaved(saved);
    } catch (failure) {
      const problem = problemFrom(failure);
      if (problem.code === 'record.version_conflict') setStale(true);
      if (problem.code === 'auth.forbidden') return setError(t('shell:forbidden'));
      const shown = formProblem(problem, t, known);
      setError(shown.message);
      form.setErrors(shown.fields);
    }
  });

  const reload = async () => {
    if (!record) return;
    await queryClient.invalidateQueries({ queryKey: recordKeys.one(type, record.id) });
    setStale(false);
    setError(null);
  };

  return (
    <form onSubmit={submit} noValidate aria-busy={form.submitting} className="records-form">
      <Stack gap="md">
        {error && (
          <Alert color="red" role="alert">
            <Stack gap="xs">
              <span>{error}</span>
              {stale && (
                <Group gap="xs">
                  <span>{t('staleVersion')}</span>
                  <Button size="compact-sm" variant="white" onClick={() => void reload()}>{t('reload')}</Button>
                </Group>
              )}
            </Stack>
          </Alert>
        )}
        {groups.map((group) => (
          <Fieldset key={group.name} legend={t(`group.${group.name}`)}>
            <div className="records-form-grid">
              {group.fields.map((field) => (
                <FieldInput key={field.key} type={type} field={field} form={form} values={form.values} />
              ))}
            </div>
          </Fieldset>
        ))}
        {customs.length > 0 && (
          <Fieldset legend={t('group.custom')}>
            <div className="records-form-grid">
              {customs.map((def) => (
                <CustomInput key={def.key} def={def} form={form} />
              ))}
            </div>
          </Fieldset>
        )}
        <Group justify="flex-end">
          {onCancel && <Button variant="default" onClick={onCancel}>{t('cancel')}</Button>}
          <Button type="submit" loading={form.submitting}>{record ? t('save') : t('create')}</Button>
        </Group>
      </Stack>
    </form>
  );
}

/** What the inputs need of the form. */
type Form = Pick<UseFormReturnType<FormValues>, 'getInputProps'>;

function FieldInput({ type, field, form, values }: { type: RecordType; field: FieldSpec; form: Form; values: FormValues }) {
  const { t } = useTranslation('records');
  const label = t(`field.${field.key}`);
  const props = { label, required: field.required, ...form.getInputProps(field.key) };
  switch (field.kind) {
    case 'longtext':
      return <Textarea {...props} rows={4} className="records-form-wide" />;
    case 'integer':
      return <NumberInput {...props} allowDecimal={false} />;
    case 'money':
      return <NumberInput {...props} decimalScale={2} min={0} />;
    case 'date':
      return <TextInput {...props} type="date" />;
    case 'datetime':
      return <TextInput {...props} type="datetime-local" />;
    case 'select':
      return <Select {...props} clearable={!field.required} data={(field.options ?? []).map((value) => ({ value, label: t(`option.${value}`) }))} />;
    case 'reference':
      return <ReferenceInput type={type} field={field} label={label} form={form} values={values} />;
    case 'email':
      return <TextInput {...props} type="email" maxLength={254} />;
    case 'currency':
      return <TextInput {...props} maxLength={3} placeholder="CNY" />;
    default:
      return <TextInput {...props} maxLength={field.maxLength ?? 1000} type={field.kind === 'url' ? 'url' : field.kind === 'phone' ? 'tel' : 'text'} />;
  }
}

/** A reference: a record picked by searching its list, a pipeline or stage, or the signed-in user. */
function ReferenceInput({ field, label, form, values }: { type: RecordType; field: FieldSpec; label: string; form: Form; values: FormValues }) {
  const { t } = useTranslation('records');
  const user = useUser();
  const pipelines = usePipelines();
  const [search, setSearch] = useState('');
  const target = field.references;
  const current = typeof values[field.key] === 'string' ? (values[field.key] as string) : '';
  const records = useQuery({
    queryKey: ['records', target, 'pick', search],
    queryFn: () => listRecords(target as RecordType, { limit: '20', ...(search.trim() ? { q: search.trim() } : {}) }),
    enabled: target !== 'users' && target !== 'pipelines' && target !== 'stages',
  });
  let data: { value: string; label: string }[] = [];
  if (target === 'users') data = [{ value: user.id, label: t('you') }];
  else if (target === 'pipelines') data = (pipelines.data ?? []).map((p) => ({ value: p.id, label: p.name }));
  else if (target === 'stages') data = (pipelines.data?.find((p) => p.id === values.pipelineId) ?? pipelines.data?.find((p) => p.isDefault))?.stages.map((s) => ({ value: s.id, label: s.name })) ?? [];
  else data = (records.data?.items ?? []).map((r) => ({ value: r.id, label: RECORD_SPECS[target as RecordType].title(r) || r.id }));
  if (current && !data.some((d) => d.value === current)) data = [{ value: current, label: t('currentChoice') }, ...data];
  const searchable = target !== 'users' && target !== 'pipelines' && target !== 'stages';
  return <Select label={label} clearable data={data} searchable={searchable} onSearchChange={searchable ? setSearch : undefined} nothingFoundMessage={t('nothingFound')} {...form.getInputProps(field.key)} />;
}

function CustomInput({ def, form }: { def: CustomField; form: Form }) {
  const path = `customFields.${def.key}`;
  const props = { label: def.label, required: def.required, ...form.getInputProps(path) };
  switch (def.type) {
    case 'number':
      return <NumberInput {...props} />;
    case 'date':
      return <TextInput {...props} type="date" />;
    case 'boolean':
      return <Checkbox label={def.label} {...form.getInputProps(path, { type: 'checkbox' })} />;
    case 'select':
      return <Select {...props} clearable data={def.options} />;
    case 'multiselect':
      return <MultiSelect {...props} data={def.options} />;
    default:
      return <TextInput {...props} type={def.type === 'email' ? 'email' : def.type === 'url' ? 'url' : def.type === 'phone' ? 'tel' : 'text'} maxLength={1000} />;
  }
}
