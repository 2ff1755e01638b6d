import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { StepUpProvider } from '../access/step-up';
import { answerWith } from '../test/fetch';
import { renderWithApp } from '../test/render';
import { BackupsPage } from './backups-page';

const access = { permissions: ['backups.manage', 'settings.manage'], records: {}, stepUpUntil: null };

const configured = {
  configured: true,
  folder: 'rampart-backups',
  schedule: '02:30',
  nextRunAt: '2026-12-04T02:30:00.000Z',
  fresh: true,
  running: false,
  lastBackup: { at: '2026-12-03T02:30:00.000Z', bytes: 5_452_595, verifiedAt: '2026-12-03T02:31:00.000Z', file: 'rampart-20261203T023000Z.rbk' },
  lastDrill: { at: '2026-12-03T02:32:00.000Z', status: 'ok', matched: true },
  retention: { daily: 7, weekly: 4, monthly: 6 },
  drill: 'weekly',
  filesKept: 9,
};

const okRun = {
  id: '0190a000-0000-7000-8000-0000000b0001',
  kind: 'scheduled',
  status: 'ok',
  requestedBy: null,
  startedAt: '2026-12-03T02:30:00.000Z',
  finishedAt: '2026-12-03T02:31:00.000Z',
  file: 'rampart-20261203T023000Z.rbk',
  bytes: 5_452_595,
  backupId: 'b1',
  tables: 40,
  rows: 12_345,
  contentSha256: 'ab',
  verifiedAt: '2026-12-03T02:31:00.000Z',
  drill: null,
  error: null,
  tier: 'daily',
  prunedAt: null,
};

