import { recordAudit } from '../../data/audit-trail.js';
import { requirePermission } from '../../data/access.js';
import { field, parseFieldValue, type FieldDef } from '../../data/field-registry.js';
import { countReferencing, inTransaction, summarizeRecords, type DataDeps } from '../../data/record-store.js';
import { isUniqueViolation } from '../../db/database.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { requireScope } from '../tokens/tokens.service.js';
import {
  deletePipelineRow,
  deleteStageRows,
  insertPipeline,
  insertStages,
  makeOnlyDefault,
  selectDefaultPipeline,
  selectPipeline,
  selectPipelineByName,
  selectPipelines,
  selectStages,
  updatePipelineRow,
  updateStageRow,
  type PipelineRow,
  type StageRow,
} from './pipelines.repo.js';

/** What reaching a stage means for a deal: still open, won or lost. */
export const STAGE_OUTCOMES = ['open', 'won', 'lost'] as const;
export type StageOutcome = (typeof STAGE_OUTCOMES)[number];

export const MAX_STAGES = 50;

export interface StageView {
  id: string;
  name: string;
  position: number;
  probability: number;
  outcome: StageOutcome;
}

export interface PipelineView {
  id: string;
  name: string;
  isDefault: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  stages: StageView[];
}

/** A stage as a caller sends it; on update, `id` keeps an existing stage and its deals. */
export interface StageInput {
  id?: string;
  name: string;
  probability?: number;
  outcome?: StageOutcome;
}

export interface NewPipeline {
  name: string;
  stages: StageInput[];
  isDefault?: boolean;
}

export interface PipelineChanges {
  name?: string;
  /** The full new list of stages, in board order; existing stages left out are removed. */
  stages?: StageInput[];
  isDefault?: boolean;
}

export interface BoardStage extends StageView {
  /** Live deals in the stage. */
  count: number;
  /** Their total amount per currency: amounts in different currencies do not add up. */
  amounts: { currency: string; amount: number }[];
}

export interface PipelineBoard {
  pipeline: PipelineView;
  stages: BoardStage[];
}

const PIPELINE_NAME = field('name', 'text', 'internal', { description: 'Pipeline name.', required: true, maxLength: 100 });
const STAGE_NAME = field('name', 'text', 'internal', { description: 'Stage name.', required: true, maxLength: 100 });

/** Pipelines shape every deal's board; changing them is for administrators and managers. */
async function requirePipelineManager(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'pipelines.manage', 'Your roles do not allow you to change pipelines');
}

/** Every pipeline with its stages; anyone signed in may read them. */
export async function listPipelines(deps: DataDeps, _ctx: ActorContext): Promise<PipelineView[]> {
  const rows = await selectPipelines(deps.db);
  const stages = await selectStages(deps.db, rows.map((r) => r.id));
  return rows.map((row) => presentPipeline(row, stages.filter((s) => s.pipeline_id === row.id)));
}

/** One pipeline with its stages, or pipeline.not_found. */
export async function getPipeline(deps: DataDeps, _ctx: ActorContext, id: string): Promise<PipelineView> {
  const pipeline = await findPipeline(deps, id);
  if (!pipeline) throw new AppError('pipeline.not_found', 'No such pipeline');
  return pipeline;
}

/** A pipeline with its stages, or undefined; pipelines are configuration every user may read. */
export async function findPipeline(deps: DataDeps, id: string): Promise<PipelineView | undefined> {
  const row = isId(id) ? await selectPipeline(deps.db, id) : undefined;
  return row ? presentPipeline(row, await selectStages(deps.db, [id])) : undefined;
}

/** The pipeline new deals go to when the caller names none. */
export async function getDefaultPipeline(deps: DataDeps): Promise<PipelineView> {
  const row = await selectDefaultPipeline(deps.db);
  if (!row) throw new AppError('pipeline.not_found', 'There is no default pipeline; create one first');
  return presentPipeline(row, await selectStages(deps.db, [row.id]));
}

