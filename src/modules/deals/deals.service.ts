import { atOneInstant, plainRecordService, refuseEmpty, type RecordService } from '../../data/record-service.js';
import { createRecord, getRecord, inTransaction, updateRecord, type DataDeps, type RecordInput, type RecordView } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { findPipeline, getDefaultPipeline, type PipelineView, type StageOutcome, type StageView } from '../pipelines/pipelines.service.js';
import { dealFields } from './deals.fields.js';

/**
 * Deal rules: a deal sits in one stage of one pipeline; its `status` and `closedAt` follow the
 * stage's outcome, so they are never sent by a caller; a lost reason belongs to lost deals only.
 */

/** Columns that always hold a value; the database default applies when they are left out. */
const NOT_EMPTY = ['pipelineId', 'stageId', 'amount', 'currency'] as const;

interface Placement {
  pipelineId: string;
  stage: StageView;
}

/** Creates a deal in the named stage, or the first stage of the named (or default) pipeline. */
export async function createDeal(deps: DataDeps, ctx: ActorContext, input: RecordInput): Promise<RecordView> {
  refuseEmpty(dealFields, input, NOT_EMPTY);
  return inTransaction(deps, async (tx) => {
    const at = atOneInstant(tx);
    const placement = await placeDeal(at, input, null);
    const status = placement.stage.outcome;
    refuseLostReason(input, status);
    const derived = { status, closedAt: status === 'open' ? null : at.clock.now().toISOString() };
    return createRecord(at, ctx, 'deals', { ...input, pipelineId: placement.pipelineId, stageId: placement.stage.id }, derived);
  });
}

/**
 * Updates a deal. Moving it is a change of `stageId` (and `pipelineId` to change pipelines, which
 * puts it in the new pipeline's first stage unless a stage is named). Reaching a won or lost stage
 * closes the deal now; moving back to an open stage reopens it and drops the lost reason.
 */
export async function updateDeal(deps: DataDeps, ctx: ActorContext, id: string, version: number, input: RecordInput): Promise<RecordView> {
  refuseEmpty(dealFields, input, NOT_EMPTY);
  return inTransaction(deps, async (tx) => {
    const at = atOneInstant(tx);
    const current = await getRecord(at, ctx, 'deals', id, { audited: false });
    const derived: Record<string, unknown> = {};
    let status = current.status as StageOutcome;
    let changes = input;
    if (input.pipelineId !== undefined || input.stageId !== undefined) {
      const placement = await placeDeal(at, input, current);
      changes = { ...input, pipelineId: placement.pipelineId, stageId: placement.stage.id };
      if (placement.stage.outcome !== status) {
        status = placement.stage.outcome;
        derived.status = status;
        derived.closedAt = status === 'open' ? null : at.clock.now().toISOString();
        if (status !== 'lost' && input.lostReason === undefined) derived.lostReason = null;
      }
    }
    refuseLostReason(input, status);
    return updateRecord(at, ctx, 'deals', id, version, changes, derived);
  });
}

export const dealService: RecordService = plainRecordService('deals', { create: createDeal, update: updateDeal });

/** Works out the pipeline and stage a deal ends up in; `current` is the deal before an update. */
async function placeDeal(deps: DataDeps, input: RecordInput, current: RecordView | null): Promise<Placement> {
  for (const key of ['pipelineId', 'stageId'] as const) {
    if (input[key] !== undefined && !isId(input[key])) {
      throw new AppError('record.validation_failed', `The deal has invalid fields: ${key}`, [{ field: key, message: 'must be a record id' }]);
    }
  }
  const named = input.pipelineId as string | undefined;
  let pipeline: PipelineView | undefined;
  if (named !== undefined) {
    pipeline = await findPipeline(deps, named);
    if (!pipeline) throw new AppError('record.invalid_reference', 'A referenced record does not exist', [{ field: 'pipelineId', message: 'does not name an existing pipeline' }]);
  } else {
    pipeline = current ? await findPipeline(deps, String(current.pipelineId)) : await getDefaultPipeline(deps);
    if (!pipeline) throw new AppError('pipeline.not_found', 'The deal\'s pipeline no longer exists');
  }

  const stageId = input.stageId as string | undefined;
  if (stageId === undefined) {
    const kept = current && pipeline.id === current.pipelineId ? pipeline.stages.find((s) => s.id === current.stageId) : undefined;
    const stage = kept ?? pipeline.stages[0];
    if (!stage) throw new AppError('deal.invalid_stage', 'The pipeline has no stages', [{ field: 'pipelineId', message: 'names a pipeline without stages' }]);
    return { pipelineId: pipeline.id, stage };
  }
  const stage = pipeline.stages.find((s) => s.id === stageId);
  if (!stage) {
    throw new AppError('deal.invalid_stage', 'The stage is not part of the deal\'s pipeline', [{ field: 'stageId', message: 'does not name a stage of the pipeline' }]);
  }
  return { pipelineId: pipeline.id, stage };
}

function refuseLostReason(input: RecordInput, status: StageOutcome): void {
  const reason = input.lostReason;
  if (status !== 'lost' && typeof reason === 'string' && reason.trim() !== '') {
    throw new AppError('record.validation_failed', 'The deal has invalid fields: lostReason', [{ field: 'lostReason', message: 'may only be given for a lost deal' }]);
  }
}
