#!/usr/bin/env node
// The installed `rampart` command. It runs the compiled CLI; `npm start` and `npm run build`
// compile it first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('error: Rampart is not built yet; run `npm run build` (or `npm start`) in its folder first\n');
  process.exit(1);
}
await import(main.href);
