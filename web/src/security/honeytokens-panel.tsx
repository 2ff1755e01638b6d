import { useState } from 'react';
import { Alert, Badge, Button, Loader, NativeSelect, NumberInput, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { useStepUp } from '../access/step-up';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { problemMessage, showFormProblem } from '../shared/problems';

const DECOY_TYPES = ['contacts', 'companies'] as const;

interface PlantValues {
  recordType: (typeof DECOY_TYPES)[number];
  count: number | string;
}

/**
 * Decoy records planted among the real ones. They are listed by id only: opening one, even from
 * here, is exactly what raises the alert.
 */
export function HoneytokensPanel() {
  const { t, i18n } = useTranslation('security');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [error, setError] = useState<string | null>(null);
  const [planted, setPlanted] = useState<string | null>(null);
  const tokens = useQuery({ queryKey: ['detection', 'honeytokens'], queryFn: async () => must(await api.GET('/api/v1/honeytokens')) });
  const form = useForm<PlantValues>({
    initialValues: { recordType: 'contacts', count: 3 },
    validate: { count: (value) => (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 50 ? null : t('plantCountInvalid')) },
  });
  const plant = useMutation({
    mutationFn: (values: PlantValues) => withStepUp(async () => must(await api.POST('/api/v1/honeytokens', { body: { recordType: values.recordType, count: Number(values.count) } }))),
    onSuccess: async (_answer, values) => {
      setError(null);
      setPlanted(t('planted', { count: Number(values.count), type: t(`decoyType_${values.recordType}`) }));
      await queryClient.invalidateQueries({ queryKey: ['detection', 'honeytokens'] });
    },
    onError: (failure) => {
      setPlanted(null);
      showFormProblem(failure, t, form, setError);
    },
  });
  const remove = useMutation({
    mutationFn: (recordId: string) => withStepUp(async () => must(await api.DELETE('/api/v1/honeytokens/{recordId}', { params: { path: { recordId } } }))),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['detection', 'honeytokens'] }),
  });
  const items = tokens.data?.items ?? [];
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="honeytokens-heading">
      <Stack gap="sm">
        <Title order={2} size="h4" id="honeytokens-heading">{t('honeytokensHeading')}</Title>
        <Text size="sm" c="dimmed">{t('honeytokensIntro')}</Text>
        {tokens.isPending && <Loader size="xs" aria-label={t('loading')} />}
        {(tokens.error ?? remove.error) && <Alert color="red" role="alert">{problemMessage(problemFrom(tokens.error ?? remove.error), t)}</Alert>}
        <form onSubmit={form.onSubmit((values) => plant.mutate(values))} noValidate aria-label={t('plantHoneytokens')} className="security-inline-form">
          <NativeSelect label={t('decoyType')} data={DECOY_TYPES.map((type) => ({ value: type, label: t(`decoyType_${type}`) }))} {...form.getInputProps('recordType')} />
          <NumberInput label={t('plantCount')} min={1} max={50} allowDecimal={false} {...form.getInputProps('count')} />
          <Button type="submit" variant="light" loading={plant.isPending}>{t('plant')}</Button>
        </form>
        {error && <Alert color="red" role="alert">{error}</Alert>}
        {planted && <Alert color="green" role="status">{planted}</Alert>}
        {tokens.data && items.length === 0 && <Text size="sm" c="dimmed">{t('noHoneytokens')}</Text>}
        {items.length > 0 && (
          <Table.ScrollContainer minWidth={640}>
            <Table aria-labelledby="honeytokens-heading" verticalSpacing="xs" striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('decoyType')}</Table.Th>
                  <Table.Th>{t('decoyName')}</Table.Th>
                  <Table.Th>{t('recordId')}</Table.Th>
                  <Table.Th>{t('plantedAt')}</Table.Th>
                  <Table.Th>{t('actions')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((token) => (
                  <Table.Tr key={token.recordId}>
                    <Table.Td><Text size="sm">{t(`decoyType_${token.recordType}`, { defaultValue: token.recordType })}</Text></Table.Td>
                    <Table.Td>
                      <Text size="sm">{token.label}</Text>
                      {token.inTrash && <Badge color="gray" variant="light" size="sm">{t('inTrash')}</Badge>}
                    </Table.Td>
                    <Table.Td><Text size="sm" className="security-mono">{token.recordId}</Text></Table.Td>
                    <Table.Td className="security-nowrap"><Text size="sm">{formatDateTime(token.plantedAt, i18n.language)}</Text></Table.Td>
                    <Table.Td>
                      <Button size="compact-sm" variant="default" color="red" loading={remove.isPending && remove.variables === token.recordId} onClick={() => remove.mutate(token.recordId)} aria-label={t('removeHoneytokenOf', { id: token.recordId })}>
                        {t('remove')}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Stack>
    </Paper>
  );
}
