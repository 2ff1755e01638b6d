import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { PasswordSignIn } from './sign-in';

const session = { user: { id: 'u1', email: 'ana@example.com', name: 'Ana', roles: ['sales'], teamId: null, status: 'active', locale: 'en', createdAt: '', updatedAt: '', lastLoginAt: null }, csrfToken: 'c', expiresAt: '', stage: 'active' };

describe('the password sign-in form', () => {
  it('checks the fields in the browser before anything is sent', async () => {
    const sent = answerWith({});
    const onSession = vi.fn();
    renderWithApp(<PasswordSignIn onSession={onSession} />);
    await userEvent.type(screen.getByLabelText(/^Email/), 'not-an-address');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('Enter an email address.')).toBeInTheDocument();
    expect(screen.getByText('Fill in this field.')).toBeInTheDocument();
    expect(screen.getByLabelText(/^Email/)).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText(/^Password/)).toHaveAttribute('aria-invalid', 'true');
    expect(sent).toHaveLength(0);
    expect(onSession).not.toHaveBeenCalled();
  });

  it('shows the server\'s message above the form and each field\'s problem beside it', async () => {
    answerWith({ 'POST /api/v1/auth/login': { status: 400, body: { error: { code: 'request.invalid', message: 'Some fields are invalid', fields: [{ field: 'password', message: 'is too long' }, { field: 'other', message: 'is odd' }] } } } });
    renderWithApp(<PasswordSignIn onSession={vi.fn()} />);
    await userEvent.type(screen.getByLabelText(/^Email/), 'ana@example.com');
    await userEvent.type(screen.getByLabelText(/^Password/), 'x');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Some fields are invalid other is odd');
    expect(screen.getByText('Is too long')).toBeInTheDocument();
    expect(screen.getByLabelText(/^Password/)).toHaveAttribute('aria-invalid', 'true');
  });

  it('hands the session on and forgets the password', async () => {
    const sent = answerWith({ 'POST /api/v1/auth/login': { body: session } });
    const onSession = vi.fn();
    renderWithApp(<PasswordSignIn onSession={onSession} />);
    await userEvent.type(screen.getByLabelText(/^Email/), 'ana@example.com');
    await userEvent.type(screen.getByLabelText(/^Password/), 'orbit lantern cobalt');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(onSession).toHaveBeenCalledWith(session));
    expect(sent[0]!.body).toEqual({ email: 'ana@example.com', password: 'orbit lantern cobalt' });
    expect(screen.getByLabelText(/^Password/)).toHaveValue('');
  });

  it('speaks Chinese', async () => {
    answerWith({});
    renderWithApp(<PasswordSignIn onSession={vi.fn()} />, { language: 'zh-CN' });
    expect(screen.getByRole('button', { name: '登录' })).toBeInTheDocument();
    expect(screen.getByLabelText(/^电子邮箱/)).toBeInTheDocument();
  });
});