/** Creates a pipeline with its stages; administrators and managers only. */
export async function createPipeline(deps: DataDeps, ctx: ActorContext, input: NewPipeline): Promise<PipelineView> {
  await requirePipelineManager(deps, ctx);
  const problems: FieldProblem[] = [];
  const name = parseText(PIPELINE_NAME, input?.name, 'name', problems);
  const stages = parseStages(input?.stages, problems, 'create');
  if (input?.isDefault !== undefined && typeof input.isDefault !== 'boolean') problems.push({ field: 'isDefault', message: 'must be true or false' });
  if (problems.length > 0) throw invalidPipeline(problems);

  return inTransaction(deps, async (tx) => {
    await assertNameFree(tx, name, null);
    const now = tx.clock.now().toISOString();
    const id = newId();
    try {
      await insertPipeline(tx.db, { id, name, is_default: 0, version: 1, created_at: now, updated_at: now });
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateName();
      throw error;
    }
    await insertStages(tx.db, stages.map((stage, position) => ({ ...stage, id: newId(), pipeline_id: id, position })));
    if (input.isDefault === true) await makeOnlyDefault(tx.db, id);
    const created = await getPipeline(tx, ctx, id);
    await recordAudit(tx, ctx, { action: 'pipeline.create', recordType: 'pipelines', recordIds: [id], fields: ['name', 'stages', 'isDefault'], details: { pipeline: created } });
    return created;
  });
}

/**
 * Renames a pipeline, replaces its stages or makes it the default, if `version` is still current.
 * A stage that holds deals (even deals in the trash) can be renamed and moved but not removed, and
 * its outcome cannot change: its deals' status would no longer follow it.
 */
export async function updatePipeline(deps: DataDeps, ctx: ActorContext, id: string, version: number, changes: PipelineChanges): Promise<PipelineView> {
  await requirePipelineManager(deps, ctx);
  const problems: FieldProblem[] = [];
  const name = changes?.name === undefined ? undefined : parseText(PIPELINE_NAME, changes.name, 'name', problems);
  const stages = changes?.stages === undefined ? undefined : parseStages(changes.stages, problems, 'update');
  if (changes?.isDefault !== undefined && typeof changes.isDefault !== 'boolean') problems.push({ field: 'isDefault', message: 'must be true or false' });
  if (!Number.isSafeInteger(version) || version < 1) problems.push({ field: 'version', message: 'must be the version you read' });
  if (problems.length > 0) throw invalidPipeline(problems);

  return inTransaction(deps, async (tx) => {
    const row = isId(id) ? await selectPipeline(tx.db, id) : undefined;
    if (!row) throw new AppError('pipeline.not_found', 'No such pipeline');
    if (Number(row.version) !== version) throw staleVersion();
    if (changes.isDefault === false && row.is_default === 1) {
      throw invalidPipeline([{ field: 'isDefault', message: 'cannot be turned off; make another pipeline the default instead' }]);
    }
    if (name !== undefined && name !== row.name) await assertNameFree(tx, name, id);
    if (stages !== undefined) await replaceStages(tx, id, stages);

    const updated = await updatePipelineRow(tx.db, id, version, {
      name: name ?? row.name,
      is_default: changes.isDefault === true ? 1 : row.is_default,
      updated_at: tx.clock.now().toISOString(),
    }).catch((error: unknown) => {
      if (isUniqueViolation(error)) throw duplicateName();
      throw error;
    });
    if (!updated) throw staleVersion();
    if (changes.isDefault === true) await makeOnlyDefault(tx.db, id);
    const after = await getPipeline(tx, ctx, id);
    await recordAudit(tx, ctx, { action: 'pipeline.update', recordType: 'pipelines', recordIds: [id], fields: Object.keys(changes ?? {}), details: { pipeline: after } });
    return after;
  });
}

