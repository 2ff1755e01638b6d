import { useState } from 'react';
import { Alert, Badge, Button, FileInput, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { problemFrom } from '../api/client';
import { traceFile, type TraceResult } from '../exports/exports-api';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';
import { Page } from '../shell/page';
import '../exports/exports.css';

/**
 * "Trace a file", for holders of audit.read: a CSV or JSON file found outside Rampart is sent as
 * it is, and the server names the exports it may come from (who, when, what, and the evidence:
 * canary rows and the keyed mark), or says it carries no fingerprint. The file is read on the
 * server only; nothing of it is kept in the page beyond the answer.
 */
export function TracePage() {
  const { t } = useTranslation('exports');
  return (
    <Page title={t('traceHeading')}>
      <TracePanel />
    </Page>
  );
}

export function TracePanel() {
  const { t, i18n } = useTranslation('exports');
  const [file, setFile] = useState<File | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const trace = useMutation({ mutationFn: (found: File) => traceFile(found) });
  const run = () => {
    if (!file) return setFileError(t('traceFileRequired'));
    setFileError(null);
    trace.mutate(file);
  };
  return (
    <Stack gap="md">
      <Text size="sm">{t('traceIntro')}</Text>
      <div className="exports-trace-form">
        <FileInput
          className="exports-trace-file"
          label={t('traceFile')}
          placeholder={t('traceFilePlaceholder')}
          accept=".csv,.json,text/csv,application/json"
          value={file}
          onChange={(chosen) => {
            setFile(chosen);
            setFileError(null);
            trace.reset();
          }}
          error={fileError}
          clearable
        />
        <Button onClick={run} loading={trace.isPending}>{t('trace')}</Button>
      </div>
      {trace.error && <Alert color="red" role="alert">{problemMessage(problemFrom(trace.error), t)}</Alert>}
      {trace.data && <TraceAnswer result={trace.data} language={i18n.language} />}
    </Stack>
  );
}

function TraceAnswer({ result, language }: { result: TraceResult; language: string }) {
  const { t } = useTranslation('exports');
  const n = (value: number) => value.toLocaleString(language);
  return (
    <Stack gap="xs" role="region" aria-labelledby="trace-result-heading">
      <Title order={2} size="h4" id="trace-result-heading">{t('traceResultHeading')}</Title>
      <Text size="sm" c="dimmed">{t('traceRead', { rows: n(result.rows), format: t(`format_${result.format}`), marked: n(result.markedRows) })}</Text>
      {result.candidates.length === 0 ? (
        <Alert color="gray" role="status">{t('noFingerprint')}</Alert>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-label={t('candidatesCaption')} verticalSpacing="xs" striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t('colConfidence')}</Table.Th>
                <Table.Th>{t('colExport')}</Table.Th>
                <Table.Th>{t('colExporter')}</Table.Th>
                <Table.Th className="exports-nowrap">{t('colExportedAt')}</Table.Th>
                <Table.Th>{t('colWhat')}</Table.Th>
                <Table.Th ta="right">{t('colRows')}</Table.Th>
                <Table.Th>{t('colEvidence')}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {result.candidates.map((candidate) => (
                <Table.Tr key={candidate.exportId}>
                  <Table.Td><Badge className="exports-badge" color={candidate.confidence === 'certain' ? 'red' : 'yellow'} variant="light">{t(`confidence_${candidate.confidence}`)}</Badge></Table.Td>
                  <Table.Td className="exports-nowrap">#{candidate.exportNo}</Table.Td>
                  <Table.Td>{candidate.exporter}</Table.Td>
                  <Table.Td className="exports-nowrap">
                    <Stack gap={2}>
                      <Text size="sm">{formatDateTime(candidate.exportedAt, language)}</Text>
                      <Text size="xs" c="dimmed">{candidate.downloadedAt ? t('downloadedOn', { time: formatDateTime(candidate.downloadedAt, language) }) : t('notDownloaded')}</Text>
                    </Stack>
                  </Table.Td>
                  <Table.Td className="exports-nowrap">{t('what', { type: t(`type_${candidate.type}`, { defaultValue: candidate.type }), format: t(`format_${candidate.format}`, { defaultValue: candidate.format }) })}</Table.Td>
                  <Table.Td ta="right">{candidate.rowsWritten === null ? '' : n(candidate.rowsWritten)}</Table.Td>
                  <Table.Td>
                    <ul className="exports-evidence">
                      {candidate.evidence.canaryRows > 0 && <li><Text size="xs">{t('evidenceCanaries', { count: candidate.evidence.canaryRows })}</Text></li>}
                      {candidate.evidence.canaryHints > 0 && <li><Text size="xs">{t('evidenceHints', { count: candidate.evidence.canaryHints })}</Text></li>}
                      {candidate.evidence.markedRows > 0 && <li><Text size="xs">{t('evidenceMarked', { count: candidate.evidence.markedRows })}</Text></li>}
                      {candidate.evidence.markChunks.length > 0 && <li><Text size="xs">{t('evidenceChunks', { parts: candidate.evidence.markChunks.join(', ') })}</Text></li>}
                    </ul>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
