import fs from 'node:fs';
import path from 'node:path';
import { Argument, Option, type Command } from 'commander';
import type { RecordType } from '../data/field-registry.js';
import type { ExportQuery } from '../modules/transfer/transfer.export.js';
import type { ImportableType } from '../modules/transfer/transfer.import.js';
import { printJson, printLine, printTable, progressBar } from './output.js';
import { UsageError, withDatabase } from './runtime.js';

const IMPORTABLE_TYPES: readonly ImportableType[] = ['contacts', 'companies'];
const EXPORTABLE_TYPES: readonly RecordType[] = ['contacts', 'companies', 'deals'];

/** Exit status of an import that wrote the good rows but rejected some lines. */
export const EXIT_SOME_REJECTED = 2;

/** `import`, and `export` with its subcommands. */
export function registerTransferCommands(program: Command): void {
  program
    .command('import')
    .description('Import records from a UTF-8 CSV file whose first line names the columns')
    .addArgument(new Argument('<type>', 'what the file holds').choices(IMPORTABLE_TYPES))
    .argument('<file>', 'the CSV file')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Columns are matched to fields by key or label in any case: "First Name", "first_name" and',
        '"firstName" all mean firstName; custom fields by key or label. For contacts, a "company"',
        'column may name a company by name. Unknown columns stop the import before anything is',
        'written. Bad rows are reported by line number (the header is line 1) and skipped.',
        '',
        'Exit status: 0 every row imported, 1 nothing imported (bad file or columns), 2 some lines rejected.',
      ].join('\n'),
    )
    .action(async (type: ImportableType, file: string, opts: { json?: boolean }, command: Command) => {
      const { csvFile, importCsv } = await import('../modules/transfer/transfer.import.js');
      const source = csvFile(file);
      await withDatabase(command, async ({ deps, ctx }) => {
        const bar = progressBar(`import ${type}`, Boolean(opts.json));
        let summary;
        try {
          summary = await importCsv(deps, ctx, type, source, { onProgress: ({ done, total }) => bar.update(done, total) });
        } finally {
          bar.stop();
        }
        if (opts.json) {
          printJson({ type, ...summary });
        } else {
          printLine(`Imported ${summary.imported} ${type}; rejected ${summary.rejected} line${summary.rejected === 1 ? '' : 's'}.`);
          if (summary.ignoredColumns.length > 0) printLine(`Skipped system columns: ${summary.ignoredColumns.join(', ')}`);
          for (const rejected of summary.rejectedLines) {
            printLine(`  line ${rejected.line}: ${rejected.problems.map((p) => `${p.field} ${p.message}`).join('; ')}`);
          }
          if (summary.rejectedLinesTruncated) printLine(`  … and ${summary.rejected - summary.rejectedLines.length} more`);
        }
        if (summary.rejected > 0) process.exitCode = EXIT_SOME_REJECTED;
      });
    });

  registerExportCommands(program);
}

/** Exit status of an export that waits for a second person's approval. */
export const EXIT_AWAITING_APPROVAL = 3;
/** Exit status of a trace that found no export of this installation in the file. */
export const EXIT_NOT_TRACED = 4;

interface ExportOptions {
  out: string;
  reason: string;
  format: 'csv' | 'json';
  force?: boolean;
  json?: boolean;
  where?: string[];
  search?: string;
  sort?: string;
}

/**
 * `export <type>`, `export list`, `export approve|deny`, `export download` and `export trace`: the
 * governed exports of the API, from the server's command line. The operator is not capped but
 * still gives a reason and is recorded; `--as EMAIL` applies that user's caps and approval.
 */