/** Deletes a pipeline that no deal uses and that is not the default. */
export async function deletePipeline(deps: DataDeps, ctx: ActorContext, id: string): Promise<void> {
  await requirePipelineManager(deps, ctx);
  await inTransaction(deps, async (tx) => {
    const row = isId(id) ? await selectPipeline(tx.db, id) : undefined;
    if (!row) throw new AppError('pipeline.not_found', 'No such pipeline');
    if (row.is_default === 1) throw new AppError('pipeline.in_use', 'The default pipeline cannot be deleted; make another pipeline the default first');
    const deals = (await countReferencing(tx, 'deals', 'pipelineId', [id])).get(id) ?? 0;
    if (deals > 0) throw new AppError('pipeline.in_use', `${deals} deal(s), counting those in the trash, use this pipeline; move them first`);
    await deletePipelineRow(tx.db, id);
    await recordAudit(tx, ctx, { action: 'pipeline.delete', recordType: 'pipelines', recordIds: [id], details: { name: row.name } });
  });
}

/** A kanban board: the pipeline's stages with the number and total amount of the live deals in each. */
export async function pipelineBoard(deps: DataDeps, ctx: ActorContext, id: string): Promise<PipelineBoard> {
  requireScope(ctx, 'deals', 'read');
  const pipeline = await getPipeline(deps, ctx, id);
  const totals = await summarizeRecords(deps, ctx, 'deals', { groupBy: ['stageId', 'currency'], sum: 'amount', filters: { pipelineId: id } });
  return {
    pipeline,
    stages: pipeline.stages.map((stage) => {
      const rows = totals.filter((t) => t.group.stageId === stage.id).sort((a, b) => String(a.group.currency).localeCompare(String(b.group.currency)));
      return {
        ...stage,
        count: rows.reduce((n, r) => n + r.count, 0),
        amounts: rows.map((r) => ({ currency: String(r.group.currency), amount: r.sum ?? 0 })),
      };
    }),
  };
}

// ---- Internals ---------------------------------------------------------------------------------

type ParsedStage = Omit<StageRow, 'pipeline_id' | 'position' | 'id'> & { id?: string };

