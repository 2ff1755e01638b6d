import { useState } from 'react';
import { Alert, Button, Group, Modal, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { formProblem } from '../shared/problems';
import { revealFields } from './record-api';
import type { RecordType } from './record-types';

/** The shortest reason the server accepts; asking here first saves a refused request. */
const MIN_REASON = 10;

/**
 * "Reveal" beside a masked value: asks why, sends the reason with the request (the server keeps
 * it with the record of the reveal), and when the server wants a recent second factor, asks for
 * a code and tries again. The value in clear lives only in the page's memory.
 */
export function RevealButton({ type, id, field, label, onRevealed }: { type: RecordType; id: string; field: string; label: string; onRevealed: (values: Record<string, unknown>) => void }) {
  const { t } = useTranslation('records');
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button size="compact-xs" variant="light" onClick={() => setOpen(true)} aria-label={t('revealField', { field: label })}>
        {t('reveal')}
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title={t('revealHeading', { field: label })}>
        {open && (
          <RevealForm
            type={type}
            id={id}
            field={field}
            onDone={(values) => {
              setOpen(false);
              onRevealed(values);
            }}
          />
        )}
      </Modal>
    </>
  );
}

function RevealForm({ type, id, field, onDone }: { type: RecordType; id: string; field: string; onDone: (values: Record<string, unknown>) => void }) {
  const { t } = useTranslation('records');
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const [needsStepUp, setNeedsStepUp] = useState(false);
  const form = useForm({
    initialValues: { reason: '', code: '' },
    validate: {
      reason: (v) => (v.trim().length >= MIN_REASON ? null : t('reasonTooShort', { count: MIN_REASON })),
      code: (v) => (needsStepUp && !v.trim() ? t('required') : null),
    },
  });

  const submit = form.onSubmit(async ({ reason, code }) => {
    setError(null);
    try {
      if (needsStepUp) {
        const entered = code.replace(/\s+/g, '');
        must(await api.POST('/api/v1/auth/step-up', { body: /^\d{6}$/.test(entered) ? { code: entered } : { recoveryCode: entered } }));
        form.setFieldValue('code', '');
        setNeedsStepUp(false);
        void queryClient.invalidateQueries({ queryKey: ['auth', 'access'] });
      }
      onDone(await revealFields(type, id, [field], reason.trim()));
    } catch (failure) {
      const problem = problemFrom(failure);
      if (problem.code === 'auth.step_up_required') {
        setNeedsStepUp(true);
        return;
      }
      if (problem.code === 'auth.forbidden') return setError(t('shell:forbidden'));
      const shown = formProblem(problem, t, ['reason', 'code', 'recoveryCode']);
      form.setErrors({ ...shown.fields, ...(shown.fields.recoveryCode ? { code: shown.fields.recoveryCode } : {}) });
      setError(shown.message);
    }
  });

  return (
    <form onSubmit={submit} noValidate aria-busy={form.submitting}>
      <Stack gap="sm">
        <Text size="sm">{t('revealIntro')}</Text>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <Textarea label={t('reason')} description={t('reasonHint')} required rows={3} maxLength={500} data-autofocus readOnly={needsStepUp} {...form.getInputProps('reason')} />
        {needsStepUp && (
          <Stack gap="xs">
            <Alert color="blue">{t('stepUpIntro')}</Alert>
            <TextInput label={t('stepUpCode')} autoComplete="one-time-code" required maxLength={40} {...form.getInputProps('code')} />
          </Stack>
        )}
        <Group justify="flex-end">
          <Button type="submit" loading={form.submitting}>{needsStepUp ? t('confirmAndReveal') : t('reveal')}</Button>
        </Group>
      </Stack>
    </form>
  );
}
