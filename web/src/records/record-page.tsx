import { useState, type ReactNode } from 'react';
import { Alert, Badge, Button, Card, Group, Loader, Modal, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'wouter';
import { api, must, problemFrom } from '../api/client';
import { useAccess } from '../access/use-access';
import { Page } from '../shell/page';
import { problemMessage } from '../shared/problems';
import { FieldValue, formatWhen } from './field-value';
import { LeadConversion } from './lead-convert';
import { deleteRecord, listRelated, readRecord, recordKeys, restoreRecord, type TimelineEntry } from './record-api';
import { useRecordActions } from './record-access';
import { RecordForm, useCustomFields } from './record-form';
import { RECORD_SPECS, type RecordItem, type RecordType } from './record-types';
import { RevealButton } from './reveal';

/** One record: its fields by group, what relates to it, what happened to it, and what the user may do with it. */
export function RecordPage({ type, id }: { type: RecordType; id: string }) {
  const { t } = useTranslation('records');
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const can = useRecordActions(type);
  const spec = RECORD_SPECS[type];
  const record = useQuery({ queryKey: recordKeys.one(type, id), queryFn: () => readRecord(type, id) });
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [converting, setConverting] = useState(false);
  const [trashed, setTrashed] = useState<RecordItem | null>(null);
  const [revealed, setRevealed] = useState<Record<string, unknown>>({});
  const [actionError, setActionError] = useState<string | null>(null);

  if (record.isPending) return <Loader aria-label={t('shell:loading')} />;
  const shown = trashed ?? record.data;
  if (!shown) {
    const problem = problemFrom(record.error);
    return (
      <Page title={t(`one.${type}`)}>
        <Alert color={problem.status === 404 ? 'gray' : 'red'} role="alert">
          {problem.status === 404 ? t('notFound') : problem.code === 'auth.forbidden' ? t('shell:forbidden') : problemMessage(problem, t)}
        </Alert>
      </Page>
    );
  }
  const data: RecordItem = { ...shown, ...revealed, maskedFields: (shown.maskedFields ?? []).filter((key) => !(key in revealed)) };
  const deleted = Boolean(trashed ?? data.deletedAt);

  const failed = (failure: unknown) => {
    const problem = problemFrom(failure);
    setActionError(problem.code === 'auth.forbidden' ? t('shell:forbidden') : problemMessage(problem, t));
  };
  const remove = async () => {
    setActionError(null);
    try {
      await deleteRecord(type, id);
      setConfirmDelete(false);
      setTrashed({ ...data, deletedAt: new Date().toISOString() });
      void queryClient.invalidateQueries({ queryKey: recordKeys.all(type) });
    } catch (failure) {
      setConfirmDelete(false);
      failed(failure);
    }
  };
  const restore = async () => {
    setActionError(null);
    try {
      const restored = await restoreRecord(type, id);
      setTrashed(null);
      queryClient.setQueryData(recordKeys.one(type, id), restored);
      void queryClient.invalidateQueries({ queryKey: recordKeys.all(type) });
    } catch (failure) {
      failed(failure);
    }
  };

  const convertible = type === 'leads' && data.status !== 'converted' && can('update', data);
  const actions = (
    <Group gap="xs">
      {!deleted && !editing && can('update', data) && <Button onClick={() => setEditing(true)}>{t('edit')}</Button>}
      {!deleted && convertible && <Button variant="light" onClick={() => setConverting(true)}>{t('convert')}</Button>}
      {!deleted && can('delete', data) && <Button variant="default" color="red" onClick={() => setConfirmDelete(true)}>{t('delete')}</Button>}
      {deleted && can('restore', data) && <Button onClick={() => void restore()}>{t('restore')}</Button>}
    </Group>
  );

  return (
    <Page title={spec.title(data) || t('untitled')} actions={actions}>
      <Group gap="xs">
        <Badge variant="light">{t(`one.${type}`)}</Badge>
        {deleted && <Badge color="red">{t('inTrash')}</Badge>}
        <Anchor href={`/${type}`}>{t('backToList', { list: t(`nav.${type}`) })}</Anchor>
      </Group>
      {actionError && <Alert color="red" role="alert">{actionError}</Alert>}
      {editing ? (
        <Card withBorder>
          <RecordForm
            type={type}
            record={record.data}
            onCancel={() => setEditing(false)}
            onSaved={(saved) => {
              queryClient.setQueryData(recordKeys.one(type, id), saved);
              setRevealed({});
              setEditing(false);
            }}
          />
        </Card>
      ) : (
        <div className="records-detail">
          <div className="records-detail-main">
            <RecordFields type={type} record={data} onRevealed={(values) => setRevealed((r) => ({ ...r, ...values }))} />
          </div>
          <div className="records-detail-side">
            {spec.related.map((related) => (
              <RelatedList key={related.type} type={type} id={id} related={related.type} />
            ))}
            <Timeline type={type} id={id} />
          </div>
        </div>
      )}
      <Modal opened={confirmDelete} onClose={() => setConfirmDelete(false)} title={t('deleteHeading')}>
        <Stack gap="sm">
          <Text size="sm">{t('deleteIntro')}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirmDelete(false)}>{t('cancel')}</Button>
            <Button color="red" onClick={() => void remove()}>{t('delete')}</Button>
          </Group>
        </Stack>
      </Modal>
      {type === 'leads' && (
        <Modal opened={converting} onClose={() => setConverting(false)} title={t('convertHeading')} size="lg">
          {converting && (
            <LeadConversion
              lead={data}
              onConverted={(contactId: string) => {
                setConverting(false);
                void queryClient.invalidateQueries({ queryKey: ['records'] });
                navigate(`/contacts/${contactId}`);
              }}
            />
          )}
        </Modal>
      )}
    </Page>
  );
}

