import { Alert, List, Loader, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { formatDateTime } from '../shared/format';
import { problemMessage } from '../shared/problems';

export type ChainStatus = paths['/api/v1/audit/status']['get']['responses'][200]['content']['application/json'];

/** The chain's status as the server checked it; at most once a minute, as every check is itself an audit entry. */
export function useChainStatus() {
  return useQuery({ queryKey: ['audit', 'status'], queryFn: async () => must(await api.GET('/api/v1/audit/status')), staleTime: 60_000 });
}

/**
 * "Verified up to entry N · checkpoint at T" when the chain holds; otherwise every kind of damage
 * found, in red, so that nobody reads the entries below as evidence without knowing.
 */
export function ChainStatusBanner({ status }: { status: ChainStatus }) {
  const { t, i18n } = useTranslation('security');
  const number = (n: number) => n.toLocaleString(i18n.language);
  const checkpoint = status.checkpoint
    ? t('checkpointAt', { time: formatDateTime(status.checkpoint.signedAt, i18n.language), size: number(status.checkpoint.size) })
    : t('noCheckpoint');
  if (status.intact) {
    return (
      <Alert color="green" role="status" title={t('chainIntact')}>
        <Text size="sm">{t('verifiedUpTo', { entry: number(status.verifiedUpTo) })} · {checkpoint}</Text>
        {status.checkpoint?.signature === 'unchecked' && <Text size="sm" c="dimmed">{t('signatureUnchecked')}</Text>}
        <Text size="xs" c="dimmed">{t('checkedAt', { time: formatDateTime(status.checkedAt, i18n.language) })}</Text>
      </Alert>
    );
  }
  return (
    <Alert color="red" role="alert" title={t('chainBroken')}>
      <Text size="sm">{t('brokenIntro', { entry: number(status.verifiedUpTo) })} · {checkpoint}</Text>
      <List size="sm" mt="xs">
        {status.problems.map((problem, i) => (
          <List.Item key={`${problem.kind}-${problem.seq ?? 'log'}-${i}`}>
            {problem.seq === null ? t(`damage_${problem.kind}`) : t('damageAt', { kind: t(`damage_${problem.kind}`), entry: number(problem.seq) })}: {problem.detail}
          </List.Item>
        ))}
      </List>
      <Text size="sm" mt="xs">{t('brokenAdvice')}</Text>
    </Alert>
  );
}

/** The banner with its request: a loader while the server walks the chain, an error if it cannot. */
export function ChainStatusPanel() {
  const { t } = useTranslation('security');
  const status = useChainStatus();
  if (status.isPending) return <Loader size="sm" aria-label={t('checkingChain')} />;
  if (status.error) return <Alert color="red" role="alert">{problemMessage(problemFrom(status.error), t)}</Alert>;
  return <ChainStatusBanner status={status.data} />;
}
