import { Type } from 'typebox';
import { IMPORTABLE_TYPES } from './transfer.import.js';

const Problems = Type.Array(
  Type.Object({ field: Type.String({ description: 'The field (mapping key) or `row` for the row as a whole.' }), message: Type.String() }, { additionalProperties: false }),
  { description: 'What is wrong, field by field; never the value.' },
);

export const ImportParams = Type.Object({ type: Type.String({ enum: [...IMPORTABLE_TYPES], description: 'What the file holds.' }) }, { additionalProperties: false });

export const ImportColumnsQuery = Type.Object(
  {
    columns: Type.Optional(
      Type.String({
        maxLength: 8000,
        pattern: '^[A-Za-z0-9_.,]*$',
        description: 'The field each column feeds, in column order, separated by commas: a field key, `custom.<key>` or `company`; empty to skip the column. Without it, the column names decide (unknown names refuse the import).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ImportPreviewSchema = Type.Object(
  {
    header: Type.Array(Type.String(), { description: 'The column names, in file order.' }),
    suggested: Type.Array(Type.Union([Type.String(), Type.Null()]), { description: 'For each column, the mapping key its name suggests, or null.' }),
    fields: Type.Array(
      Type.Object(
        {
          key: Type.String({ description: 'The mapping key.' }),
          label: Type.String(),
          required: Type.Boolean({ description: 'Whether a record needs a value for it.' }),
        },
        { additionalProperties: false },
      ),
      { description: 'The fields a column may feed: those the caller may write.' },
    ),
    total: Type.Integer({ description: 'Data rows in the file.' }),
    rows: Type.Array(
      Type.Object(
        {
          line: Type.Integer({ description: 'The line the row starts on; the header is line 1.' }),
          values: Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), { description: 'By mapping key: the value as it would be stored when the row is good, else the cell as given.' }),
          problems: Problems,
        },
        { additionalProperties: false },
      ),
      { description: 'The first rows, tried and rolled back.' },
    ),
  },
  { additionalProperties: false },
);

const RowResultSchema = Type.Union([
  Type.Object({ line: Type.Integer(), ok: Type.Literal(true), id: Type.String({ description: 'The record written.' }) }, { additionalProperties: false }),
  Type.Object({ line: Type.Integer(), ok: Type.Literal(false), problems: Problems }, { additionalProperties: false }),
]);

/** One line of an import's answer. */
export const ImportEventSchema = Type.Union([
  Type.Object({ kind: Type.Literal('started'), total: Type.Integer({ description: 'Data rows in the file.' }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('rows'), rows: Type.Array(RowResultSchema, { description: 'What became of each row of a batch, in file order.' }) }, { additionalProperties: false }),
  Type.Object(
    {
      kind: Type.Literal('finished'),
      imported: Type.Integer(),
      rejected: Type.Integer(),
      total: Type.Integer(),
      ignoredColumns: Type.Array(Type.String(), { description: 'Columns skipped: system values, or mapped to nothing.' }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ kind: Type.Literal('failed'), error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }) }, { additionalProperties: false }),
]);