/**
 * The record's fields by group. A field the server left out (hidden from this user) is not
 * there at all; a masked one shows as masked, with a reveal where the role allows it.
 */
export function RecordFields({ type, record, onRevealed }: { type: RecordType; record: RecordItem; onRevealed: (values: Record<string, unknown>) => void }) {
  const { t, i18n } = useTranslation('records');
  const { access } = useAccess();
  const can = useRecordActions(type);
  const customFields = useCustomFields(type);
  const spec = RECORD_SPECS[type];
  const mayReveal = access.can(type, 'reveal') && can('reveal', record);
  const groups = spec.groups.map((g) => ({ ...g, fields: g.fields.filter((f) => f.key in record && access.field(type, f.key) !== 'hidden') })).filter((g) => g.fields.length > 0);
  const customs = (customFields.data ?? []).filter((def) => def.key in (record.customFields ?? {}));
  const row = (key: string, label: string, value: ReactNode) => (
    <div key={key} className="records-field">
      <dt>{label}</dt>
      <dd>
        <Group gap="xs" wrap="nowrap">
          {value}
          {record.maskedFields?.includes(key) && mayReveal && <RevealButton type={type} id={record.id} field={key} label={label} onRevealed={onRevealed} />}
        </Group>
      </dd>
    </div>
  );
  return (
    <Stack gap="md">
      {groups.map((group) => (
        <Card key={group.name} withBorder>
          <Title order={2} size="h4" mb="xs">{t(`group.${group.name}`)}</Title>
          <dl className="records-fields">{group.fields.map((field) => row(field.key, t(`field.${field.key}`), <FieldValue field={field} record={record} />))}</dl>
        </Card>
      ))}
      {customs.length > 0 && (
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">{t('group.custom')}</Title>
          <dl className="records-fields">
            {customs.map((def) => {
              const value = record.customFields?.[def.key];
              const text = value === null || value === undefined || value === '' ? '—' : Array.isArray(value) ? value.join(', ') : typeof value === 'boolean' ? t(value ? 'yes' : 'no') : String(value);
              return row(`customFields.${def.key}`, def.label, <Text span>{text}</Text>);
            })}
          </dl>
        </Card>
      )}
      <Text size="xs" c="dimmed">{t('createdUpdated', { created: formatWhen(String(record.createdAt), i18n.language), updated: formatWhen(String(record.updatedAt), i18n.language) })}</Text>
    </Stack>
  );
}

