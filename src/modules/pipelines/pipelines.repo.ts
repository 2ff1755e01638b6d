import type { Executor } from '../../db/database.js';
import type { PipelineStagesTable, PipelinesTable } from '../../db/schema.js';

/** All SQL on pipelines and their stages. Deals are read here only to tell whether a stage is in use. */
export type PipelineRow = Omit<PipelinesTable, 'version'> & { version: number };
export type StageRow = PipelineStagesTable;

/** Every pipeline, the default first. */
export async function selectPipelines(db: Executor): Promise<PipelineRow[]> {
  return db.selectFrom('pipelines').selectAll().orderBy('is_default', 'desc').orderBy('name').execute();
}

/** One pipeline row by id. */
export async function selectPipeline(db: Executor, id: string): Promise<PipelineRow | undefined> {
  return db.selectFrom('pipelines').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The default pipeline; the oldest wins should more than one ever be flagged. */
export async function selectDefaultPipeline(db: Executor): Promise<PipelineRow | undefined> {
  return db.selectFrom('pipelines').selectAll().where('is_default', '=', 1).orderBy('created_at').executeTakeFirst();
}

/** The pipeline with exactly this name. */
export async function selectPipelineByName(db: Executor, name: string): Promise<PipelineRow | undefined> {
  return db.selectFrom('pipelines').selectAll().where('name', '=', name).executeTakeFirst();
}

/** The stages of the given pipelines, in board order. */
export async function selectStages(db: Executor, pipelineIds: string[]): Promise<StageRow[]> {
  if (pipelineIds.length === 0) return [];
  return db.selectFrom('pipeline_stages').selectAll().where('pipeline_id', 'in', pipelineIds).orderBy('pipeline_id').orderBy('position').execute();
}

/** Writes a new pipeline row; its stages go in with `insertStages`. */
export async function insertPipeline(db: Executor, row: PipelineRow): Promise<void> {
  await db.insertInto('pipelines').values(row).execute();
}

/** Writes new stage rows. */
export async function insertStages(db: Executor, rows: StageRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('pipeline_stages').values(rows).execute();
}

/** Writes a new name, default flag and version if the stored version is `version`; answers whether it was. */
export async function updatePipelineRow(db: Executor, id: string, version: number, changes: { name: string; is_default: number; updated_at: string }): Promise<boolean> {
  const result = await db
    .updateTable('pipelines')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Rewrites a stage's name, position, probability and outcome. */
export async function updateStageRow(db: Executor, row: StageRow): Promise<void> {
  await db.updateTable('pipeline_stages').set({ name: row.name, position: row.position, probability: row.probability, outcome: row.outcome }).where('id', '=', row.id).execute();
}

/** Removes stages; callers check first that no deal is in them. */
export async function deleteStageRows(db: Executor, ids: string[]): Promise<void> {
  if (ids.length > 0) await db.deleteFrom('pipeline_stages').where('id', 'in', ids).execute();
}

/** Leaves `keepId` the only default pipeline. */
export async function makeOnlyDefault(db: Executor, keepId: string): Promise<void> {
  await db.updateTable('pipelines').set({ is_default: 0 }).where('is_default', '=', 1).where('id', '!=', keepId).execute();
  await db.updateTable('pipelines').set({ is_default: 1 }).where('id', '=', keepId).execute();
}

/** Removes a pipeline and its stages; callers check first that no deal uses it. */
export async function deletePipelineRow(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('pipeline_stages').where('pipeline_id', '=', id).execute();
  await db.deleteFrom('pipelines').where('id', '=', id).execute();
}
