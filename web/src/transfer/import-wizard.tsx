import { useMemo, useState } from 'react';
import { Alert, Button, FileInput, Group, NativeSelect, Paper, Progress, Stack, Stepper, Text, Title } from '@mantine/core';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { problemFrom, type ApiProblem } from '../api/client';
import { useAccess } from '../access/use-access';
import { Page } from '../shell/page';
import { problemMessage } from '../shared/problems';
import { ColumnMapping } from './column-mapping';
import { PreviewTable } from './preview-table';
import { RowErrors } from './row-errors';
import { IMPORT_TYPES, previewImport, runImport, type ImportFinished, type ImportPreview, type ImportType, type Mapping, type RejectedRow } from './transfer-api';
import './transfer.css';

type Step = 'file' | 'mapping' | 'preview' | 'run';
const STEPS: Step[] = ['file', 'mapping', 'preview', 'run'];

const PROBLEM_TEXTS: Record<string, string> = {
  'import.invalid_file': 'problemInvalidFile',
  'import.unknown_column': 'problemUnknownColumn',
  'import.invalid_mapping': 'problemInvalidMapping',
  'import.too_large': 'problemTooLarge',
  'import.unsupported_media_type': 'problemNotCsv',
};

/** An import problem in the reader's language, followed by the server's details (as text). */
export function importProblem(problem: ApiProblem, t: TFunction): string {
  const key = PROBLEM_TEXTS[problem.code];
  const detail = problemMessage(problem, t);
  return key ? `${t(key)} ${detail}` : detail;
}

interface Run {
  total: number;
  done: number;
  rejected: RejectedRow[];
  finished: ImportFinished | null;
  failed: string | null;
}

/**
 * The import wizard: the record type and file, the column mapping (the server's suggestion to
 * start with), the first rows as they will be stored, then the run with its progress and the rows
 * refused. The file stays in the page and is sent again for each step; nothing about it goes into
 * the address.
 */
export function ImportWizard() {
  const { t } = useTranslation('transfer');
  const { access, loading } = useAccess();
  const allowed = IMPORT_TYPES.filter((type) => access.can(type, 'import'));
  const [step, setStep] = useState<Step>('file');
  const [type, setType] = useState<ImportType | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [mapping, setMapping] = useState<Mapping>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [run, setRun] = useState<Run | null>(null);
  const chosenType = type ?? allowed[0] ?? null;

  const labels = useMemo(() => Object.fromEntries((preview?.fields ?? []).map((field) => [field.key, field.key === 'company' ? t('company') : field.label])), [preview, t]);

  const attempt = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (failure) {
      setError(importProblem(problemFrom(failure), t));
    } finally {
      setBusy(false);
    }
  };

  const readFile = () => {
    if (!file || !chosenType) return setFileError(t('fileRequired'));
    setFileError(null);
    return attempt(async () => {
      const answer = await previewImport(chosenType, file);
      setPreview(answer);
      setMapping(answer.suggested);
      setStep('mapping');
    });
  };

  const showPreview = () =>
    attempt(async () => {
      setPreview(await previewImport(chosenType!, file!, mapping));
      setStep('preview');
    });

  const startRun = () =>
    attempt(async () => {
      let state: Run = { total: preview?.total ?? 0, done: 0, rejected: [], finished: null, failed: null };
      setRun(state);
      setStep('run');
      await runImport(chosenType!, file!, mapping, (event) => {
        if (event.kind === 'started') state = { ...state, total: event.total };
        else if (event.kind === 'rows') state = { ...state, done: state.done + event.rows.length, rejected: [...state.rejected, ...event.rows.filter((row): row is RejectedRow => !row.ok)] };
        else if (event.kind === 'finished') state = { ...state, done: event.total, finished: event };
        else state = { ...state, failed: event.error.message };
        setRun(state);
      });
    });

  const startOver = () => {
    setStep('file');
    setFile(null);
    setPreview(null);
    setMapping([]);
    setRun(null);
    setError(null);
  };

  if (loading) return <Page title={t('heading')}><Text>{t('loading')}</Text></Page>;
  if (allowed.length === 0) {
    return (
      <Page title={t('heading')}>
        <Alert color="yellow" role="alert">{t('nothingToImport')}</Alert>
      </Page>
    );
  }

  const mappedColumns = mapping.filter((key): key is string => key !== null);
  const previewProblems = preview?.rows.filter((row) => row.problems.length > 0).length ?? 0;

  return (
    <Page title={t('heading')}>
      <Stack gap="lg" className="transfer-panel">
        <Stepper active={run?.finished ? STEPS.length : STEPS.indexOf(step)} size="sm" aria-label={t('steps')} allowNextStepsSelect={false}>
          <Stepper.Step label={t('stepFile')} />
          <Stepper.Step label={t('stepMapping')} />
          <Stepper.Step label={t('stepPreview')} />
          <Stepper.Step label={t('stepRun')} />
        </Stepper>
        {error && <Alert color="red" role="alert">{error}</Alert>}

        {step === 'file' && (
          <Paper withBorder p="md">
            <Stack gap="md" className="transfer-form">
              <Text size="sm">{t('intro')}</Text>
              <NativeSelect
                label={t('recordType')}
                data={allowed.map((value) => ({ value, label: t(value) }))}
                value={chosenType ?? ''}
                onChange={(event) => setType(event.currentTarget.value as ImportType)}
              />
              <FileInput label={t('file')} placeholder={t('filePlaceholder')} accept=".csv,text/csv" value={file} onChange={setFile} error={fileError} clearable />
              <Group>
                <Button onClick={readFile} loading={busy}>{t('readFile')}</Button>
              </Group>
            </Stack>
          </Paper>
        )}

        {step === 'mapping' && preview && (
          <Stack gap="md">
            <Text size="sm">{t('mappingIntro', { file: file?.name ?? '' })} {t('rowCount', { count: preview.total })}</Text>
            <ColumnMapping header={preview.header} fields={preview.fields} mapping={mapping} onChange={setMapping} />
            <Group>
              <Button variant="default" onClick={() => setStep('file')}>{t('back')}</Button>
              <Button onClick={showPreview} loading={busy}>{t('showPreview')}</Button>
            </Group>
          </Stack>
        )}

        {step === 'preview' && preview && (
          <Stack gap="md">
            <Text size="sm">{t('previewIntro')}</Text>
            <Text size="sm" fw={500} role="status">{previewProblems > 0 ? t('previewProblems', { count: previewProblems }) : t('noProblems')}</Text>
            <PreviewTable rows={preview.rows} columns={mappedColumns} labels={labels} />
            <Group>
              <Button variant="default" onClick={() => setStep('mapping')}>{t('back')}</Button>
              <Button onClick={startRun} loading={busy}>{t('runImport', { count: preview.total })}</Button>
            </Group>
          </Stack>
        )}

        {step === 'run' && run && <RunView run={run} labels={labels} type={chosenType!} onAgain={startOver} busy={busy} />}
      </Stack>
    </Page>
  );
}

