import type { Command } from 'commander';
import { printJson, printLine } from './output.js';
import { withPassphrase } from './passphrase.js';
import { configFor, withDatabase } from './runtime.js';

/** `serve` and `migrate`. */
export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('Run the web app and API (migrates the database first)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1, or RAMPART_HOST)')
    .option('--port <port>', 'port to listen on (default 8080, or RAMPART_PORT)')
    .action(async (opts: { host?: string; port?: string }, command: Command) => {
      const config = await withPassphrase(configFor(command, { HOST: opts.host, PORT: opts.port }));
      const { startServer } = await import('../server.js');
      const server = await startServer(config);
      await server.closed;
    });

  program
    .command('migrate')
    .description('Bring the database schema up to date')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ applied }) => {
        if (opts.json) printJson({ applied });
        else printLine(applied.length === 0 ? 'The database is up to date.' : `Applied ${applied.length} migration(s): ${applied.join(', ')}`);
      });
    });
}
