import type { ReactNode } from 'react';
import { Alert, Loader } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { Redirect, Route, Switch, useParams } from 'wouter';
import { useAccess } from '../access/use-access';
import { Missing } from '../shell/missing';
import { Page } from '../shell/page';
import { AlertsPage } from './alerts-page';
import { AuditExplorer } from './audit-explorer';
import { BlastRadius } from './blast-radius';
import { DetectionPage } from './detection-page';
import { KeysPage } from './keys-page';
import { SECURITY_PERMISSIONS } from './security.nav';
import { SessionsPage } from './sessions-page';
import { TracePage } from './trace-panel';
import './security.css';

type SecurityPath = keyof typeof SECURITY_PERMISSIONS;

/**
 * Each screen with the pattern it answers: the alerts screen keeps its list (and filters) while
 * an alert opens over it at /alerts/ID, and /audit/N opens the log at entry N.
 */
const SCREENS: Record<SecurityPath, { pattern: string; render: () => ReactNode }> = {
  '/alerts': { pattern: '/alerts/:id?', render: () => <AlertsRoute /> },
  '/audit': { pattern: '/audit/:seq?', render: () => <AuditRoute /> },
  '/blast-radius': { pattern: '/blast-radius', render: () => <BlastRadius /> },
  '/trace': { pattern: '/trace', render: () => <TracePage /> },
  '/sessions': { pattern: '/sessions', render: () => <SessionsPage /> },
  '/keys': { pattern: '/keys', render: () => <KeysPage /> },
  '/detection': { pattern: '/detection', render: () => <DetectionPage /> },
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
        <Route key={path} path={SCREENS[path].pattern}>
          {access.may(SECURITY_PERMISSIONS[path]) ? SCREENS[path].render() : <NotAllowed />}
        </Route>
      ))}
      <Route path="/">{first ? <Redirect to={first} replace /> : <NotAllowed />}</Route>
      <Route><Missing /></Route>
    </Switch>
  );
}

function AlertsRoute() {
  const { id } = useParams<{ id?: string }>();
  return <AlertsPage alertId={id ?? null} />;
}

function AuditRoute() {
  const { seq } = useParams<{ seq?: string }>();
  const focus = seq && /^[1-9][0-9]{0,15}$/.test(seq) ? Number(seq) : null;
  if (seq && focus === null) return <Missing />;
  // A new entry to look at starts the explorer afresh at that entry.
  return <AuditExplorer key={focus ?? 'all'} focusSeq={focus} />;
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
