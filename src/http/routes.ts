import type { FastifyInstance } from 'fastify';
import type { AuthDeps } from '../modules/auth/auth.service.js';
import { registerAuthRoutes } from '../modules/auth/auth.routes.js';
import { registerMfaRoutes } from '../modules/mfa/mfa.routes.js';
import { registerSessionRoutes } from '../modules/sessions/sessions.routes.js';
import { registerSsoRoutes } from '../modules/sso/sso.routes.js';
import { registerUserRoutes } from '../modules/users/users.routes.js';
import { registerRoleRoutes } from '../modules/roles/roles.routes.js';
import { registerTokenRoutes } from '../modules/tokens/tokens.routes.js';
import { registerRecordRoutes } from './record-routes.js';
import { recordServices } from '../modules/record-services.js';
import { RECORD_TYPES } from '../data/field-registry.js';
import { activityListParameters } from '../modules/activities/activities.schemas.js';
import { registerPipelineRoutes } from '../modules/pipelines/pipelines.routes.js';
import { registerLeadRoutes } from '../modules/leads/leads.routes.js';
import { registerRelatedRoutes } from '../modules/related/related.routes.js';
import { registerTagRoutes } from '../modules/tags/tags.routes.js';
import { registerCustomFieldRoutes } from '../modules/custom-fields/custom-fields.routes.js';
import { registerSearchRoutes } from '../modules/search/search.routes.js';
import { registerAuditRoutes } from '../modules/audit/audit.routes.js';
import { registerNoticeRoutes } from '../modules/notices/notices.routes.js';
import { registerAccessRoutes } from '../modules/access/access.routes.js';
import { registerDashboardRoutes } from '../modules/dashboard/dashboard.routes.js';
import { registerKeysRoutes } from '../modules/keys/keys.routes.js';
import { registerTransferRoutes } from '../modules/transfer/transfer.routes.js';
import { registerViewsRoutes } from '../modules/views/views.routes.js';
import { registerSettingsRoutes } from '../modules/settings/settings.routes.js';
import { registerAlertRoutes } from '../modules/alerts/alerts.routes.js';
import { registerDetectionRoutes } from '../modules/detection/detection.routes.js';
import { registerHoneytokenRoutes } from '../modules/honeytokens/honeytokens.routes.js';
import { registerSimulationRoutes } from '../modules/simulation/simulation.routes.js';

/** Every API route, in one list. */
export function registerApiRoutes(app: FastifyInstance, deps: AuthDeps): void {
  registerAuthRoutes(app, deps);
  registerMfaRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerSsoRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerRoleRoutes(app, deps);
  registerTokenRoutes(app, deps);
  for (const type of RECORD_TYPES) {
    registerRecordRoutes(app, deps, type, recordServices[type], type === 'activities' ? { listParameters: activityListParameters } : {});
  }
  registerLeadRoutes(app, deps);
  registerRelatedRoutes(app, deps);
  registerPipelineRoutes(app, deps);
  registerTagRoutes(app, deps);
  registerCustomFieldRoutes(app, deps);
  registerSearchRoutes(app, deps);
  registerAuditRoutes(app, deps);
  registerNoticeRoutes(app, deps);
  registerAccessRoutes(app, deps);
  registerDashboardRoutes(app, deps);
  registerKeysRoutes(app, deps);
  registerTransferRoutes(app, deps);
  registerViewsRoutes(app, deps);
  registerSettingsRoutes(app, deps);
  registerAlertRoutes(app, deps);
  registerDetectionRoutes(app, deps);
  registerHoneytokenRoutes(app, deps);
  registerSimulationRoutes(app, deps);
}
