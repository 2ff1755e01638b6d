import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../app.js';
import { loadConfig } from '../config/config.js';

/**
 * The OpenAPI document exactly as it is committed at the repository root: two-space indentation
 * and a final newline, so a change to any route schema shows as a small, readable diff in review.
 */
export function formatOpenApiDocument(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Builds the whole app on a throwaway SQLite data directory with logging off and answers its
 * OpenAPI document, formatted for committing. Only the given environment is read, never the
 * caller's `RAMPART_*` variables, so the document is the same on every machine.
 */
export async function renderOpenApiDocument(): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-openapi-'));
  try {
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' }, cwd: dataDir });
    const built = await buildApp(config);
    try {
      return formatOpenApiDocument(built.app.swagger());
    } finally {
      await built.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