function registerExportCommands(program: Command): void {
  const group = program
    .command('export')
    .description('Export records through the governed export (a reason, caps, approval above a threshold), and manage exports')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  rampart export contacts --out contacts.csv --reason "Quarterly mailing"',
        '  rampart --as ann@example.com export deals --out deals.json --format json --reason "Forecast review"',
        '  rampart export list',
        '  rampart export approve <export or approval id> --note "Checked with the team lead"',
        '  rampart export download <export id> --out deals.json',
        '  rampart export trace found.csv',
        '',
        'Exit status of an export: 0 written, 1 refused or failed, 3 waiting for approval.',
      ].join('\n'),
    );

  for (const type of EXPORTABLE_TYPES) {
    group
      .command(type)
      .description(`Export ${type} to a file readable only by you (mode 0600)`)
      .requiredOption('--out <file>', 'the file to write')
      .requiredOption('--reason <text>', 'why the data is needed (1 to 500 characters; shown to whoever approves it)')
      .addOption(new Option('--format <format>', 'the file format').choices(['csv', 'json']).default('csv'))
      .option('--where <key=value...>', 'only records whose field has this value (repeatable; key[gte]=value for bounds)')
      .option('--search <text>', 'only records matching this full-text search')
      .option('--sort <field>', 'sort by this field, with a leading - for descending')
      .option('--force', 'replace the file if it exists')
      .option('--json', 'print the result as JSON')
      .addHelpText(
        'after',
        [
          '',
          'Without --as, the operator exports everything asked for, recorded in the audit log with the reason.',
          "With --as EMAIL, the user's rights and caps apply: an export above the user's approval threshold is",
          'not written but sent for approval; its id is printed, and once approved, `rampart export download ID`',
          'writes it (within 24 hours, once).',
          '',
          'Exit status: 0 written, 1 refused or failed, 3 waiting for approval.',
        ].join('\n'),
      )
      .action(async (opts: ExportOptions, command: Command) => {
        const file = path.resolve(opts.out);
        if (fs.existsSync(file) && !opts.force) throw new UsageError('The output file exists; choose another name or pass --force');
        const query = queryOf(opts);
        const { requestExport, downloadExport } = await import('../modules/exports/exports.service.js');
        const { writeFileAtomically } = await import('../shared/atomic-file.js');
        await withDatabase(command, async ({ deps, ctx }) => {
          const requested = await requestExport(deps, ctx, { type, format: opts.format, reason: opts.reason, query });
          if (requested.status === 'pending_approval') {
            if (opts.json) printJson({ ...requested, file: null });
            else {
              printLine(`Export ${requested.id} (${requested.rows} ${type}) needs approval: request ${requested.approval?.id}.`);
              printLine(`Once approved, write it with: rampart${ctx.principal.kind === 'cli' && ctx.principal.actingAs ? ' --as <you>' : ''} export download ${requested.id} --out ${opts.out}`);
            }
            process.exitCode = EXIT_AWAITING_APPROVAL;
            return;
          }
          const bar = progressBar(`export ${type}`, Boolean(opts.json));
          let result;
          try {
            result = await writeFileAtomically(file, 'export.invalid_request', { overwrite: Boolean(opts.force) }, (stream) =>
              downloadExport(deps, ctx, requested.id, stream, ({ done, total }) => bar.update(done, total)),
            );
          } finally {
            bar.stop();
          }
          if (opts.json) printJson({ ...result.view, rowsWritten: result.rows, file });
          else printLine(`Exported ${result.rows} ${type} to ${file} (export ${result.view.exportNo}, ${result.view.id})`);
        });
      });
  }

  group
    .command('list')
    .description('List exports, newest first (yours; everyone\'s for the operator and those who oversee exports)')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print the exports as JSON')
    .action(async (opts: { limit: string; json?: boolean }, command: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 200) throw new UsageError('--limit must be 1 to 200');
      const { listExports } = await import('../modules/exports/exports.service.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const page = await listExports(deps, ctx, { limit });
        if (opts.json) {
          printJson(page.items);
          return;
        }
        if (page.items.length === 0) {
          printLine('No exports.');
          return;
        }
        printTable(
          ['NO', 'ID', 'TYPE', 'FORMAT', 'ROWS', 'STATUS', 'BY', 'CREATED'],
          page.items.map((e) => [String(e.exportNo), e.id, e.type, e.format, String(e.rows), e.status, e.requestedBy.label, e.createdAt.slice(0, 16).replace('T', ' ')]),
        );
      });
    });

  for (const decision of ['approve', 'deny'] as const) {
    group
      .command(decision)
      .description(decision === 'approve' ? 'Approve an export waiting for approval (not your own)' : 'Deny an export waiting for approval')
      .argument('<id>', 'the export id, or its approval request id')
      .option('--note <text>', 'a note for the requester (at most 500 characters)')
      .option('--json', 'print the approval request as JSON')
      .action(async (id: string, opts: { note?: string; json?: boolean }, command: Command) => {
        const { getExport } = await import('../modules/exports/exports.service.js');
        const { approveRequest, denyRequest } = await import('../modules/approvals/approvals.service.js');
        const { AppError } = await import('../shared/errors.js');
        await withDatabase(command, async ({ deps, ctx }) => {
          let approvalId = id;
          try {
            const found = await getExport(deps, ctx, id);
            if (!found.approval) throw new AppError('approval.not_found', 'The export needs no approval');
            approvalId = found.approval.id;
          } catch (error) {
            if (!(error instanceof AppError && error.code === 'export.not_found')) throw error;
          }
          const decided = decision === 'approve' ? await approveRequest(deps, ctx, approvalId, opts.note ?? null) : await denyRequest(deps, ctx, approvalId, opts.note ?? null);
          if (opts.json) printJson(decided);
          else printLine(`${decision === 'approve' ? 'Approved' : 'Denied'} request ${decided.id} (${decided.kind}, ${decided.recordCount} records).`);
        });
      });
  }

  group
    .command('download')
    .description('Write a ready export to a file readable only by you (once; within 24 hours)')
    .argument('<id>', 'the export id')
    .requiredOption('--out <file>', 'the file to write')
    .option('--force', 'replace the file if it exists')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, opts: { out: string; force?: boolean; json?: boolean }, command: Command) => {
      const file = path.resolve(opts.out);
      if (fs.existsSync(file) && !opts.force) throw new UsageError('The output file exists; choose another name or pass --force');
      const { downloadExport } = await import('../modules/exports/exports.service.js');
      const { writeFileAtomically } = await import('../shared/atomic-file.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const bar = progressBar('export', Boolean(opts.json));
        let result;
        try {
          result = await writeFileAtomically(file, 'export.invalid_request', { overwrite: Boolean(opts.force) }, (stream) => downloadExport(deps, ctx, id, stream, ({ done, total }) => bar.update(done, total)));
        } finally {
          bar.stop();
        }
        if (opts.json) printJson({ ...result.view, rowsWritten: result.rows, file });
        else printLine(`Exported ${result.rows} ${result.view.type} to ${file} (export ${result.view.exportNo})`);
      });
    });

  group
    .command('trace')
    .description('Name the export a found file came from, by its fingerprint (recorded in the audit log)')
    .argument('<file>', 'the CSV or JSON file, as found (rows deleted, columns moved or values edited still trace)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', ['', 'Exit status: 0 traced to an export, 1 refused or failed, 4 no export of this installation found in it.'].join('\n'))
    .action(async (file: string, opts: { json?: boolean }, command: Command) => {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(path.resolve(file));
      } catch {
        throw new UsageError('The file cannot be read');
      }
      const { traceExportFor } = await import('../modules/exports/export-trace.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const result = await traceExportFor(deps, ctx, bytes);
        if (opts.json) printJson(result);
        else if (result.candidates.length === 0) printLine(`No export of this installation found in the file (${result.rows} rows read, ${result.markedRows} marked).`);
        else {
          printTable(
            ['CONFIDENCE', 'EXPORT', 'BY', 'EXPORTED', 'TYPE', 'CANARY ROWS', 'MARKED ROWS'],
            result.candidates.map((c) => [c.confidence, `${c.exportNo} (${c.exportId})`, c.exporter, c.exportedAt.slice(0, 16).replace('T', ' '), c.type, String(c.evidence.canaryRows), String(c.evidence.markedRows)]),
          );
        }
        if (result.candidates.length === 0) process.exitCode = EXIT_NOT_TRACED;
      });
    });
}

/** The list query of `--where`, `--search` and `--sort`. */
function queryOf(opts: Pick<ExportOptions, 'where' | 'search' | 'sort'>): ExportQuery {
  const filters: Record<string, string> = {};
  const ranges: NonNullable<ExportQuery['ranges']> = [];
  for (const pair of opts.where ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError('--where takes key=value');
    const key = pair.slice(0, at);
    const value = pair.slice(at + 1);
    const range = /^([A-Za-z][A-Za-z0-9_]*)\[(lt|lte|gt|gte)\]$/.exec(key);
    if (range) ranges.push({ key: range[1]!, op: range[2] as 'lt' | 'lte' | 'gt' | 'gte', value });
    else filters[key] = value;
  }
  return {
    ...(Object.keys(filters).length > 0 ? { filters } : {}),
    ...(ranges.length > 0 ? { ranges } : {}),
    ...(opts.search !== undefined ? { q: opts.search } : {}),
    ...(opts.sort !== undefined ? { sort: opts.sort } : {}),
  };
}
