import { useState } from 'react';
import { Alert, Anchor, Button, Code, Group, Modal, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { QRCodeSVG } from 'qrcode.react';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { RecoveryCodes } from '../access/enrolment';
import { ceremonyFailureText, passkeyCeremony } from '../access/passkey';
import { useStepUp } from '../access/step-up';
import { formatDate } from '../shared/format';
import { problemMessage, showFormProblem } from '../shared/problems';

type Adding = null | 'app' | 'passkey';

/** The user's second factors: authenticator apps and passkeys, recovery codes; add, remove, renew. */
export function FactorsPanel() {
  const { t, i18n } = useTranslation('account');
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [adding, setAdding] = useState<Adding>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const status = useQuery({ queryKey: ['auth', 'mfa'], queryFn: async () => must(await api.GET('/api/v1/auth/mfa')) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['auth', 'mfa'] });

  const run = async (operation: () => Promise<unknown>) => {
    setError(null);
    try {
      await withStepUp(operation);
      await refresh();
    } catch (failure) {
      setError(problemMessage(problemFrom(failure), t));
    }
  };
  const removeApp = (id: string) => run(async () => must(await api.DELETE('/api/v1/auth/mfa/totp/{id}', { params: { path: { id } } })));
  const removePasskey = (id: string) => run(async () => must(await api.DELETE('/api/v1/auth/passkeys/{id}', { params: { path: { id } } })));
  const renewCodes = () => run(async () => setCodes(must(await api.POST('/api/v1/auth/mfa/recovery-codes')).recoveryCodes));

  const data = status.data;
  const factors = data ? [...data.totp.map((f) => ({ ...f, kind: 'app' as const })), ...data.passkeys.map((f) => ({ ...f, kind: 'passkey' as const }))] : [];
  return (
    <Paper withBorder p="lg" radius="md" component="section" aria-labelledby="factors-heading">
      <Stack gap="sm">
        <Title order={2} size="h4" id="factors-heading">{t('factorsHeading')}</Title>
        {data && <Text size="sm" c="dimmed">{data.required ? t('factorsRequired') : t('factorsOptional')}</Text>}
        {(error || status.error) && <Alert color="red" role="alert">{error ?? problemMessage(problemFrom(status.error), t)}</Alert>}
        <Stack gap="xs" component="ul" className="account-factors" aria-label={t('factorsHeading')}>
          {factors.map((factor) => {
            const name = `${factor.kind === 'app' ? t('authenticatorApp') : t('passkey')}: ${factor.label}`;
            return (
              <li key={factor.id} className="account-factor">
                <Group justify="space-between" wrap="nowrap">
                  <div>
                    <Text size="sm" fw={600}>{name}</Text>
                    <Text size="xs" c="dimmed">
                      {t('addedOn', { date: formatDate(factor.createdAt, i18n.language) })} · {factor.lastUsedAt ? t('lastUsed', { date: formatDate(factor.lastUsedAt, i18n.language) }) : t('neverUsed')}
                    </Text>
                  </div>
                  <Button size="xs" variant="subtle" color="red" aria-label={t('removeFactor', { name })} onClick={() => void (factor.kind === 'app' ? removeApp(factor.id) : removePasskey(factor.id))}>
                    {t('remove')}
                  </Button>
                </Group>
              </li>
            );
          })}
        </Stack>
        {data && factors.length > 0 && <Text size="sm">{t('recoveryLeft', { count: data.recoveryCodesLeft })}</Text>}
        <Group gap="xs">
          <Button size="xs" variant="default" onClick={() => setAdding('app')}>{t('addApp')}</Button>
          <Button size="xs" variant="default" onClick={() => setAdding('passkey')}>{t('addPasskey')}</Button>
          {factors.length > 0 && <Button size="xs" variant="default" onClick={() => void renewCodes()}>{t('newRecoveryCodes')}</Button>}
        </Group>
      </Stack>
      {adding && (
        <AddFactor
          kind={adding}
          needsPassword={factors.length === 0}
          onClose={(recoveryCodes) => {
            setAdding(null);
            if (recoveryCodes && recoveryCodes.length > 0) setCodes(recoveryCodes);
            void refresh();
          }}
        />
      )}
      {codes && (
        <Modal opened onClose={() => setCodes(null)} title={t('newCodesHeading')} centered>
          <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />
        </Modal>
      )}
    </Paper>
  );
}

/**
 * Adding an authenticator app (a QR code, then a code from the app to confirm it) or a passkey.
 * A first factor added from a signed-in session needs the password as well.
 */
function AddFactor({ kind, needsPassword, onClose }: { kind: 'app' | 'passkey'; needsPassword: boolean; onClose: (recoveryCodes?: string[] | null) => void }) {
  const { t } = useTranslation('account');
  const { t: tAccess } = useTranslation('access');
  const [secret, setSecret] = useState<{ factorId: string; secret: string; uri: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const start = useForm({ initialValues: { password: '' }, validate: { password: (v) => (needsPassword && !v ? tAccess('required') : null) } });
  const confirm = useForm({ initialValues: { code: '' }, validate: { code: (v) => (/^\d{6}$/.test(v.replace(/\s+/g, '')) ? null : tAccess('required')) } });
  const withPassword = (password: string) => (needsPassword ? { password } : {});

  const begin = start.onSubmit(async ({ password }) => {
    setError(null);
    try {
      if (kind === 'app') {
        setSecret(must(await api.POST('/api/v1/auth/mfa/totp', { body: withPassword(password) })));
        return;
      }
      const challenge = must(await api.POST('/api/v1/auth/passkeys/registration-options', { body: withPassword(password) }));
      const ceremony = await passkeyCeremony('create', challenge.options);
      if (!ceremony.ok) return setError(tAccess(ceremonyFailureText(ceremony.reason)));
      const added = must(await api.POST('/api/v1/auth/passkeys', { body: { challengeId: challenge.challengeId, response: ceremony.response } as never }));
      onClose((added as { recoveryCodes?: string[] | null }).recoveryCodes);
    } catch (failure) {
      showFormProblem(failure, t, start, setError);
    }
  });

  const finish = confirm.onSubmit(async ({ code }) => {
    setError(null);
    try {
      const result = must(await api.POST('/api/v1/auth/mfa/totp/confirm', { body: { factorId: secret?.factorId ?? '', code: code.replace(/\s+/g, '') } }));
      onClose(result.recoveryCodes);
    } catch (failure) {
      showFormProblem(failure, t, confirm, setError);
    }
  });

  return (
    <Modal opened onClose={() => onClose()} title={kind === 'app' ? t('addApp') : t('addPasskey')} centered>
      <Stack gap="sm">
        {error && <Alert color="red" role="alert">{error}</Alert>}
        {!secret && (
          <form onSubmit={begin} noValidate>
            <Stack gap="sm">
              {needsPassword && <PasswordInput label={t('passwordForFactor')} description={t('passwordForFactorHint')} autoComplete="current-password" required {...start.getInputProps('password')} />}
              <Group justify="flex-end">
                <Button variant="default" onClick={() => onClose()}>{t('cancel')}</Button>
                <Button type="submit" loading={start.submitting}>{t('start')}</Button>
              </Group>
            </Stack>
          </form>
        )}
        {secret && (
          <form onSubmit={finish} noValidate>
            <Stack gap="sm">
              <Text size="sm" fw={600}>{t('scanHeading')}</Text>
              <QRCodeSVG value={secret.uri} size={184} marginSize={2} title={tAccess('enrolQr')} className="enrol-qr" />
              <Text size="sm">
                {tAccess('enrolKey')}: <Code data-testid="new-factor-secret">{secret.secret.match(/.{1,4}/g)?.join(' ')}</Code>
              </Text>
              <Anchor href={secret.uri} size="sm">{tAccess('enrolLink')}</Anchor>
              <TextInput label={t('confirmCode')} autoComplete="one-time-code" inputMode="numeric" required maxLength={12} {...confirm.getInputProps('code')} />
              <Group justify="flex-end">
                <Button variant="default" onClick={() => onClose()}>{t('cancel')}</Button>
                <Button type="submit" loading={confirm.submitting}>{t('confirm')}</Button>
              </Group>
            </Stack>
          </form>
        )}
      </Stack>
    </Modal>
  );
}
