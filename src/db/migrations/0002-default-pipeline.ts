import type { Kysely } from 'kysely';
import { newId } from '../../shared/ids.js';

/** The stages of the pipeline every installation starts with; deals land in it unless told otherwise. */
const SALES_STAGES: [name: string, probability: number, outcome: 'open' | 'won' | 'lost'][] = [
  ['Prospecting', 10, 'open'],
  ['Qualification', 25, 'open'],
  ['Proposal', 50, 'open'],
  ['Negotiation', 75, 'open'],
  ['Won', 100, 'won'],
  ['Lost', 0, 'lost'],
];

/** Inserts the default pipeline, "Sales"; later migrations and administrators may add others. */
export async function up(db: Kysely<any>): Promise<void> {
  const now = new Date().toISOString();
  const pipelineId = newId();
  await db.insertInto('pipelines').values({ id: pipelineId, name: 'Sales', is_default: 1, version: 1, created_at: now, updated_at: now }).execute();
  await db
    .insertInto('pipeline_stages')
    .values(SALES_STAGES.map(([name, probability, outcome], position) => ({ id: newId(), pipeline_id: pipelineId, name, position, probability, outcome })))
    .execute();
}
