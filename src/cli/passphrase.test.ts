import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.js';
import { LocalKeyFile } from '../crypto/key-file.js';
import { PromptCancelled, withPassphrase } from './passphrase.js';

/** A terminal stand-in: a stream that says it is a TTY and records raw-mode switches. */
function terminal(): PassThrough & { isTTY: boolean; modes: boolean[]; setRawMode: (mode: boolean) => void } {
  const input = new PassThrough() as PassThrough & { isTTY: boolean; modes: boolean[]; setRawMode: (mode: boolean) => void };
  input.isTTY = true;
  input.modes = [];
  input.setRawMode = (mode: boolean) => void input.modes.push(mode);
  return input;
}

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('the key file passphrase prompt', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-prompt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const configFor = (env: Record<string, string> = {}) => loadConfig({ env: { RAMPART_DATA_DIR: dir, ...env }, cwd: dir });

  it('asks at a terminal for a protected key file, shows nothing typed, and the answer opens the file', async () => {
    const secret = 'correct horse battery staple';
    LocalKeyFile.open({ file: configFor().keys.file, passphrase: secret, create: true });
    const input = terminal();
    const output = collect();
    const asked = withPassphrase(configFor(), input, output.stream);
    // Typed with a slip corrected by Backspace, in several chunks as a terminal delivers them.
    input.write('correct horse battery staplx');
    input.write('\u007fe');
    input.write('\r');
    const config = await asked;
    expect(config.keys.passphrase).toBe(secret);
    expect(output.text()).toContain('Passphrase of the key file');
    expect(output.text()).not.toMatch(/horse|\*/);
    expect(input.modes).toEqual([true, false]);
    expect(() => LocalKeyFile.open({ file: config.keys.file, passphrase: config.keys.passphrase, create: false })).not.toThrow();
  });

  it('is cancelled by Ctrl-C, and leaves the terminal as it found it', async () => {
    LocalKeyFile.open({ file: configFor().keys.file, passphrase: 'a long enough passphrase', create: true });
    const input = terminal();
    const asked = withPassphrase(configFor(), input, collect().stream);
    input.write('half typed\u0003');
    await expect(asked).rejects.toBeInstanceOf(PromptCancelled);
    expect(input.modes).toEqual([true, false]);
  });

  it('does not ask without a terminal, when a passphrase is configured, or when the file has none', async () => {
    const file = configFor().keys.file;
    LocalKeyFile.open({ file, passphrase: 'a long enough passphrase', create: true });
    const notTty = new PassThrough();
    expect((await withPassphrase(configFor(), notTty, collect().stream)).keys.passphrase).toBeUndefined();
    const given = configFor({ RAMPART_KEY_PASSPHRASE: 'a long enough passphrase' });
    expect(await withPassphrase(given, terminal(), collect().stream)).toBe(given);
    fs.rmSync(file);
    LocalKeyFile.open({ file, create: true });
    const plain = configFor();
    expect(await withPassphrase(plain, terminal(), collect().stream)).toBe(plain);
  });
});
