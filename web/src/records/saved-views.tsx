import { useState } from 'react';
import { Alert, Button, Group, Menu, Modal, Stack, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { formProblem, problemMessage } from '../shared/problems';
import type { SavedView } from './record-api';
import type { RecordType } from './record-types';

export type ViewDefinition = SavedView['definition'];

/**
 * The user's saved views of a list, kept on the server under their account: filter values can
 * name people, so they are neither in the address nor in the browser's storage.
 */
export function SavedViews({ type, current, active, onApply }: { type: RecordType; current: ViewDefinition; active: SavedView | null; onApply: (view: SavedView | null) => void }) {
  const { t } = useTranslation('records');
  const queryClient = useQueryClient();
  const key = ['views', type];
  const views = useQuery({ queryKey: key, queryFn: async () => must(await api.GET('/api/v1/views', { params: { query: { recordType: type } } })).items });
  const [naming, setNaming] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const refresh = () => queryClient.invalidateQueries({ queryKey: key });
  const update = async () => {
    if (!active) return;
    setError(null);
    try {
      onApply(must(await api.PATCH('/api/v1/views/{id}', { params: { path: { id: active.id } }, body: { version: active.version, definition: current } })));
      await refresh();
    } catch (failure) {
      setError(problemMessage(problemFrom(failure), t));
    }
  };
  const remove = async () => {
    if (!active) return;
    setError(null);
    try {
      must(await api.DELETE('/api/v1/views/{id}', { params: { path: { id: active.id } } }));
      onApply(null);
      await refresh();
    } catch (failure) {
      setError(problemMessage(problemFrom(failure), t));
    }
  };

  return (
    <Group gap="xs" wrap="nowrap">
      <Menu position="bottom-start" withinPortal>
        <Menu.Target>
          <Button variant="default" size="sm">{active ? t('viewNamed', { name: active.name }) : t('views')}</Button>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Item onClick={() => onApply(null)}>{t('allRecords')}</Menu.Item>
          {(views.data ?? []).length > 0 && <Menu.Divider />}
          {(views.data ?? []).map((view) => (
            <Menu.Item key={view.id} onClick={() => onApply(view)} aria-current={view.id === active?.id ? 'true' : undefined}>
              {view.name}
            </Menu.Item>
          ))}
          <Menu.Divider />
          <Menu.Item onClick={() => setNaming(true)}>{t('saveViewAs')}</Menu.Item>
          {active && <Menu.Item onClick={() => void update()}>{t('updateView', { name: active.name })}</Menu.Item>}
          {active && <Menu.Item color="red" onClick={() => void remove()}>{t('deleteView', { name: active.name })}</Menu.Item>}
        </Menu.Dropdown>
      </Menu>
      {error && <Alert color="red" role="alert" py={4}>{error}</Alert>}
      <Modal opened={naming} onClose={() => setNaming(false)} title={t('saveViewAs')}>
        {naming && (
          <NameView
            onSave={async (name) => {
              const saved = must(await api.POST('/api/v1/views', { body: { recordType: type, name, definition: current } }));
              await refresh();
              setNaming(false);
              onApply(saved);
            }}
          />
        )}
      </Modal>
    </Group>
  );
}

function NameView({ onSave }: { onSave: (name: string) => Promise<void> }) {
  const { t } = useTranslation('records');
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { name: '' }, validate: { name: (v) => (v.trim() ? null : t('required')) } });
  const submit = form.onSubmit(async ({ name }) => {
    setError(null);
    try {
      await onSave(name.trim());
    } catch (failure) {
      const shown = formProblem(problemFrom(failure), t, ['name']);
      setError(shown.message);
      form.setErrors(shown.fields);
    }
  });
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <TextInput label={t('viewName')} description={t('viewKeeps')} required maxLength={100} data-autofocus {...form.getInputProps('name')} />
        <Group justify="flex-end">
          <Button type="submit" loading={form.submitting}>{t('save')}</Button>
        </Group>
      </Stack>
    </form>
  );
}

