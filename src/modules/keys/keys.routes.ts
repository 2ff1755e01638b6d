import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { keysStatus } from './keys.service.js';

const Count = (description: string) => Type.Integer({ description });

const KeysStatusSchema = Type.Object(
  {
    activeKek: Type.String({ description: 'The key-encryption key version that wraps every new key.' }),
    kek: Type.Array(
      Type.Object(
        {
          id: Type.String({ description: 'The version, e.g. local:2.' }),
          state: Type.String({ enum: ['active', 'decrypt-only', 'retired'] }),
          createdAt: Type.String(),
          dataKeys: Count('Data keys wrapped with it.'),
          indexKeys: Count('Blind-index keys wrapped with it.'),
          mfaSecrets: Count('Authenticator app secrets wrapped with it.'),
        },
        { additionalProperties: false },
      ),
    ),
    dataKeyVersions: Type.Array(
      Type.Object(
        { version: Type.Integer(), subjects: Count('People (and the organisation) with a key of this version.'), records: Count('Records sealed under it.'), customValues: Count('Custom values sealed under it.') },
        { additionalProperties: false },
      ),
    ),
    indexKeys: Type.Array(Type.Object({ version: Type.Integer(), state: Type.String(), bits: Type.Integer(), createdAt: Type.String() }, { additionalProperties: false })),
    erasedSubjects: Count('People erased for good (their data keys destroyed).'),
    integrityEvents: Count('Values that failed to open: tampering or damage.'),
    pendingSealing: Type.Array(Type.String(), { description: 'Key jobs not finished yet.' }),
    rotations: Type.Array(
      Type.Object(
        {
          step: Type.String({ enum: ['rewrap', 'reseal', 'reindex'] }),
          done: Type.Union([Type.Integer(), Type.Null()]),
          total: Type.Union([Type.Integer(), Type.Null()]),
          command: Type.String({ description: 'The command that finishes it, run on the server.' }),
        },
        { additionalProperties: false },
      ),
      { description: 'Unfinished work of a rotation; empty when none.' },
    ),
  },
  { $id: 'KeysStatus', additionalProperties: false },
);

/** `/api/v1/keys/…`: the state of the encryption keys (rotation itself runs from the command line). */
export function registerKeysRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.get('/api/v1/keys/status', {
    schema: {
      tags: ['keys'],
      summary: 'Key versions, how much each holds, and the progress of a rotation (keys.manage); no key material',
      response: { 200: KeysStatusSchema, ...errorResponses },
    },
    handler: async (request) => keysStatus(deps, actorOf(request)),
  });
}
