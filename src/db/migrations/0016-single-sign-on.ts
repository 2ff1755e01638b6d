import type { Kysely } from 'kysely';

/**
 * Single sign-on with an OpenID provider: the sign-ins in progress, each kept for ten minutes and
 * used once, found by a hash of its `state` and bound to the browser that started it by a hash of
 * a cookie; and the provider identities linked to users, one user per issuer and subject, one
 * identity per user and issuer.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sso_sign_ins')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('browser_hash', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sso_sign_ins_expiry_idx').on('sso_sign_ins').column('expires_at').execute();
  await db.schema
    .createTable('sso_identities')
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('last_used_at', 'text')
    .addPrimaryKeyConstraint('sso_identities_pk', ['issuer', 'subject'])
    .execute();
  // One identity per user at each provider.
  await db.schema.createIndex('sso_identities_user_idx').on('sso_identities').columns(['issuer', 'user_id']).unique().execute();
  // What a single sign-on does to the account (a link, roles from groups) waits on the partial
  // session until Rampart's own second factor completes it.
  await db.schema.alterTable('sessions').addColumn('sso_pending', 'text').execute();
}
