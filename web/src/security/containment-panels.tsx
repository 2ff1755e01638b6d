import { useState } from 'react';
import { Alert, Button, Loader, NumberInput, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { useStepUp } from '../access/step-up';
import { api, must, problemFrom } from '../api/client';
import { formatDateTime } from '../shared/format';
import { problemMessage, showFormProblem } from '../shared/problems';
import { REFRESH_MS } from './alert-model';

/** The operation on one row that is running, so only its button spins. */
function useRowOperation<T>(run: (row: T) => Promise<unknown>) {
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  return useMutation({
    mutationFn: (row: T) => withStepUp(() => run(row)),
    onSuccess: () => Promise.all([queryClient.invalidateQueries({ queryKey: ['detection'] }), queryClient.invalidateQueries({ queryKey: ['alerts'] })]),
  });
}

interface BlockValues {
  address: string;
  minutes: number | string;
  reason: string;
}

/** Addresses refused for a while, by a rule or by hand; each can be lifted, and one can be added. */
export function BlocksPanel() {
  const { t, i18n } = useTranslation('security');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [error, setError] = useState<string | null>(null);
  const blocks = useQuery({ queryKey: ['detection', 'blocks'], queryFn: async () => must(await api.GET('/api/v1/detection/blocks')), refetchInterval: REFRESH_MS });
  const lift = useRowOperation(async (id: string) => must(await api.DELETE('/api/v1/detection/blocks/{id}', { params: { path: { id } } })));
  const form = useForm<BlockValues>({
    initialValues: { address: '', minutes: 60, reason: '' },
    validate: {
      address: (value) => (value.trim() ? null : t('required')),
      minutes: (value) => (typeof value === 'number' && Number.isInteger(value) && value >= 1 ? null : t('minutesInvalid')),
      reason: (value) => (value.trim() ? null : t('required')),
    },
  });
  const add = useMutation({
    mutationFn: (values: BlockValues) => withStepUp(async () => must(await api.POST('/api/v1/detection/blocks', { body: { address: values.address.trim(), minutes: Number(values.minutes), reason: values.reason.trim() } }))),
    onSuccess: async () => {
      form.reset();
      setError(null);
      await queryClient.invalidateQueries({ queryKey: ['detection'] });
    },
    onError: (failure) => showFormProblem(failure, t, form, setError),
  });
  const items = blocks.data?.items ?? [];
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="blocks-heading">
      <Stack gap="sm">
        <Title order={2} size="h4" id="blocks-heading">{t('blocksHeading')}</Title>
        {blocks.isPending && <Loader size="xs" aria-label={t('loading')} />}
        {(blocks.error ?? lift.error) && <Alert color="red" role="alert">{problemMessage(problemFrom(blocks.error ?? lift.error), t)}</Alert>}
        {blocks.data && items.length === 0 && <Text size="sm" c="dimmed">{t('noBlocks')}</Text>}
        {items.length > 0 && (
          <Table.ScrollContainer minWidth={360}>
            <Table aria-labelledby="blocks-heading" verticalSpacing="xs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('address')}</Table.Th>
                  <Table.Th>{t('blockedUntil')}</Table.Th>
                  <Table.Th>{t('actions')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((block) => (
                  <Table.Tr key={block.id}>
                    <Table.Td>
                      <Text size="sm" className="security-mono">{block.address}</Text>
                      <Text size="xs" c="dimmed" className="security-wrap">{block.reason}</Text>
                      {block.alertId && <Link href={`/alerts/${block.alertId}`} className="security-small-link">{t('openAlert')}</Link>}
                    </Table.Td>
                    <Table.Td><Text size="sm">{formatDateTime(block.until, i18n.language)}</Text></Table.Td>
                    <Table.Td>
                      <Button size="compact-sm" variant="default" loading={lift.isPending && lift.variables === block.id} onClick={() => lift.mutate(block.id)} aria-label={t('liftBlockOf', { address: block.address })}>
                        {t('liftBlock')}
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <form onSubmit={form.onSubmit((values) => add.mutate(values))} noValidate aria-label={t('addBlock')}>
          {error && <Alert color="red" role="alert" mb="xs">{error}</Alert>}
          <div className="security-filters">
            <TextInput label={t('address')} maxLength={60} {...form.getInputProps('address')} />
            <NumberInput label={t('blockMinutes')} min={1} max={525600} allowDecimal={false} {...form.getInputProps('minutes')} />
            <TextInput label={t('reason')} maxLength={500} {...form.getInputProps('reason')} />
          </div>
          <div className="security-form-foot">
            <Button type="submit" variant="light" loading={add.isPending}>{t('addBlock')}</Button>
          </div>
        </form>
      </Stack>
    </Paper>
  );
}

/** Accounts a rule (or an administrator) locked: nobody signs in to them until they are unlocked here. */
export function LockedAccountsPanel() {
  const { t, i18n } = useTranslation('security');
  const locked = useQuery({ queryKey: ['detection', 'locked-accounts'], queryFn: async () => must(await api.GET('/api/v1/detection/locked-accounts')), refetchInterval: REFRESH_MS });
  const unlock = useRowOperation(async (userId: string) => must(await api.DELETE('/api/v1/detection/locked-accounts/{userId}', { params: { path: { userId } } })));
  const items = locked.data?.items ?? [];
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="locked-heading">
      <Stack gap="sm">
        <Title order={2} size="h4" id="locked-heading">{t('lockedHeading')}</Title>
        {locked.isPending && <Loader size="xs" aria-label={t('loading')} />}
        {(locked.error ?? unlock.error) && <Alert color="red" role="alert">{problemMessage(problemFrom(locked.error ?? unlock.error), t)}</Alert>}
        {locked.data && items.length === 0 && <Text size="sm" c="dimmed">{t('noLocked')}</Text>}
        {items.length > 0 && (
          <Table.ScrollContainer minWidth={360}>
            <Table aria-labelledby="locked-heading" verticalSpacing="xs">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t('user')}</Table.Th>
                  <Table.Th>{t('lockedAt')}</Table.Th>
                  <Table.Th>{t('actions')}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((account) => (
                  <Table.Tr key={account.userId}>
                    <Table.Td>
                      <Text size="sm">{account.name}</Text>
                      <Text size="xs" c="dimmed">{account.email}</Text>
                      {account.lockedReason && <Text size="xs" c="dimmed" className="security-wrap">{account.lockedReason}</Text>}
                    </Table.Td>
                    <Table.Td><Text size="sm">{formatDateTime(account.lockedAt, i18n.language)}</Text></Table.Td>
                    <Table.Td>
                      <Button size="compact-sm" variant="default" loading={unlock.isPending && unlock.variables === account.userId} onClick={() => unlock.mutate(account.userId)} aria-label={t('unlockAccountOf', { name: account.name })}>
                        {t('unlockAccount')}
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
