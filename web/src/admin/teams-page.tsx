import { useState } from 'react';
import { Alert, Button, Paper, Select, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { useAccess } from '../access/use-access';
import { Page } from '../shell/page';
import { formProblem, problemMessage } from '../shared/problems';
import { AdminTabs } from './admin-tabs';
import type { Team } from './admin-model';

/** Teams as a tree by parent: a manager's subtree scope reaches the team and everything below it. */
export function TeamsPage() {
  const { t } = useTranslation('admin');
  const { access } = useAccess();
  const teams = useQuery({ queryKey: ['teams'], queryFn: async () => must(await api.GET('/api/v1/teams')) });
  const items = teams.data?.items ?? [];
  return (
    <Page title={t('teamsTitle')}>
      <AdminTabs />
      {access.may('teams.manage') && <NewTeamForm teams={items} />}
      {teams.isError && (
        <Alert color="red" role="alert">
          {problemMessage(problemFrom(teams.error), t)}
        </Alert>
      )}
      <section aria-labelledby="teams-tree-title">
        <Title order={2} size="h4" id="teams-tree-title" mb="xs">{t('teamTree')}</Title>
        {teams.data && items.length === 0 ? <Text c="dimmed">{t('noTeams')}</Text> : <TeamTree teams={items} parentId={null} />}
      </section>
    </Page>
  );
}

function TeamTree({ teams, parentId }: { teams: Team[]; parentId: string | null }) {
  const known = new Set(teams.map((team) => team.id));
  // A team whose parent is not in the list still shows, at the top.
  const children = teams.filter((team) => (parentId === null ? team.parentId === null || !known.has(team.parentId) : team.parentId === parentId)).sort((a, b) => a.name.localeCompare(b.name));
  if (children.length === 0) return null;
  return (
    <ul className="admin-tree">
      {children.map((team) => (
        <li key={team.id}>
          <Text span fw={500}>{team.name}</Text>
          <TeamTree teams={teams} parentId={team.id} />
        </li>
      ))}
    </ul>
  );
}

function NewTeamForm({ teams }: { teams: Team[] }) {
  const { t } = useTranslation('admin');
  const queryClient = useQueryClient();
  const [message, setMessage] = useState<string | null>(null);
  const form = useForm({ initialValues: { name: '', parentId: null as string | null }, validate: { name: (v) => (v.trim() ? null : t('required')) } });
  const submit = form.onSubmit(async (values) => {
    setMessage(null);
    try {
      must(await api.POST('/api/v1/teams', { body: { name: values.name.trim(), parentId: values.parentId || null } }));
      form.reset();
      void queryClient.invalidateQueries({ queryKey: ['teams'] });
    } catch (error) {
      const problem = formProblem(problemFrom(error), t, ['name', 'parentId']);
      setMessage(problem.message);
      form.setErrors(problem.fields);
    }
  });
  return (
    <Paper withBorder p="md">
      <form onSubmit={submit} noValidate aria-label={t('newTeam')}>
        <Title order={2} size="h4" mb="sm">{t('newTeam')}</Title>
        {message && (
          <Alert color="red" role="alert" mb="sm">
            {message}
          </Alert>
        )}
        <div className="admin-form-row">
          <TextInput label={t('teamName')} required {...form.getInputProps('name')} />
          <Select label={t('parentTeam')} placeholder={t('noParent')} clearable searchable data={teams.map((team) => ({ value: team.id, label: team.name }))} {...form.getInputProps('parentId')} />
          <Button type="submit" loading={form.submitting}>
            {t('createTeam')}
          </Button>
        </div>
      </form>
    </Paper>
  );
}
