import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { effectiveSettings, SETTINGS_GROUPS } from './settings.service.js';

const SettingSchema = Type.Object(
  {
    id: Type.String({ description: 'A stable name for the setting, unique across groups.' }),
    key: Type.Union([Type.String(), Type.Null()], { description: 'The RAMPART_* variable (or config file key) that sets it; null for a rule built into Rampart.' }),
    value: Type.Union([Type.String(), Type.Integer(), Type.Boolean(), Type.Array(Type.String()), Type.Null()], {
      description: 'The value in effect; null when unset. Secrets never appear: for those, only whether they are set, or their kind.',
    }),
    description: Type.String({ description: 'What the setting does, in one line.' }),
  },
  { additionalProperties: false },
);

const SettingsSchema = Type.Object(
  {
    groups: Type.Array(
      Type.Object(
        {
          id: Type.String({ enum: [...SETTINGS_GROUPS] }),
          settings: Type.Array(SettingSchema),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'Settings', additionalProperties: false },
);

/** `/api/v1/settings`: the configuration in effect, read-only; it changes in the environment or config file, at restart. */
export function registerSettingsRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.get('/api/v1/settings', {
    schema: {
      tags: ['settings'],
      summary: 'The configuration in effect, without secrets (settings.manage)',
      response: { 200: SettingsSchema, ...errorResponses },
    },
    handler: async (request) => effectiveSettings(deps, actorOf(request)),
  });
}