function parseStages(raw: unknown, problems: FieldProblem[], mode: 'create' | 'update'): ParsedStage[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_STAGES) {
    problems.push({ field: 'stages', message: `must be a list of 1 to ${MAX_STAGES} stages` });
    return [];
  }
  const stages: ParsedStage[] = [];
  const names = new Set<string>();
  const ids = new Set<string>();
  raw.forEach((item: unknown, i) => {
    const at = `stages.${i}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push({ field: at, message: 'must be an object' });
      return;
    }
    const input = item as Partial<Record<keyof StageInput, unknown>>;
    const name = parseText(STAGE_NAME, input.name, `${at}.name`, problems);
    const folded = name.toLowerCase();
    if (name && names.has(folded)) problems.push({ field: `${at}.name`, message: 'repeats another stage name' });
    names.add(folded);
    const outcome = input.outcome ?? 'open';
    if (typeof outcome !== 'string' || !(STAGE_OUTCOMES as readonly string[]).includes(outcome)) {
      problems.push({ field: `${at}.outcome`, message: `must be one of: ${STAGE_OUTCOMES.join(', ')}` });
    }
    const probability = input.probability ?? (outcome === 'won' ? 100 : 0);
    if (typeof probability !== 'number' || !Number.isInteger(probability) || probability < 0 || probability > 100) {
      problems.push({ field: `${at}.probability`, message: 'must be a whole number from 0 to 100' });
    }
    if (input.id !== undefined) {
      if (mode === 'create') problems.push({ field: `${at}.id`, message: 'is given by the system' });
      else if (!isId(input.id)) problems.push({ field: `${at}.id`, message: 'must be a stage id' });
      else if (ids.has(input.id)) problems.push({ field: `${at}.id`, message: 'repeats another stage' });
      else ids.add(input.id);
    }
    stages.push({ ...(typeof input.id === 'string' ? { id: input.id } : {}), name, probability: probability as number, outcome: outcome as StageOutcome });
  });
  // New deals start in the first stage, so it must leave them open.
  if (stages[0] && stages[0].outcome !== 'open') problems.push({ field: 'stages.0.outcome', message: 'must be open: new deals start in the first stage' });
  return stages;
}

async function replaceStages(tx: DataDeps, pipelineId: string, stages: ParsedStage[]): Promise<void> {
  const existing = await selectStages(tx.db, [pipelineId]);
  const existingById = new Map(existing.map((s) => [s.id, s]));
  stages.forEach((stage, i) => {
    if (stage.id !== undefined && !existingById.has(stage.id)) {
      throw new AppError('stage.not_found', 'A stage is not part of this pipeline', [{ field: `stages.${i}.id`, message: 'does not name a stage of this pipeline' }]);
    }
  });
  const kept = new Set(stages.map((s) => s.id).filter((id): id is string => id !== undefined));
  const removed = existing.filter((s) => !kept.has(s.id));
  const deals = await countReferencing(tx, 'deals', 'stageId', existing.map((s) => s.id));
  for (const stage of removed) {
    const n = deals.get(stage.id) ?? 0;
    if (n > 0) throw new AppError('pipeline.in_use', `Stage ${stage.name} holds ${n} deal(s), counting those in the trash; move them before removing it`, [{ field: 'stages', message: 'leaves out a stage that holds deals' }]);
  }
  stages.forEach((stage, i) => {
    const before = stage.id === undefined ? undefined : existingById.get(stage.id);
    if (before && before.outcome !== stage.outcome && (deals.get(before.id) ?? 0) > 0) {
      throw new AppError('pipeline.in_use', `Stage ${before.name} holds deals; its outcome cannot change until they are moved`, [{ field: `stages.${i}.outcome`, message: 'cannot change while the stage holds deals' }]);
    }
  });
  await deleteStageRows(tx.db, removed.map((s) => s.id));
  const fresh: StageRow[] = [];
  for (const [position, stage] of stages.entries()) {
    const row = { id: stage.id ?? newId(), pipeline_id: pipelineId, name: stage.name, position, probability: stage.probability, outcome: stage.outcome };
    if (stage.id === undefined) fresh.push(row);
    else await updateStageRow(tx.db, row);
  }
  await insertStages(tx.db, fresh);
}

async function assertNameFree(tx: DataDeps, name: string, ownId: string | null): Promise<void> {
  const other = await selectPipelineByName(tx.db, name);
  if (other && other.id !== ownId) throw duplicateName();
}

function parseText(def: FieldDef, raw: unknown, at: string, problems: FieldProblem[]): string {
  const parsed = parseFieldValue(def, raw);
  if (!parsed.ok) {
    problems.push({ field: at, message: parsed.message });
    return '';
  }
  return parsed.value as string;
}

function presentPipeline(row: PipelineRow, stages: StageRow[]): PipelineView {
  return {
    id: row.id,
    name: row.name,
    isDefault: row.is_default === 1,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    stages: stages.map(presentStage),
  };
}

function presentStage(row: StageRow): StageView {
  return { id: row.id, name: row.name, position: row.position, probability: row.probability, outcome: row.outcome };
}

function invalidPipeline(problems: FieldProblem[]): AppError {
  return new AppError('record.validation_failed', `The pipeline has invalid fields: ${[...new Set(problems.map((p) => p.field))].join(', ')}`, problems);
}

function duplicateName(): AppError {
  return new AppError('record.duplicate', 'A pipeline with that name exists', [{ field: 'name', message: 'is taken' }]);
}

function staleVersion(): AppError {
  return new AppError('record.version_conflict', 'The pipeline was changed by someone else; reload it and try again');
}
