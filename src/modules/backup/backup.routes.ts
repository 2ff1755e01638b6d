import type { FastifyInstance } from 'fastify';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { BackupRunListQuery, BackupRunPageSchema, BackupRunSchema, BackupStatusSchema, StartBackupRunBody } from './backup.schemas.js';
import { backupStatus, listBackupRuns, startBackupRun } from './backup-runs.service.js';

/** `/api/v1/backups/…`: whether backups are fresh and restorable, their runs, and starting one now (backups.manage). */
export function registerBackupRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const tags = ['backups'];

  app.get('/api/v1/backups/status', {
    schema: {
      tags,
      summary: 'Backup schedule, freshness, the last backup and the last restore drill, retention (backups.manage)',
      response: { 200: BackupStatusSchema, ...errorResponses },
    },
    handler: async (request) => backupStatus(deps, actorOf(request)),
  });

  app.get('/api/v1/backups/runs', {
    schema: {
      tags,
      summary: 'Backup runs and restore drills, newest first (backups.manage)',
      querystring: BackupRunListQuery,
      response: { 200: BackupRunPageSchema, ...errorResponses },
    },
    handler: async (request) => listBackupRuns(deps, actorOf(request), request.query as { limit?: string; cursor?: string }),
  });

  app.post('/api/v1/backups/runs', {
    schema: {
      tags,
      summary: 'Start a backup into the folder, or a restore drill of the newest backup, in the background (backups.manage, a recent second factor; one at a time)',
      body: StartBackupRunBody,
      response: { 202: BackupRunSchema, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(202).send(await startBackupRun(deps, actorOf(request), (request.body as { kind: 'backup' | 'drill' }).kind)),
  });
}
