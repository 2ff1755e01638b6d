import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, onCsrfRefused, onSessionExpired, setCsrfToken, type ApiProblem } from '../api/client';
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

/** The pages before sign-in; any other address a signed-out visitor opens is kept to return to. */
const ACCESS_PATHS = new Set(['/', '/login', '/setup', '/reset-password']);
let returnPath: string | null = ACCESS_PATHS.has(location.pathname) ? null : location.pathname;

/** Where to go once signed in: the address the visitor first asked for, once. */
export function takeReturnPath(): string {
  const path = returnPath ?? '/';
  returnPath = null;
  return path;
}

/**
 * Tabs of one browser share the session cookie, so a sign-in, sign-out or password change in one
 * tab changes the session under the others; each tells the rest, which ask the server again.
 */
const tabs = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('rampart.session');

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const stateRef = useRef(state);
  stateRef.current = state;
  const queryClient = useQueryClient();

  const showSignIn = useCallback(
    (notice?: string) => {
      setCsrfToken(null);
      if (location.pathname !== '/login') history.replaceState(null, '', '/login');
      queryClient.clear();
      setState({ status: 'signed-out', ...(notice ? { notice } : {}) });
    },
    [queryClient],
  );

  /** Asks the server who is signed in, and follows: the same user goes on, anyone else starts afresh. */
  const recheck = useCallback(async () => {
    const { data } = await api.GET('/api/v1/auth/session').catch(() => ({ data: undefined }));
    const current = stateRef.current;
    if (!data?.user) {
      if (current.status === 'signed-in') showSignIn();
      else if (current.status === 'loading') setState({ status: 'signed-out' });
      return;
    }
    if (current.status === 'signed-in' && current.session.user.id !== data.user.id) {
      queryClient.clear();
    }
    setCsrfToken(data.csrfToken);
    setState({ status: 'signed-in', session: data, expired: null });
  }, [queryClient, showSignIn]);

  useEffect(() => {
    void recheck();
  }, [recheck]);

  useEffect(() => {
    if (!tabs) return;
    const listen = () => void recheck();
    tabs.addEventListener('message', listen);
    return () => tabs.removeEventListener('message', listen);
  }, [recheck]);

  // A session that ends under an open page (expired, ended elsewhere) keeps the page and what was
  // typed into it, hidden; the sign-in asks again on top of it and the work goes on afterwards.
  useEffect(
    () =>
      onSessionExpired((problem) => {
        setState((current) => (current.status === 'signed-in' && !current.expired ? { ...current, expired: problem } : current));
      }),
    [],
  );
  useEffect(() => onCsrfRefused(() => void recheck()), [recheck]);

  const adopt = useCallback((session: SessionView) => {
    setCsrfToken(session.csrfToken);
    setState({ status: 'signed-in', session, expired: null });
    tabs?.postMessage('changed');
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.POST('/api/v1/auth/logout');
    } finally {
      // Whatever the server said, this page forgets the session and its data.
      showSignIn(i18n.t('shell:signedOut'));
      tabs?.postMessage('changed');
    }
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

/** Announces a session change made outside adopt/signOut (a new CSRF token after a password change). */
export function announceSessionChange(): void {
  tabs?.postMessage('changed');
}
