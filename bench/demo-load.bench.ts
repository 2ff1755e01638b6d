import fs from 'node:fs';
import type { DataDeps } from '../src/data/record-store.js';
import { DEFAULT_DEMO_SIZES, DEMO_STAGES, generateDemoData, type DemoSizes } from '../src/modules/demo/demo.service.js';
import { cliContext } from '../src/shared/principal.js';
import { count, printTable } from './support.js';

/**
 * (a) `rampart demo --contacts N`: sample data written through the protected data layer (one
 * transaction per stage, search terms included, indexes of a large stage built at its end) on a
 * fresh SQLite file. Target: 20,000 contact rows per second.
 */
export async function benchDemoLoad(deps: DataDeps, file: string, contacts: number): Promise<void> {
  const sizes: DemoSizes = { ...DEFAULT_DEMO_SIZES, contacts };
  const step = Math.max(10_000, Math.round(contacts / 20));
  let nextReport = step;
  const started = performance.now();
  const result = await generateDemoData(deps, cliContext('bench'), {
    sizes,
    onProgress: ({ stage, done, total }) => {
      if (stage === 'contacts' && done >= nextReport) {
        const seconds = (performance.now() - started) / 1000;
        process.stderr.write(`  contacts ${count(done)}/${count(total)} after ${seconds.toFixed(0)} s\n`);
        nextReport += step;
      }
    },
  });
  const bytes = ['', '-wal'].reduce((sum, suffix) => sum + (fs.existsSync(file + suffix) ? fs.statSync(file + suffix).size : 0), 0);
  printTable(
    `(a) rampart demo --contacts ${count(contacts)} on SQLite (target: contacts >= 20,000 rows/s)`,
    ['records', 'rows', 'seconds', 'rows/s'],
    DEMO_STAGES.map((s) => [s, count(result.created[s]), (result.millis[s] / 1000).toFixed(1), result.millis[s] > 0 ? count((result.created[s] / result.millis[s]) * 1000) : '-']),
  );
  // The stage timings leave out the checkpoint that ends a bulk load; the whole-load line keeps it.
  const wallSeconds = (performance.now() - started) / 1000;
  const allRows = DEMO_STAGES.reduce((sum, s) => sum + result.created[s], 0);
  process.stdout.write(`whole load including the final checkpoint: ${count(allRows)} records in ${wallSeconds.toFixed(1)} s, ${count(allRows / wallSeconds)} records/s\n`);
  process.stdout.write(`database size after load: ${(bytes / 1e9).toFixed(2)} GB\n`);
}