function RelatedList({ type, id, related }: { type: RecordType; id: string; related: RecordType }) {
  const { t } = useTranslation('records');
  const { access } = useAccess();
  const list = useQuery({ queryKey: ['records', related, 'related', type, id], queryFn: () => listRelated(type, id, related, { limit: '10' }), enabled: access.can(related, 'read') });
  if (!access.can(related, 'read')) return null;
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">{t(`nav.${related}`)}</Title>
      {list.isPending ? (
        <Loader size="xs" aria-label={t('shell:loading')} />
      ) : list.error ? (
        <Text size="sm" c="red">{problemMessage(problemFrom(list.error), t)}</Text>
      ) : list.data.items.length === 0 ? (
        <Text size="sm" c="dimmed">{t('noneYet')}</Text>
      ) : (
        <Stack gap={4}>
          {list.data.items.map((item) => (
            <Anchor key={item.id} href={`/${related}/${item.id}`}>{RECORD_SPECS[related].title(item) || t('untitled')}</Anchor>
          ))}
        </Stack>
      )}
    </Card>
  );
}

/** What happened: for contacts the server's timeline (activities and changes), for other types their activities. */
function Timeline({ type, id }: { type: RecordType; id: string }) {
  const { t, i18n } = useTranslation('records');
  const { access } = useAccess();
  const queryClient = useQueryClient();
  const [logging, setLogging] = useState(false);
  const enabled = type !== 'activities';
  const timeline = useQuery({
    queryKey: ['records', 'activities', 'timeline', type, id],
    enabled,
    queryFn: async (): Promise<TimelineEntry[]> => {
      if (type === 'contacts') return must(await api.GET('/api/v1/contacts/{id}/timeline', { params: { path: { id }, query: { limit: '25' } } })).items;
      const page = await listRelated(type, id, 'activities', { limit: '25' });
      return page.items.map((activity) => ({ type: 'activity' as const, at: String(activity.dueAt ?? activity.createdAt), actorId: null, activity: activity as never }));
    },
  });
  if (!enabled) return null;
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4">{t('timeline')}</Title>
        {access.can('activities', 'create') && <Button size="compact-sm" variant="light" onClick={() => setLogging(true)}>{t('logActivity')}</Button>}
      </Group>
      {timeline.isPending ? (
        <Loader size="xs" aria-label={t('shell:loading')} />
      ) : timeline.error ? (
        <Text size="sm" c="red">{problemMessage(problemFrom(timeline.error), t)}</Text>
      ) : timeline.data.length === 0 ? (
        <Text size="sm" c="dimmed">{t('noneYet')}</Text>
      ) : (
        <Table aria-label={t('timeline')} verticalSpacing={4}>
          <Table.Tbody>
            {timeline.data.map((entry, index) => (
              <Table.Tr key={entry.activity?.id ?? `${entry.type}-${index}`}>
                <Table.Td className="records-when">{formatWhen(entry.at, i18n.language)}</Table.Td>
                <Table.Td>
                  {entry.activity ? (
                    <Group gap={6} wrap="nowrap">
                      <Badge size="xs" variant="light">{t(`option.${entry.activity.kind}`)}</Badge>
                      <Anchor href={`/activities/${entry.activity.id}`}>{entry.activity.subject}</Anchor>
                    </Group>
                  ) : (
                    <Text size="sm">{t(`event.${entry.type}`)}</Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Modal opened={logging} onClose={() => setLogging(false)} title={t('logActivity')} size="lg">
        {logging && (
          <RecordForm
            type="activities"
            defaults={{ kind: 'note', relatedType: type, relatedId: id }}
            onCancel={() => setLogging(false)}
            onSaved={() => {
              setLogging(false);
              void queryClient.invalidateQueries({ queryKey: ['records', 'activities'] });
            }}
          />
        )}
      </Modal>
    </Card>
  );
}

/** A link inside the app. */
function Anchor({ href, children }: { href: string; children: ReactNode }) {
  return (
    <Link href={href} className="records-link">
      {children}
    </Link>
  );
}
