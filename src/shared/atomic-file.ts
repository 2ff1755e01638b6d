import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { AppError, type ErrorCode } from './errors.js';

/**
 * Writes a file that only its owner can read (mode 0600): to a temporary file beside the target,
 * synced to disk and renamed into place when complete, so a failure leaves no partial file and
 * never loosens the permissions of an existing one. An existing file is kept unless `overwrite`.
 * `code` is the error code for a bad target.
 */
export async function writeFileAtomically<T>(file: string, code: ErrorCode, options: { overwrite?: boolean }, write: (stream: Writable) => Promise<T>): Promise<T> {
  const target = path.resolve(file);
  const folder = path.dirname(target);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) throw new AppError(code, 'The folder for the output file does not exist');
  if (fs.existsSync(target)) {
    if (fs.statSync(target).isDirectory()) throw new AppError(code, 'The output path is a folder; name a file');
    if (!options.overwrite) throw new AppError(code, 'The output file exists; choose another name or allow overwriting');
  }
  const partial = path.join(folder, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.partial`);
  const stream = fs.createWriteStream(partial, { flags: 'wx', mode: 0o600 });
  try {
    await once(stream, 'open');
    const result = await write(stream);
    if (!stream.writableFinished) {
      stream.end();
      await once(stream, 'finish');
    }
    if (!stream.closed) await once(stream, 'close');
    // On disk before it takes the target's name, so a crash leaves the old file or the whole new one.
    const written = await fs.promises.open(partial, 'r');
    try {
      await written.sync();
    } finally {
      await written.close();
    }
    await fs.promises.rename(partial, target);
    syncFolder(folder);
    return result;
  } catch (error) {
    stream.destroy();
    await fs.promises.rm(partial, { force: true });
    throw error;
  }
}

/**
 * Writes a small secret file (mode 0600) so that neither a killed process nor a power cut leaves it
 * empty or half written: the contents go to a temporary file that is synced to disk, then take the
 * target's name, then the folder is synced so the new name itself survives. With `exclusive`, an
 * existing target is never replaced (the name is taken by a hard link, which fails if it exists).
 */
export function writeSecretFileDurably(file: string, contents: string, options: { exclusive: boolean }): void {
  const folder = path.dirname(path.resolve(file));
  const temporary = path.join(folder, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = fs.openSync(temporary, 'wx', 0o600);
  try {
    fs.writeFileSync(handle, contents);
    fs.fsyncSync(handle);
  } finally {
    fs.closeSync(handle);
  }
  try {
    if (options.exclusive) fs.linkSync(temporary, file);
    else fs.renameSync(temporary, file);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
  syncFolder(folder);
}

/** Makes a new or renamed entry in the folder durable; a no-op where folders cannot be opened (Windows). */
function syncFolder(folder: string): void {
  let handle: number | undefined;
  try {
    handle = fs.openSync(folder, 'r');
    fs.fsyncSync(handle);
  } catch {
    // Some platforms and file systems refuse to sync a folder; the rename is then as durable as they make it.
  } finally {
    if (handle !== undefined) fs.closeSync(handle);
  }
}
