import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { NewUserForm } from './user-forms';

const lists = {
  'GET /api/v1/roles': { body: { items: [{ id: 'sales', name: 'Sales', description: '', builtin: true, version: 1, definition: { records: {}, permissions: [] }, createdAt: '', updatedAt: null }], nextCursor: null } },
  'GET /api/v1/teams': { body: { items: [{ id: 't1', name: 'North', parentId: null, createdAt: '', updatedAt: '' }], nextCursor: null } },
};

async function fillIn() {
  await userEvent.type(screen.getByLabelText(/^Email/), 'li.lei@example.com');
  await userEvent.type(screen.getByLabelText(/^Name/), 'Li Lei');
  await userEvent.type(screen.getByLabelText(/^First password/), 'short');
  await userEvent.click(screen.getAllByLabelText(/^Roles/).find((element) => element.tagName === 'INPUT')!);
  await userEvent.click(await screen.findByRole('option', { name: 'Sales' }));
}

describe('the new user form', () => {
  it('asks for what is missing before anything is sent', async () => {
    const sent = answerWith(lists);
    renderWithApp(<NewUserForm onCreated={vi.fn()} />);
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByText('Enter an email address.')).toBeInTheDocument();
    expect(screen.getByText('Choose at least one role.')).toBeInTheDocument();
    expect(sent.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it("shows the API's message above the form and each field's problem beside the field", async () => {
    answerWith({
      ...lists,
      'POST /api/v1/users': {
        status: 400,
        body: { error: { code: 'user.invalid', message: 'The user has invalid fields', fields: [{ field: 'password', message: 'must be at least 15 characters' }, { field: 'email', message: 'is taken' }] } },
      },
    });
    const onCreated = vi.fn();
    renderWithApp(<NewUserForm onCreated={onCreated} />);
    await fillIn();
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The user has invalid fields');
    expect(screen.getByText('Must be at least 15 characters')).toBeInTheDocument();
    expect(screen.getByText('Is taken')).toBeInTheDocument();
    expect(screen.getByLabelText(/^First password/)).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText(/^Email/)).toHaveAttribute('aria-invalid', 'true');
    expect(onCreated).not.toHaveBeenCalled();
  });

  it('sends the new user and hands it on', async () => {
    const created = { id: 'u9', email: 'li.lei@example.com', name: 'Li Lei', roles: ['sales'], teamId: null, status: 'active', locale: 'en', createdAt: '', updatedAt: '', lastLoginAt: null };
    const sent = answerWith({ ...lists, 'POST /api/v1/users': { status: 201, body: created } });
    const onCreated = vi.fn();
    renderWithApp(<NewUserForm onCreated={onCreated} />);
    await fillIn();
    await userEvent.click(screen.getByRole('button', { name: 'Create user' }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(created));
    expect(sent.find((r) => r.method === 'POST')!.body).toEqual({ email: 'li.lei@example.com', name: 'Li Lei', password: 'short', roles: ['sales'], teamId: null, locale: 'en' });
  });

  it('speaks Chinese', async () => {
    answerWith(lists);
    renderWithApp(<NewUserForm onCreated={vi.fn()} />, { language: 'zh-CN' });
    expect(screen.getByRole('button', { name: '创建用户' })).toBeInTheDocument();
    expect(screen.getByLabelText(/^初始密码/)).toBeInTheDocument();
  });
});
