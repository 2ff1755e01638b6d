import { Badge, Group, Paper, Stack, Text, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useUser } from '../access/session';
import { formatDateTime } from '../shared/format';
import { Page } from '../shell/page';
import './account.css';
import { FactorsPanel } from './factors-panel';
import { NoticesPanel } from './notices-panel';
import { PasswordPanel } from './password-panel';
import { SessionsPanel } from './sessions-panel';

/** The signed-in user's own account: details, notices, sessions, password and second factors. */
export default function ProfilePage() {
  const { t, i18n } = useTranslation('account');
  const user = useUser();
  return (
    <Page title={t('heading')}>
      <div className="account-grid">
        <Paper withBorder p="lg" radius="md" component="section" aria-labelledby="details-heading">
          <Stack gap="xs">
            <Title order={2} size="h4" id="details-heading">{t('details')}</Title>
            <Text fw={600}>{user.name}</Text>
            <Text size="sm">{t('email')}: {user.email}</Text>
            <Group gap="xs">
              <Text size="sm">{t('roles')}:</Text>
              {user.roles.map((role) => <Badge key={role} variant="light">{role}</Badge>)}
            </Group>
            {user.lastLoginAt && <Text size="sm" c="dimmed">{t('lastSignIn')}: {formatDateTime(user.lastLoginAt, i18n.language)}</Text>}
          </Stack>
        </Paper>
        <NoticesPanel />
      </div>
      <SessionsPanel />
      <div className="account-grid">
        <FactorsPanel />
        <PasswordPanel />
      </div>
    </Page>
  );
}
