import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { AuditFilters, auditQuery, NO_FILTER } from './audit-filters';
import { AuditExplorer } from './audit-explorer';

const status = { entries: 120, verifiedUpTo: 120, intact: true, problems: [], checkpoint: null, checkedAt: '2026-11-30T09:00:00.000Z', walkStartedAt: '2026-11-30T09:00:00.000Z' };
const entry = {
  seq: 118,
  time: '2026-11-30T08:59:00.000Z',
  actorKind: 'user',
  actorId: '0190f000-0000-7000-8000-000000000001',
  sessionId: 'abc',
  sourceAddress: '203.0.113.7',
  userAgent: 'Chrome',
  channel: 'web',
  action: 'record.read',
  recordType: 'contacts',
  recordIds: ['0190f000-0000-7000-8000-0000000000aa'],
  fields: ['email'],
  outcome: 'success',
  requestId: 'req-1',
  details: {},
};

describe('the audit filters', () => {
  it('sends only the filters given, lists without stray spaces and times as ISO', () => {
    const query = auditQuery({ ...NO_FILTER, actor: ' u1, u2 ', action: 'record.read record.update', outcome: 'denied', from: '2026-11-29T08:00', address: '' });
    expect(query).toEqual({ actor: 'u1,u2', action: 'record.read,record.update', outcome: 'denied', from: new Date('2026-11-29T08:00').toISOString() });
  });

  it('checks the time window in the browser before searching', async () => {
    const onSearch = vi.fn();
    renderWithApp(<AuditFilters onSearch={onSearch} />);
    await userEvent.type(screen.getByLabelText('From'), '2026-11-29T08:00');
    await userEvent.type(screen.getByLabelText('Until'), '2026-11-28T08:00');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    expect(await screen.findByText('Must come after the start.')).toBeInTheDocument();
    expect(onSearch).not.toHaveBeenCalled();
  });

  it("searches with the filters in the request, not the address, and shows the server's word beside its field", async () => {
    const sent = answerWith({
      'GET /api/v1/audit/status': { body: status },
      'GET /api/v1/audit/entries': ({ url }) =>
        url.searchParams.get('action') === 'nonsense'
          ? { status: 400, body: { error: { code: 'request.invalid', message: 'The audit query has invalid fields', fields: [{ field: 'action', message: 'must be actions such as record.read or record.*' }] } } }
          : { body: { items: [entry], nextBefore: null } },
    });
    const { location } = renderWithApp(<AuditExplorer />, { path: '/security/audit' });
    expect(await screen.findByRole('button', { name: 'Open entry 118' })).toBeInTheDocument();

    await userEvent.click(screen.getByLabelText(/^Actor/));
    await userEvent.paste('0190f000-0000-7000-8000-000000000001');
    await userEvent.click(screen.getByLabelText(/^Source address/));
    await userEvent.paste('203.0.113.7');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(sent.some((r) => r.url.searchParams.get('address') === '203.0.113.7')).toBe(true));
    const searched = sent.find((r) => r.url.searchParams.get('address') === '203.0.113.7')!;
    expect(searched.url.searchParams.get('actor')).toBe('0190f000-0000-7000-8000-000000000001');
    expect(searched.url.searchParams.get('limit')).toBe('50');
    // The address bar never carries the filters.
    expect(location.history.join(' ')).not.toContain('203.0.113.7');

    await userEvent.type(screen.getByLabelText(/^Action/), 'nonsense');
    await userEvent.click(screen.getByRole('button', { name: 'Search' }));
    expect(await screen.findByText('Must be actions such as record.read or record.*')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('The audit query has invalid fields');
  });

  it('speaks Chinese', () => {
    answerWith({});
    renderWithApp(<AuditFilters onSearch={vi.fn()} />, { language: 'zh-CN' });
    expect(screen.getByRole('button', { name: '搜索' })).toBeInTheDocument();
    expect(screen.getByLabelText(/^来源地址/)).toBeInTheDocument();
  });
});
