import { useState } from 'react';
import { Alert, Badge, Button, Loader, Modal, Stack, Table, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useLocation } from 'wouter';
import { api, must, problemFrom } from '../api/client';
import { useStepUp } from '../access/step-up';
import { Page } from '../shell/page';
import { formProblem, problemMessage } from '../shared/problems';
import { AdminTabs } from './admin-tabs';
import { RoleEditor } from './role-editor';

/** The roles: shipped and custom, each opening its matrix. */
export function RolesPage() {
  const { t } = useTranslation('admin');
  const [creating, setCreating] = useState(false);
  const roles = useQuery({ queryKey: ['roles'], queryFn: async () => must(await api.GET('/api/v1/roles')) });
  return (
    <Page title={t('rolesTitle')} actions={<Button onClick={() => setCreating(true)}>{t('newRole')}</Button>}>
      <AdminTabs />
      {roles.isError && (
        <Alert color="red" role="alert">
          {problemMessage(problemFrom(roles.error), t)}
        </Alert>
      )}
      <div className="admin-scroll">
        <Table striped highlightOnHover>
          <Table.Caption>{t('rolesCaption')}</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">{t('roleName')}</Table.Th>
              <Table.Th scope="col">{t('roleDescription')}</Table.Th>
              <Table.Th scope="col">{t('kind')}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(roles.data?.items ?? []).map((role) => (
              <Table.Tr key={role.id}>
                <Table.Td>
                  <Link href={`/roles/${role.id}`}>{role.name}</Link>
                </Table.Td>
                <Table.Td>{role.description}</Table.Td>
                <Table.Td>
                  <Badge variant="light" color={role.builtin ? 'gray' : 'blue'}>
                    {role.builtin ? t('builtin') : t('custom')}
                  </Badge>
                  {role.definition.mfaRequired && (
                    <Badge variant="outline" ml="xs">
                      {t('mfaBadge')}
                    </Badge>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </div>
      <Modal opened={creating} onClose={() => setCreating(false)} title={t('newRole')}>
        <NewRoleForm onCancel={() => setCreating(false)} />
      </Modal>
    </Page>
  );
}

/** A custom role starts with an id and a name and no grants; its matrix opens next. */
function NewRoleForm({ onCancel }: { onCancel: () => void }) {
  const { t } = useTranslation('admin');
  const withStepUp = useStepUp();
  const queryClient = useQueryClient();
  const [, navigate] = useLocation();
  const [message, setMessage] = useState<string | null>(null);
  const form = useForm({
    initialValues: { id: '', name: '', description: '' },
    validate: { id: (v) => (/^[a-z][a-z0-9_]{0,63}$/.test(v) ? null : t('roleIdHelp')), name: (v) => (v.trim() ? null : t('required')) },
  });
  const submit = form.onSubmit(async (values) => {
    setMessage(null);
    try {
      const role = await withStepUp(async () => must(await api.POST('/api/v1/roles', { body: { id: values.id, name: values.name.trim(), description: values.description.trim(), definition: { records: {}, permissions: [] } } })));
      void queryClient.invalidateQueries({ queryKey: ['roles'] });
      navigate(`/roles/${role.id}`);
    } catch (error) {
      const problem = formProblem(problemFrom(error), t, ['id', 'name', 'description']);
      setMessage(problem.message);
      form.setErrors(problem.fields);
    }
  });
  return (
    <form onSubmit={submit} noValidate aria-label={t('newRole')}>
      <Stack gap="sm">
        {message && (
          <Alert color="red" role="alert">
            {message}
          </Alert>
        )}
        <TextInput label={t('roleId')} description={t('roleIdHelp')} required {...form.getInputProps('id')} />
        <TextInput label={t('roleName')} required {...form.getInputProps('name')} />
        <TextInput label={t('roleDescription')} {...form.getInputProps('description')} />
        <div className="admin-form-row">
          <Button variant="default" onClick={onCancel}>
            {t('cancel')}
          </Button>
          <Button type="submit" loading={form.submitting}>
            {t('createRole')}
          </Button>
        </div>
      </Stack>
    </form>
  );
}

/** One role's matrix editor. */
export function RolePage({ id }: { id: string }) {
  const { t } = useTranslation('admin');
  const role = useQuery({ queryKey: ['roles', id], queryFn: async () => must(await api.GET('/api/v1/roles/{id}', { params: { path: { id } } })) });
  if (role.isPending) return <Loader aria-label={t('shell:loading')} />;
  if (role.isError) {
    return (
      <Page title={t('rolesTitle')}>
        <Alert color="red" role="alert">
          {problemMessage(problemFrom(role.error), t)}
        </Alert>
      </Page>
    );
  }
  return (
    <Page title={t('roleTitle', { name: role.data.name })} actions={<Link href="/roles">{t('allRoles')}</Link>}>
      <AdminTabs />
      <RoleEditor key={role.data.id} role={role.data} />
    </Page>
  );
}
