import path from 'node:path';
import { Argument, type Command } from 'commander';
import type { RecordType } from '../data/field-registry.js';
import type { ImportableType } from '../modules/transfer/transfer.import.js';
import { printJson, printLine, progressBar } from './output.js';
import { withDatabase } from './runtime.js';

const IMPORTABLE_TYPES: readonly ImportableType[] = ['contacts', 'companies'];
const EXPORTABLE_TYPES: readonly RecordType[] = ['contacts', 'companies', 'deals'];

/** Exit status of an import that wrote the good rows but rejected some lines. */
export const EXIT_SOME_REJECTED = 2;

/** `import` and `export`. */
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

  program
    .command('export')
    .description('Export records to a CSV file readable only by you (mode 0600)')
    .addArgument(new Argument('<type>', 'what to export').choices(EXPORTABLE_TYPES))
    .requiredOption('--out <file>', 'the CSV file to write')
    .option('--force', 'replace the file if it exists')
    .option('--json', 'print the result as JSON')
    .action(async (type: RecordType, opts: { out: string; force?: boolean; json?: boolean }, command: Command) => {
      const { exportCsvFile } = await import('../modules/transfer/transfer.export.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const bar = progressBar(`export ${type}`, Boolean(opts.json));
        let result;
        try {
          result = await exportCsvFile(deps, ctx, type, opts.out, { overwrite: Boolean(opts.force), onProgress: ({ done, total }) => bar.update(done, total) });
        } finally {
          bar.stop();
        }
        const file = path.resolve(opts.out);
        if (opts.json) printJson({ type, rows: result.rows, file });
        else printLine(`Exported ${result.rows} ${type} to ${file}`);
      });
    });
}
