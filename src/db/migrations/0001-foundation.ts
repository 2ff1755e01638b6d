import { sql, type Kysely, type CreateTableBuilder } from 'kysely';
import type { Dialect } from '../database.js';
import { createSearchIndex } from '../search-index.js';

/**
 * The foundation schema, written once for SQLite and PostgreSQL. Ids are UUIDv7 text, times are
 * ISO-8601 UTC text (so they sort the same on both), booleans are 0/1 integers, money is integer
 * cents.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const postgres = dialect === 'postgres';

  await db.schema
    .createTable('teams')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('parent_id', 'text', (c) => c.references('teams.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('roles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('builtin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  const now = new Date().toISOString();
  await db
    .insertInto('roles')
    .values(BUILTIN_ROLES.map(([id, name, description]) => ({ id, name, description, builtin: 1, created_at: now })))
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('team_id', 'text', (c) => c.references('teams.id'))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('locale', 'text', (c) => c.notNull().defaultTo('en'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('last_login_at', 'text')
    .execute();

  await db.schema
    .createTable('user_roles')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id'))
    .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role_id'])
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('source_address', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('api_tokens_user_idx').on('api_tokens').column('user_id').execute();

  await db.schema
    .createTable('setup_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();

  await recordTable(db, 'companies', (t) =>
    t
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('domain', 'text')
      .addColumn('website', 'text')
      .addColumn('industry', 'text')
      .addColumn('employees', 'integer')
      .addColumn('phone', 'text')
      .addColumn('address', 'text')
      .addColumn('city', 'text')
      .addColumn('country', 'text')
      .addColumn('description', 'text'),
  );
  await liveIndex(db, 'companies', ['name', 'id']);
  await liveIndex(db, 'companies', ['domain']);

  await recordTable(db, 'contacts', (t) =>
    t
      .addColumn('first_name', 'text')
      .addColumn('last_name', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('phone', 'text')
      .addColumn('mobile', 'text')
      .addColumn('job_title', 'text')
      .addColumn('company_id', 'text', (c) => c.references('companies.id'))
      .addColumn('address', 'text')
      .addColumn('city', 'text')
      .addColumn('country', 'text')
      .addColumn('birthday', 'text')
      .addColumn('id_number', 'text')
      .addColumn('source', 'text')
      .addColumn('lifecycle_stage', 'text', (c) => c.notNull().defaultTo('lead')),
  );
  await liveIndex(db, 'contacts', ['email']);
  await liveIndex(db, 'contacts', ['company_id', 'created_at', 'id']);

  await recordTable(db, 'leads', (t) =>
    t
      .addColumn('first_name', 'text')
      .addColumn('last_name', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('phone', 'text')
      .addColumn('company_name', 'text')
      .addColumn('job_title', 'text')
      .addColumn('source', 'text')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('new'))
      .addColumn('description', 'text')
      .addColumn('converted_at', 'text')
      .addColumn('converted_contact_id', 'text', (c) => c.references('contacts.id'))
      .addColumn('converted_company_id', 'text', (c) => c.references('companies.id'))
      .addColumn('converted_deal_id', 'text'),
  );
  await liveIndex(db, 'leads', ['email']);
  await liveIndex(db, 'leads', ['status', 'created_at', 'id']);

  await db.schema
    .createTable('pipelines')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('pipeline_stages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('pipeline_id', 'text', (c) => c.notNull().references('pipelines.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('probability', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('outcome', 'text', (c) => c.notNull().defaultTo('open'))
    .execute();
  await db.schema.createIndex('pipeline_stages_pipeline_idx').on('pipeline_stages').columns(['pipeline_id', 'position']).execute();

  await recordTable(db, 'deals', (t) =>
    t
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('company_id', 'text', (c) => c.references('companies.id'))
      .addColumn('contact_id', 'text', (c) => c.references('contacts.id'))
      .addColumn('pipeline_id', 'text', (c) => c.notNull().references('pipelines.id'))
      .addColumn('stage_id', 'text', (c) => c.notNull().references('pipeline_stages.id'))
      .addColumn('amount_cents', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('currency', 'text', (c) => c.notNull().defaultTo('CNY'))
      .addColumn('expected_close_date', 'text')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('open'))
      .addColumn('lost_reason', 'text')
      .addColumn('closed_at', 'text')
      .addColumn('description', 'text'),
  );
  await liveIndex(db, 'deals', ['company_id', 'created_at', 'id']);
  await liveIndex(db, 'deals', ['stage_id', 'created_at', 'id']);
  await liveIndex(db, 'deals', ['amount_cents', 'id']);

  await recordTable(db, 'activities', (t) =>
    t
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('body', 'text')
      .addColumn('due_at', 'text')
      .addColumn('completed_at', 'text')
      .addColumn('related_type', 'text')
      .addColumn('related_id', 'text'),
  );
  await liveIndex(db, 'activities', ['related_id', 'created_at', 'id']);
  await liveIndex(db, 'activities', ['owner_id', 'due_at', 'id']);

  await recordTable(db, 'tickets', (t) =>
    t
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('new'))
      .addColumn('priority', 'text', (c) => c.notNull().defaultTo('normal'))
      .addColumn('channel', 'text')
      .addColumn('assignee_id', 'text', (c) => c.references('users.id'))
      .addColumn('contact_id', 'text', (c) => c.references('contacts.id'))
      .addColumn('company_id', 'text', (c) => c.references('companies.id'))
      .addColumn('sla_due_at', 'text')
      .addColumn('solved_at', 'text')
      .addColumn('closed_at', 'text'),
  );
  await liveIndex(db, 'tickets', ['status', 'priority', 'id']);
  await liveIndex(db, 'tickets', ['contact_id', 'created_at', 'id']);
  await liveIndex(db, 'tickets', ['company_id', 'created_at', 'id']);

  await db.schema
    .createTable('tags')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('color', 'text', (c) => c.notNull().defaultTo('gray'))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('record_tags')
    .addColumn('tag_id', 'text', (c) => c.notNull().references('tags.id').onDelete('cascade'))
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('record_tags_pk', ['tag_id', 'record_type', 'record_id'])
    .execute();
  await db.schema.createIndex('record_tags_record_idx').on('record_tags').columns(['record_id']).execute();

  await db.schema
    .createTable('custom_fields')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('classification', 'text', (c) => c.notNull())
    .addColumn('options', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('required', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('position', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('custom_fields_key_unique', ['record_type', 'key'])
    .execute();

  await db.schema
    .createTable('custom_values')
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('field_id', 'text', (c) => c.notNull().references('custom_fields.id').onDelete('cascade'))
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('custom_values_pk', ['record_id', 'field_id'])
    .execute();
  await db.schema.createIndex('custom_values_field_idx').on('custom_values').columns(['field_id', 'value']).execute();

  await createSearchIndex(db, dialect);
}

/** The shipped roles (SPEC §2); what each may do is the access-control model's business. */
const BUILTIN_ROLES: [string, string, string][] = [
  ['admin', 'Administrator', 'Runs the system: users, roles, settings, keys, backups.'],
  ['manager', 'Manager', 'Leads a team: pipelines, reports, the team\'s records.'],
  ['sales', 'Sales', 'Works leads, contacts, companies and deals.'],
  ['support', 'Support', 'Works customer service tickets.'],
  ['marketing', 'Marketing', 'Works campaigns, segments and leads.'],
  ['auditor', 'Auditor', 'Reads audit evidence; no customer data.'],
  ['privacy_officer', 'Privacy officer', 'Handles consent and data subject requests.'],
];

