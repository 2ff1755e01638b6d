import type { Kysely } from 'kysely';

/**
 * Breach detection and response: what the HTTP layer saw go wrong (request events), the engine's
 * place in the audit and request streams and its lease, the rules as configured, what it learned of
 * each user and role (baselines), the alerts it raised with the responses taken, the containment
 * those responses left in force (address blocks, lockdowns, locked accounts) and the decoy records
 * (honeytokens) nobody's real work touches.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('request_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('source_address', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('probe', 'text')
    .addColumn('actor_kind', 'text')
    .addColumn('actor_id', 'text')
    .addColumn('session_id', 'text')
    .addColumn('repeats', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('request_events_time_idx').on('request_events').columns(['occurred_at']).execute();
  await db.schema.createIndex('request_events_address_idx').on('request_events').columns(['source_address', 'occurred_at']).execute();

  await db.schema
    .createTable('detection_progress')
    .addColumn('consumer', 'text', (c) => c.primaryKey())
    .addColumn('audit_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('request_event_id', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('lease_holder', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('detection_rules')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('responses', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('updated_by', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('detection_baselines')
    .addColumn('subject_kind', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('metric', 'text', (c) => c.notNull())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('detection_baselines_pk', ['subject_kind', 'subject_id', 'metric'])
    .execute();

  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('subject_key', 'text', (c) => c.notNull())
    .addColumn('actor_kind', 'text')
    .addColumn('actor_id', 'text')
    .addColumn('source_address', 'text')
    .addColumn('evidence', 'text', (c) => c.notNull())
    .addColumn('event_count', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('handled_by', 'text')
    .addColumn('handled_at', 'text')
    .addColumn('note', 'text')
    .addColumn('incident_id', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.createIndex('alerts_status_idx').on('alerts').columns(['status', 'created_at']).execute();
  await db.schema.createIndex('alerts_subject_idx').on('alerts').columns(['subject_key', 'last_seen_at']).execute();
  await db.schema.createIndex('alerts_actor_idx').on('alerts').columns(['actor_id', 'created_at']).execute();

  await db.schema
    .createTable('alert_responses')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('executed_at', 'text')
    .addColumn('reversed_at', 'text')
    .addColumn('reversed_by', 'text')
    .execute();
  await db.schema.createIndex('alert_responses_alert_idx').on('alert_responses').columns(['alert_id']).execute();

  await db.schema
    .createTable('alert_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.id').onDelete('cascade'))
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_at', 'text', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('alert_deliveries_due_idx').on('alert_deliveries').columns(['state', 'next_at']).execute();

  await db.schema
    .createTable('address_blocks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('until', 'text', (c) => c.notNull())
    .addColumn('lifted_at', 'text')
    .addColumn('lifted_by', 'text')
    .execute();
  await db.schema.createIndex('address_blocks_address_idx').on('address_blocks').columns(['address', 'until']).execute();

  await db.schema
    .createTable('lockdowns')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('alert_id', 'text')
    .addColumn('started_by', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('lifted_at', 'text')
    .addColumn('lifted_by', 'text')
    .execute();

  await db.schema.alterTable('users').addColumn('locked_at', 'text').execute();
  await db.schema.alterTable('users').addColumn('locked_reason', 'text').execute();

  await db.schema
    .createTable('honeytokens')
    .addColumn('record_id', 'text', (c) => c.primaryKey())
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('planted_by', 'text', (c) => c.notNull())
    .addColumn('planted_at', 'text', (c) => c.notNull())
    .execute();
}
