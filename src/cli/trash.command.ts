import { Argument, Option, type Command } from 'commander';
import { RECORD_TYPES, type RecordType } from '../data/field-registry.js';
import { printJson, printLine, printTable } from './output.js';
import { UsageError, withDatabase } from './runtime.js';

// Services load when a command runs, so `--help` stays quick.
const trashService = () => import('../modules/trash/trash.service.js');

function wholeNumber(name: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,6}$/.test(raw) || Number(raw) > max) throw new UsageError(`${name} must be a whole number from 0 to ${max}`);
  return Number(raw);
}

/** `trash list` and `trash purge`: the trash from the server's command line. */
export function registerTrashCommands(program: Command): void {
  const trash = program.command('trash').description('What deleted records wait in the trash, and purging them for good');

  trash
    .command('list')
    .description('List the records of a type in the trash, longest there first: id, when and by whom deleted, when purged automatically')
    .addArgument(new Argument('<type>', 'record type').choices(RECORD_TYPES))
    .option('--limit <n>', 'at most this many (1 to 10000, default 200)')
    .option('--json', 'print as JSON')
    .action(async (type: RecordType, opts: { limit?: string; json?: boolean }, command: Command) => {
      const limit = wholeNumber('--limit', opts.limit, 10_000) ?? 200;
      if (limit < 1) throw new UsageError('--limit must be at least 1');
      await withDatabase(command, async ({ deps, ctx }) => {
        const page = await (await trashService()).listTrash(deps, ctx, type, limit);
        if (opts.json) return printJson(page);
        printTable(
          ['ID', 'DELETED AT', 'DELETED BY', 'PURGED AT'],
          page.items.map((e) => [e.id, e.deletedAt, e.deletedBy ?? '-', e.purgeAt]),
        );
        if (page.more) process.stderr.write('More records are in the trash; raise --limit to see them.\n');
      });
    });

  trash
    .command('purge')
    .description('Purge for good the records deleted more than DAYS ago (default RAMPART_TRASH_RETENTION_DAYS), with what hangs off them; audited record.purge')
    .addOption(new Option('--type <type>', 'only this record type').choices(RECORD_TYPES))
    .option('--older-than <days>', 'deleted more than this many days ago; 0 empties the trash')
    .option('--json', 'print as JSON')
    .action(async (opts: { type?: RecordType; olderThan?: string; json?: boolean }, command: Command) => {
      const olderThan = wholeNumber('--older-than', opts.olderThan, 36_500);
      await withDatabase(command, async ({ deps, ctx }) => {
        const days = olderThan ?? deps.config.trashRetentionDays;
        const result = await (await trashService()).purgeExpiredTrash(deps, ctx, { olderThanDays: days, reason: 'manual', ...(opts.type ? { type: opts.type } : {}) });
        if (opts.json) return printJson(result);
        const total = Object.values(result.purged).reduce((sum, n) => sum + (n ?? 0), 0);
        if (total === 0) return printLine(`Nothing in the trash was deleted before ${result.before}.`);
        printTable(['TYPE', 'PURGED'], Object.entries(result.purged).map(([type, n]) => [type, String(n)]));
        printLine(`Purged ${total} records deleted before ${result.before}${result.attached > 0 ? `, ${result.attached} attached records with them` : ''}${result.unlinked > 0 ? `; ${result.unlinked} records no longer point at them` : ''}.`);
      });
    });
}
