import { useState } from 'react';
import { Alert, Badge, Button, Group, Menu, Modal, Table, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, must, problemFrom } from '../api/client';
import { useAccess } from '../access/use-access';
import { useStepUp } from '../access/step-up';
import { Page } from '../shell/page';
import { problemMessage } from '../shared/problems';
import { AdminTabs } from './admin-tabs';
import type { AdminUser } from './admin-model';
import { NewUserForm, UserAccessForm } from './user-forms';

/** Users: who they are, their roles and team, and the operations an administrator performs on them. */
export function UsersPage() {
  const { t } = useTranslation('admin');
  const { access } = useAccess();
  const queryClient = useQueryClient();
  const withStepUp = useStepUp();
  const [creating, setCreating] = useState(false);
  // The user being edited stays set while the dialog closes, so its title does not change mid-transition.
  const [editing, setEditing] = useState<AdminUser | null>(null);
  const [editOpened, setEditOpened] = useState(false);
  const [openings, setOpenings] = useState(0);
  const users = useQuery({ queryKey: ['users'], queryFn: async () => must(await api.GET('/api/v1/users')) });
  const roles = useQuery({ queryKey: ['roles'], queryFn: async () => must(await api.GET('/api/v1/roles')) });
  const teams = useQuery({ queryKey: ['teams'], queryFn: async () => must(await api.GET('/api/v1/teams')) });
  const manage = access.may('users.manage');
  const roleName = (id: string) => roles.data?.items.find((r) => r.id === id)?.name ?? id;
  const teamName = (id: string | null) => (id ? (teams.data?.items.find((team) => team.id === id)?.name ?? '') : '');

  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['users'] });
  /** Runs one operation on a user, with a step-up when asked, and says how it went. */
  const operate = async (done: string, operation: () => Promise<unknown>) => {
    try {
      await withStepUp(operation);
      notifications.show({ color: 'teal', message: done });
      refresh();
    } catch (error) {
      notifications.show({ color: 'red', message: problemMessage(problemFrom(error), t) });
    }
  };
  const path = (user: AdminUser) => ({ params: { path: { id: user.id } } });

  return (
    <Page
      title={t('usersTitle')}
      actions={
        manage ? (
          <Button onClick={() => setCreating(true)}>{t('newUser')}</Button>
        ) : undefined
      }
    >
      <AdminTabs />
      {users.isError && (
        <Alert color="red" role="alert">
          {problemMessage(problemFrom(users.error), t)}
        </Alert>
      )}
      <div className="admin-scroll">
        <Table striped highlightOnHover>
          <Table.Caption>{t('usersCaption')}</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">{t('name')}</Table.Th>
              <Table.Th scope="col">{t('email')}</Table.Th>
              <Table.Th scope="col">{t('roles')}</Table.Th>
              <Table.Th scope="col">{t('team')}</Table.Th>
              <Table.Th scope="col">{t('status')}</Table.Th>
              {manage && <Table.Th scope="col">{t('actions')}</Table.Th>}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(users.data?.items ?? []).map((user) => (
              <Table.Tr key={user.id}>
                <Table.Td>{user.name}</Table.Td>
                <Table.Td>{user.email}</Table.Td>
                <Table.Td>{user.roles.map(roleName).join(', ')}</Table.Td>
                <Table.Td>{teamName(user.teamId)}</Table.Td>
                <Table.Td>
                  <Badge color={user.status === 'active' ? 'teal' : 'gray'} variant="light">
                    {t(`status_${user.status}`)}
                  </Badge>
                </Table.Td>
                {manage && (
                  <Table.Td>
                    <Menu position="bottom-end" withinPortal>
                      <Menu.Target>
                        <Button size="xs" variant="default" aria-label={t('actionsFor', { name: user.name })}>
                          {t('actions')}
                        </Button>
                      </Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item
                          onClick={() => {
                            setEditing(user);
                            setOpenings((n) => n + 1);
                            setEditOpened(true);
                          }}
                        >{t('editAccessShort')}</Menu.Item>
                        <Menu.Item onClick={() => void operate(t('resetMailed', { name: user.name }), async () => must(await api.POST('/api/v1/users/{id}/password-reset', path(user))))}>{t('resetPassword')}</Menu.Item>
                        <Menu.Item
                          onClick={() => {
                            if (window.confirm(t('confirmMfaReset', { name: user.name }))) void operate(t('mfaResetDone', { name: user.name }), async () => must(await api.POST('/api/v1/users/{id}/mfa/reset', path(user))));
                          }}
                        >
                          {t('resetMfa')}
                        </Menu.Item>
                        <Menu.Item onClick={() => void operate(t('unlocked', { name: user.name }), async () => must(await api.POST('/api/v1/users/{id}/unlock', path(user))))}>{t('unlock')}</Menu.Item>
                        {user.status === 'active' && (
                          <Menu.Item
                            color="red"
                            onClick={() => {
                              if (window.confirm(t('confirmDisable', { name: user.name }))) void operate(t('disabled', { name: user.name }), async () => must(await api.POST('/api/v1/users/{id}/disable', path(user))));
                            }}
                          >
                            {t('disable')}
                          </Menu.Item>
                        )}
                      </Menu.Dropdown>
                    </Menu>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </div>
      {users.data && users.data.items.length === 0 && <Text c="dimmed">{t('noUsers')}</Text>}

      <Modal opened={creating} onClose={() => setCreating(false)} title={t('newUser')}>
        <NewUserForm
          onCancel={() => setCreating(false)}
          onCreated={(user) => {
            setCreating(false);
            notifications.show({ color: 'teal', message: t('userCreated', { name: user.name }) });
            refresh();
          }}
        />
      </Modal>
      <Modal opened={editOpened} onClose={() => setEditOpened(false)} title={editing ? t('editAccess', { name: editing.name }) : ''}>
        {editing && (
          <UserAccessForm
            key={openings}
            user={editing}
            onCancel={() => setEditOpened(false)}
            onSaved={() => {
              setEditOpened(false);
              refresh();
            }}
          />
        )}
      </Modal>
    </Page>
  );
}
