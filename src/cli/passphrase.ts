import type { Config } from '../config/config.js';
import { keyFileIsProtected } from '../crypto/key-file.js';

/** The operator pressed Ctrl-C or Ctrl-D at the passphrase prompt. */
export class PromptCancelled extends Error {
  override readonly name = 'PromptCancelled';
}

interface PromptInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/**
 * The configuration with the key file's passphrase filled in: when the key file is protected, no
 * passphrase was configured and the command runs at a terminal, the operator types it at a prompt
 * that shows nothing. Without a terminal the configuration is returned as it is, and opening the
 * key file answers with what to set instead.
 */
export async function withPassphrase(config: Config, input: PromptInput = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<Config> {
  if (config.keys.passphrase !== undefined || !input.isTTY || !keyFileIsProtected(config.keys.file)) return config;
  const passphrase = await readPassphrase(`Passphrase of the key file ${config.keys.file}: `, input, output);
  return { ...config, keys: { ...config.keys, passphrase } };
}

/**
 * Reads one line without echoing it. At a terminal the input goes to raw mode, so that keystrokes
 * are neither shown nor kept in the terminal's line buffer; Backspace edits, Enter ends, Ctrl-C and
 * Ctrl-D cancel. Written by hand because Node's readline always echoes what is typed.
 */
export function readPassphrase(prompt: string, input: PromptInput, output: NodeJS.WritableStream): Promise<string> {
  output.write(prompt);
  const raw = Boolean(input.isTTY && input.setRawMode);
  if (raw) input.setRawMode!(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise<string>((resolve, reject) => {
    let typed: string[] = [];
    const finish = (error: Error | null): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      if (raw) input.setRawMode!(false);
      input.pause();
      output.write('\n');
      const line = typed.join('');
      typed = [];
      if (error) reject(error);
      else resolve(line);
    };
    const onEnd = (): void => finish(new PromptCancelled('No passphrase was given'));
    const onData = (chunk: string | Buffer): void => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish(null);
        if (ch === '\u0003' || ch === '\u0004') return finish(new PromptCancelled('No passphrase was given'));
        if (ch === '\u007f' || ch === '\b') typed.pop();
        else if (ch >= ' ') typed.push(ch);
      }
    };
    input.on('data', onData);
    input.once('end', onEnd);
  });
}
