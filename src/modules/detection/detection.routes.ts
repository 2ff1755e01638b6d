import type { FastifyInstance } from 'fastify';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { requireHandlerStepUp } from '../alerts/alerts.service.js';
import { blockAddress, liftBlock, liftLockdown, listBlocks, listLockedAccounts, lockdownStatus, startLockdown, unlockAccount } from './containment.service.js';
import { detectionStatus, getRule, listRules, updateRule, type RuleInput } from './detection.service.js';
import {
  BlockBody,
  BlockList,
  BlockListQuery,
  BlockParams,
  BlockSchema,
  Lifted,
  LockdownBody,
  LockdownSchema,
  LockdownState,
  LockedAccountList,
  LockedAccountParams,
  DetectionStatusSchema,
  RuleBody,
  RuleList,
  RuleParams,
  RuleSchema,
  Unlocked,
} from './detection.schemas.js';

/**
 * `/api/v1/detection/…`: the rules and the engine's progress, and the containment in force
 * (address blocks, lockdown, locked accounts) with the means to lift it. All need alerts.handle.
 */
export function registerDetectionRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const tags = ['detection'];

  app.get('/api/v1/detection/rules', {
    schema: { tags, summary: 'The detection rules: settings, severity, responses, and what shipped (alerts.handle)', response: { 200: RuleList, ...errorResponses } },
    handler: async (request) => ({ items: await listRules(deps, actorOf(request)), nextCursor: null }),
  });

  app.get('/api/v1/detection/rules/:key', {
    schema: { tags, summary: 'One detection rule (alerts.handle)', params: RuleParams, response: { 200: RuleSchema, ...errorResponses } },
    handler: async (request) => getRule(deps, actorOf(request), (request.params as { key: string }).key),
  });

  app.put('/api/v1/detection/rules/:key', {
    schema: {
      tags,
      summary: 'Change a rule: on or off, severity, thresholds (checked against its schema) and responses; the engine applies it within a second (alerts.handle and a recent second factor)',
      params: RuleParams,
      body: RuleBody,
      response: { 200: RuleSchema, ...errorResponses },
    },
    handler: async (request) => {
      const ctx = actorOf(request);
      // Turning a rule off or down is how a taken-over session would blind detection: it asks for
      // the second factor again. The command line, on the server host, is not asked.
      await requireHandlerStepUp(deps, ctx);
      return updateRule(deps, ctx, (request.params as { key: string }).key, request.body as RuleInput);
    },
  });

  app.get('/api/v1/detection/status', {
    schema: { tags, summary: 'How far the engine has read the audit log, which process runs it, and the lockdown in force (alerts.handle)', response: { 200: DetectionStatusSchema, ...errorResponses } },
    handler: async (request) => {
      const ctx = actorOf(request);
      const status = await detectionStatus(deps, ctx);
      return { ...status, lockdown: await lockdownStatus(deps, ctx) };
    },
  });

  app.get('/api/v1/detection/blocks', {
    schema: { tags, summary: 'Address blocks in force, or with all=true the latest in any state (alerts.handle)', querystring: BlockListQuery, response: { 200: BlockList, ...errorResponses } },
    handler: async (request) => ({ items: await listBlocks(deps, actorOf(request), { all: (request.query as { all?: string }).all === 'true' }), nextCursor: null }),
  });

  app.post('/api/v1/detection/blocks', {
    schema: { tags, summary: 'Block an address: every request from it is refused until the block ends (alerts.handle)', body: BlockBody, response: { 201: BlockSchema, ...errorResponses } },
    handler: async (request, reply) => reply.status(201).send(await blockAddress(deps, actorOf(request), request.body as { address: string; minutes?: number; reason: string })),
  });

  app.delete('/api/v1/detection/blocks/:id', {
    schema: { tags, summary: 'Lift an address block early (alerts.handle and a recent second factor)', params: BlockParams, response: { 200: BlockSchema, ...errorResponses } },
    handler: async (request) => liftBlock(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.get('/api/v1/detection/lockdown', {
    schema: { tags, summary: 'The lockdown in force, if any (alerts.handle)', response: { 200: LockdownState, ...errorResponses } },
    handler: async (request) => ({ lockdown: await lockdownStatus(deps, actorOf(request)) }),
  });

  app.put('/api/v1/detection/lockdown', {
    schema: {
      tags,
      summary: 'Start a lockdown: read-only for everyone but those who handle alerts, and no exports; answers the one in force if there is one (alerts.handle)',
      body: LockdownBody,
      response: { 200: LockdownSchema, ...errorResponses },
    },
    handler: async (request) => startLockdown(deps, actorOf(request), request.body as { reason: string }),
  });

  app.delete('/api/v1/detection/lockdown', {
    schema: { tags, summary: 'Lift the lockdown (alerts.handle and a recent second factor)', response: { 200: Lifted, ...errorResponses } },
    handler: async (request) => liftLockdown(deps, actorOf(request)),
  });

  app.get('/api/v1/detection/locked-accounts', {
    schema: { tags, summary: 'Accounts locked by detection or by hand (alerts.handle)', response: { 200: LockedAccountList, ...errorResponses } },
    handler: async (request) => ({ items: await listLockedAccounts(deps, actorOf(request)), nextCursor: null }),
  });

  app.delete('/api/v1/detection/locked-accounts/:userId', {
    schema: { tags, summary: 'Unlock an account: it signs in again (alerts.handle and a recent second factor)', params: LockedAccountParams, response: { 200: Unlocked, ...errorResponses } },
    handler: async (request) => unlockAccount(deps, actorOf(request), (request.params as { userId: string }).userId),
  });
}
