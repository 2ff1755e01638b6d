import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, onSessionExpired, setCsrfToken, type ApiProblem } from '../api/client';
import type { components } from '../api/schema';
import { i18n } from '../i18n';

export type User = components['schemas']['def-0'];

/** A session as the server describes it after sign-in, a second step or on reload. */
export interface SessionView {
  user: User;
  csrfToken: string;
  expiresAt: string;
  stage: 'mfa' | 'enrol' | 'active';
}

export type SessionState =
  | { status: 'loading' }
  | { status: 'signed-out'; notice?: string }
  | { status: 'signed-in'; session: SessionView; expired: ApiProblem | null };

interface SessionContextValue {
  state: SessionState;
  /** A session the server just started or moved on (sign-in, second step, password change). */
  adopt(session: SessionView): void;
  signOut(): Promise<void>;
  /** Back to the sign-in page with a notice (a link used, a password set, a sign-in expired). */
  showSignIn(notice?: string): void;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const queryClient = useQueryClient();

  useEffect(() => {
    let live = true;
    api
      .GET('/api/v1/auth/session')
      .then(({ data }) => {
        if (!live) return;
        if (data?.user) {
          setCsrfToken(data.csrfToken);
          setState({ status: 'signed-in', session: data, expired: null });
        } else setState({ status: 'signed-out' });
      })
      .catch(() => live && setState({ status: 'signed-out' }));
    return () => {
      live = false;
    };
  }, []);

  // A session that ends under an open page (expired, ended elsewhere) keeps the page and what was
  // typed into it; the sign-in asks again on top of it and the work goes on afterwards.
  useEffect(
    () =>
      onSessionExpired((problem) => {
        setState((current) => (current.status === 'signed-in' && !current.expired ? { ...current, expired: problem } : current));
      }),
    [],
  );

  const adopt = useCallback((session: SessionView) => {
    setCsrfToken(session.csrfToken);
    setState({ status: 'signed-in', session, expired: null });
  }, []);

  const showSignIn = useCallback(
    (notice?: string) => {
      setCsrfToken(null);
      if (location.pathname !== '/login') history.replaceState(null, '', '/login');
      queryClient.clear();
      setState({ status: 'signed-out', ...(notice ? { notice } : {}) });
    },
    [queryClient],
  );

  const signOut = useCallback(async () => {
    await api.POST('/api/v1/auth/logout');
    showSignIn(i18n.t('shell:signedOut'));
  }, [showSignIn]);

  const value = useMemo(() => ({ state, adopt, signOut, showSignIn }), [state, adopt, signOut, showSignIn]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The signed-in user; only for screens rendered behind the sign-in. */
export function useUser(): User {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useUser without a session');
  return state.session.user;
}
