/**
 * Builds the standalone audit verifier: src/audit/{standalone-verifier,bundle,verify,entry,merkle,
 * checkpoint}.ts and the canonical JSON they hash, as one readable ES module that needs nothing but
 * Node (no dependencies, no minifying), written to verifier/rampart-audit-verify.mjs. The file is
 * committed, so an auditor can take it without the rest of Rampart; a test checks it is current.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function buildVerifier(outDir: string): Promise<string> {
  await build({
    root,
    configFile: false,
    publicDir: false,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: false,
      minify: false,
      target: 'node20',
      ssr: path.join(root, 'scripts/verifier-entry.ts'),
      rollupOptions: { output: { entryFileNames: 'rampart-audit-verify.mjs', format: 'es', banner: '#!/usr/bin/env node\n// Rampart audit verifier: checks an audit bundle offline. Usage: node rampart-audit-verify.mjs --help' } },
    },
  });
  return path.join(outDir, 'rampart-audit-verify.mjs');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = await buildVerifier(path.join(root, 'verifier'));
  process.stdout.write(`wrote ${path.relative(root, file)}\n`);
}
