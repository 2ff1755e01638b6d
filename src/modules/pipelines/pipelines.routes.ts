import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { BoardSchema, CreatePipelineBody, PipelineSchema, UpdatePipelineBody } from './pipelines.schemas.js';
import { createPipeline, deletePipeline, getPipeline, listPipelines, pipelineBoard, updatePipeline, type NewPipeline, type PipelineChanges } from './pipelines.service.js';

/** `/api/v1/pipelines`: anyone signed in reads them; administrators and managers change them. */
export function registerPipelineRoutes(app: FastifyInstance, deps: DataDeps): void {
  const tags = ['pipelines'];

  app.get('/api/v1/pipelines', {
    schema: { tags, summary: 'List pipelines with their stages', response: { 200: Type.Object({ items: Type.Array(PipelineSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => ({ items: await listPipelines(deps, actorOf(request)), nextCursor: null }),
  });

  app.post('/api/v1/pipelines', {
    schema: { tags, summary: 'Create a pipeline (administrators and managers)', body: CreatePipelineBody, response: { 201: PipelineSchema, ...errorResponses } },
    handler: async (request, reply) => reply.status(201).send(await createPipeline(deps, actorOf(request), request.body as NewPipeline)),
  });

  app.get('/api/v1/pipelines/:id', {
    schema: { tags, summary: 'Read a pipeline', params: IdParams, response: { 200: PipelineSchema, ...errorResponses } },
    handler: async (request) => getPipeline(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.patch('/api/v1/pipelines/:id', {
    schema: { tags, summary: 'Rename a pipeline, replace its stages or make it the default (administrators and managers)', params: IdParams, body: UpdatePipelineBody, response: { 200: PipelineSchema, ...errorResponses } },
    handler: async (request) => {
      const { version, ...changes } = request.body as { version: number } & PipelineChanges;
      return updatePipeline(deps, actorOf(request), (request.params as { id: string }).id, version, changes);
    },
  });

  app.delete('/api/v1/pipelines/:id', {
    schema: { tags, summary: 'Delete a pipeline no deal uses (administrators and managers)', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await deletePipeline(deps, actorOf(request), (request.params as { id: string }).id);
      return reply.status(204).send();
    },
  });

  app.get('/api/v1/pipelines/:id/board', {
    schema: { tags, summary: 'A kanban board: each stage with the number and total amount of its live deals', params: IdParams, response: { 200: BoardSchema, ...errorResponses } },
    handler: async (request) => pipelineBoard(deps, actorOf(request), (request.params as { id: string }).id),
  });
}
