import fs from 'node:fs';
import { Command } from 'commander';
import { registerDemoCommand } from './demo.command.js';
import { registerAlertCommands } from './alerts.command.js';
import { registerAuditCommands } from './audit.command.js';
import { registerBackupCommands } from './backup.command.js';
import { registerBreakGlassCommands } from './break-glass.command.js';
import { registerKeyCommands } from './keys.command.js';
import { reportFailure } from './output.js';
import { registerRoleCommands } from './role.command.js';
import { registerServerCommands } from './server.command.js';
import { registerTokenCommands } from './token.command.js';
import { registerTransferCommands } from './transfer.command.js';
import { registerTrashCommands } from './trash.command.js';
import { registerUserCommands } from './user.command.js';
import { registerSimulateCommand } from './simulate.command.js';

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The `rampart` command line: a thin layer over the same services the HTTP API uses. */
export function buildProgram(): Command {
  const program = new Command('rampart')
    .description('Rampart: a self-hosted CRM that keeps customer data from leaking, getting lost or being misused.')
    .version(packageVersion(), '-v, --version')
    .option('--data-dir <dir>', 'where Rampart keeps its data (overrides RAMPART_DATA_DIR; default ./data)')
    .option('--as <email>', "act as this user, with exactly the user's roles and team (default: the operator, with every right)")
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError()
    .exitOverride();
  registerServerCommands(program);
  registerUserCommands(program);
  registerRoleCommands(program);
  registerTokenCommands(program);
  registerTransferCommands(program);
  registerDemoCommand(program);
  registerKeyCommands(program);
  registerAuditCommands(program);
  registerBackupCommands(program);
  registerSimulateCommand(program);
  registerBreakGlassCommands(program);
  registerAlertCommands(program);
  registerTrashCommands(program);
  return program;
}

/** Runs the CLI and answers the exit status: 0 only when the command did what it was asked. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportFailure(error, argv.includes('--json'));
  }
}
