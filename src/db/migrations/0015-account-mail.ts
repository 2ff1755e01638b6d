import { sql, type Kysely } from 'kysely';

/**
 * What an account hears about itself. Password reset links (only a hash of each; one use, short
 * lived, and every earlier link of the user dies with a new one or a password change). Notices
 * of security events on the account (a sign-in from a new device or network, second factors
 * added or removed, the password changed, a token used from a new address), shown in the app and
 * mailed once committed: the row is the outbox, tried again later when the mail server is away. The devices and networks each user has signed in
 * from, so the first sign-in from another stands out.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('password_resets')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .addColumn('superseded_at', 'text')
    .execute();
  await db.schema.createIndex('password_resets_user_idx').on('password_resets').columns(['user_id', 'created_at']).execute();

  await db.schema
    .createTable('notices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('read_at', 'text')
    .addColumn('mail_state', 'text', (c) => c.notNull())
    .addColumn('mail_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('mail_claimed_at', 'text')
    .addColumn('mail_next_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('notices_user_idx').on('notices').columns(['user_id', 'created_at']).execute();
  await db.schema.createIndex('notices_outbox_idx').on('notices').columns(['mail_state', 'mail_next_at']).where(sql<boolean>`mail_state in ('pending', 'sending')`).execute();

  await db.schema
    .createTable('known_sign_ins')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('known_sign_ins_pk', ['user_id', 'kind', 'value'])
    .execute();
}
