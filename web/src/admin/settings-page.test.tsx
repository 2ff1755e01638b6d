import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { SettingsPage } from './settings-page';

const access = { permissions: ['settings.manage', 'roles.manage'], records: {}, stepUpUntil: null };

const settings = {
  groups: [
    {
      id: 'server',
      settings: [
        { id: 'publicUrl', key: 'RAMPART_PUBLIC_URL', value: 'https://crm.example.com', description: 'The address users reach Rampart at.' },
        { id: 'port', key: 'RAMPART_PORT', value: 8080, description: 'The port the server listens on.' },
        { id: 'networkAllow', key: 'RAMPART_NETWORK_ALLOW', value: ['10.0.0.0/8', '192.168.0.0/16'], description: 'Address ranges every request must come from.' },
        { id: 'futureSetting', key: 'RAMPART_FUTURE', value: null, description: 'A setting this screen has no text for' },
      ],
    },
    { id: 'database', settings: [{ id: 'databaseDialect', key: 'RAMPART_DATABASE_URL', value: 'postgres', description: 'The database.' }] },
    {
      id: 'signIn',
      settings: [{ id: 'passwordMinLength', key: null, value: 15, description: 'Fewest characters in a password that is the only factor.' }],
    },
    { id: 'sso', settings: [{ id: 'ssoConfigured', key: 'RAMPART_OIDC_ISSUER', value: false, description: 'Whether single sign-on is set up.' }] },
  ],
};

describe('the settings page', () => {
  it('lists each group as a read-only table with the value and the variable that sets it, and says where settings change', async () => {
    answerWith({ 'GET /api/v1/auth/access': { body: access }, 'GET /api/v1/settings': { body: settings } });
    renderWithApp(<SettingsPage />);
    expect(screen.getByText(/Change them in the server's environment \(RAMPART_\* variables\) or its config file, then restart Rampart/)).toBeInTheDocument();

    const server = await screen.findByRole('table', { name: 'Server: settings in effect' });
    expect(screen.getByRole('heading', { level: 2, name: 'Server' })).toBeInTheDocument();
    const publicUrl = within(server).getByRole('row', { name: /Public address/ });
    expect(publicUrl).toHaveTextContent('https://crm.example.com');
    expect(publicUrl).toHaveTextContent('RAMPART_PUBLIC_URL');
    expect(within(server).getByRole('row', { name: /Listens on port/ })).toHaveTextContent('8080');
    expect(within(server).getByRole('row', { name: /Allowed networks/ })).toHaveTextContent('10.0.0.0/8, 192.168.0.0/16');
    expect(within(server).getByRole('row', { name: /A setting this screen has no text for/ })).toHaveTextContent('Not set');

    expect(within(screen.getByRole('table', { name: 'Database: settings in effect' })).getByRole('row', { name: /Database/ })).toHaveTextContent('postgres');
    expect(within(screen.getByRole('table', { name: 'Sign-in: settings in effect' })).getByRole('row', { name: /Shortest password/ })).toHaveTextContent('15Built into Rampart');
    expect(within(screen.getByRole('table', { name: 'Single sign-on: settings in effect' })).getByRole('row', { name: /Single sign-on set up/ })).toHaveTextContent('No');
    // Read-only: nothing to type into or press.
    expect(screen.queryByRole('textbox')).toBeNull();
    expect(screen.queryByRole('button')).toBeNull();
  });

  it('speaks Chinese, note included', async () => {
    answerWith({ 'GET /api/v1/auth/access': { body: access }, 'GET /api/v1/settings': { body: settings } });
    renderWithApp(<SettingsPage />, { language: 'zh-CN' });
    expect(screen.getByText(/请在服务器的环境变量（RAMPART_\*）或配置文件中修改，然后重启 Rampart 生效/)).toBeInTheDocument();
    const server = await screen.findByRole('table', { name: '服务器：当前生效的设置' });
    expect(within(server).getByRole('row', { name: /公开访问地址/ })).toHaveTextContent('https://crm.example.com');
    expect(within(screen.getByRole('table', { name: '单点登录：当前生效的设置' })).getByRole('row', { name: /已配置单点登录/ })).toHaveTextContent('否');
  });
});
