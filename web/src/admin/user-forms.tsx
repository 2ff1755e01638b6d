import { useState } from 'react';
import { Alert, Button, Group, MultiSelect, PasswordInput, Select, Stack, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { passwordProps } from '../shared/forms';
import { formProblem } from '../shared/problems';
import type { AdminUser, NewUserBody } from './admin-model';

/** The roles and teams a user can be given, as choices. */
export function useRoleAndTeamChoices() {
  const roles = useQuery({ queryKey: ['roles'], queryFn: async () => must(await api.GET('/api/v1/roles')) });
  const teams = useQuery({ queryKey: ['teams'], queryFn: async () => must(await api.GET('/api/v1/teams')) });
  return {
    roles: (roles.data?.items ?? []).map((r) => ({ value: r.id, label: r.name })),
    teams: (teams.data?.items ?? []).map((team) => ({ value: team.id, label: team.name })),
  };
}

const NEW_USER_FIELDS = ['email', 'name', 'password', 'roles', 'teamId', 'locale'] as const;

/**
 * A new user: email, name, a first password the person changes, roles and team. The API checks
 * the password (length, not the name or email, not a common one) and names the field at fault.
 */
export function NewUserForm({ onCreated, onCancel }: { onCreated: (user: AdminUser) => void; onCancel?: () => void }) {
  const { t } = useTranslation('admin');
  const choices = useRoleAndTeamChoices();
  const withStepUp = useStepUp();
  const [message, setMessage] = useState<string | null>(null);
  const form = useForm({
    initialValues: { email: '', name: '', password: '', roles: [] as string[], teamId: null as string | null, locale: 'en' },
    validate: {
      email: (v) => (/^\S+@\S+\.\S+$/.test(v.trim()) ? null : t('emailInvalid')),
      name: (v) => (v.trim() ? null : t('required')),
      password: (v) => (v ? null : t('required')),
      roles: (v) => (v.length > 0 ? null : t('rolesRequired')),
    },
  });
  const submit = form.onSubmit(async (values) => {
    setMessage(null);
    const body: NewUserBody = { email: values.email.trim(), name: values.name.trim(), password: values.password, roles: values.roles, teamId: values.teamId || null, locale: values.locale as NewUserBody['locale'] };
    try {
      const user = await withStepUp(async () => must(await api.POST('/api/v1/users', { body })));
      form.reset();
      onCreated(user);
    } catch (error) {
      const problem = formProblem(problemFrom(error), t, NEW_USER_FIELDS);
      setMessage(problem.message);
      form.setErrors(problem.fields);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label={t('newUser')}>
      <Stack gap="sm">
        {message && (
          <Alert color="red" role="alert">
            {message}
          </Alert>
        )}
        <TextInput label={t('email')} type="email" required autoComplete="off" {...form.getInputProps('email')} />
        <TextInput label={t('name')} required {...form.getInputProps('name')} />
        <PasswordInput label={t('firstPassword')} description={t('firstPasswordHelp')} required autoComplete="new-password" {...passwordProps(form, 'password')} />
        <MultiSelect label={t('roles')} required data={choices.roles} searchable {...form.getInputProps('roles')} />
        <Select label={t('team')} data={choices.teams} clearable searchable placeholder={t('noTeam')} {...form.getInputProps('teamId')} />
        <Select
          label={t('language')}
          allowDeselect={false}
          data={[
            { value: 'en', label: 'English' },
            { value: 'zh-CN', label: '简体中文' },
          ]}
          {...form.getInputProps('locale')}
        />
        <Group justify="flex-end">
          {onCancel && (
            <Button variant="default" onClick={onCancel}>
              {t('cancel')}
            </Button>
          )}
          <Button type="submit" loading={form.submitting}>
            {t('createUser')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** A user's roles and team: the whole new set of roles, applied from their next request. */
export function UserAccessForm({ user, onSaved, onCancel }: { user: AdminUser; onSaved: (user: AdminUser) => void; onCancel: () => void }) {
  const { t } = useTranslation('admin');
  const choices = useRoleAndTeamChoices();
  const withStepUp = useStepUp();
  const [message, setMessage] = useState<string | null>(null);
  const form = useForm({
    initialValues: { roles: user.roles, teamId: user.teamId },
    validate: { roles: (v) => (v.length > 0 ? null : t('rolesRequired')) },
  });
  const submit = form.onSubmit(async (values) => {
    setMessage(null);
    try {
      const updated = await withStepUp(async () => must(await api.PATCH('/api/v1/users/{id}', { params: { path: { id: user.id } }, body: { roles: values.roles, teamId: values.teamId || null } })));
      onSaved(updated);
    } catch (error) {
      const problem = formProblem(problemFrom(error), t, ['roles', 'teamId']);
      setMessage(problem.message);
      form.setErrors(problem.fields);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label={t('editAccess', { name: user.name })}>
      <Stack gap="sm">
        {message && (
          <Alert color="red" role="alert">
            {message}
          </Alert>
        )}
        <MultiSelect label={t('roles')} required data={choices.roles} searchable {...form.getInputProps('roles')} />
        <Select label={t('team')} data={choices.teams} clearable searchable placeholder={t('noTeam')} {...form.getInputProps('teamId')} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            {t('cancel')}
          </Button>
          <Button type="submit" loading={form.submitting}>
            {t('save')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
