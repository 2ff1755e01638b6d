// Compiles TypeScript to dist/ when dist is missing or older than any source file, so `npm start`
// works straight after `npm install` and after every code change without a slow build each time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const marker = path.join(root, 'dist', 'cli', 'main.js');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

const inputs = Math.max(newestMtime(path.join(root, 'src')), ...['package.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => fs.statSync(path.join(root, f)).mtimeMs));
// tsc rewrites every output on each build, so the entry point's time is the build's time.
const stale = !fs.existsSync(marker) || fs.statSync(marker).mtimeMs < inputs;

if (stale) {
  process.stdout.write('Building Rampart (TypeScript → dist/)…\n');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('error: the build failed; see the messages above\n');
    process.exit(result.status ?? 1);
  }
}
