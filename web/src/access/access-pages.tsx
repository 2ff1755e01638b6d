import { useEffect, useState } from 'react';
import { Alert, Anchor, Button, Divider, Loader, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useTranslation } from 'react-i18next';
import { api, must } from '../api/client';
import { passwordProps } from '../shared/forms';
import { showFormProblem } from '../shared/problems';
import { useFocusHeading } from '../shell/focus-heading';
import { AccessLayout } from './access-layout';
import { Enrolment } from './enrolment';
import { useSession, type SessionView } from './session';
import { ForgotLink, PasskeySignIn, PasswordSignIn, SecondStep, ssoErrorText, SsoSignIn } from './sign-in';

/**
 * Secrets that arrive in links (the setup token, a password reset token) travel in the fragment,
 * which browsers never send to a server or put in a Referer. They are taken into memory once and
 * dropped from the address bar and history; so is a refused single sign-on's ?sso_error= code,
 * which is shown once. Nothing else in the address is touched.
 */
const arrival = (() => {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const taken = {
    setupToken: location.pathname === '/setup' ? fragment.get('token') : null,
    resetToken: location.pathname === '/reset-password' ? fragment.get('token') : null,
    ssoError: query.get('sso_error'),
  };
  if (taken.setupToken !== null || taken.resetToken !== null || taken.ssoError !== null) {
    query.delete('sso_error');
    const search = query.toString();
    history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}`);
  }
  return taken;
})();

type View = 'login' | 'setup' | 'forgot' | 'reset';

/** Everything before a full session: first-run setup, sign-in, the second step, password links. */
export function AccessPages() {
  const { state, adopt, showSignIn } = useSession();
  const [view, setView] = useState<View>(() => (location.pathname === '/setup' ? 'setup' : location.pathname === '/reset-password' ? (arrival.resetToken ? 'reset' : 'forgot') : 'login'));
  const stage = state.status === 'signed-in' ? state.session.stage : 'none';
  useFocusHeading(`${view}:${stage}`);
  const go = (next: View, path: string) => {
    if (location.pathname !== path) history.replaceState(null, '', path);
    setView(next);
  };

  if (state.status === 'signed-in' && state.session.stage === 'mfa') {
    return (
      <AccessLayout>
        <SecondStep onSession={adopt} onExpired={showSignIn} />
      </AccessLayout>
    );
  }
  if (state.status === 'signed-in' && state.session.stage === 'enrol') {
    return (
      <AccessLayout>
        <Enrolment onSession={adopt} onFailed={showSignIn} />
      </AccessLayout>
    );
  }
  const notice = state.status === 'signed-out' ? state.notice : undefined;
  return (
    <AccessLayout>
      {view === 'setup' && <SetupForm onSession={adopt} onDone={(message) => { go('login', '/login'); showSignIn(message); }} />}
      {view === 'login' && <SignInPage notice={notice} onForgot={() => go('forgot', '/reset-password')} onSession={adopt} />}
      {view === 'forgot' && <ForgotForm onBack={(message) => { go('login', '/login'); showSignIn(message); }} />}
      {view === 'reset' && <ResetForm onAgain={() => go('forgot', '/reset-password')} onDone={(message) => { go('login', '/login'); showSignIn(message); }} />}
    </AccessLayout>
  );
}

function SignInPage({ notice, onForgot, onSession }: { notice: string | undefined; onForgot: () => void; onSession: (s: SessionView) => void }) {
  const { t } = useTranslation('access');
  const [ssoError] = useState(() => {
    const code = arrival.ssoError;
    arrival.ssoError = null;
    return code;
  });
  useEffect(() => {
    if (location.pathname !== '/login') history.replaceState(null, '', '/login');
  }, []);
  return (
    <Stack gap="md">
      <Title order={1} size="h2">{t('loginHeading')}</Title>
      {notice && <Alert color="blue" role="status">{notice}</Alert>}
      {ssoError && <Alert color="red" role="alert">{t(ssoErrorText(ssoError))}</Alert>}
      <PasswordSignIn onSession={onSession} />
      <ForgotLink onClick={onForgot} />
      <Divider />
      <PasskeySignIn onSession={onSession} />
      <SsoSignIn />
    </Stack>
  );
}

function SetupForm({ onSession, onDone }: { onSession: (s: SessionView) => void; onDone: (message: string) => void }) {
  const { t } = useTranslation('access');
  const [needed, setNeeded] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { email: '', name: '', password: '' },
    validate: {
      email: (v) => (!v ? t('required') : /^[^\s@]+@[^\s@]+$/.test(v) ? null : t('invalidEmail')),
      name: (v) => (v.trim() ? null : t('required')),
      password: (v) => (!v ? t('required') : v.length < 12 ? t('tooShort') : null),
    },
  });
  useEffect(() => {
    api.GET('/api/v1/setup').then(({ data }) => {
      if (data?.needed === false) onDone(t('setupDone'));
      else setNeeded(true);
    }, () => setNeeded(true));
    // Once, when the page opens.
  }, []);

  if (needed === null) return <Loader aria-label={t('loading')} />;
  if (!arrival.setupToken) {
    return (
      <Stack gap="md">
        <Title order={1} size="h2">{t('setupMissingHeading')}</Title>
        <Text size="sm">{t('setupMissing')}</Text>
      </Stack>
    );
  }
  const submit = form.onSubmit(async (values) => {
    setError(null);
    try {
      onSession(must(await api.POST('/api/v1/setup', { body: { token: arrival.setupToken ?? '', ...values } })) as SessionView);
    } catch (failure) {
      showFormProblem(failure, t, form, setError);
    }
  });
  return (
    <Stack gap="md">
      <Title order={1} size="h2">{t('setupHeading')}</Title>
      <Text size="sm">{t('setupIntro')}</Text>
      <form onSubmit={submit} noValidate aria-busy={form.submitting}>
        <Stack gap="sm">
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <TextInput label={t('email')} type="email" autoComplete="username" required maxLength={254} {...form.getInputProps('email')} />
          <TextInput label={t('name')} autoComplete="name" required maxLength={200} {...form.getInputProps('name')} />
          <PasswordInput label={t('password')} description={t('passwordHint')} autoComplete="new-password" required maxLength={1024} {...passwordProps(form, 'password')} />
          <Button type="submit" loading={form.submitting}>{t('create')}</Button>
        </Stack>
      </form>
    </Stack>
  );
}

function ForgotForm({ onBack }: { onBack: (message?: string) => void }) {
  const { t } = useTranslation('access');
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { email: '' }, validate: { email: (v) => (!v ? t('required') : /^[^\s@]+@[^\s@]+$/.test(v) ? null : t('invalidEmail')) } });
  const submit = form.onSubmit(async (values) => {
    setError(null);
    try {
      must(await api.POST('/api/v1/auth/password-reset', { body: values }));
      onBack(t('linkSent'));
    } catch (failure) {
      showFormProblem(failure, t, form, setError);
    }
  });
  return (
    <Stack gap="md">
      <Title order={1} size="h2">{t('forgotHeading')}</Title>
      <Text size="sm">{t('forgotIntro')}</Text>
      <form onSubmit={submit} noValidate aria-busy={form.submitting}>
        <Stack gap="sm">
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <TextInput label={t('email')} type="email" autoComplete="username" required maxLength={254} {...form.getInputProps('email')} />
          <Button type="submit" loading={form.submitting}>{t('sendLink')}</Button>
        </Stack>
      </form>
      <Anchor component="button" type="button" size="sm" onClick={() => onBack()}>{t('backToLogin')}</Anchor>
    </Stack>
  );
}

function ResetForm({ onAgain, onDone }: { onAgain: () => void; onDone: (message: string) => void }) {
  const { t } = useTranslation('access');
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { newPassword: '' }, validate: { newPassword: (v) => (!v ? t('required') : v.length < 12 ? t('tooShort') : null) } });
  const submit = form.onSubmit(async (values) => {
    setError(null);
    try {
      must(await api.POST('/api/v1/auth/password-reset/complete', { body: { token: arrival.resetToken ?? '', ...values } }));
      arrival.resetToken = null;
      onDone(t('passwordSet'));
    } catch (failure) {
      showFormProblem(failure, t, form, setError);
    }
  });
  return (
    <Stack gap="md">
      <Title order={1} size="h2">{t('resetHeading')}</Title>
      <Text size="sm">{t('resetIntro')}</Text>
      <form onSubmit={submit} noValidate aria-busy={form.submitting}>
        <Stack gap="sm">
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <PasswordInput label={t('newPassword')} description={t('passwordRules')} autoComplete="new-password" required maxLength={1024} {...passwordProps(form, 'newPassword')} />
          <Button type="submit" loading={form.submitting}>{t('setPassword')}</Button>
        </Stack>
      </form>
      <Anchor component="button" type="button" size="sm" onClick={onAgain}>{t('askAgain')}</Anchor>
    </Stack>
  );
}