describe('the backups page', () => {
  it('shows freshness, the last backup and drill, schedule, retention and the recent runs', async () => {
    answerWith({
      'GET /api/v1/auth/access': { body: access },
      'GET /api/v1/backups/status': { body: configured },
      'GET /api/v1/backups/runs': { body: { items: [okRun], nextCursor: null } },
    });
    renderWithApp(<BackupsPage />);
    const freshness = await screen.findByRole('region', { name: 'Freshness' });
    expect(within(freshness).getByText('Fresh')).toBeInTheDocument();
    expect(within(freshness).getByText('Folder: rampart-backups')).toBeInTheDocument();
    const last = screen.getByRole('region', { name: 'Last backup' });
    expect(last).toHaveTextContent('5.2 MB');
    expect(last).toHaveTextContent(/Read back whole/);
    expect(screen.getByRole('region', { name: 'Last restore drill' })).toHaveTextContent('Restored data matched');
    const schedule = screen.getByRole('region', { name: 'Schedule' });
    expect(schedule).toHaveTextContent('Daily at 02:30 UTC');
    expect(schedule).toHaveTextContent('After the first backup each week');
    expect(screen.getByRole('region', { name: 'Retention' })).toHaveTextContent(/Monthly backups kept\s*6/);
    const runs = await screen.findByRole('table', { name: 'Recent runs' });
    const row = within(runs).getAllByRole('row')[1]!;
    expect(row).toHaveTextContent('Scheduled backup');
    expect(row).toHaveTextContent('Succeeded');
    expect(row).toHaveTextContent('12,345');
    expect(row).toHaveTextContent('Kept as a daily backup');
    expect(screen.queryByText('No backup folder is configured')).toBeNull();
  });

  it('says plainly when no backup folder is configured, naming the setting, and offers no run', async () => {
    answerWith({
      'GET /api/v1/auth/access': { body: access },
      'GET /api/v1/backups/status': { body: { ...configured, configured: false, folder: null, nextRunAt: null, fresh: false, lastBackup: null, lastDrill: null, filesKept: 0 } },
      'GET /api/v1/backups/runs': { body: { items: [], nextCursor: null } },
    });
    renderWithApp(<BackupsPage />);
    const notice = await screen.findByRole('status');
    expect(notice).toHaveTextContent('No backup folder is configured');
    expect(notice).toHaveTextContent('RAMPART_BACKUP_DIR');
    expect(within(screen.getByRole('region', { name: 'Freshness' })).getByText('Stale')).toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Schedule' })).toHaveTextContent('Not scheduled');
    expect(screen.getByRole('button', { name: 'Back up now' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Run a restore drill' })).toBeDisabled();
    expect(await screen.findByText('No backup or drill has run yet.')).toBeInTheDocument();
  });

  it('starts a backup, asking for a second factor first when the server wants one, and follows the run until it ends', async () => {
    let started = false;
    let polls = 0;
    const running = { ...okRun, id: '0190a000-0000-7000-8000-0000000b0002', kind: 'manual', status: 'running', requestedBy: 'u1', finishedAt: null, file: null, bytes: null, rows: null, verifiedAt: null, tier: null };
    let steppedUp = false;
    const sent = answerWith({
      'GET /api/v1/auth/access': { body: access },
      'GET /api/v1/users': { status: 403, body: { error: { code: 'auth.forbidden', message: 'no' } } },
      'GET /api/v1/backups/status': () => ({ body: { ...configured, running: started && polls < 2 } }),
      'GET /api/v1/backups/runs': () => {
        if (!started) return { body: { items: [okRun], nextCursor: null } };
        polls += 1;
        return { body: { items: [polls < 2 ? running : { ...running, status: 'ok', finishedAt: '2026-12-03T10:01:00.000Z', file: 'rampart-x.rbk', bytes: 2048, rows: 10, verifiedAt: '2026-12-03T10:01:00.000Z', tier: 'newest' }, okRun], nextCursor: null } };
      },
      'POST /api/v1/auth/step-up': () => {
        steppedUp = true;
        return { body: { stepUpUntil: '2026-12-03T10:05:00.000Z' } };
      },
      'POST /api/v1/backups/runs': () => {
        if (!steppedUp) return { status: 403, body: { error: { code: 'auth.step_up_required', message: 'Confirm it is you' } } };
        started = true;
        return { status: 202, body: running };
      },
    });
    renderWithApp(<StepUpProvider><BackupsPage /></StepUpProvider>);
    await userEvent.click(await screen.findByRole('button', { name: 'Back up now' }));
    const dialog = await screen.findByRole('dialog');
    await userEvent.type(within(dialog).getByRole('textbox', { name: /code/i }), '123456');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Verify' }));
    await waitFor(() => expect(sent.filter((r) => r.method === 'POST' && r.url.pathname === '/api/v1/backups/runs')).toHaveLength(2));
    expect(sent.find((r) => r.method === 'POST' && r.url.pathname === '/api/v1/backups/runs')!.body).toEqual({ kind: 'backup' });
    const runs = screen.getByRole('table', { name: 'Recent runs' });
    // The page asks again while the run is going, and shows how it ended.
    await waitFor(() => expect(within(runs).getAllByRole('row')[1]).toHaveTextContent('Succeeded'), { timeout: 6000 });
    expect(within(runs).getAllByRole('row')[1]).toHaveTextContent('A user');
    // Once it ended, the status is read again and another run may start.
    await waitFor(() => expect(screen.getByRole('button', { name: 'Back up now' })).toBeEnabled());
  });

  it('shows why a run could not start', async () => {
    answerWith({
      'GET /api/v1/auth/access': { body: { ...access, stepUpUntil: '2999-01-01T00:00:00.000Z' } },
      'GET /api/v1/backups/status': { body: configured },
      'GET /api/v1/backups/runs': { body: { items: [okRun], nextCursor: null } },
      'POST /api/v1/backups/runs': { status: 409, body: { error: { code: 'backup.already_running', message: 'A backup or restore drill is running already' } } },
    });
    renderWithApp(<BackupsPage />);
    await userEvent.click(await screen.findByRole('button', { name: 'Run a restore drill' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('A backup or restore drill is running already. Wait for it to finish.');
  });

  it('speaks Chinese', async () => {
    answerWith({
      'GET /api/v1/auth/access': { body: access },
      'GET /api/v1/backups/status': { body: { ...configured, fresh: false, schedule: '6h' } },
      'GET /api/v1/backups/runs': { body: { items: [okRun], nextCursor: null } },
    });
    renderWithApp(<BackupsPage />, { language: 'zh-CN' });
    const freshness = await screen.findByRole('region', { name: '新鲜度' });
    expect(within(freshness).getByText('已过期')).toBeInTheDocument();
    expect(screen.getByRole('region', { name: '备份计划' })).toHaveTextContent('每 6 小时');
    expect(screen.getByRole('button', { name: '立即备份' })).toBeInTheDocument();
    expect(await screen.findByRole('table', { name: '最近运行记录' })).toHaveTextContent('定时备份');
  });
});
