import { Alert, Anchor, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link } from 'wouter';
import { api, must } from '../api/client';

/** How often every signed-in screen asks whether a lockdown began or ended. */
const LOCKDOWN_POLL_MS = 30_000;

/**
 * Says, on every screen, that the organisation is in lockdown: changes are refused (except for
 * those who handle alerts, who are told where to lift it) and exports are off for everyone. It
 * reads the same access answer the navigation does, asked again every half minute.
 */
export function LockdownBanner() {
  const { t } = useTranslation('shell');
  const access = useQuery({
    queryKey: ['auth', 'access'],
    queryFn: async () => must(await api.GET('/api/v1/auth/access')),
    staleTime: 60_000,
    refetchInterval: LOCKDOWN_POLL_MS,
  });
  if (!access.data?.lockdown) return null;
  const handles = (access.data.permissions as string[]).includes('alerts.handle');
  return (
    <Alert color="red" variant="filled" radius={0} role="status" title={t('lockdownTitle')} className="lockdown-banner">
      <Text size="sm">
        {handles ? t('lockdownHandler') : t('lockdownEveryone')}{' '}
        {handles && (
          <Anchor component={Link} href="/security/detection" c="inherit" underline="always">{t('lockdownManage')}</Anchor>
        )}
      </Text>
    </Alert>
  );
}
