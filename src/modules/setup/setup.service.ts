import type { AnonymousRequest } from '../../data/audit-trail.js';
import type { DataDeps } from '../../data/record-store.js';
import { inTransaction } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import { hashSecret, newSecret } from '../../shared/secrets.js';
import { countUsers, insertUser, type UserView } from '../users/users.service.js';

const SETUP_LINK_LIFETIME_MS = 60 * 60 * 1000;

/**
 * On a start with no users, issues a one-time setup secret valid for one hour and answers the link
 * to print. There is no default password anywhere: whoever can read the server's console sets up
 * the first administrator.
 */
export async function issueSetupLink(deps: DataDeps, publicUrl: string): Promise<string | null> {
  if ((await countUsers(deps)) > 0) return null;
  const secret = newSecret('rpsetup');
  const now = deps.clock.now();
  // Links printed by other server processes on the same database stay valid until they expire.
  await inTransaction(deps, async (tx) => {
    await tx.db.deleteFrom('setup_tokens').where('expires_at', '<=', now.toISOString()).execute();
    await tx.db
      .insertInto('setup_tokens')
      .values({ token_hash: hashSecret(secret), created_at: now.toISOString(), expires_at: new Date(now.getTime() + SETUP_LINK_LIFETIME_MS).toISOString(), used_at: null })
      .execute();
  });
  return `${publicUrl}/setup#token=${secret}`;
}

/** Creates the first administrator with a valid setup secret; the secret works once. */
export async function completeSetup(deps: DataDeps, request: AnonymousRequest, input: { token: string; email: string; name: string; password: string }): Promise<UserView> {
  const invalid = new AppError('setup.invalid_token', 'The setup link is invalid or has expired; restart the server for a new one');
  if (typeof input.token !== 'string' || input.token.length >= 200) throw invalid;
  return inTransaction(deps, async (tx) => {
    if ((await countUsers(tx)) > 0) throw new AppError('setup.already_done', 'Rampart is already set up');
    // Spending the secret is the first write: its row lock makes concurrent requests with the
    // same link wait, and only the one that changed the row goes on to create an administrator.
    const now = tx.clock.now().toISOString();
    const spent = await tx.db
      .updateTable('setup_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hashSecret(input.token))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1) throw invalid;
    return insertUser(tx, request, { email: input.email, name: input.name, password: input.password, roles: ['admin'] });
  });
}

export async function setupStatus(deps: DataDeps): Promise<{ needed: boolean }> {
  return { needed: (await countUsers(deps)) === 0 };
}
