import { useState } from 'react';
import { Alert, Anchor, Button, Group, Loader, Modal, Radio, Stack, Text, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { formProblem, problemMessage } from '../shared/problems';
import { createExport, downloadExport, estimateExport, narrowedBy, type ExportFormat, type ExportQuery } from './exports-api';
import './exports.css';

/** The longest reason the server keeps. */
const MAX_REASON = 500;

/**
 * Asks for an export of a list: the format, a reason (shown to an approver and kept with the
 * export), and what will happen, from the server's estimate where it gives one: a download at once,
 * or a request a second person must approve first. A ready export downloads as soon as it is
 * created; a pending one is announced and waits on the Exports page.
 */
export function ExportDialog({ type, query, opened, onClose }: { type: string; query: ExportQuery; opened: boolean; onClose: () => void }) {
  const { t, i18n } = useTranslation('exports');
  const stepUp = useStepUp();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { format: 'csv' as ExportFormat, reason: '' },
    validate: { reason: (value) => (value.trim() ? null : t('reasonRequired')) },
  });
  const estimate = useQuery({
    queryKey: ['exports', 'estimate', type, query],
    queryFn: () => estimateExport({ type, query }),
    enabled: opened,
    staleTime: 0,
    retry: false,
  });
  const figures = estimate.data ?? null;
  // The server decides both, under the caller's own caps; the dialog only says so.
  const needsApproval = figures?.needsApproval ?? false;
  const tooMany = figures?.overCap ?? false;
  const overDailyOnly = tooMany && figures !== null && (figures.maxRows === null || figures.rows <= figures.maxRows);
  const number = (value: number) => value.toLocaleString(i18n.language);
  const typeName = t(`type_${type}`, { defaultValue: type });
  const narrowed = narrowedBy(query);
  const outcomeText = () => {
    if (figures === null) return t('unknownOutcome');
    if (overDailyOnly) return t('overDaily', { rows: number(figures.dailyRowsLeft ?? 0) });
    if (tooMany) return t('tooMany', { limit: number(figures.maxRows ?? 0) });
    if (needsApproval) return t('willNeedApproval', { limit: number(figures.approvalAboveRows ?? 0) });
    return t('willDownload');
  };

  const close = () => {
    if (form.submitting) return;
    setError(null);
    form.reset();
    onClose();
  };

  const submit = form.onSubmit(async ({ format, reason }) => {
    setError(null);
    try {
      const created = await stepUp(() => createExport({ type, format, reason: reason.trim(), query }));
      void queryClient.invalidateQueries({ queryKey: ['exports', 'list'] });
      if (created.status === 'ready') {
        try {
          await stepUp(() => downloadExport(created.id));
          notifications.show({ color: 'teal', message: t('downloaded', { no: created.exportNo }) });
        } catch (failure) {
          // The export exists now: asking again would make a second one, so the download waits on
          // the Exports page instead.
          notifications.show({ color: 'red', title: t('downloadFailed'), message: <>{problemMessage(problemFrom(failure), t)} {t('readyOnPage', { no: created.exportNo })} <Anchor component={Link} href="~/exports" size="sm">{t('openExports')}</Anchor></> });
        }
        void queryClient.invalidateQueries({ queryKey: ['exports', 'list'] });
      } else {
        notifications.show({
          color: 'blue',
          title: t('pendingTitle'),
          message: (
            <>
              {t('pendingMessage', { no: created.exportNo, rows: number(created.rows) })}{' '}
              <Anchor component={Link} href="~/exports" size="sm">{t('openExports')}</Anchor>
            </>
          ),
        });
      }
      form.reset();
      onClose();
    } catch (failure) {
      const problem = formProblem(problemFrom(failure), t, ['reason', 'format']);
      setError(problem.message);
      form.setErrors(problem.fields);
    }
  });

  return (
    <Modal opened={opened} onClose={close} title={t('dialogTitle', { type: typeName })} closeButtonProps={{ 'aria-label': t('close') }}>
      <form onSubmit={submit} noValidate aria-busy={form.submitting}>
        <Stack gap="md">
          <Text size="sm">{narrowed.filters > 0 || narrowed.searched ? t('scopeNarrowed', { count: narrowed.filters }) : t('scopeAll', { type: typeName })}</Text>
          <Radio.Group label={t('format')} {...form.getInputProps('format')}>
            <Group gap="lg" className="exports-choices">
              <Radio value="csv" label={t('formatCsv')} />
              <Radio value="json" label={t('formatJson')} />
            </Group>
          </Radio.Group>
          <Textarea label={t('reason')} description={t('reasonHint')} required rows={3} maxLength={MAX_REASON} data-autofocus {...form.getInputProps('reason')} />
          <div className="exports-outcome" role="status" aria-live="polite">
            {estimate.isFetching ? (
              <Group gap="xs"><Loader size="xs" aria-hidden /><Text size="sm">{t('estimating')}</Text></Group>
            ) : figures ? (
              <Stack gap={4}>
                <Text size="sm" fw={600}>{t('estimateRows', { count: figures.rows, rows: number(figures.rows) })}</Text>
                <Text size="sm">
                  {outcomeText()}
                </Text>
                {figures.dailyRowsLeft !== null && !tooMany && <Text size="xs" c="dimmed">{t('dailyLeft', { rows: number(figures.dailyRowsLeft) })}</Text>}
              </Stack>
            ) : (
              <Text size="sm">{t('unknownOutcome')}</Text>
            )}
          </div>
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <Group justify="flex-end" gap="sm">
            <Button variant="default" onClick={close}>{t('cancel')}</Button>
            <Button type="submit" loading={form.submitting} disabled={tooMany}>{needsApproval ? t('submitRequest') : figures ? t('submitDownload') : t('submit')}</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
