import { Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useUser } from '../access/session';
import { Page } from '../shell/page';

/** The home page: a greeting and, for now, where to begin. */
export default function DashboardPages() {
  const { t } = useTranslation('shell');
  const user = useUser();
  return (
    <Page title={t('welcome', { name: user.name })}>
      <Text>{t('welcomeIntro')}</Text>
    </Page>
  );
}
