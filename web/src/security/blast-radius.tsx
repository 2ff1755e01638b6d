import { useState } from 'react';
import { Alert, Badge, Button, Group, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, ApiError, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { formatDateTime } from '../shared/format';
import { formProblem, problemMessage } from '../shared/problems';
import { Page } from '../shell/page';
import { isoFromLocal } from './audit-filters';

type BlastQuery = NonNullable<paths['/api/v1/audit/blast-radius']['get']['parameters']['query']>;
export type BlastRadiusResult = paths['/api/v1/audit/blast-radius']['get']['responses'][200]['content']['application/json'];

interface BlastValues {
  actor: string;
  token: string;
  session: string;
  address: string;
  from: string;
  to: string;
}

const FIELDS = ['actor', 'token', 'session', 'address', 'from', 'to'];

function blastQuery(values: BlastValues): BlastQuery {
  const list = (value: string) => value.split(/[\s,]+/).filter(Boolean).join(',');
  const query: BlastQuery = {};
  for (const key of ['actor', 'token', 'session', 'address'] as const) if (list(values[key])) query[key] = list(values[key]);
  const from = isoFromLocal(values.from);
  const to = isoFromLocal(values.to);
  if (from) query.from = from;
  if (to) query.to = to;
  return query;
}

/**
 * Offers a text as a file download through a Blob URL: the report's ids and addresses travel in
 * the request, never in an address the browser keeps.
 */
function download(text: string, name: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * The blast radius of a compromised account, token, session or address: every person and field
 * they read, changed or exported in a window, with a CSV for the incident file. The query stays
 * in this page's memory (it names people's ids and addresses), and the server records it.
 */
export function BlastRadius() {
  const { t, i18n } = useTranslation('security');
  const form = useForm<BlastValues>({
    initialValues: { actor: '', token: '', session: '', address: '', from: '', to: '' },
    validate: {
      actor: (_value, values) => (values.actor.trim() || values.token.trim() || values.session.trim() || values.address.trim() ? null : t('nameSomeone')),
      from: (value) => (!value ? t('fromRequired') : !isoFromLocal(value) ? t('invalidTime') : null),
      to: (value, values) => {
        if (value && !isoFromLocal(value)) return t('invalidTime');
        const from = isoFromLocal(values.from);
        const to = isoFromLocal(value);
        return from && to && from >= to ? t('toBeforeFrom') : null;
      },
    },
  });
  const [asked, setAsked] = useState<BlastQuery | null>(null);
  const report = useMutation({
    mutationFn: async (query: BlastQuery) => must(await api.GET('/api/v1/audit/blast-radius', { params: { query } })),
    onError: (error) => form.setErrors(formProblem(problemFrom(error), t, FIELDS).fields),
  });
  const csv = useMutation({
    mutationFn: async (query: BlastQuery) => {
      const answer = await api.GET('/api/v1/audit/blast-radius', { params: { query: { ...query, format: 'csv' } }, parseAs: 'text' });
      if (!answer.response.ok) must(answer as never);
      if (typeof answer.data !== 'string') throw new ApiError({ code: 'request.unexpected', message: '', status: answer.response.status });
      download(answer.data, 'blast-radius.csv');
    },
  });
  const submit = form.onSubmit((values) => {
    const query = blastQuery(values);
    setAsked(query);
    report.mutate(query);
  });
  const problem = report.error ? formProblem(problemFrom(report.error), t, FIELDS) : null;
  const radius = report.data;

  return (
    <Page title={t('blastHeading')}>
      <Text size="sm" c="dimmed">{t('blastIntro')}</Text>
      <form onSubmit={submit} noValidate aria-label={t('blastFormLabel')}>
        {problem?.message && <Alert color="red" role="alert" mb="sm">{problem.message}</Alert>}
        <div className="security-filters">
          <TextInput label={t('actors')} maxLength={2000} {...form.getInputProps('actor')} />
          <TextInput label={t('tokens')} maxLength={2000} {...form.getInputProps('token')} />
          <TextInput label={t('sessions')} maxLength={2000} {...form.getInputProps('session')} />
          <TextInput label={t('addresses')} maxLength={2000} {...form.getInputProps('address')} />
          <TextInput type="datetime-local" label={t('from')} required {...form.getInputProps('from')} />
          <TextInput type="datetime-local" label={t('to')} {...form.getInputProps('to')} />
        </div>
        <div className="security-form-foot">
          <div className="security-actions">
            <Button type="submit" loading={report.isPending}>{t('runReport')}</Button>
            {radius && asked && (
              <Button variant="default" loading={csv.isPending} onClick={() => csv.mutate(asked)}>{t('downloadCsv')}</Button>
            )}
          </div>
          <Text size="xs" c="dimmed">{t('listHint')}</Text>
        </div>
      </form>
      {csv.error && <Alert color="red" role="alert">{problemMessage(problemFrom(csv.error), t)}</Alert>}
      {radius && <BlastRadiusReport radius={radius} language={i18n.language} />}
    </Page>
  );
}

/** The report: a summary, then each person with each field and how often it was touched. */
export function BlastRadiusReport({ radius, language }: { radius: BlastRadiusResult; language: string }) {
  const { t } = useTranslation('security');
  const organisation = Object.entries(radius.organisationRecords);
  return (
    <Stack gap="md" aria-live="polite">
      <Paper withBorder p="md" radius="md">
        <Group gap="xl">
          <Text size="sm">{t('entriesInWindow')}: <strong>{radius.entries.toLocaleString(language)}</strong></Text>
          <Text size="sm">{t('peopleTouched')}: <strong>{radius.subjects.length.toLocaleString(language)}</strong></Text>
          <Text size="sm">{t('exportsMade')}: <strong>{radius.exports.length.toLocaleString(language)}</strong></Text>
          <Text size="sm" c={radius.refused > 0 ? 'orange' : undefined}>{t('refusedAttempts')}: <strong>{radius.refused.toLocaleString(language)}</strong></Text>
        </Group>
      </Paper>
      <Title order={2} size="h4" id="blast-subjects-heading">{t('peopleHeading')}</Title>
      {radius.subjects.length === 0 ? (
        <Text c="dimmed">{t('nobodyTouched')}</Text>
      ) : (
        <Table.ScrollContainer minWidth={720}>
          <Table aria-labelledby="blast-subjects-heading" verticalSpacing="xs" withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('person')}</Table.Th>
                <Table.Th>{t('field')}</Table.Th>
                <Table.Th ta="right">{t('countRead')}</Table.Th>
                <Table.Th ta="right">{t('countChanged')}</Table.Th>
                <Table.Th ta="right">{t('countExported')}</Table.Th>
                <Table.Th ta="right">{t('countRevealed')}</Table.Th>
                <Table.Th>{t('between')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {radius.subjects.flatMap((subject) => {
                const fields = Object.entries(subject.fields);
                const rows = fields.length > 0 ? fields : [['—', { read: 0, changed: 0, exported: 0, revealed: 0 }] as const];
                return rows.map(([field, counts], i) => (
                  <Table.Tr key={`${subject.subject}-${field}`}>
                    {i === 0 && (
                      <Table.Td rowSpan={rows.length} className="security-top">
                        <Stack gap={2}>
                          <Text size="sm" className="security-mono">{subject.subject}</Text>
                          {subject.subjectType && <Badge variant="light" size="sm">{subject.subjectType}</Badge>}
                        </Stack>
                      </Table.Td>
                    )}
                    <Table.Td><Text size="sm">{field}</Text></Table.Td>
                    <Table.Td ta="right">{counts.read}</Table.Td>
                    <Table.Td ta="right">{counts.changed}</Table.Td>
                    <Table.Td ta="right">{counts.exported}</Table.Td>
                    <Table.Td ta="right">{counts.revealed}</Table.Td>
                    {i === 0 && (
                      <Table.Td rowSpan={rows.length} className="security-top">
                        <Text size="xs">{formatDateTime(subject.first, language)} – {formatDateTime(subject.last, language)}</Text>
                      </Table.Td>
                    )}
                  </Table.Tr>
                ));
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {organisation.length > 0 && (
        <>
          <Title order={2} size="h4" id="blast-org-heading">{t('organisationHeading')}</Title>
          <Table.ScrollContainer minWidth={480}>
            <Table aria-labelledby="blast-org-heading" verticalSpacing="xs" withTableBorder>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('recordType')}</Table.Th>
                  <Table.Th ta="right">{t('records')}</Table.Th>
                  <Table.Th ta="right">{t('countRead')}</Table.Th>
                  <Table.Th ta="right">{t('countChanged')}</Table.Th>
                  <Table.Th ta="right">{t('countExported')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {organisation.map(([type, counts]) => (
                  <Table.Tr key={type}>
                    <Table.Td>{type}</Table.Td>
                    <Table.Td ta="right">{counts.records}</Table.Td>
                    <Table.Td ta="right">{counts.read}</Table.Td>
                    <Table.Td ta="right">{counts.changed}</Table.Td>
                    <Table.Td ta="right">{counts.exported}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </>
      )}
      {radius.exports.length > 0 && (
        <>
          <Title order={2} size="h4">{t('exportsHeading')}</Title>
          <Stack gap={4}>
            {radius.exports.map((e) => (
              <Text size="sm" key={e.seq}>
                {t('exportLine', { time: formatDateTime(e.time, language), rows: e.rows, type: e.recordType ?? '', entry: e.seq })} <span className="security-mono">sha256 {e.sha256}</span>
              </Text>
            ))}
          </Stack>
        </>
      )}
    </Stack>
  );
}
