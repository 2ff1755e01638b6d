import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { STAGE_OUTCOMES } from '../pipelines/pipelines.service.js';
import { TICKET_PRIORITIES, TICKET_STATUSES } from '../tickets/tickets.fields.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { dashboardFigures } from './dashboard.service.js';

const count = (description: string) => Type.Integer({ minimum: 0, description });

const DashboardSchema = Type.Object(
  {
    pipeline: Type.Union(
      [
        Type.Object({
          id: Type.String({ description: 'Pipeline id.' }),
          name: Type.String({ description: 'Pipeline name.' }),
          stages: Type.Array(
            Type.Object({
              stageId: Type.String(),
              name: Type.String(),
              outcome: Type.String({ enum: [...STAGE_OUTCOMES] }),
              count: count('Live deals in the stage that you may read.'),
              amounts: Type.Array(Type.Object({ currency: Type.String(), amount: Type.Number({ description: 'Total in major units.' }) }), { description: 'Their total amount per currency, largest first.' }),
            }),
            { description: 'Every stage in board order.' },
          ),
        }),
        Type.Null(),
      ],
      { description: 'Deal value by stage of the pipeline asked for, or the default one; null when your roles do not let you read deals and their amounts, or there is no pipeline.' },
    ),
    dealOutcomes: Type.Union([Type.Array(Type.Object({ month: Type.String({ description: 'YYYY-MM, UTC.' }), won: count('Deals won that month.'), lost: count('Deals lost that month.') })), Type.Null()], {
      description: 'Deals won and lost per month over the last twelve months, oldest first; null without read access to deals.',
    }),
    ticketsByStatus: Type.Union([Type.Array(Type.Object({ value: Type.String({ enum: [...TICKET_STATUSES] }), count: count('Live tickets with this status.') })), Type.Null()], {
      description: 'Every ticket status with its count; null without read access to tickets.',
    }),
    ticketsByPriority: Type.Union([Type.Array(Type.Object({ value: Type.String({ enum: [...TICKET_PRIORITIES] }), count: count('Live tickets with this priority.') })), Type.Null()], {
      description: 'Every ticket priority with its count; null without read access to tickets.',
    }),
    activitiesByUser: Type.Union([Type.Array(Type.Object({ userId: Type.String(), name: Type.String({ description: "The user's display name." }), count: count('Activities they own created in the period.') })), Type.Null()], {
      description: 'Activities created in the last 30 days, per owner, most first; null without read access to activities.',
    }),
    outcomesSince: Type.String({ description: 'The start of the oldest month of dealOutcomes.' }),
    activitiesSince: Type.String({ description: 'The start of the period of activitiesByUser.' }),
  },
  { $id: 'Dashboard', additionalProperties: false },
);

export function registerDashboardRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.get('/api/v1/dashboard', {
    schema: {
      tags: ['dashboard'],
      summary: 'Totals for the home page, each counting only the records you may read: pipeline value by stage, deals won and lost per month, tickets by status and priority, activities per user',
      querystring: Type.Object({ pipelineId: Type.Optional(Type.String({ maxLength: 64, description: 'The pipeline whose value to show; the default pipeline when left out.' })) }, { additionalProperties: false }),
      response: { 200: DashboardSchema, ...errorResponses },
    },
    handler: async (request) => dashboardFigures(deps, actorOf(request), request.query as { pipelineId?: string }),
  });
}
