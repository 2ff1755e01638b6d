import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { MAX_ADVANCE_SECONDS } from '../../shared/simulated-clock.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { advanceSimulatedTime, readSimulatedTime } from './simulation.service.js';

const SimulatedTimeSchema = Type.Object(
  {
    now: Type.String({ description: 'The time as Rampart sees it (ISO 8601).' }),
    offsetSeconds: Type.Integer({ description: 'How far the simulated clock runs ahead of real time, in seconds.' }),
  },
  { additionalProperties: false },
);

/**
 * `/api/v1/simulation/clock`: moves the simulated clock of a rehearsal instance. The routes exist
 * only when the server runs with RAMPART_SIMULATED_CLOCK on; elsewhere they answer 404 like any
 * unknown path.
 */
export function registerSimulationRoutes(app: FastifyInstance, deps: AuthDeps): void {
  if (!deps.config.simulatedClock) return;

  app.get('/api/v1/simulation/clock', {
    schema: { tags: ['simulation'], summary: 'The simulated time of a rehearsal instance (settings.manage)', response: { 200: SimulatedTimeSchema, ...errorResponses } },
    handler: async (request) => readSimulatedTime(deps, actorOf(request)),
  });

  app.post('/api/v1/simulation/clock', {
    schema: {
      tags: ['simulation'],
      summary: 'Move the simulated clock of a rehearsal instance forward; it never goes back (settings.manage)',
      body: Type.Object(
        { advanceSeconds: Type.Integer({ minimum: 1, maximum: MAX_ADVANCE_SECONDS, description: `Seconds to move forward, 1 to ${MAX_ADVANCE_SECONDS} (30 days).` }) },
        { additionalProperties: false },
      ),
      response: { 200: SimulatedTimeSchema, ...errorResponses },
    },
    handler: async (request) => advanceSimulatedTime(deps, actorOf(request), (request.body as { advanceSeconds: number }).advanceSeconds),
  });
}
