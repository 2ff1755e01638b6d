import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Vitest global setup: the server under test serves the built web app, so build it when out of date. */
export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-if-needed.js'), '--web'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('the web app did not build');
}
