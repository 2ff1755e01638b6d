import { Alert, Code, Loader, Stack, Table, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { api, must, problemFrom } from '../api/client';
import type { paths } from '../api/schema';
import { Page } from '../shell/page';
import { problemMessage } from '../shared/problems';
import { AdminTabs } from './admin-tabs';

type Settings = paths['/api/v1/settings']['get']['responses'][200]['content']['application/json'];
type Setting = Settings['groups'][number]['settings'][number];

/**
 * The configuration in effect, read-only: settings come from the server's environment and config
 * file and change only there, at restart. The server answers no secrets, so there are none to hide.
 */
export function SettingsPage() {
  const { t } = useTranslation('admin');
  const settings = useQuery({ queryKey: ['settings'], queryFn: async () => must(await api.GET('/api/v1/settings')) });
  return (
    <Page title={t('settingsTitle')}>
      <AdminTabs />
      <Alert color="blue" variant="light">
        {t('settingsNote')}
      </Alert>
      {settings.isPending && <Loader aria-label={t('shell:loading')} />}
      {settings.isError && (
        <Alert color="red" role="alert">
          {problemMessage(problemFrom(settings.error), t)}
        </Alert>
      )}
      {settings.data?.groups.map((group) => (
        <section key={group.id} aria-labelledby={`settings-${group.id}`}>
          <Stack gap="xs">
            <Title order={2} size="h4" id={`settings-${group.id}`}>
              {t(`group_${group.id}`)}
            </Title>
            <div className="admin-scroll">
              <Table striped>
                <Table.Caption>{t('settingsCaption', { group: t(`group_${group.id}`) })}</Table.Caption>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th scope="col">{t('settingColumn')}</Table.Th>
                    <Table.Th scope="col">{t('settingValue')}</Table.Th>
                    <Table.Th scope="col">{t('settingVariable')}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {group.settings.map((setting) => (
                    <Table.Tr key={setting.id}>
                      {/* A setting this version of the screen does not know yet still shows, by the server's description. */}
                      <Table.Th scope="row">{t(`setting_${setting.id}`, { defaultValue: setting.description })}</Table.Th>
                      <Table.Td>{settingValue(setting.value, t)}</Table.Td>
                      <Table.Td>{setting.key ? <Code>{setting.key}</Code> : t('settingBuiltIn')}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </div>
          </Stack>
        </section>
      ))}
    </Page>
  );
}

function settingValue(value: Setting['value'], t: TFunction<'admin'>): string {
  if (value === null) return t('settingNotSet');
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (Array.isArray(value)) return value.length === 0 ? t('settingNone') : value.join(', ');
  return String(value);
}
