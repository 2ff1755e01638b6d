/**
 * Runs one `rampart` command in this process (the same code path as the command line) and then
 * prints, on its last line of standard error, the process's peak resident memory and CPU time: what
 * backup.bench.ts reports for `backup create`, `verify` and `restore`.
 */
import { runCli } from '../src/cli/program.js';

const code = await runCli([process.argv[0]!, 'rampart', ...process.argv.slice(2)]);
const usage = process.resourceUsage();
process.stderr.write(`\n${JSON.stringify({ code, maxRssKb: usage.maxRSS, cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6 })}\n`);
process.exitCode = code;
