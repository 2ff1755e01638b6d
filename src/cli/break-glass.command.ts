import type { Command } from 'commander';
import { printJson, printLine } from './output.js';
import { UsageError, withDatabase } from './runtime.js';

// Services load when a command runs, so `--help` stays quick.
const containment = () => import('../modules/detection/containment.service.js');

/**
 * `break-glass`, `unlock` and `unblock`: the operator's way back in when detection, or someone who
 * handles alerts, has shut people out. They run on the server host against the database directly,
 * never over HTTP, so no address block, account lock or lockdown can stand in their way.
 */
export function registerBreakGlassCommands(program: Command): void {
  program
    .command('break-glass')
    .description('Let an administrator back in: lift the lockdown and every address block, and unlock the account (also its sign-in lock)')
    .requiredOption('--email <email>', "the administrator's email address")
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Use it when every account that could undo an automatic response is locked, or lockdown and',
        'blocks keep everyone out. It is recorded in the audit log as detection.break_glass. Sign in',
        'as that administrator afterwards and review the alerts that led here.',
      ].join('\n'),
    )
    .action(async (opts: { email: string; json?: boolean }, command: Command) => {
      if (command.optsWithGlobals<{ as?: string }>().as !== undefined) throw new UsageError('break-glass acts as the operator; leave out --as');
      await withDatabase(command, async ({ deps, ctx }) => {
        const result = await (await containment()).breakGlass(deps, ctx, opts.email);
        if (opts.json) return printJson(result);
        printLine(`Lifted ${result.lockdownsLifted === 0 ? 'no lockdown' : 'the lockdown'} and ${result.blocksLifted} address block${result.blocksLifted === 1 ? '' : 's'}.`);
        printLine(result.unlocked ? `Unlocked ${opts.email}.` : `${opts.email} was not locked.`);
        if (result.signInUnlocked) printLine('Cleared its failed sign-ins and sign-in lock.');
        if (!result.active) printLine(`Warning: ${opts.email} is disabled; break-glass does not enable accounts.`);
        if (!result.handlesAlerts) printLine(`Warning: ${opts.email} holds no role with alerts.handle, so cannot undo automatic responses in the app.`);
      });
    });

  program
    .command('unlock')
    .description('Unlock an account that detection or someone who handles alerts locked')
    .requiredOption('--email <email>', "the user's email address")
    .option('--json', 'print the result as JSON')
    .action(async (opts: { email: string; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const { findUserByEmail } = await import('../modules/users/users.service.js');
        const user = await findUserByEmail(deps, opts.email);
        if (!user) throw new UsageError('No user has that email');
        const result = await (await containment()).unlockAccount(deps, ctx, user.id);
        if (opts.json) return printJson(result);
        printLine(result.unlocked ? `Unlocked ${user.email}` : `${user.email} was not locked`);
      });
    });

  program
    .command('unblock')
    .description('Lift the blocks in force on an address')
    .argument('<address>', 'an IPv4 or IPv6 address')
    .option('--json', 'print the result as JSON')
    .action(async (address: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const result = await (await containment()).liftBlocksOn(deps, ctx, address);
        if (opts.json) return printJson(result);
        printLine(`Lifted ${result.lifted} block${result.lifted === 1 ? '' : 's'} on ${address}`);
      });
    });
}