function RunView({ run, labels, type, onAgain, busy }: { run: Run; labels: Record<string, string>; type: ImportType; onAgain: () => void; busy: boolean }) {
  const { t } = useTranslation('transfer');
  const percent = run.total === 0 ? (run.finished ? 100 : 0) : Math.round((run.done / run.total) * 100);
  return (
    <Stack gap="md">
      <Stack gap={4}>
        <Progress value={percent} size="lg" aria-label={t('progress')} animated={busy} />
        <Text size="sm" aria-live="polite">{busy ? t('running') : ''} {t('progressText', { done: run.done, total: run.total })}</Text>
      </Stack>
      {run.failed && <Alert color="red" role="alert">{t('failedMidway', { message: run.failed })}</Alert>}
      {run.finished && (
        <Paper withBorder p="md">
          <Stack gap="sm">
            <Title order={2} size="h4">{t('summaryHeading')}</Title>
            <div className="transfer-summary">
              <Stat label={t('summaryImported')} value={run.finished.imported} />
              <Stat label={t('summaryRejected')} value={run.finished.rejected} />
              <Stat label={t('summaryTotal')} value={run.finished.total} />
            </div>
            {run.finished.ignoredColumns.length > 0 && <Text size="sm" c="dimmed">{t('summarySkipped', { columns: run.finished.ignoredColumns.join(', ') })}</Text>}
            {run.finished.rejected === 0 && <Text size="sm">{t('allImported')}</Text>}
          </Stack>
        </Paper>
      )}
      {run.rejected.length > 0 && (
        <Stack gap="xs">
          <Title order={2} size="h4">{t('errorsHeading')}</Title>
          <RowErrors rows={run.rejected} total={run.finished?.rejected ?? run.rejected.length} labels={labels} />
        </Stack>
      )}
      {(run.finished || run.failed) && (
        <Group>
          <Button variant="default" onClick={onAgain}>{t('importAnother')}</Button>
          <Button component={Link} href={`/${type}`} variant="light">{t('showRecords')}</Button>
        </Group>
      )}
    </Stack>
  );
}

function Stat({ label, value }: { label: string; value: number }) {
  return (
    <div className="transfer-stat">
      <Text size="xs" c="dimmed">{label}</Text>
      <Text size="xl" fw={700}>{value.toLocaleString()}</Text>
    </div>
  );
}
