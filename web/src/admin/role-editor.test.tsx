import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import type { Role } from './admin-model';
import { StepUpProvider } from '../access/step-up';
import { RoleEditor } from './role-editor';

const access = { permissions: ['roles.manage'], records: { contacts: { actions: { read: 'all' }, fields: { email: 'write', firstName: 'write', idNumber: 'masked', 'customFields.passportNo': 'masked' } } }, stepUpUntil: null };

const custom: Role = {
  id: 'key_accounts',
  name: 'Key accounts',
  description: 'Large customers',
  builtin: false,
  version: 3,
  definition: { records: { deals: { actions: { read: 'team', update: 'own' }, fields: {} }, contacts: { actions: { read: 'team' }, fields: { '@sensitive': 'masked' } } }, permissions: ['users.read'] },
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: null,
};

const shipped: Role = {
  id: 'sales',
  name: 'Sales',
  description: 'Works leads',
  builtin: true,
  version: 1,
  definition: { records: { deals: { actions: { read: 'team', create: 'own' }, fields: { '@sensitive': 'masked' } } }, permissions: [], networks: { allow: [], deny: [] } },
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: null,
};

describe('the permission matrix editor', () => {
  it('sends the changed scope, with the version it read, and drops actions set to none', async () => {
    const sent = answerWith({ 'GET /api/v1/auth/access': { body: access }, 'PATCH /api/v1/roles/key_accounts': ({ body }) => ({ body: { ...custom, version: 4, definition: (body as Role).definition } }) });
    renderWithApp(<RoleEditor role={custom} />);
    fireEvent.change(screen.getByLabelText('Deals: Read'), { target: { value: 'all' } });
    fireEvent.change(screen.getByLabelText('Deals: Update'), { target: { value: 'none' } });
    fireEvent.change(screen.getByLabelText('Tickets: Read'), { target: { value: 'subtree' } });
    await userEvent.click(screen.getByRole('checkbox', { name: /Manage teams/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Save role' }));
    expect(await screen.findByText(/The role is saved/)).toBeInTheDocument();
    const patch = sent.find((r) => r.method === 'PATCH')!;
    expect(patch.url.pathname).toBe('/api/v1/roles/key_accounts');
    expect(patch.body).toEqual({
      version: 3,
      name: 'Key accounts',
      description: 'Large customers',
      definition: {
        records: {
          deals: { actions: { read: 'all' }, fields: {} },
          contacts: { actions: { read: 'team' }, fields: { '@sensitive': 'masked' } },
          tickets: { actions: { read: 'subtree' }, fields: {} },
        },
        permissions: ['users.read', 'teams.manage'],
        networks: { allow: [], deny: [] },
        mfaRequired: false,
      },
    });
  });

  it('sets a field rule on a field or a classification, and removes one set back to no rule', async () => {
    const sent = answerWith({ 'GET /api/v1/auth/access': { body: access }, 'PATCH /api/v1/roles/key_accounts': { body: custom } });
    renderWithApp(<RoleEditor role={custom} />);
    // The fields of the type come from the access view, custom fields by their key.
    const passport = await screen.findByLabelText('Rule for passportNo', undefined, { timeout: 5000 });
    fireEvent.change(passport, { target: { value: 'hidden' } });
    fireEvent.change(screen.getByLabelText('Rule for sensitive'), { target: { value: '' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save role' }));
    await waitFor(() => expect(sent.some((r) => r.method === 'PATCH')).toBe(true));
    const body = sent.find((r) => r.method === 'PATCH')!.body as Role;
    expect(body.definition.records.contacts).toEqual({ actions: { read: 'team' }, fields: { passportNo: 'hidden' } });
  });

  it('keeps a shipped role\'s grants as the API demands: only networks and the second factor can change', async () => {
    const sent = answerWith({ 'GET /api/v1/auth/access': { body: access }, 'PATCH /api/v1/roles/sales': { body: { ...shipped, version: 2 } } });
    renderWithApp(<RoleEditor role={shipped} />);
    expect(screen.getByText('A shipped role')).toBeInTheDocument();
    expect(screen.getByLabelText('Deals: Read')).toBeDisabled();
    expect(screen.getByLabelText('Companies: Reveal')).toBeDisabled();
    expect(screen.getByRole('checkbox', { name: /Manage users/ })).toBeDisabled();
    expect(screen.getByLabelText('Rule for sensitive')).toBeDisabled();
    expect(screen.getByLabelText('Name')).toBeDisabled();
    expect(screen.getByLabelText('Description')).toBeDisabled();
    expect(screen.getByLabelText('Counts only from')).toBeEnabled();
    expect(screen.getByRole('switch', { name: /Requires a second factor/ })).toBeEnabled();

    fireEvent.change(screen.getByLabelText('Counts only from'), { target: { value: '10.0.0.0/8\n192.168.1.0/24' } });
    await userEvent.click(screen.getByRole('switch', { name: /Requires a second factor/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Save role' }));
    await waitFor(() => expect(sent.some((r) => r.method === 'PATCH')).toBe(true));
    expect(sent.find((r) => r.method === 'PATCH')!.body).toEqual({
      version: 1,
      definition: { ...shipped.definition, networks: { allow: ['10.0.0.0/8', '192.168.1.0/24'], deny: [] }, mfaRequired: true },
    });
  });

  it('sets export caps on a shipped role and clears one back to the configured default', async () => {
    const capped: Role = { ...shipped, definition: { ...shipped.definition, exports: { maxRows: 5000, dailyRows: 20000 } } };
    const sent = answerWith({ 'GET /api/v1/auth/access': { body: access }, 'PATCH /api/v1/roles/sales': { body: { ...capped, version: 2 } } });
    renderWithApp(<RoleEditor role={capped} />);
    const perExport = screen.getByLabelText('Most rows in one export');
    expect(perExport).toBeEnabled();
    await userEvent.clear(perExport);
    await userEvent.type(screen.getByLabelText('Second-person approval above (rows)'), '250');
    await userEvent.click(screen.getByRole('button', { name: 'Save role' }));
    await waitFor(() => expect(sent.some((r) => r.method === 'PATCH')).toBe(true));
    const body = sent.find((r) => r.method === 'PATCH')!.body as Role;
    expect(body.definition.exports).toEqual({ dailyRows: 20000, approvalAboveRows: 250 });
    expect(body.definition.records).toEqual(shipped.definition.records);
  });

  it("shows the API's message, and a network problem beside its list", async () => {
    answerWith({
      'GET /api/v1/auth/access': { body: access },
      'PATCH /api/v1/roles/key_accounts': {
        status: 400,
        body: { error: { code: 'role.invalid', message: 'The role has invalid fields', fields: [{ field: 'definition.networks.deny', message: 'holds something that is not an address or a CIDR range' }] } },
      },
    });
    renderWithApp(<RoleEditor role={custom} />);
    fireEvent.change(screen.getByLabelText('Never counts from'), { target: { value: 'not-a-range' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save role' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The role has invalid fields');
    expect(screen.getByText('Holds something that is not an address or a CIDR range')).toBeInTheDocument();
    expect(screen.getByLabelText('Never counts from')).toHaveAttribute('aria-invalid', 'true');
  });

  it('asks for a second factor when the API wants a recent one, then sends the change again', async () => {
    let patches = 0;
    const sent = answerWith({
      'GET /api/v1/auth/access': { body: access },
      'POST /api/v1/auth/step-up': { body: { stepUpUntil: '2030-01-01T00:00:00.000Z' } },
      'PATCH /api/v1/roles/key_accounts': () => {
        patches += 1;
        return patches === 1 ? { status: 403, body: { error: { code: 'auth.step_up_required', message: 'Confirm it is you first' } } } : { body: { ...custom, version: 4 } };
      },
    });
    renderWithApp(
      <StepUpProvider>
        <RoleEditor role={custom} />
      </StepUpProvider>,
    );
    fireEvent.change(screen.getByLabelText('Leads: Export'), { target: { value: 'own' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save role' }));
    await userEvent.type(await screen.findByLabelText(/^Code/), '123456');
    await userEvent.click(screen.getByRole('button', { name: 'Verify' }));
    expect(await screen.findByText(/The role is saved/)).toBeInTheDocument();
    expect(sent.find((r) => r.method === 'POST')!.body).toEqual({ code: '123456' });
    const [first, second] = sent.filter((r) => r.method === 'PATCH');
    expect(second!.body).toEqual(first!.body);
    expect((second!.body as Role).definition.records.leads).toEqual({ actions: { export: 'own' }, fields: {} });
  });
});
