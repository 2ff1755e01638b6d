import './admin.css';
import { Text } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Redirect, Route, Switch } from 'wouter';
import { useAccess } from '../access/use-access';
import { Missing } from '../shell/missing';
import { Page } from '../shell/page';
import { ADMIN_SECTIONS } from './admin.nav';
import { BackupsPage } from './backups-page';
import { CustomFieldsPage } from './custom-fields-page';
import { RolePage, RolesPage } from './roles-page';
import { SettingsPage } from './settings-page';
import { TeamsPage } from './teams-page';
import { UsersPage } from './users-page';

/**
 * The administration screens under /admin: users, roles and their matrices, teams, custom fields,
 * the settings in effect, and backups.
 * A section opens only for the permissions its API asks for; the server checks every request.
 */
export default function AdminPages() {
  const { t } = useTranslation('admin');
  const { access, loading } = useAccess();
  if (loading) return null;
  const open = ADMIN_SECTIONS.filter((s) => s.visible(access));
  const allowed = (path: string) => open.some((s) => s.path === path);
  const refused = (
    <Page title={t('heading')}>
      <Text>{t('shell:forbidden')}</Text>
    </Page>
  );
  return (
    <Switch>
      <Route path="/">{open[0] ? <Redirect to={open[0].path} replace /> : refused}</Route>
      <Route path="/users">{allowed('/users') ? <UsersPage /> : refused}</Route>
      <Route path="/roles">{allowed('/roles') ? <RolesPage /> : refused}</Route>
      <Route path="/roles/:id">{(params) => (allowed('/roles') ? <RolePage id={params.id} /> : refused)}</Route>
      <Route path="/teams">{allowed('/teams') ? <TeamsPage /> : refused}</Route>
      <Route path="/custom-fields">{allowed('/custom-fields') ? <CustomFieldsPage /> : refused}</Route>
      <Route path="/settings">{allowed('/settings') ? <SettingsPage /> : refused}</Route>
      <Route path="/backups">{allowed('/backups') ? <BackupsPage /> : refused}</Route>
      <Route>
        <Missing />
      </Route>
    </Switch>
  );
}
