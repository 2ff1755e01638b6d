import fs from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { printJson, printLine, printTable } from './output.js';
import { UsageError } from './runtime.js';
import { SCENARIO_DESCRIPTIONS, SCENARIOS as SCENARIO_NAMES } from '../simulate/names.js';

function whole(min: number, max: number) {
  return (raw: string): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return Number(raw);
  };
}

interface SimulateFlags {
  url: string;
  token?: string;
  tokenStdin?: boolean;
  repeats: number;
  users: number;
  days: number;
  keepUsers?: boolean;
  json?: boolean;
}

/**
 * `simulate SCENARIO|all|normal`: scripted attacks and ordinary work over HTTP against a running
 * instance, with how fast each attack was seen and stopped. It needs no database: only the URL and
 * an administrator's API token.
 */
export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('Play attacks (or days of ordinary work) against a running rehearsal instance and report what detection saw and how fast it contained it')
    .argument('<scenario>', `${SCENARIO_NAMES.join(', ')}, normal, or all`)
    .requiredOption('--url <url>', 'the instance, such as http://127.0.0.1:8080')
    .option('--token <token>', "an administrator's API token (rampart token create)")
    .option('--token-stdin', 'read the token from standard input instead, keeping it out of the process list')
    .option('--repeats <n>', 'runs of each scenario, for the p95 (insider-exfiltration at most 3)', whole(1, 100), 5)
    .option('--users <n>', 'people working ordinary days (normal, all)', whole(1, 500), 20)
    .option('--days <n>', 'working days of ordinary traffic (normal, all)', whole(1, 60), 10)
    .option('--keep-users', 'leave the simulated users enabled and their decoys planted afterwards')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Scenarios:
${SCENARIO_NAMES.map((name) => `  ${name.padEnd(22)}${SCENARIO_DESCRIPTIONS[name]}`).join('\n')}
  ${'normal'.padEnd(22)}--users people working --days ordinary days; counts false alerts
  ${'all'.padEnd(22)}every scenario, then normal, and the verdicts

The instance must trust X-Forwarded-For (RAMPART_TRUST_PROXY=true), so that one machine can play
many addresses, and insider-exfiltration and normal need RAMPART_SIMULATED_CLOCK=on, which lets the
token move the server's clock forward. Never point it at a production server: it signs in with
made-up passwords, blocks addresses, locks the accounts it creates and moves the clock.

The exit status is 0 when every verdict passes, 1 otherwise.`,
    )
    .action(async (scenario: string, flags: SimulateFlags) => {
      const chosen = scenario === 'all' ? [...SCENARIO_NAMES] : scenario === 'normal' ? [] : (SCENARIO_NAMES as readonly string[]).includes(scenario) ? [scenario as (typeof SCENARIO_NAMES)[number]] : null;
      if (chosen === null) throw new UsageError(`Unknown scenario ${scenario}: choose ${SCENARIO_NAMES.join(', ')}, normal or all`);
      const token = flags.tokenStdin ? fs.readFileSync(0, 'utf8').trim() : flags.token;
      if (!token) throw new UsageError('Give an administrator\'s API token with --token or --token-stdin');
      const { runSimulation, formatMs } = await import('../simulate/run.js');
      const { SimulationError } = await import('../simulate/client.js');
      let report;
      try {
        report = await runSimulation({
          url: flags.url,
          token,
          scenarios: chosen,
          repeats: flags.repeats,
          normal: scenario === 'all' || scenario === 'normal' ? { users: flags.users, days: flags.days } : null,
          cleanUp: !flags.keepUsers,
          log: (line) => {
            if (!flags.json) process.stderr.write(`${line}\n`);
          },
        });
      } catch (error) {
        if (error instanceof SimulationError) throw new UsageError(error.message);
        throw error;
      }
      process.exitCode = report.passed ? 0 : 1;
      if (flags.json) return printJson(report);
      if (report.scenarios.length > 0) {
        printLine();
        printTable(
          ['SCENARIO', 'DETECTED', 'RULE', 'DETECT P95', 'CONTAINED', 'CONTAIN P95', 'CONTAINED BY'],
          report.scenarios.map((s) => [
            s.scenario,
            `${s.detected}/${s.runs.length}`,
            [...new Set(s.runs.flatMap((r) => (r.rule ? [r.rule] : [])))].join(',') || '-',
            formatMs(s.detectP95Ms),
            `${s.contained}/${s.runs.length}`,
            formatMs(s.containP95Ms),
            [...new Set(s.runs.flatMap((r) => (r.containedBy ? [r.containedBy] : [])))].join(',') || '-',
          ]),
        );
        const notes = report.scenarios.flatMap((s) => [...new Set(s.runs.flatMap((r) => (r.note && !r.detected ? [`${s.scenario}: ${r.note}`] : [])))]);
        for (const note of notes) printLine(`  ${note}`);
      }
      if (report.normal) {
        const n = report.normal;
        printLine();
        printLine(
          `Normal traffic: ${n.users} users × ${n.days} days = ${n.userDays} user-days, ${n.requests} requests in ${formatMs(n.realMs)}; ` +
            `${n.falseAlerts.length} false alert${n.falseAlerts.length === 1 ? '' : 's'} = ${n.perHundredUserDays.toFixed(2)} per 100 user-days` +
            (n.interruptions > 0 ? `; ordinary people were refused ${n.interruptions} time${n.interruptions === 1 ? '' : 's'}` : ''),
        );
        for (const alert of n.falseAlerts) printLine(`  ${alert.rule} (${alert.severity}): ${alert.summary}`);
      }
      printLine();
      printLine('Done when:');
      for (const v of report.verdicts) printLine(`  ${v.passed ? 'PASS' : 'FAIL'}  ${v.check} (${v.detail})`);
      printLine(`\n${report.requests} requests in ${formatMs(report.realMs)}; run ${report.runId}.`);
    });
}
