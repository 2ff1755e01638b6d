import type { Command } from 'commander';
import type { AlertDetail, AlertTransition } from '../modules/alerts/alerts.service.js';
import type { RuleInput } from '../modules/detection/detection.service.js';
import type { HoneytokenType } from '../modules/honeytokens/honeytokens.service.js';
import { printJson, printLine, printTable } from './output.js';
import { UsageError, withDatabase } from './runtime.js';

// Services load when a command runs, so `--help` stays quick.
const alertsService = () => import('../modules/alerts/alerts.service.js');
const detectionService = () => import('../modules/detection/detection.service.js');
const containmentService = () => import('../modules/detection/containment.service.js');
const honeytokensService = () => import('../modules/honeytokens/honeytokens.service.js');

/** `alerts …`, `detection …`, `honeytoken …` and `lockdown …`: breach detection from the server's command line. */
export function registerAlertCommands(program: Command): void {
  registerAlerts(program);
  registerDetection(program);
  registerHoneytokens(program);
  registerLockdown(program);
}

function registerAlerts(program: Command): void {
  const alerts = program.command('alerts').description('List and handle the alerts breach detection raised');

  alerts
    .command('list')
    .description('List alerts, newest first')
    .option('--status <statuses>', 'only these statuses, comma-separated (open, acknowledged, resolved, false_positive)')
    .option('--severity <severities>', 'only these severities, comma-separated (low, medium, high, critical)')
    .option('--rule <rules>', 'only these rules, comma-separated')
    .option('--since <time>', 'raised at or after this date or ISO-8601 time')
    .option('--limit <n>', 'at most this many (1 to 200, default 50)')
    .option('--json', 'print as JSON')
    .action(async (opts: { status?: string; severity?: string; rule?: string; since?: string; limit?: string; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const { listAlerts, parseAlertQuery } = await alertsService();
        const page = await listAlerts(
          deps,
          ctx,
          parseAlertQuery({
            ...(opts.status !== undefined ? { status: opts.status } : {}),
            ...(opts.severity !== undefined ? { severity: opts.severity } : {}),
            ...(opts.rule !== undefined ? { rule: opts.rule } : {}),
            ...(opts.since !== undefined ? { since: opts.since } : {}),
            ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
          }),
        );
        if (opts.json) return printJson(page.items);
        printTable(
          ['ID', 'SEVERITY', 'STATUS', 'RULE', 'EVENTS', 'LAST SEEN', 'SUMMARY'],
          page.items.map((a) => [a.id, a.severity, a.status, a.rule, String(a.eventCount), a.lastSeenAt, a.summary]),
        );
        if (page.nextCursor) process.stderr.write('More alerts match; narrow the filters or raise --limit.\n');
      });
    });

  alerts
    .command('show')
    .description('Show an alert with its evidence and the responses taken or offered')
    .argument('<id>', 'alert id')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const alert = await (await alertsService()).getAlert(deps, ctx, id);
        if (opts.json) return printJson(alert);
        printAlert(alert);
      });
    });

  const transitions: [string, AlertTransition, string][] = [
    ['ack', 'acknowledge', 'Acknowledge an open alert: someone is on it'],
    ['resolve', 'resolve', 'Resolve an alert: it was real and is dealt with'],
    ['false-positive', 'false_positive', 'Mark an alert a false positive; the baselines learn from it'],
  ];
  for (const [name, transition, description] of transitions) {
    alerts
      .command(name)
      .description(description)
      .argument('<id>', 'alert id')
      .option('--note <text>', 'what to note on the alert')
      .option('--json', 'print the alert as JSON')
      .action(async (id: string, opts: { note?: string; json?: boolean }, command: Command) => {
        await withDatabase(command, async ({ deps, ctx }) => {
          const { getAlert, transitionAlert } = await alertsService();
          const current = await getAlert(deps, ctx, id);
          const changed = await transitionAlert(deps, ctx, id, transition, { version: current.version, ...(opts.note !== undefined ? { note: opts.note } : {}) });
          if (opts.json) return printJson(changed);
          printLine(`Alert ${changed.id} is now ${changed.status.replace('_', ' ')}`);
        });
      });
  }
}

