import { Option, type Command } from 'commander';
import { AppError } from '../shared/errors.js';
import { isId } from '../shared/ids.js';
import type { DataDeps } from '../data/record-store.js';
import type { UserView } from '../modules/users/users.service.js';
import { printJson, printLine, printTable } from './output.js';
import { UsageError, readStdin, withDatabase } from './runtime.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

// Services load when a command runs, so `--help` stays quick.
const usersService = () => import('../modules/users/users.service.js');
const teamsService = () => import('../modules/teams/teams.service.js');
const mfaService = () => import('../modules/mfa/mfa.service.js');
const authService = () => import('../modules/auth/auth.service.js');
const passwordsService = () => import('../modules/auth/passwords.service.js');
const sessionsService = () => import('../modules/sessions/sessions.service.js');

/** `user create|list|disable|reset-mfa|reset-password|unlock|sessions|end-sessions|assign-role|remove-role` and `team create|list|add-member`. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('Manage users');

  user
    .command('create')
    .description('Create a user; the password is read from standard input')
    .requiredOption('--email <email>', 'sign-in email address')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--role <role>', 'a role (admin, manager, sales, support, marketing, auditor, privacy_officer, security_officer); repeat for more', collect, [])
    .option('--team <team>', 'team name or id')
    .option('--password-stdin', 'read the password from standard input (required: passwords never go in arguments)')
    .option('--json', 'print the user as JSON')
    .addHelpText('after', '\nExample:\n  printf \'%s\' "$PASSWORD" | rampart user create --email ana@example.com --name "Ana" --role admin --password-stdin')
    .action(async (opts: { email: string; name: string; role: string[]; team?: string; passwordStdin?: boolean; json?: boolean }, command: Command) => {
      if (!opts.passwordStdin) throw new UsageError('Pass --password-stdin and send the password on standard input; a password in an argument would end up in shell history and process lists');
      if (process.stdin.isTTY) process.stderr.write('Type the password, then press Enter and Ctrl-D:\n');
      // One trailing newline is how `echo` and terminals end input, not part of the password.
      const password = (await readStdin()).replace(/\r?\n$/, '');
      if (password === '') throw new UsageError('Standard input held no password');
      await withDatabase(command, async ({ deps, ctx }) => {
        const { createUser } = await usersService();
        const teamId = opts.team === undefined ? null : await resolveTeam(deps, opts.team);
        const created = await createUser(deps, ctx, { email: opts.email, name: opts.name, password, roles: opts.role, teamId });
        if (opts.json) printJson(created);
        else printLine(`Created user ${created.email} (${created.roles.join(', ')}), id ${created.id}`);
      });
    });

  user
    .command('list')
    .description('List users')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const users = await (await usersService()).listUsers(deps, ctx);
        if (opts.json) return printJson(users);
        const teams = new Map((await (await teamsService()).listTeams(deps, ctx)).map((t) => [t.id, t.name]));
        printTable(
          ['EMAIL', 'NAME', 'ROLES', 'TEAM', 'STATUS', 'LAST SIGN-IN'],
          users.map((u) => [u.email, u.name, u.roles.join(','), u.teamId ? (teams.get(u.teamId) ?? u.teamId) : '-', u.status, u.lastLoginAt ?? 'never']),
        );
      });
    });

  user
    .command('disable')
    .description('Disable a user: their sessions end and their API tokens stop working at once')
    .argument('<email>', 'the user\'s email address')
    .option('--json', 'print the user as JSON')
    .action(async (email: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await requireUser(deps, email);
        const disabled = await (await usersService()).disableUser(deps, ctx, found.id);
        if (opts.json) printJson(disabled);
        else printLine(`Disabled ${disabled.email}`);
      });
    });

  user
    .command('reset-mfa')
    .description('Remove a user\'s second factors and recovery codes and end their sessions, for someone who lost their phone; they set up a new one at their next sign-in')
    .argument('<email>', "the user's email address")
    .option('--json', 'print what was removed as JSON')
    .action(async (email: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await requireUser(deps, email);
        const result = await (await mfaService()).resetMfa(deps, ctx, found.id);
        if (opts.json) printJson(result);
        else printLine(`Reset the second factors of ${found.email}: ${result.factorsRemoved} removed, ${result.sessionsEnded} sessions ended`);
      });
    });

  user
    .command('reset-password')
    .description('Make a one-time link that lets a user set a new password (it works once, for 30 minutes, and ends their sessions when used); printed to hand over, or mailed with --mail')
    .argument('<email>', "the user's email address")
    .option('--mail', 'mail the link to the user instead of printing it')
    .option('--json', 'print the result as JSON')
    .action(async (email: string, opts: { mail?: boolean; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await requireUser(deps, email);
        const passwords = await passwordsService();
        if (opts.mail) {
          const result = await passwords.sendResetLink(deps, ctx, found.id);
          if (opts.json) printJson({ mailed: true, ...result });
          else printLine(`Mailed ${found.email} a link to set a new password; it works once, for ${result.expiresInMinutes} minutes`);
          return;
        }
        const result = await passwords.resetLinkFor(deps, ctx, found.email);
        if (opts.json) printJson(result);
        else printLine(`Give ${found.email} this link to set a new password; it works once, for ${result.expiresInMinutes} minutes:\n\n  ${result.link}\n`);
      });
    });

  user
    .command('unlock')
    .description('Lift the sign-in lock that a hundred failed attempts in a row put on a user, and forget their failures')
    .argument('<email>', "the user's email address")
    .option('--json', 'print the result as JSON')
    .action(async (email: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await requireUser(deps, email);
        const result = await (await authService()).unlockSignInOf(deps, ctx, found.id);
        if (opts.json) printJson(result);
        else printLine(result.unlocked ? `Unlocked sign-in for ${found.email}` : `${found.email} had no failed sign-ins to forget`);
      });
    });

  user
    .command('sessions')
    .description("List a user's sessions: device, address, when last seen")
    .argument('<email>', "the user's email address")
    .option('--json', 'print the sessions as JSON')
    .action(async (email: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await requireUser(deps, email);
        const sessions = await (await sessionsService()).listUserSessions(deps, ctx, found.id);
        if (opts.json) printJson(sessions);
        else printTable(['device', 'address', 'last seen', 'ends', 'stage'], sessions.map((s) => [s.device, s.sourceAddress ?? '', s.lastSeenAt, s.expiresAt, s.stage]));
      });
    });

  user
    .command('end-sessions')
    .description('End all of a user\'s sessions at once; they sign in again')
    .argument('<email>', "the user's email address")
    .option('--json', 'print the result as JSON')
    .action(async (email: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await requireUser(deps, email);
        const result = await (await sessionsService()).endUserSessions(deps, ctx, found.id);
        if (opts.json) printJson(result);
        else printLine(`Ended ${result.ended} session${result.ended === 1 ? '' : 's'} of ${found.email}`);
      });
    });

  user
    .command('assign-role')
    .description("Give a user a role in addition to theirs; it applies to the user's next request")
    .argument('<email>', "the user's email address")
    .argument('<role>', 'role id')
    .option('--json', 'print the user as JSON')
    .action((email: string, role: string, opts: { json?: boolean }, command: Command) => changeRoles(command, email, opts, (held) => [...held, role]));

  user
    .command('remove-role')
    .description("Take a role from a user; it applies to the user's next request")
    .argument('<email>', "the user's email address")
    .argument('<role>', 'role id')
    .option('--json', 'print the user as JSON')
    .action((email: string, role: string, opts: { json?: boolean }, command: Command) =>
      changeRoles(command, email, opts, (held, user) => {
        if (!held.includes(role)) throw new UsageError(`${user} does not hold ${role}`);
        return held.filter((r) => r !== role);
      }),
    );

  const team = program.command('team').description('Manage teams');

  team
    .command('add-member')
    .description("Move a user into a team (a user belongs to one); it applies to the user's next request")
    .argument('<team>', 'team name or id')
    .argument('<email>', "the user's email address")
    .option('--json', 'print the user as JSON')
    .action(async (teamName: string, email: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const found = await requireUser(deps, email);
        const teamId = await resolveTeam(deps, teamName);
        const changed = await (await usersService()).setUserAccess(deps, ctx, found.id, { teamId });
        if (opts.json) printJson(changed);
        else printLine(`${changed.email} is now in team ${teamName}`);
      });
    });

  team
    .command('create')
    .description('Create a team')
    .argument('<name>', 'team name')
    .addOption(new Option('--parent <team>', 'parent team name or id'))
    .option('--json', 'print the team as JSON')
    .action(async (name: string, opts: { parent?: string; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const parentId = opts.parent === undefined ? null : await resolveTeam(deps, opts.parent);
        const created = await (await teamsService()).createTeam(deps, ctx, { name, parentId });
        if (opts.json) printJson(created);
        else printLine(`Created team ${created.name}, id ${created.id}`);
      });
    });

  team
    .command('list')
    .description('List teams')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const teams = await (await teamsService()).listTeams(deps, ctx);
        if (opts.json) return printJson(teams);
        const names = new Map(teams.map((t) => [t.id, t.name]));
        printTable(['NAME', 'PARENT', 'ID'], teams.map((t) => [t.name, t.parentId ? (names.get(t.parentId) ?? t.parentId) : '-', t.id]));
      });
    });
}

/** Gives a user the roles `next` makes of theirs, and says what they hold now. */
async function changeRoles(command: Command, email: string, opts: { json?: boolean }, next: (held: string[], user: string) => string[]): Promise<void> {
  await withDatabase(command, async ({ deps, ctx }) => {
    const found = await requireUser(deps, email);
    const changed = await (await usersService()).setUserAccess(deps, ctx, found.id, { roles: next(found.roles, found.email) });
    if (opts.json) printJson(changed);
    else printLine(`${changed.email} now holds ${changed.roles.join(', ')}`);
  });
}

/** Finds a user by email for commands that name one. */
export async function requireUser(deps: DataDeps, email: string): Promise<UserView> {
  const found = await (await usersService()).findUserByEmail(deps, email);
  if (!found) throw new AppError('user.not_found', 'No user has that email address');
  return found;
}

async function resolveTeam(deps: DataDeps, nameOrId: string): Promise<string> {
  const byName = await (await teamsService()).findTeamByName(deps, nameOrId);
  if (byName) return byName.id;
  if (isId(nameOrId)) return nameOrId;
  throw new AppError('team.not_found', 'No team has that name');
}
