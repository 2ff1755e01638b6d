import { Type } from 'typebox';

/** The error body every route may answer. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'A stable error code, such as record.not_found.' }),
      message: Type.String({ description: 'What went wrong, for people.' }),
      fields: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), { description: 'The fields at fault.' })),
    }),
  },
  { $id: 'Error' },
);

export const errorResponses = {
  '4xx': ErrorBody,
  '5xx': ErrorBody,
} as const;
