// Builds what is out of date, so `npm start` works straight after `npm install` and after every
// code change without a slow build each time: the server (TypeScript → dist/) when dist is missing
// or older than any source file, and the web app (Vite → dist/web/) likewise. With --web, only the
// web app (the tests run the server from source but serve the built web app).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

const mtimeOf = (file) => fs.statSync(path.join(root, file)).mtimeMs;

/** Whether `marker` (rewritten by every build) is missing or older than any of the inputs. */
function stale(marker, inputs) {
  const target = path.join(root, marker);
  return !fs.existsSync(target) || fs.statSync(target).mtimeMs < Math.max(...inputs);
}

function run(what, args, env = process.env) {
  process.stdout.write(`Building Rampart (${what})…\n`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) {
    process.stderr.write('error: the build failed; see the messages above\n');
    process.exit(result.status ?? 1);
  }
}

const webOnly = process.argv.includes('--web');

if (!webOnly && stale('dist/cli/main.js', [newestMtime(path.join(root, 'src')), ...['package.json', 'tsconfig.json', 'tsconfig.build.json'].map(mtimeOf)])) {
  run('TypeScript → dist/', [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')]);
}

// Vite writes index.html last, so its time is the web build's time.
if (stale('dist/web/index.html', [newestMtime(path.join(root, 'web')), mtimeOf('package.json')])) {
  run('web app → dist/web/', [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', path.join(root, 'web', 'vite.config.ts'), '--logLevel', 'warn'], {
    ...process.env,
    // Vite builds React's development version when NODE_ENV says so (test runners set it to "test").
    NODE_ENV: 'production',
  });
}
