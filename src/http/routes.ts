import type { FastifyInstance } from 'fastify';
import type { AuthDeps } from '../modules/auth/auth.service.js';
import { registerAuthRoutes } from '../modules/auth/auth.routes.js';
import { registerUserRoutes } from '../modules/users/users.routes.js';
import { registerTokenRoutes } from '../modules/tokens/tokens.routes.js';
import { registerRecordRoutes } from './record-routes.js';
import { recordServices } from '../modules/record-services.js';
import { RECORD_TYPES } from '../data/field-registry.js';

/** Every API route, in one list. */
export function registerApiRoutes(app: FastifyInstance, deps: AuthDeps): void {
  registerAuthRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerTokenRoutes(app, deps);
  for (const type of RECORD_TYPES) registerRecordRoutes(app, deps, type, recordServices[type]);
}
