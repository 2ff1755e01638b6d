import { useState } from 'react';
import { Alert, Anchor, Button, Divider, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { passwordProps } from '../shared/forms';
import { problemMessage, showFormProblem } from '../shared/problems';
import { ceremonyFailureText, passkeyCeremony } from './passkey';
import type { SessionView } from './session';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Email and password; what comes next (a second step, setting one up) is the caller's. */
export function PasswordSignIn({ onSession, email = '', lockedEmail = false }: { onSession: (session: SessionView) => void; email?: string; lockedEmail?: boolean }) {
  const { t } = useTranslation('access');
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: { email, password: '' },
    validate: {
      email: (v) => (!v ? t('required') : EMAIL.test(v) ? null : t('invalidEmail')),
      password: (v) => (v ? null : t('required')),
    },
  });
  const submit = form.onSubmit(async (values) => {
    setError(null);
    try {
      const session = must(await api.POST('/api/v1/auth/login', { body: values }));
      form.setFieldValue('password', '');
      onSession(session);
    } catch (failure) {
      showFormProblem(failure, t, form, setError);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-busy={form.submitting}>
      <Stack gap="sm">
        {error && <Alert color="red" role="alert">{error}</Alert>}
        <TextInput label={t('email')} type="email" autoComplete="username" required maxLength={254} readOnly={lockedEmail} {...form.getInputProps('email')} />
        <PasswordInput label={t('password')} autoComplete="current-password" required maxLength={1024} data-autofocus={lockedEmail || undefined} {...passwordProps(form, 'password')} />
        <Button type="submit" loading={form.submitting}>{t('signIn')}</Button>
      </Stack>
    </form>
  );
}

/** The second step: a code from the authenticator app, a recovery code, or a passkey. */
export function SecondStep({ onSession, onExpired }: { onSession: (session: SessionView) => void; onExpired: (message: string) => void }) {
  const { t } = useTranslation('access');
  const [error, setError] = useState<string | null>(null);
  const [passkeyError, setPasskeyError] = useState<string | null>(null);
  const form = useForm({ initialValues: { code: '' }, validate: { code: (v) => (v.trim() ? null : t('required')) } });

  const verify = async (proof: Record<string, unknown>, show: (message: string) => void): Promise<void> => {
    try {
      onSession(must(await api.POST('/api/v1/auth/mfa/verify', { body: proof as never })) as SessionView);
    } catch (failure) {
      const problem = problemFrom(failure);
      if (problem.code === 'auth.session_expired') onExpired(problem.message);
      else show(problemMessage(problem, t));
    }
  };

  const submit = form.onSubmit(async ({ code }) => {
    setError(null);
    const entered = code.replace(/\s+/g, '');
    await verify(/^\d{6}$/.test(entered) ? { code: entered } : { recoveryCode: entered }, setError);
    form.setFieldValue('code', '');
  });

  const usePasskey = async () => {
    setPasskeyError(null);
    try {
      const challenge = must(await api.POST('/api/v1/auth/passkeys/challenge'));
      const ceremony = await passkeyCeremony('get', challenge.options);
      if (!ceremony.ok) return setPasskeyError(t(ceremonyFailureText(ceremony.reason)));
      await verify({ passkey: { challengeId: challenge.challengeId, response: ceremony.response } }, setPasskeyError);
    } catch (failure) {
      setPasskeyError(problemMessage(problemFrom(failure), t));
    }
  };

  return (
    <Stack gap="md">
      <Title order={1} size="h2">{t('mfaHeading')}</Title>
      <Text size="sm">{t('mfaIntro')}</Text>
      <form onSubmit={submit} noValidate aria-busy={form.submitting}>
        <Stack gap="sm">
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <TextInput label={t('mfaCode')} autoComplete="one-time-code" inputMode="text" required maxLength={64} data-autofocus {...form.getInputProps('code')} />
          <Button type="submit" loading={form.submitting}>{t('verify')}</Button>
        </Stack>
      </form>
      <Divider />
      <Button variant="default" onClick={usePasskey}>{t('usePasskey')}</Button>
      {passkeyError && <Alert color="red" role="alert">{passkeyError}</Alert>}
    </Stack>
  );
}

/** Signing in with a passkey alone, as a first factor. */
export function PasskeySignIn({ onSession }: { onSession: (session: SessionView) => void }) {
  const { t } = useTranslation('access');
  const [error, setError] = useState<string | null>(null);
  const signIn = async () => {
    setError(null);
    try {
      const challenge = must(await api.POST('/api/v1/auth/passkeys/sign-in-options'));
      const ceremony = await passkeyCeremony('get', challenge.options);
      if (!ceremony.ok) return setError(t(ceremonyFailureText(ceremony.reason)));
      onSession(must(await api.POST('/api/v1/auth/passkeys/sign-in', { body: { challengeId: challenge.challengeId, response: ceremony.response } as never })) as SessionView);
    } catch (failure) {
      setError(problemMessage(problemFrom(failure), t));
    }
  };
  return (
    <Stack gap="xs">
      <Button variant="default" onClick={signIn}>{t('passkeySignIn')}</Button>
      {error && <Alert color="red" role="alert">{error}</Alert>}
    </Stack>
  );
}

/** "Sign in with <provider>" when the server has single sign-on; a navigation, not a request. */
export function SsoSignIn() {
  const { t } = useTranslation('access');
  const methods = useQuery({ queryKey: ['auth', 'methods'], queryFn: async () => must(await api.GET('/api/v1/auth/methods')), staleTime: Infinity });
  const name = methods.data?.oidc?.name;
  if (typeof name !== 'string') return null;
  return (
    <Button variant="default" component="a" href="/api/v1/auth/oidc/start">
      {t('ssoSignIn', { name })}
    </Button>
  );
}

/** What the sign-in page says for each code single sign-on can come back with; the code is all it is given. */
const SSO_ERRORS: Record<string, string> = {
  'auth.sso_refused': 'ssoRefused',
  'auth.sso_no_account': 'ssoNoAccount',
  'auth.sso_state_invalid': 'ssoStateInvalid',
  'auth.sso_unavailable': 'ssoUnavailable',
};

export function ssoErrorText(code: string): string {
  return Object.hasOwn(SSO_ERRORS, code) ? SSO_ERRORS[code]! : 'ssoFailed';
}

export function ForgotLink({ onClick }: { onClick: () => void }) {
  const { t } = useTranslation('access');
  return (
    <Anchor component="button" type="button" size="sm" onClick={onClick}>
      {t('forgotLink')}
    </Anchor>
  );
}