function printAlert(alert: AlertDetail): void {
  const line = (label: string, value: string | number | null) => printLine(`${label.padEnd(14)}${value ?? '-'}`);
  line('ID', alert.id);
  line('Rule', alert.rule);
  line('Severity', alert.severity);
  line('Status', alert.status);
  line('Summary', alert.summary);
  line('Actor', alert.actorId === null ? null : `${alert.actorKind ?? ''} ${alert.actorId}`.trim());
  line('Address', alert.sourceAddress);
  line('Events', alert.eventCount);
  line('First seen', alert.firstSeenAt);
  line('Last seen', alert.lastSeenAt);
  line('Handled by', alert.handledBy === null ? null : `${alert.handledBy} at ${alert.handledAt}`);
  line('Note', alert.note);
  line('Incident', alert.incidentId);
  line('Audit entries', alert.evidence.auditSeqs.join(', ') || null);
  line('Figures', Object.keys(alert.evidence.figures).length > 0 ? JSON.stringify(alert.evidence.figures) : null);
  printLine();
  printTable(
    ['RESPONSE', 'KIND', 'STATE', 'TARGET', 'EXECUTED', 'REVERSED'],
    alert.responses.map((r) => [r.id, r.kind, r.state, r.target ?? '', r.executedAt ?? '', r.reversedAt ?? '']),
  );
}

function registerDetection(program: Command): void {
  const detection = program.command('detection').description('Breach detection: its rules and how far it has read');

  detection
    .command('rules')
    .description('List the detection rules with their settings')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const rules = await (await detectionService()).listRules(deps, ctx);
        if (opts.json) return printJson(rules);
        printTable(
          ['RULE', 'ENABLED', 'SEVERITY', 'AUTOMATIC', 'SUGGESTED', 'SETTINGS'],
          rules.map((r) => [r.key, r.enabled ? 'yes' : 'no', r.severity, r.automatic.join(',') || '-', r.suggested.join(',') || '-', settingsText(r.settings)]),
        );
      });
    });

  detection
    .command('rule')
    .description('Change a rule: switch it on or off, its severity, its thresholds, its responses')
    .argument('<key>', 'rule key, such as auth.brute_force')
    .option('--enabled', 'switch the rule on')
    .option('--disabled', 'switch the rule off')
    .option('--severity <severity>', 'low, medium, high or critical')
    .option('--set <key=value>', 'a threshold, such as failures=10; repeat for more', collect, [])
    .option('--automatic <kinds>', 'responses taken at once, comma-separated (notify, step_up, end_sessions, lock_account, block_address, lockdown); "none" for none')
    .option('--suggested <kinds>', 'responses offered to a person, comma-separated; "none" for none')
    .option('--json', 'print the rule as JSON')
    .action(async (key: string, opts: { enabled?: boolean; disabled?: boolean; severity?: string; set: string[]; automatic?: string; suggested?: string; json?: boolean }, command: Command) => {
      if (opts.enabled && opts.disabled) throw new UsageError('Give --enabled or --disabled, not both');
      await withDatabase(command, async ({ deps, ctx }) => {
        const { listRules, updateRule } = await detectionService();
        const current = (await listRules(deps, ctx)).find((r) => r.key === key);
        if (!current) throw new UsageError(`No rule ${key.slice(0, 80)}; see rampart detection rules`);
        const settings: Record<string, unknown> = { ...current.settings };
        for (const pair of opts.set) {
          const at = pair.indexOf('=');
          if (at < 1) throw new UsageError(`--set takes key=value, not ${pair.slice(0, 80)}`);
          settings[pair.slice(0, at)] = settingValue(pair.slice(at + 1));
        }
        // The service checks every field against the rule's schema; the command line passes them on as typed.
        const updated = await updateRule(deps, ctx, key, {
          enabled: opts.enabled ? true : opts.disabled ? false : current.enabled,
          severity: opts.severity ?? current.severity,
          settings,
          automatic: opts.automatic === undefined ? current.automatic : kinds(opts.automatic),
          suggested: opts.suggested === undefined ? current.suggested : kinds(opts.suggested),
          version: current.version,
        } as RuleInput);
        if (opts.json) return printJson(updated);
        printLine(`Rule ${updated.key}: ${updated.enabled ? 'enabled' : 'disabled'}, ${updated.severity}, ${settingsText(updated.settings)}`);
      });
    });

  detection
    .command('status')
    .description('How far the engine has read, which process runs it, and whether a lockdown is in force')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const status = await (await detectionService()).detectionStatus(deps, ctx);
        const lockdown = await (await containmentService()).lockdownStatus(deps, ctx);
        if (opts.json) return printJson({ ...status, lockdown });
        printLine(`Engine        ${status.leaseHolder ?? 'not running'}`);
        printLine(`Last run      ${status.lastRunAt ?? 'never'}`);
        printLine(`Audit log     read to entry ${status.auditSeq} of ${status.auditHead} (${status.lagEntries} behind)`);
        printLine(`Lockdown      ${lockdown ? `in force since ${lockdown.startedAt}: ${lockdown.reason}` : 'none'}`);
      });
    });
}

