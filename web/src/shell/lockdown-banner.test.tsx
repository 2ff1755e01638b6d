import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { LockdownBanner } from './lockdown-banner';

const access = (lockdown: boolean, permissions: string[] = []) => ({ body: { records: {}, permissions, stepUpUntil: null, lockdown } });

describe('the lockdown banner', () => {
  it('tells everyone that changes and exports are off', async () => {
    answerWith({ 'GET /api/v1/auth/access': access(true) });
    renderWithApp(<LockdownBanner />);
    const banner = await screen.findByRole('status');
    expect(banner).toHaveTextContent('Lockdown');
    expect(banner).toHaveTextContent('changes and exports are refused until an administrator lifts the lockdown');
    expect(screen.queryByRole('link')).not.toBeInTheDocument();
  });

  it('tells those who handle alerts where to lift it', async () => {
    answerWith({ 'GET /api/v1/auth/access': access(true, ['alerts.handle']) });
    renderWithApp(<LockdownBanner />);
    expect(await screen.findByRole('link', { name: 'Detection settings' })).toHaveAttribute('href', '/security/detection');
    expect(screen.getByRole('status')).toHaveTextContent('You can still make changes.');
  });

  it('says nothing when there is no lockdown', async () => {
    const sent = answerWith({ 'GET /api/v1/auth/access': access(false, ['alerts.handle']) });
    renderWithApp(<LockdownBanner />);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sent).toHaveLength(1);
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
  });

  it('speaks Chinese', async () => {
    answerWith({ 'GET /api/v1/auth/access': access(true) });
    renderWithApp(<LockdownBanner />, { language: 'zh-CN' });
    expect(await screen.findByRole('status')).toHaveTextContent('全局锁定');
  });
});
