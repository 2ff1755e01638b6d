import { lazy, Suspense, useState } from 'react';
import { Center, Loader, MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Redirect, Route, Switch, useLocation } from 'wouter';
import { ApiError } from './api/client';
import { AccessPages } from './access/access-pages';
import { SessionExpired } from './access/session-expired';
import { StepUpProvider } from './access/step-up';
import { SessionProvider, takeReturnPath, useSession } from './access/session';
import { ScreenErrorBoundary } from './shell/error-boundary';
import { AppShell } from './shell/app-shell';
import { Missing } from './shell/missing';
import { RECORD_PATHS } from './records/records.nav';
import { theme } from './theme';

// Each section is its own chunk, loaded when first opened.
const ProfilePage = lazy(() => import('./account/profile-page'));
const DashboardPages = lazy(() => import('./dashboard/dashboard-pages'));
const RecordsPages = lazy(() => import('./records/records-pages'));
const SecurityPages = lazy(() => import('./security/security-pages'));
const AdminPages = lazy(() => import('./admin/admin-pages'));
const TransferPages = lazy(() => import('./transfer/transfer-pages'));
const ExportsPages = lazy(() => import('./exports/exports-pages'));
const TrashPage = lazy(() => import('./trash/trash-page'));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A refused or missing record does not get better by asking again.
      retry: (count, error) => !(error instanceof ApiError && error.problem.status >= 400 && error.problem.status < 500) && count < 2,
      refetchOnWindowFocus: false,
      staleTime: 15_000,
    },
  },
});

/**
 * The providers, then either the pages before sign-in or the signed-in app. Mantine's CSS
 * variables and global classes are not injected as <style> elements (the policy forbids inline
 * styles): they come from @mantine/core's stylesheet, and the theme keeps Mantine's defaults.
 */
export function App() {
  return (
    <MantineProvider theme={theme} withCssVariables={false} withGlobalClasses={false}>
      <Notifications />
      <QueryClientProvider client={queryClient}>
        <SessionProvider>
          <Root />
        </SessionProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}

function Root() {
  const { state } = useSession();
  const { t } = useTranslation('shell');
  const [location] = useLocation();
  if (state.status === 'loading') {
    return (
      <Center mih="100vh">
        <Loader aria-label={t('loading')} />
      </Center>
    );
  }
  if (state.status === 'signed-out' || state.session.stage !== 'active') return <AccessPages />;
  return (
    <StepUpProvider>
      <AppShell>
        <SessionExpired />
        <ScreenErrorBoundary resetKey={location}>
          <Suspense fallback={<Loader aria-label={t('loading')} />}>
            <Switch>
              <Route path="/"><DashboardPages /></Route>
              {/* The pages before sign-in have done their work once the session is active. */}
              <Route path="/login"><AfterSignIn /></Route>
              <Route path="/setup"><AfterSignIn /></Route>
              <Route path="/reset-password"><AfterSignIn /></Route>
              <Route path="/profile"><ProfilePage /></Route>
              <Route path={RECORD_PATHS}><RecordsPages /></Route>
              <Route path="/security" nest><SecurityPages /></Route>
              <Route path="/admin" nest><AdminPages /></Route>
              <Route path="/import" nest><TransferPages /></Route>
              <Route path="/exports" nest><ExportsPages /></Route>
              <Route path="/trash"><TrashPage /></Route>
              <Route><Missing /></Route>
            </Switch>
          </Suspense>
        </ScreenErrorBoundary>
      </AppShell>
    </StepUpProvider>
  );
}

/** Once signed in, on to the address the visitor first asked for, or home. */
function AfterSignIn() {
  const [to] = useState(takeReturnPath);
  return <Redirect to={to} replace />;
}
