import { Type } from 'typebox';
import { HONEYTOKEN_TYPES, MAX_PLANT } from './honeytokens.service.js';

const RecordTypeSchema = Type.String({ enum: [...HONEYTOKEN_TYPES], description: 'contacts or companies.' });

export const HoneytokenSchema = Type.Object(
  {
    recordId: Type.String({ description: 'The decoy record\'s id.' }),
    recordType: RecordTypeSchema,
    label: Type.String({ description: 'The decoy\'s name as lists show it.' }),
    inTrash: Type.Boolean({ description: 'Someone moved the decoy to the trash.' }),
    plantedBy: Type.String({ description: 'Who planted it: a user id, or cli:<operator>.' }),
    plantedAt: Type.String({ description: 'When it was planted.' }),
  },
  { $id: 'Honeytoken', additionalProperties: false },
);

export const HoneytokenList = Type.Object({ items: Type.Array(HoneytokenSchema), nextCursor: Type.Null() }, { additionalProperties: false });

export const PlantBody = Type.Object(
  {
    recordType: RecordTypeSchema,
    count: Type.Integer({ minimum: 1, maximum: MAX_PLANT, description: `How many decoys to plant, 1 to ${MAX_PLANT}.` }),
    ownerId: Type.Optional(
      Type.Union([Type.String({ maxLength: 64 }), Type.Null()], {
        description: 'The user to own every decoy. By default (or null) decoys have no personal owner: they sit in a team\'s pool, in nobody\'s own list (only where the type\'s records are in no team do they get owners, spread as those records\' are).',
      }),
    ),
    teamId: Type.Optional(
      Type.Union([Type.String({ maxLength: 64 }), Type.Null()], { description: 'The team the decoys belong to; by default the owner\'s, or teams drawn as the type\'s records are spread.' }),
    ),
  },
  { additionalProperties: false },
);

export const HoneytokenParams = Type.Object({ recordId: Type.String({ maxLength: 64, description: 'The decoy record\'s id.' }) }, { additionalProperties: false });
