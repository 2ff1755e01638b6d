import { Type } from 'typebox';
import { MAX_STAGES, STAGE_OUTCOMES } from './pipelines.service.js';

/** Request and response schemas of `/api/v1/pipelines`; responses are whitelists. */
export const StageSchema = Type.Object(
  {
    id: Type.String({ description: 'Stage id.' }),
    name: Type.String({ description: 'Stage name, unique within the pipeline.' }),
    position: Type.Integer({ description: 'Place on the board, from 0 at the left.' }),
    probability: Type.Integer({ description: 'Chance of winning a deal in this stage, in percent.' }),
    outcome: Type.String({ enum: [...STAGE_OUTCOMES], description: 'open, or won/lost: a deal reaching the stage is closed with that status.' }),
  },
  { $id: 'Stage', additionalProperties: false },
);

export const PipelineSchema = Type.Object(
  {
    id: Type.String({ description: 'Pipeline id.' }),
    name: Type.String({ description: 'Pipeline name, unique.' }),
    isDefault: Type.Boolean({ description: 'Whether new deals go to this pipeline when they name none.' }),
    version: Type.Integer({ description: 'Optimistic-concurrency version; send it back with an update.' }),
    createdAt: Type.String({ description: 'When the pipeline was created.' }),
    updatedAt: Type.String({ description: 'When the pipeline last changed.' }),
    stages: Type.Array(StageSchema, { description: 'The stages in board order.' }),
  },
  { $id: 'Pipeline', additionalProperties: false },
);

const StageInputSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 64, description: 'On update: the existing stage this entry keeps, with its deals. Leave out for a new stage.' })),
    name: Type.String({ maxLength: 100, description: 'Stage name, unique within the pipeline.' }),
    probability: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'Chance of winning, in percent; 100 for won stages and 0 otherwise by default.' })),
    outcome: Type.Optional(Type.String({ enum: [...STAGE_OUTCOMES], description: 'open (default), won or lost. The first stage must be open.' })),
  },
  { additionalProperties: false },
);

const stagesInput = Type.Array(StageInputSchema, { minItems: 1, maxItems: MAX_STAGES, description: 'The stages in board order.' });

export const CreatePipelineBody = Type.Object(
  {
    name: Type.String({ maxLength: 100, description: 'Pipeline name, unique.' }),
    stages: stagesInput,
    isDefault: Type.Optional(Type.Boolean({ description: 'Make this the default pipeline for new deals.' })),
  },
  { additionalProperties: false },
);

export const UpdatePipelineBody = Type.Object(
  {
    version: Type.Integer({ minimum: 1, description: 'The version you read; a stale version answers 409.' }),
    name: Type.Optional(Type.String({ maxLength: 100, description: 'New name.' })),
    stages: Type.Optional(Type.Array(StageInputSchema, {
      minItems: 1,
      maxItems: MAX_STAGES,
      description: 'The full new list of stages in board order. Existing stages left out are removed, which is refused while they hold deals.',
    })),
    isDefault: Type.Optional(Type.Boolean({ description: 'true makes this the default pipeline; to change the default, set it on another pipeline.' })),
  },
  { additionalProperties: false },
);

export const BoardSchema = Type.Object(
  {
    pipeline: PipelineSchema,
    stages: Type.Array(
      Type.Object(
        {
          id: Type.String({ description: 'Stage id.' }),
          name: Type.String({ description: 'Stage name.' }),
          position: Type.Integer({ description: 'Place on the board.' }),
          probability: Type.Integer({ description: 'Chance of winning, in percent.' }),
          outcome: Type.String({ enum: [...STAGE_OUTCOMES], description: 'open, won or lost.' }),
          count: Type.Integer({ description: 'Live deals in the stage.' }),
          amounts: Type.Array(
            Type.Object({ currency: Type.String({ description: 'ISO 4217 code.' }), amount: Type.Number({ description: 'Total in major units.' }) }, { additionalProperties: false }),
            { description: 'Total amount of the stage\'s deals per currency.' },
          ),
        },
        { additionalProperties: false },
      ),
      { description: 'The columns of the board, in order.' },
    ),
  },
  { additionalProperties: false },
);
