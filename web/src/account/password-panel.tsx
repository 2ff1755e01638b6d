import { useState } from 'react';
import { Alert, Button, Paper, PasswordInput, Stack, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, setCsrfToken } from '../api/client';
import { announceSessionChange } from '../access/session';
import { passwordProps } from '../shared/forms';
import { showFormProblem } from '../shared/problems';

/**
 * Changing the password with the current one. The server ends every other session and gives this
 * one a new secret (a new cookie) and a new CSRF token, which the client takes on.
 */
export function PasswordPanel() {
  const { t } = useTranslation('account');
  const { t: tAccess } = useTranslation('access');
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const [changed, setChanged] = useState(false);
  const form = useForm({
    initialValues: { currentPassword: '', newPassword: '' },
    validate: {
      currentPassword: (v) => (v ? null : tAccess('required')),
      newPassword: (v) => (!v ? tAccess('required') : v.length < 12 ? tAccess('tooShort') : null),
    },
  });
  const submit = form.onSubmit(async (values) => {
    setError(null);
    setChanged(false);
    try {
      const result = must(await api.POST('/api/v1/auth/password', { body: values }));
      setCsrfToken(result.csrfToken);
      // Other tabs of this browser hold the old token; they ask the server for the new one.
      announceSessionChange();
      form.reset();
      setChanged(true);
      void queryClient.invalidateQueries({ queryKey: ['notices'] });
      void queryClient.invalidateQueries({ queryKey: ['auth', 'sessions'] });
    } catch (failure) {
      showFormProblem(failure, t, form, setError);
    }
  });
  return (
    <Paper withBorder p="lg" radius="md" component="section" aria-labelledby="password-heading">
      <form onSubmit={submit} noValidate aria-busy={form.submitting}>
        <Stack gap="sm" maw={420}>
          <Title order={2} size="h4" id="password-heading">{t('passwordHeading')}</Title>
          {error && <Alert color="red" role="alert">{error}</Alert>}
          {changed && <Alert color="green" role="status">{t('passwordChanged')}</Alert>}
          <PasswordInput label={t('currentPassword')} autoComplete="current-password" required maxLength={1024} {...passwordProps(form, 'currentPassword')} />
          <PasswordInput label={t('newPassword')} description={t('passwordRules')} autoComplete="new-password" required maxLength={1024} {...passwordProps(form, 'newPassword')} />
          <Button type="submit" loading={form.submitting} w="fit-content">{t('changePassword')}</Button>
        </Stack>
      </form>
    </Paper>
  );
}
