import cliProgress from 'cli-progress';
import { CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { AppError } from '../shared/errors.js';
import { UsageError } from './runtime.js';

/** Output for scripts: one JSON document on standard output. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A plain aligned table for people; `--json` is the stable format. */
export function printTable(headers: string[], rows: string[][]): void {
  if (rows.length === 0) {
    printLine('(none)');
    return;
  }
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c)))).join('  ');
  printLine(line(headers));
  for (const row of rows) printLine(line(row));
}

/** Display width: CJK characters take two columns in a terminal. */
function width(text: string): number {
  let n = 0;
  for (const ch of text) n += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return n;
}

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

/** A progress bar on a terminal; nothing when output goes to a file, a pipe or `--json`. */
export function progressBar(label: string, json: boolean): Progress {
  if (json || !process.stdout.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label.padEnd(12)} {bar} {percentage}% | {value}/{total} | {eta_formatted} left`, hideCursor: true, clearOnComplete: false, etaBuffer: 50, stream: process.stdout },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/**
 * Prints why a command failed, to standard error (as JSON with `--json`), and answers the exit
 * status. Messages come from error codes and field names; values, which may be personal data or
 * secrets, are never printed.
 */
export function reportFailure(error: unknown, json: boolean): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : error.exitCode;
  let code = 'internal.error';
  let message: string;
  let details: string[] = [];
  if (error instanceof AppError) {
    code = error.code;
    message = error.message;
    details = (error.fields ?? []).map((f) => `${f.field}: ${f.message}`);
  } else if (error instanceof ConfigError) {
    code = 'config.invalid';
    message = 'The configuration has problems:';
    details = error.problems;
  } else if (error instanceof UsageError) {
    code = 'usage.invalid';
    message = error.message;
  } else if (error instanceof Error && error.name === 'PromptCancelled') {
    code = 'usage.cancelled';
    message = error.message;
  } else if (error instanceof Error && (error.name === 'KeyFileError' || error.name === 'AuditKeyError')) {
    code = 'keys.key_file';
    message = error.message;
  } else if (error instanceof Error && error.constructor.name === 'MigrationError') {
    // Matched by name: importing the migrator here would load every migration for `--help`.
    code = 'database.migration_failed';
    message = error.message;
  } else {
    const e = error as NodeJS.ErrnoException;
    message =
      e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND'
        ? 'Cannot reach the database server'
        : e?.code === 'EADDRINUSE'
          ? 'The port is already in use; stop the other server or choose another port with --port'
          : e?.code === 'EACCES' || e?.code === 'EPERM'
            ? 'Permission denied (the data directory, a file or a low port)'
            : `Unexpected failure: ${e?.message ?? String(error)}`;
  }
  if (json) {
    process.stderr.write(`${JSON.stringify({ error: { code, message, ...(details.length > 0 ? { details } : {}) } })}\n`);
  } else {
    process.stderr.write(`error: ${message}\n${details.map((d) => `  - ${d}\n`).join('')}`);
  }
  return 1;
}
