import { screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { DashboardFigures } from './dashboard-pages';

const months = Array.from({ length: 12 }, (_, i) => ({ month: `2026-${String(i + 1).padStart(2, '0')}`, won: 0, lost: 0 }));
const statuses = ['new', 'open', 'pending', 'solved', 'closed'].map((value) => ({ value, count: 0 }));
const priorities = ['low', 'normal', 'high', 'urgent'].map((value) => ({ value, count: 0 }));
const since = { outcomesSince: '2026-01-01T00:00:00.000Z', activitiesSince: '2026-11-03T00:00:00.000Z' };
const pipelines = { 'GET /api/v1/pipelines': { body: { items: [], nextCursor: null } } };

describe('the dashboard figures', () => {
  it('says so when there is nothing yet, card by card', async () => {
    answerWith({
      ...pipelines,
      'GET /api/v1/dashboard': {
        body: { pipeline: { id: 'p1', name: 'Sales', stages: [{ stageId: 's1', name: 'Prospecting', outcome: 'open', count: 0, amounts: [] }] }, dealOutcomes: months, ticketsByStatus: statuses, ticketsByPriority: priorities, activitiesByUser: [], ...since },
      },
    });
    renderWithApp(<DashboardFigures />);
    expect(await screen.findByText('No open deals in this pipeline yet.')).toBeInTheDocument();
    expect(screen.getByText('No deals were won or lost in the last 12 months.')).toBeInTheDocument();
    expect(screen.getByText('No tickets yet.')).toBeInTheDocument();
    expect(screen.getByText('No activities in the last 30 days.')).toBeInTheDocument();
  });

  it('leaves out the cards whose records the roles do not reach', async () => {
    answerWith({ ...pipelines, 'GET /api/v1/dashboard': { body: { pipeline: null, dealOutcomes: null, ticketsByStatus: statuses, ticketsByPriority: priorities, activitiesByUser: null, ...since } } });
    renderWithApp(<DashboardFigures />);
    expect(await screen.findByRole('heading', { name: 'Tickets' })).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Pipeline value by stage' })).not.toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Deals won and lost' })).not.toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Activities per person' })).not.toBeInTheDocument();
  });

  it('explains an empty page to a user whose roles reach none of the records, in Chinese too', async () => {
    answerWith({ ...pipelines, 'GET /api/v1/dashboard': { body: { pipeline: null, dealOutcomes: null, ticketsByStatus: null, ticketsByPriority: null, activitiesByUser: null, ...since } } });
    renderWithApp(<DashboardFigures />, { language: 'zh-CN' });
    expect(await screen.findByText('您的角色无权访问可在此统计的记录。')).toBeInTheDocument();
  });

  it("shows the server's message when the figures cannot be read", async () => {
    answerWith({ 'GET /api/v1/dashboard': { status: 404, body: { error: { code: 'pipeline.not_found', message: 'No such pipeline' } } } });
    renderWithApp(<DashboardFigures />);
    expect(await screen.findByRole('alert')).toHaveTextContent('No such pipeline');
  });
});
