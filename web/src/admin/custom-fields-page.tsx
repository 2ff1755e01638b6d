import { useState } from 'react';
import { Alert, Button, Group, Modal, NativeSelect, Stack, Switch, Table, Text, TextInput, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { Page } from '../shell/page';
import { formProblem, problemMessage } from '../shared/problems';
import { AdminTabs } from './admin-tabs';
import { CLASSIFICATIONS, CUSTOM_FIELD_TYPES, RECORD_TYPES, type CustomField } from './admin-model';

type RecordType = (typeof RECORD_TYPES)[number];

/** Custom fields per record type: define, change and remove them. */
export function CustomFieldsPage() {
  const { t } = useTranslation('admin');
  const queryClient = useQueryClient();
  const [recordType, setRecordType] = useState<RecordType>('contacts');
  // What the dialog edits stays set while it closes, so its title and form do not change mid-transition.
  const [editing, setEditing] = useState<CustomField | 'new'>('new');
  const [opened, setOpened] = useState(false);
  // Each opening starts a fresh form.
  const [openings, setOpenings] = useState(0);
  const open = (what: CustomField | 'new') => {
    setEditing(what);
    setOpenings((n) => n + 1);
    setOpened(true);
  };
  const fields = useQuery({
    queryKey: ['custom-fields', recordType],
    queryFn: async () => must(await api.GET('/api/v1/custom-fields', { params: { query: { recordType } } })),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['custom-fields'] });
  const remove = async (field: CustomField) => {
    if (!window.confirm(t('deleteFieldConfirm', { label: field.label }))) return;
    try {
      must(await api.DELETE('/api/v1/custom-fields/{id}', { params: { path: { id: field.id } } }));
      notifications.show({ color: 'teal', message: t('fieldDeleted', { label: field.label }) });
      refresh();
    } catch (error) {
      notifications.show({ color: 'red', message: problemMessage(problemFrom(error), t) });
    }
  };
  const items = fields.data?.items ?? [];
  return (
    <Page title={t('fieldsPageTitle')} actions={<Button onClick={() => open('new')}>{t('newField')}</Button>}>
      <AdminTabs />
      <NativeSelect
        className="admin-narrow"
        label={t('recordType')}
        value={recordType}
        onChange={(e) => setRecordType(e.currentTarget.value as RecordType)}
        data={RECORD_TYPES.map((type) => ({ value: type, label: t(`type_${type}`) }))}
      />
      {fields.isError && (
        <Alert color="red" role="alert">
          {problemMessage(problemFrom(fields.error), t)}
        </Alert>
      )}
      <div className="admin-scroll">
        <Table striped>
          <Table.Caption>{t('fieldsCaption', { type: t(`type_${recordType}`) })}</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">{t('fieldLabel')}</Table.Th>
              <Table.Th scope="col">{t('fieldKey')}</Table.Th>
              <Table.Th scope="col">{t('fieldType')}</Table.Th>
              <Table.Th scope="col">{t('classification')}</Table.Th>
              <Table.Th scope="col">{t('required')}</Table.Th>
              <Table.Th scope="col">{t('actions')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((field) => (
              <Table.Tr key={field.id}>
                <Table.Td>{field.label}</Table.Td>
                <Table.Td>
                  <code>{field.key}</code>
                </Table.Td>
                <Table.Td>{t(`ftype_${field.type}`)}</Table.Td>
                <Table.Td>{t(`class_${field.classification}`)}</Table.Td>
                <Table.Td>{field.required ? t('yes') : t('no')}</Table.Td>
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    <Button size="xs" variant="default" onClick={() => open(field)} aria-label={t('editField', { label: field.label })}>
                      {t('edit')}
                    </Button>
                    <Button size="xs" variant="subtle" color="red" onClick={() => void remove(field)} aria-label={t('deleteField', { label: field.label })}>
                      {t('delete')}
                    </Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </div>
      {fields.data && items.length === 0 && <Text c="dimmed">{t('noFields')}</Text>}
      <Modal opened={opened} onClose={() => setOpened(false)} title={editing === 'new' ? t('newField') : t('editFieldTitle')}>
        {openings > 0 && (
          <CustomFieldForm
            key={openings}
            recordType={recordType}
            field={editing === 'new' ? null : editing}
            onCancel={() => setOpened(false)}
            onSaved={() => {
              setOpened(false);
              refresh();
            }}
          />
        )}
      </Modal>
    </Page>
  );
}

const FIELD_FORM_FIELDS = ['key', 'label', 'type', 'classification', 'options', 'required', 'position'] as const;

/** A custom field's definition; key, type and classification are fixed once values exist, so only a new field sets them. */
function CustomFieldForm({ recordType, field, onSaved, onCancel }: { recordType: RecordType; field: CustomField | null; onSaved: () => void; onCancel: () => void }) {
  const { t } = useTranslation('admin');
  const [message, setMessage] = useState<string | null>(null);
  const form = useForm({
    initialValues: { key: field?.key ?? '', label: field?.label ?? '', type: field?.type ?? 'text', classification: field?.classification ?? 'internal', options: (field?.options ?? []).join('\n'), required: field?.required ?? false },
    validate: { key: (v) => (field || /^[a-z][a-zA-Z0-9_]{0,63}$/.test(v) ? null : t('fieldKeyHelp')), label: (v) => (v.trim() ? null : t('required')) },
  });
  const withOptions = form.values.type === 'select' || form.values.type === 'multiselect';
  const submit = form.onSubmit(async (values) => {
    setMessage(null);
    const options = values.options
      .split('\n')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    try {
      if (field) {
        must(await api.PATCH('/api/v1/custom-fields/{id}', { params: { path: { id: field.id } }, body: { version: field.version, label: values.label.trim(), required: values.required, ...(withOptions ? { options } : {}) } }));
      } else {
        must(
          await api.POST('/api/v1/custom-fields', {
            body: { recordType, key: values.key, label: values.label.trim(), type: values.type as CustomField['type'], classification: values.classification as CustomField['classification'], required: values.required, ...(withOptions ? { options } : {}) },
          }),
        );
      }
      onSaved();
    } catch (error) {
      const problem = formProblem(problemFrom(error), t, FIELD_FORM_FIELDS);
      setMessage(problem.message);
      form.setErrors(problem.fields);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label={field ? t('editFieldTitle') : t('newField')}>
      <Stack gap="sm">
        {message && (
          <Alert color="red" role="alert">
            {message}
          </Alert>
        )}
        <TextInput label={t('fieldLabel')} required {...form.getInputProps('label')} />
        <TextInput label={t('fieldKey')} description={t('fieldKeyHelp')} required disabled={field !== null} {...form.getInputProps('key')} />
        <NativeSelect label={t('fieldType')} disabled={field !== null} data={CUSTOM_FIELD_TYPES.map((type) => ({ value: type, label: t(`ftype_${type}`) }))} {...form.getInputProps('type')} />
        <NativeSelect label={t('classification')} description={t('classificationHelp')} disabled={field !== null} data={CLASSIFICATIONS.map((c) => ({ value: c, label: t(`class_${c}`) }))} {...form.getInputProps('classification')} />
        {withOptions && <Textarea label={t('fieldOptions')} description={t('fieldOptionsHelp')} rows={4} {...form.getInputProps('options')} />}
        <Switch label={t('required')} {...form.getInputProps('required', { type: 'checkbox' })} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            {t('cancel')}
          </Button>
          <Button type="submit" loading={form.submitting}>
            {field ? t('save') : t('createField')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
