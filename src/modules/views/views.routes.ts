import type { FastifyInstance } from 'fastify';
import type { AuthDeps } from '../auth/auth.service.js';

export function registerViewsRoutes(_app: FastifyInstance, _deps: AuthDeps): void {}