function registerHoneytokens(program: Command): void {
  const honeytoken = program.command('honeytoken').description('Decoy customer records that nobody\'s real work touches: opening one raises an alert');

  honeytoken
    .command('plant')
    .description('Plant decoy contacts or companies that look like any other')
    .requiredOption('--type <type>', 'contacts or companies')
    .requiredOption('--count <n>', 'how many, 1 to 50')
    .option('--owner <email>', 'the user to own every decoy (default: spread over owners as real records are)')
    .option('--json', 'print the decoys as JSON')
    .action(async (opts: { type: string; count: string; owner?: string; json?: boolean }, command: Command) => {
      if (!/^\d{1,3}$/.test(opts.count)) throw new UsageError('--count takes a whole number from 1 to 50');
      await withDatabase(command, async ({ deps, ctx }) => {
        let ownerId: string | undefined;
        if (opts.owner !== undefined) {
          const { findUserByEmail } = await import('../modules/users/users.service.js');
          const owner = await findUserByEmail(deps, opts.owner);
          if (!owner) throw new UsageError('--owner names no user');
          ownerId = owner.id;
        }
        const planted = await (await honeytokensService()).plantHoneytokens(deps, ctx, { recordType: opts.type as HoneytokenType, count: Number(opts.count), ...(ownerId ? { ownerId } : {}) });
        if (opts.json) return printJson(planted);
        printLine(`Planted ${planted.length} decoy ${opts.type}:`);
        for (const h of planted) printLine(`  ${h.recordId}  ${h.label}`);
      });
    });

  honeytoken
    .command('list')
    .description('List the decoys')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const list = await (await honeytokensService()).listHoneytokens(deps, ctx);
        if (opts.json) return printJson(list);
        printTable(['ID', 'TYPE', 'NAME', 'PLANTED', 'BY', 'IN TRASH'], list.map((h) => [h.recordId, h.recordType, h.label, h.plantedAt, h.plantedBy, h.inTrash ? 'yes' : '']));
      });
    });

  honeytoken
    .command('remove')
    .description('Take a decoy away: a contact is erased, a company moved to the trash')
    .argument('<id>', 'the decoy record id (from honeytoken list)')
    .option('--json', 'print {"removed": id} as JSON')
    .action(async (id: string, opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        await (await honeytokensService()).removeHoneytoken(deps, ctx, id);
        if (opts.json) return printJson({ removed: id });
        printLine(`Removed decoy ${id}`);
      });
    });
}

function registerLockdown(program: Command): void {
  const lockdown = program.command('lockdown').description('Organisation-wide read-only mode: writes only by those who handle alerts, no exports');

  lockdown
    .command('on')
    .description('Start a lockdown (every server process enforces it within about a second)')
    .requiredOption('--reason <text>', 'why, 1 to 500 characters')
    .option('--json', 'print the lockdown as JSON')
    .action(async (opts: { reason: string; json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const started = await (await containmentService()).startLockdown(deps, ctx, { reason: opts.reason });
        if (opts.json) return printJson(started);
        printLine(`Lockdown in force since ${started.startedAt}`);
      });
    });

  lockdown
    .command('off')
    .description('Lift the lockdown')
    .option('--json', 'print {"lifted": true|false} as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const result = await (await containmentService()).liftLockdown(deps, ctx);
        if (opts.json) return printJson(result);
        printLine(result.lifted ? 'Lockdown lifted' : 'There was no lockdown');
      });
    });

  lockdown
    .command('status')
    .description('Whether a lockdown is in force')
    .option('--json', 'print {"lockdown": …|null} as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withDatabase(command, async ({ deps, ctx }) => {
        const current = await (await containmentService()).lockdownStatus(deps, ctx);
        if (opts.json) return printJson({ lockdown: current });
        printLine(current ? `Lockdown in force since ${current.startedAt}: ${current.reason}` : 'No lockdown');
      });
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A --set value: a number, true or false, a JSON list or object, or else the text itself. */
function settingValue(raw: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw.startsWith('[') || raw.startsWith('{')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new UsageError('A --set value that starts with [ or { must be JSON');
    }
  }
  return raw;
}

function kinds(raw: string): string[] {
  return raw === 'none' ? [] : raw.split(',').map((k) => k.trim()).filter(Boolean);
}

function settingsText(settings: Record<string, unknown>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
}
