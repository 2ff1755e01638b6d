import fs from 'node:fs';
import type { Command } from 'commander';
import { printJson, printLine, progressBar } from './output.js';
import { withDatabase } from './runtime.js';

/** `audit verify|checkpoint|key`. */
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
        const { loadAuditSigningKey } = await import('../audit/signing-key-file.js');
        const key = fs.existsSync(deps.config.audit.keyFile) ? loadAuditSigningKey(deps.config.audit.keyFile, '', { create: false }) : null;
        const result = await verifyAuditLog(deps, { ...(key ? { verifierKey: key.verifierKey } : {}), onProgress: (done, total) => bar.update(done, Math.max(total, done)) });
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

  audit
    .command('checkpoint')
    .description("Sign the audit log's current tree head (Ed25519) after verifying the chain, and print the signed checkpoint; keep it off the server")
    .option('--out <file>', 'also append the signed checkpoint to this file')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out?: string; json?: boolean }, command: Command) => {
      const { sealCheckpoint } = await import('../data/audit-log.js');
      const { loadAuditSigningKey } = await import('../audit/signing-key-file.js');
      await withDatabase(command, async ({ deps }) => {
        const key = loadAuditSigningKey(deps.config.audit.keyFile, auditOrigin(deps.config.publicUrl), { create: true });
        const checkpoint = await sealCheckpoint(deps, key);
        if (opts.out) fs.appendFileSync(opts.out, `${checkpoint.note}\n`, { mode: 0o600 });
        if (opts.json) printJson(checkpoint);
        else process.stdout.write(checkpoint.note);
      });
    });

  audit
    .command('key')
    .description('Print the verifier key of the audit signing key, for whoever checks checkpoints')
    .action(async (_opts: unknown, command: Command) => {
      const { loadAuditSigningKey } = await import('../audit/signing-key-file.js');
      await withDatabase(command, async ({ deps }) => {
        printLine(loadAuditSigningKey(deps.config.audit.keyFile, auditOrigin(deps.config.publicUrl), { create: true }).verifierKey);
      });
    });
}

/** The log's name in its checkpoints: the server's host and a path, as transparency logs name theirs. */
function auditOrigin(publicUrl: string): string {
  return `${new URL(publicUrl).host}/rampart-audit`;
}
