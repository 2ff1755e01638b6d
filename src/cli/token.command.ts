import type { Command } from 'commander';
import { printJson, printLine, printTable } from './output.js';
import { withDatabase } from './runtime.js';
import { requireUser } from './user.command.js';

const tokensService = () => import('../modules/tokens/tokens.service.js');

/** `token create|list|revoke`. */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('Manage API tokens');

  token
    .command('create')
    .description('Create an API token for a user; the token is shown once and stored only as a hash')
    .requiredOption('--user <email>', 'the user the token acts as')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--scopes <scopes>', 'comma-separated scopes such as contacts:read,deals:write (default *:read,*:write)')
    .option('--expires <when>', 'lifetime such as 30d, or an ISO date (default 90d, at most 366d)')
    .option('--json', 'print {"token": "…"} as JSON')
    .action(async (opts: { user: string; name: string; scopes?: string; expires?: string; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const owner = await requireUser(deps, opts.user);
        const scopes = opts.scopes?.split(',').map((s) => s.trim()).filter(Boolean);
        const { createToken } = await tokensService();
        const { token: secret, record } = await createToken(deps, ctx, { userId: owner.id, name: opts.name, ...(scopes ? { scopes } : {}), ...(opts.expires ? { expires: opts.expires } : {}) });
        if (opts.json) {
          printJson({ token: secret });
        } else {
          process.stderr.write(`Token ${record.id} for ${owner.email}, scopes ${record.scopes.join(',')}, expires ${record.expiresAt}. It is shown only now:\n`);
          printLine(secret);
        }
      });
    });

  token
    .command('list')
    .description('List API tokens (never the tokens themselves)')
    .option('--user <email>', 'only this user\'s tokens')
    .option('--json', 'print as JSON')
    .action(async (opts: { user?: string; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const owner = opts.user === undefined ? undefined : await requireUser(deps, opts.user);
        const tokens = await (await tokensService()).listTokens(deps, ctx, owner?.id);
        if (opts.json) return printJson(tokens);
        const { listUsers } = await import('../modules/users/users.service.js');
        const emails = new Map((await listUsers(deps, ctx)).map((u) => [u.id, u.email]));
        printTable(
          ['ID', 'USER', 'NAME', 'PREFIX', 'SCOPES', 'EXPIRES', 'LAST USED', 'FROM', 'STATE'],
          tokens.map((t) => [
            t.id,
            emails.get(t.userId) ?? t.userId,
            t.name,
            `${t.prefix}…`,
            t.scopes.join(','),
            t.expiresAt,
            t.lastUsedAt ?? 'never',
            t.lastUsedAddress ?? '',
            t.revokedAt ? 'revoked' : new Date(t.expiresAt) <= new Date() ? 'expired' : 'active',
          ]),
        );
      });
    });

  token
    .command('revoke')
    .description('Revoke an API token; it stops working at once')
    .argument('<id>', 'the token id (from token list)')
    .option('--json', 'print the token record as JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const revoked = await (await tokensService()).revokeToken(deps, ctx, id);
        if (opts.json) printJson(revoked);
        else printLine(`Revoked token ${revoked.id} (${revoked.name})`);
      });
    });
}
