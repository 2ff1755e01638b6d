import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { RECORD_TYPES } from '../../data/field-registry.js';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { ACTIONS, FIELD_RULES, PERMISSIONS, SCOPES } from '../../policy/model.js';
import { createRole, deleteRole, getRole, listRoles, updateRole } from './roles.service.js';

const TypeGrantSchema = Type.Object(
  {
    actions: Type.Record(Type.String({ enum: [...ACTIONS] }), Type.String({ enum: ['none', ...SCOPES] }), {
      description: `Per action (${ACTIONS.join(', ')}), the records it reaches: none, own, team, subtree (the team and the teams below it) or all.`,
    }),
    fields: Type.Record(Type.String({ maxLength: 80 }), Type.String({ enum: [...FIELD_RULES] }), {
      description: 'Per field key, or per classification as @public, @internal, @personal, @sensitive: hidden, masked, read or write. A field no rule names is writable.',
    }),
  },
  { additionalProperties: false },
);

const DefinitionSchema = Type.Object(
  {
    records: Type.Record(Type.String({ enum: [...RECORD_TYPES] }), TypeGrantSchema, { description: 'Grants per record type; a type left out is not reachable.' }),
    permissions: Type.Array(Type.String({ enum: [...PERMISSIONS] }), { maxItems: PERMISSIONS.length, description: 'System permissions outside records.' }),
    networks: Type.Optional(
      Type.Object(
        {
          allow: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100, description: 'Address ranges (CIDR) the role counts from; empty for anywhere not denied.' }),
          deny: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100, description: 'Address ranges the role never counts from.' }),
        },
        { additionalProperties: false, description: "Outside these networks the role's holders act without it; a user with no role left is refused." },
      ),
    ),
    mfaRequired: Type.Optional(Type.Boolean({ description: 'Holders sign in with a second factor, and set one up at their next sign-in if they have none.' })),
    session: Type.Optional(
      Type.Object(
        {
          idleMinutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, description: 'Minutes without a request after which a session ends.' })),
          absoluteHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 720, description: 'Hours after sign-in after which a session ends in any case.' })),
        },
        { additionalProperties: false, description: "Shorter session limits for the role's holders than the configured ones; the strictest of a user's roles applies." },
      ),
    ),
    exports: Type.Optional(
      Type.Object(
        {
          maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'The most rows one export may hold.' })),
          dailyRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Rows a holder may export, or read through list pages, in a UTC day.' })),
          approvalAboveRows: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: "Exports of more rows than this need a second person's approval." })),
        },
        { additionalProperties: false, description: "Export caps for the role's holders instead of the configured ones; the most generous of a user's roles applies to each." },
      ),
    ),
  },
  { additionalProperties: false, $id: 'RoleDefinition' },
);

const RoleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    builtin: Type.Boolean({ description: 'A shipped role; it cannot be deleted, and only its networks and second-factor requirement can be changed.' }),
    version: Type.Integer({ description: 'Send it back with a change; a stale one answers 409.' }),
    definition: DefinitionSchema,
    createdAt: Type.String(),
    updatedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'Role', additionalProperties: false },
);

const RoleParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export function registerRoleRoutes(app: FastifyInstance, deps: DataDeps): void {
  app.get('/api/v1/roles', {
    schema: { tags: ['roles'], summary: 'List roles with what each grants', response: { 200: Type.Object({ items: Type.Array(RoleSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => ({ items: await listRoles(deps, actorOf(request)), nextCursor: null }),
  });

  app.get('/api/v1/roles/:id', {
    schema: { tags: ['roles'], summary: 'Read a role', params: RoleParams, response: { 200: RoleSchema, ...errorResponses } },
    handler: async (request) => getRole(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.post('/api/v1/roles', {
    schema: {
      tags: ['roles'],
      summary: 'Create a custom role (roles.manage)',
      body: Type.Object(
        {
          id: Type.String({ maxLength: 64, description: 'Lower-case letters, digits and underscores, e.g. key_accounts.' }),
          name: Type.String({ maxLength: 100 }),
          description: Type.Optional(Type.String({ maxLength: 500 })),
          definition: Type.Optional(DefinitionSchema),
        },
        { additionalProperties: false },
      ),
      response: { 201: RoleSchema, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(201).send(await createRole(deps, actorOf(request), request.body as never)),
  });

  app.patch('/api/v1/roles/:id', {
    schema: {
      tags: ['roles'],
      summary: "Change a custom role (roles.manage); applies to every holder's next request",
      params: RoleParams,
      body: Type.Object(
        { version: Type.Integer(), name: Type.Optional(Type.String({ maxLength: 100 })), description: Type.Optional(Type.String({ maxLength: 500 })), definition: Type.Optional(DefinitionSchema) },
        { additionalProperties: false },
      ),
      response: { 200: RoleSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { version, ...changes } = request.body as { version: number; name?: string; description?: string; definition?: unknown };
      return updateRole(deps, actorOf(request), (request.params as { id: string }).id, version, changes);
    },
  });

  app.delete('/api/v1/roles/:id', {
    schema: { tags: ['roles'], summary: 'Delete a custom role no user holds (roles.manage)', params: RoleParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await deleteRole(deps, actorOf(request), (request.params as { id: string }).id);
      return reply.status(204).send();
    },
  });
}
