import { useState } from 'react';
import { Alert, Button, Checkbox, Group, NumberInput, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { formProblem } from '../shared/problems';
import type { RecordItem } from './record-types';

/**
 * Turning a qualified lead into a contact, with a new company by default and optionally a deal
 * in the default pipeline; the server does all of it in one transaction.
 */
export function LeadConversion({ lead, onConverted }: { lead: RecordItem; onConverted: (contactId: string) => void }) {
  const { t } = useTranslation('records');
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { companyName: typeof lead.companyName === 'string' ? lead.companyName : '', createDeal: false, dealName: '', amount: '' as number | '' },
  });
  const submit = form.onSubmit(async (values) => {
    setError(null);
    try {
      const body = {
        ...(values.companyName.trim() ? { companyName: values.companyName.trim() } : {}),
        ...(values.createDeal ? { createDeal: true, ...(values.dealName.trim() ? { dealName: values.dealName.trim() } : {}), ...(values.amount !== '' ? { amount: values.amount } : {}) } : {}),
      };
      const result = must(await api.POST('/api/v1/leads/{id}/convert', { params: { path: { id: lead.id } }, body }));
      onConverted(result.contact.id);
    } catch (failure) {
      const problem = problemFrom(failure);
      if (problem.code === 'auth.forbidden') return setError(t('shell:forbidden'));
      const shown = formProblem(problem, t, ['companyName', 'dealName', 'amount']);
      setError(shown.message);
      form.setErrors(shown.fields);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-busy={form.submitting}>
      <Stack gap="sm">
        <Text size="sm">{t('convertIntro')}</Text>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <TextInput label={t('field.companyName')} description={t('convertCompanyHint')} maxLength={200} {...form.getInputProps('companyName')} />
        <Checkbox label={t('convertCreateDeal')} {...form.getInputProps('createDeal', { type: 'checkbox' })} />
        {form.values.createDeal && (
          <>
            <TextInput label={t('convertDealName')} maxLength={200} {...form.getInputProps('dealName')} />
            <NumberInput label={t('field.amount')} decimalScale={2} min={0} {...form.getInputProps('amount')} />
          </>
        )}
        <Group justify="flex-end">
          <Button type="submit" loading={form.submitting}>{t('convert')}</Button>
        </Group>
      </Stack>
    </form>
  );
}
