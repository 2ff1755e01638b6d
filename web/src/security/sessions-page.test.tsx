import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { StepUpProvider } from '../access/step-up';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { SessionsPage } from './sessions-page';

const sam = { id: '0190f000-0000-7000-8000-000000000005', email: 'sam@example.com', name: 'Sam Seller', roles: ['sales'], teamId: null, status: 'active', locale: 'en', createdAt: '', updatedAt: '', lastLoginAt: null };
const session = { id: 'a'.repeat(64), current: false, device: 'Firefox on Linux', sourceAddress: '198.51.100.9', createdAt: '2026-11-30T08:00:00.000Z', lastSeenAt: '2026-11-30T08:30:00.000Z', expiresAt: '2026-12-01T08:00:00.000Z', stage: 'active' };

describe('the sessions screen', () => {
  it('asks for a second factor when the server wants a recent one, then ends the sessions', async () => {
    let attempts = 0;
    let ended = false;
    const sent = answerWith({
      'GET /api/v1/users': { body: { items: [sam], nextCursor: null } },
      [`GET /api/v1/users/${sam.id}/sessions`]: () => ({ body: { items: ended ? [] : [session], nextCursor: null } }),
      [`POST /api/v1/users/${sam.id}/sessions/end`]: () => {
        attempts += 1;
        if (attempts === 1) return { status: 403, body: { error: { code: 'auth.step_up_required', message: 'Confirm with your second factor first' } } };
        ended = true;
        return { body: { ended: 1 } };
      },
      'POST /api/v1/auth/step-up': { body: { stepUpUntil: '2026-11-30T09:05:00.000Z' } },
      'GET /api/v1/auth/access': { body: { records: {}, permissions: ['users.manage'], stepUpUntil: null } },
    });
    renderWithApp(
      <StepUpProvider>
        <SessionsPage />
      </StepUpProvider>,
    );
    await userEvent.click(await screen.findByRole('button', { name: /Sam Seller/ }));
    expect(await screen.findByRole('table', { name: 'Sessions of Sam Seller' })).toHaveTextContent('Firefox on Linux');

    await userEvent.click(screen.getByRole('button', { name: 'End all sessions of Sam Seller' }));
    await userEvent.type(await screen.findByLabelText(/^Code or recovery code/), '123456');
    await userEvent.click(screen.getByRole('button', { name: 'Verify' }));

    expect(await screen.findByText('1 session(s) of Sam Seller ended.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText('No live sessions.')).toBeInTheDocument());
    expect(attempts).toBe(2);
    expect(sent.find((r) => r.url.pathname === '/api/v1/auth/step-up')!.body).toEqual({ code: '123456' });
  });
});
