import type { Command } from 'commander';
import { printJson, printLine, progressBar } from './output.js';
import { withDatabase } from './runtime.js';

/** `audit verify`. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('The tamper-evident audit log');

  audit
    .command('verify')
    .description('Recompute every entry of the audit chain and its Merkle tree head; exit status 1 if anything was changed, removed or cut off')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { verifyAuditLog } = await import('../data/audit-log.js');
      await withDatabase(command, async ({ deps }) => {
        const bar = progressBar('verifying the audit chain', Boolean(opts.json));
        const result = await verifyAuditLog(deps, (done, total) => bar.update(done, Math.max(total, done)));
        bar.stop();
        if (opts.json) printJson(result);
        else {
          printLine(`${result.entries} entries; tree head ${result.rootHash}`);
          if (result.problems.length === 0) printLine('The chain is intact.');
          else for (const p of result.problems) printLine(`BROKEN ${p.seq === null ? 'log' : `entry ${p.seq}`}: ${p.problem}`);
        }
        if (result.problems.length > 0) process.exitCode = 1;
      });
    });
}
