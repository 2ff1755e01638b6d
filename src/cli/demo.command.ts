import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DEMO_SIZES, DEMO_STAGES, MAX_DEMO_SIZE, type DemoSizes, type DemoStage } from '../modules/demo/demo.sizes.js';
import { printJson, printLine, printTable, progressBar, type Progress } from './output.js';
import { withDatabase } from './runtime.js';

function count(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) > MAX_DEMO_SIZE) throw new InvalidArgumentError(`must be a whole number from 0 to ${MAX_DEMO_SIZE}`);
  return Number(raw);
}

/** `demo`. */
export function registerDemoCommand(program: Command): void {
  const demo = program.command('demo').description('Fill the database with realistic sample data in Chinese and English');
  for (const stage of DEMO_STAGES) {
    demo.option(`--${stage} <n>`, `how many ${stage}`, count, DEFAULT_DEMO_SIZES[stage]);
  }
  demo
    .option('--seed <n>', 'random seed; the same seed gives the same data', count)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nSample records are owned by sample users under demo.example.com, who have no password and cannot sign in.')
    .action(async (opts: Partial<DemoSizes> & { seed?: number; json?: boolean }, command: Command) => {
      const sizes = Object.fromEntries(DEMO_STAGES.map((s) => [s, opts[s] ?? DEFAULT_DEMO_SIZES[s]])) as DemoSizes;
      const { generateDemoData } = await import('../modules/demo/demo.service.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const bars = new Map<DemoStage, Progress>();
        let result;
        try {
          result = await generateDemoData(deps, ctx, {
            sizes,
            ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
            onProgress: ({ stage, done, total }) => {
              let bar = bars.get(stage);
              if (!bar) {
                for (const other of bars.values()) other.stop();
                bar = progressBar(stage, Boolean(opts.json));
                bars.set(stage, bar);
              }
              if (total > 0) bar.update(done, total);
            },
          });
        } finally {
          for (const bar of bars.values()) bar.stop();
        }
        if (opts.json) return printJson(result);
        printLine(`Sample data written: ${result.teams} teams and ${result.users} owners (who cannot sign in).`);
        printTable(
          ['RECORDS', 'CREATED', 'SECONDS', 'ROWS/S'],
          DEMO_STAGES.map((s) => [s, String(result.created[s]), (result.millis[s] / 1000).toFixed(1), result.millis[s] > 0 ? String(Math.round((result.created[s] / result.millis[s]) * 1000)) : '-']),
        );
      });
    });
}
