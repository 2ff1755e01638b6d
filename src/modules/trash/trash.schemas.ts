import { Type } from 'typebox';
import { RECORD_TYPES } from '../../data/field-registry.js';
import { MAX_PURGE_IDS } from './trash.service.js';

const RecordId = Type.String({ maxLength: 64, description: 'Record id.' });

export const PurgeBody = Type.Object(
  {
    type: Type.Union(RECORD_TYPES.map((t) => Type.Literal(t)), { description: 'The record type of every id.' }),
    ids: Type.Array(RecordId, { minItems: 1, maxItems: MAX_PURGE_IDS, uniqueItems: true, description: `The records to purge, 1 to ${MAX_PURGE_IDS}; each must be in the trash.` }),
  },
  { additionalProperties: false },
);

export const PurgeResultSchema = Type.Object(
  {
    purged: Type.Integer({ description: 'Records named in the request that were removed for good.' }),
    attached: Type.Integer({ description: 'Records attached to them (activities) removed with them.' }),
    unlinked: Type.Integer({ description: 'Records elsewhere that pointed at a removed one; the reference is now empty.' }),
  },
  { additionalProperties: false },
);

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const TrashSummarySchema = Type.Object(
  {
    retentionDays: Type.Integer({ description: 'Days a record stays in the trash before it is purged automatically (RAMPART_TRASH_RETENTION_DAYS).' }),
    lastRetentionRunAt: Nullable(Type.String({ format: 'date-time', description: 'When the retention job last finished a run; null before its first.' })),
    types: Type.Array(
      Type.Object(
        {
          type: Type.String({ description: 'A record type the caller may read.' }),
          count: Type.Integer({ description: 'Records of the type in the trash that the caller may read.' }),
          oldestDeletedAt: Nullable(Type.String({ format: 'date-time', description: 'When the record longest in the trash went there.' })),
          nextPurgeAt: Nullable(Type.String({ format: 'date-time', description: 'When that record is purged automatically.' })),
          daysUntilPurge: Type.Union([Type.Integer(), Type.Null()], { description: 'Whole days until then; 0 means at the next run of the retention job.' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const TrashPageQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'Page size, 1 to 200 (default 50).' })),
    cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'nextCursor of the page before.' })),
  },
  { additionalProperties: false },
);

export const TrashPageSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          id: Type.String({ description: 'Record id.' }),
          ownerId: Nullable(Type.String({ description: 'Its owner, so a screen can tell which records your own-scope rights reach.' })),
          teamId: Nullable(Type.String({ description: 'Its team.' })),
          title: Type.String({ description: "The record's title as lists show it to you (a person's names, a name, a subject): masked where your roles mask it, empty where they hide it." }),
          deletedAt: Type.String({ format: 'date-time', description: 'When it went to the trash.' }),
          deletedBy: Type.Union(
            [
              Type.Object(
                { id: Type.String({ description: 'User id.' }), name: Type.String({ description: "The user's display name; empty for a user since removed." }) },
                { additionalProperties: false },
              ),
              Type.Null(),
            ],
            { description: 'Who deleted it; null when the system or the command-line operator did.' },
          ),
          purgeAt: Type.String({ format: 'date-time', description: 'When the retention job purges it for good.' }),
        },
        { additionalProperties: false },
      ),
      { description: 'Longest in the trash first.' },
    ),
    nextCursor: Nullable(Type.String({ description: 'Pass as cursor for the next page; null on the last.' })),
  },
  { additionalProperties: false },
);
