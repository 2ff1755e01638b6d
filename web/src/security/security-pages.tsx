import type { ReactNode } from 'react';
import { Alert, Loader } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Redirect, Route, Switch } from 'wouter';
import { useAccess } from '../access/use-access';
import { Missing } from '../shell/missing';
import { Page } from '../shell/page';
import { AuditExplorer } from './audit-explorer';
import { BlastRadius } from './blast-radius';
import { KeysPage } from './keys-page';
import { SECURITY_PERMISSIONS } from './security.nav';
import { SessionsPage } from './sessions-page';
import './security.css';

type SecurityPath = keyof typeof SECURITY_PERMISSIONS;

const SCREENS: Record<SecurityPath, () => ReactNode> = {
  '/audit': () => <AuditExplorer />,
  '/blast-radius': () => <BlastRadius />,
  '/sessions': () => <SessionsPage />,
  '/keys': () => <KeysPage />,
};

/** The security screens: one wouter <Switch> over their own addresses. */
export default function SecurityPages() {
  const { access, loading } = useAccess();
  const { t } = useTranslation('security');
  if (loading) return <Loader aria-label={t('loading')} />;
  const paths = Object.keys(SCREENS) as SecurityPath[];
  const first = paths.find((path) => access.may(SECURITY_PERMISSIONS[path]));
  return (
    <Switch>
      {paths.map((path) => (
        <Route key={path} path={path}>
          {access.may(SECURITY_PERMISSIONS[path]) ? SCREENS[path]() : <NotAllowed />}
        </Route>
      ))}
      <Route path="/">{first ? <Redirect to={first} replace /> : <NotAllowed />}</Route>
      <Route><Missing /></Route>
    </Switch>
  );
}

/** A security address the user's roles do not reach: said plainly (the server refuses anyway). */
function NotAllowed() {
  const { t } = useTranslation('security');
  return (
    <Page title={t('heading')}>
      <Alert color="yellow" role="alert">{t('shell:forbidden')}</Alert>
    </Page>
  );
}
