import { useEffect, useState } from 'react';
import { Alert, Anchor, Button, Code, Divider, List, Loader, Stack, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { QRCodeSVG } from 'qrcode.react';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { problemMessage, showFormProblem } from '../shared/problems';
import { ceremonyFailureText, passkeyCeremony } from './passkey';
import type { SessionView } from './session';

interface Enrolled {
  session: SessionView;
  recoveryCodes: string[];
}

/**
 * Setting up a second factor when the role requires one: an authenticator app from a QR code (or
 * the key typed in), or a passkey. The recovery codes are shown once, then the session goes on.
 */
export function Enrolment({ onSession, onFailed }: { onSession: (session: SessionView) => void; onFailed: (message: string) => void }) {
  const { t } = useTranslation('access');
  const [secret, setSecret] = useState<{ factorId: string; secret: string; uri: string } | null>(null);
  const [enrolled, setEnrolled] = useState<Enrolled | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [passkeyError, setPasskeyError] = useState<string | null>(null);
  const form = useForm({ initialValues: { code: '' }, validate: { code: (v) => (/^\d{6}$/.test(v.replace(/\s+/g, '')) ? null : t('required')) } });

  useEffect(() => {
    let live = true;
    api
      .POST('/api/v1/auth/mfa/totp', { body: {} })
      .then((result) => live && setSecret(must(result)))
      .catch((failure) => live && onFailed(problemMessage(problemFrom(failure), t)));
    return () => {
      live = false;
    };
    // One secret per enrolment: not again when the language changes.
  }, []);

  const confirm = form.onSubmit(async ({ code }) => {
    setError(null);
    try {
      const result = must(await api.POST('/api/v1/auth/mfa/totp/confirm', { body: { factorId: secret?.factorId ?? '', code: code.replace(/\s+/g, '') } }));
      setEnrolled(result as Enrolled);
    } catch (failure) {
      showFormProblem(failure, t, form, setError);
    }
  });

  const usePasskey = async () => {
    setPasskeyError(null);
    try {
      const challenge = must(await api.POST('/api/v1/auth/passkeys/registration-options', { body: {} }));
      const ceremony = await passkeyCeremony('create', challenge.options);
      if (!ceremony.ok) return setPasskeyError(t(ceremonyFailureText(ceremony.reason)));
      setEnrolled(must(await api.POST('/api/v1/auth/passkeys', { body: { challengeId: challenge.challengeId, response: ceremony.response } as never })) as Enrolled);
    } catch (failure) {
      setPasskeyError(problemMessage(problemFrom(failure), t));
    }
  };

  if (enrolled) return <RecoveryCodes codes={enrolled.recoveryCodes} onDone={() => onSession(enrolled.session)} />;
  if (!secret) return <Loader aria-label={t('loading')} />;
  return (
    <Stack gap="md">
      <Title order={1} size="h2">{t('enrolHeading')}</Title>
      <Text size="sm">{t('enrolIntro')}</Text>
      <QRCodeSVG value={secret.uri} size={184} marginSize={2} title={t('enrolQr')} className="enrol-qr" />
      <Text size="sm">
        {t('enrolKey')}: <Code data-testid="enrol-secret">{secret.secret.match(/.{1,4}/g)?.join(' ')}</Code>
      </Text>
      <Anchor href={secret.uri} size="sm">{t('enrolLink')}</Anchor>
      <form onSubmit={confirm} noValidate aria-busy={form.submitting}>
        <Stack gap="sm">
          {error && <Alert color="red" role="alert">{error}</Alert>}
          <TextInput label={t('enrolCode')} autoComplete="one-time-code" inputMode="numeric" required maxLength={12} {...form.getInputProps('code')} />
          <Button type="submit" loading={form.submitting}>{t('verify')}</Button>
        </Stack>
      </form>
      <Divider />
      <Button variant="default" onClick={usePasskey}>{t('enrolPasskey')}</Button>
      {passkeyError && <Alert color="red" role="alert">{passkeyError}</Alert>}
    </Stack>
  );
}

export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useTranslation('access');
  return (
    <Stack gap="md">
      <Title order={1} size="h2">{t('recoveryHeading')}</Title>
      <Text size="sm">{t('recoveryIntro')}</Text>
      <List className="recovery-codes" aria-label={t('recoveryHeading')}>
        {codes.map((code) => (
          <List.Item key={code}>
            <Code>{code}</Code>
          </List.Item>
        ))}
      </List>
      <Button onClick={onDone}>{t('recoveryDone')}</Button>
    </Stack>
  );
}