/** Columns every CRM record has: identity, optimistic version, ownership, history, soft delete. */
async function recordTable(db: Kysely<any>, name: string, columns: (t: CreateTableBuilder<string, never>) => CreateTableBuilder<string, never>): Promise<void> {
  let table = db.schema
    .createTable(name)
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('owner_id', 'text', (c) => c.references('users.id'))
    .addColumn('team_id', 'text', (c) => c.references('teams.id'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('updated_by', 'text')
    .addColumn('deleted_at', 'text')
    .addColumn('deleted_by', 'text');
  table = columns(table);
  await table.execute();
  await liveIndex(db, name, ['created_at', 'id']);
  await liveIndex(db, name, ['updated_at', 'id']);
  await liveIndex(db, name, ['owner_id', 'created_at', 'id']);
  await db.schema.createIndex(`${name}_deleted_idx`).on(name).columns(['deleted_at', 'id']).where(sql.ref('deleted_at'), 'is not', null).execute();
}

/** An index over the records that are not in the trash, which is what lists read. */
async function liveIndex(db: Kysely<any>, table: string, columns: string[]): Promise<void> {
  await db.schema
    .createIndex(`${table}_${columns.join('_')}_idx`)
    .on(table)
    .columns(columns)
    .where(sql.ref('deleted_at'), 'is', null)
    .execute();
}
