import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Route } from 'wouter';
import type { User } from '../access/session';
import { accessFrom } from '../access/use-access';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { ACCESS_AUDITOR, ACCESS_HANDLER_NO_AUDIT, openAlert } from './detection-test-kit';
import SecurityPages from './security-pages';
import { securityNav } from './security.nav';

const user = {} as User;
const visible = (access: typeof ACCESS_AUDITOR) => securityNav.filter((item) => item.visible(user, accessFrom(access as never))).map((item) => item.path);

const entry = {
  seq: 118,
  time: '2026-11-30T08:59:00.000Z',
  actorKind: 'user',
  actorId: '0190f000-0000-7000-8000-000000000005',
  sessionId: null,
  sourceAddress: '203.0.113.7',
  userAgent: null,
  channel: 'web',
  action: 'record.read',
  recordType: 'contacts',
  recordIds: ['0190f000-0000-7000-8000-0000000000c1'],
  fields: [],
  outcome: 'success',
  requestId: null,
  details: {},
};

describe('the security section', () => {
  it('offers the alerts and detection screens only to those who handle alerts', () => {
    expect(visible(ACCESS_HANDLER_NO_AUDIT)).toEqual(['/security/alerts', '/security/detection']);
    expect(visible(ACCESS_AUDITOR)).toEqual(['/security/audit', '/security/blast-radius', '/security/trace']);
  });

  it('refuses the alerts screen plainly to someone without the permission, without asking for alerts', async () => {
    const sent = answerWith({ 'GET /api/v1/auth/access': { body: ACCESS_AUDITOR } });
    renderWithApp(<Route path="/security" nest><SecurityPages /></Route>, { path: '/security/alerts' });
    expect(await screen.findByRole('alert')).toHaveTextContent('Your role does not allow this.');
    expect(sent.some((r) => r.url.pathname.startsWith('/api/v1/alerts'))).toBe(false);
  });

  it('refuses the detection screen the same way', async () => {
    const sent = answerWith({ 'GET /api/v1/auth/access': { body: ACCESS_AUDITOR } });
    renderWithApp(<Route path="/security" nest><SecurityPages /></Route>, { path: '/security/detection' });
    expect(await screen.findByRole('alert')).toHaveTextContent('Your role does not allow this.');
    expect(sent.some((r) => r.url.pathname.startsWith('/api/v1/detection'))).toBe(false);
  });

  it('opens the alerts for someone who handles them, at /security', async () => {
    answerWith({
      'GET /api/v1/auth/access': { body: ACCESS_HANDLER_NO_AUDIT },
      'GET /api/v1/alerts': { body: { items: [openAlert], nextCursor: null } },
    });
    const { location } = renderWithApp(<Route path="/security" nest><SecurityPages /></Route>, { path: '/security' });
    expect(await screen.findByRole('heading', { name: 'Alerts', level: 1 })).toBeInTheDocument();
    expect(location.history.at(-1)).toBe('/security/alerts');
  });

  it("opens the audit log at an alert's evidence entry", async () => {
    const sent = answerWith({
      'GET /api/v1/auth/access': { body: ACCESS_AUDITOR },
      'GET /api/v1/audit/status': { body: { entries: 120, verifiedUpTo: 120, intact: true, problems: [], checkpoint: null, checkedAt: '2026-11-30T09:00:00.000Z', walkStartedAt: '2026-11-30T09:00:00.000Z' } },
      'GET /api/v1/audit/entries': { body: { items: [entry], nextBefore: null } },
      'GET /api/v1/audit/proofs/inclusion': { body: { seq: 118, entryHash: 'a'.repeat(64), treeSize: 120, rootHash: 'b'.repeat(64), proof: [], checkpoint: null } },
    });
    renderWithApp(<Route path="/security" nest><SecurityPages /></Route>, { path: '/security/audit/118' });
    expect(await screen.findByRole('dialog', { name: 'Entry 118' }, { timeout: 5000 })).toBeInTheDocument();
    await waitFor(() => expect(sent.find((r) => r.url.pathname === '/api/v1/audit/entries')!.url.searchParams.get('before')).toBe('119'));
  });
});
