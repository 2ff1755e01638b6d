import fs from 'node:fs';
import readline from 'node:readline';
import { BundleError, verifyBundle } from './bundle.js';
import { NoteError, openNote, parseCheckpoint, parseVerifierKey, splitNotes } from './checkpoint.js';
import type { CheckpointHead } from './verify.js';

/**
 * The standalone audit verifier: `node rampart-audit-verify.mjs BUNDLE [--key KEY] [--checkpoint FILE]…`.
 * Built into one file with no dependencies but Node itself (npm run verifier), so an auditor can
 * check an exported bundle on their own machine, without the server, its database or its code.
 * Exit status 0: intact; 1: damage found; 2: the bundle or the arguments could not be read.
 */
const USAGE = `usage: node rampart-audit-verify.mjs BUNDLE.jsonl [--key VERIFIER_KEY] [--checkpoint FILE]... [--json]

  BUNDLE.jsonl       what \`rampart audit export\` wrote
  --key KEY          the verifier key you were given (as \`rampart audit key\` prints it);
                     without it the bundle's own key is used, which proves less
  --checkpoint FILE  checkpoints you kept from the server (its checkpoint file); the log must
                     still give each one. Repeat for more files.
  --json             print the result as JSON`;

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const say = (text: string) => out.write(`${text}\n`);
  let bundlePath: string | undefined;
  let key: string | undefined;
  let json = false;
  const keptFiles: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--key') key = argv[++i];
    else if (arg === '--checkpoint') keptFiles.push(argv[++i] ?? '');
    else if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') {
      say(USAGE);
      return 0;
    } else if (!arg.startsWith('--') && bundlePath === undefined) bundlePath = arg;
    else {
      say(USAGE);
      return 2;
    }
  }
  if (!bundlePath || (key !== undefined && !validKey(key))) {
    say(key !== undefined && !validKey(key) ? 'error: --key is not a verifier key' : USAGE);
    return 2;
  }
  try {
    const kept: (CheckpointHead & { note: string })[] = [];
    for (const file of keptFiles) {
      for (const note of splitNotes(fs.readFileSync(file, 'utf8'))) {
        if (!key) {
          say('error: checking kept checkpoints needs the verifier key you were given: --key');
          return 2;
        }
        try {
          const signed = parseCheckpoint(openNote(note, key));
          kept.push({ size: signed.size, root: signed.rootHash.toString('hex'), note });
        } catch (error) {
          if (!(error instanceof NoteError)) throw error;
          kept.push({ size: 0, root: '', note });
        }
      }
    }
    const lines = readline.createInterface({ input: fs.createReadStream(bundlePath, 'utf8'), crlfDelay: Infinity });
    const result = await verifyBundle(lines, { ...(key ? { verifierKey: key } : {}), kept });
    // A chain that holds together proves nothing by itself: whoever wrote the bundle could have
    // made it all up. Only a checkpoint signed by the key vouches for it.
    const ok = result.problems.length === 0 && result.signedUpTo > 0;
    if (json) say(JSON.stringify({ ok, ...result }, null, 2));
    else {
      if (!key) say(`note: checked against the bundle's own verifier key; pass --key with the key you were given to know the checkpoints are the server's`);
      if (result.problems.length === 0 && result.signedUpTo === 0) {
        say(`NOT VERIFIED: the chain of ${result.entries} entries holds together, but no checkpoint signed by the key covers any of it`);
      } else if (result.problems.length === 0) {
        const tail = result.entries - result.signedUpTo;
        say(`OK: ${result.header.origin}: the log is intact up to entry ${result.entries} (tree head ${result.rootHash}); ${result.checkpoints} checkpoint(s) hold, signed up to entry ${result.signedUpTo}${tail > 0 ? `; the ${tail} entries after it are chained but not yet signed` : ''}`);
      } else {
        const [first, ...rest] = result.problems;
        say(`BROKEN${first!.seq === null ? '' : ` at entry ${first!.seq}`}: ${first!.kind.replace('_', ' ')}: ${first!.detail}`);
        for (const p of rest) say(`  also${p.seq === null ? '' : ` at entry ${p.seq}`}: ${p.kind.replace('_', ' ')}: ${p.detail}`);
      }
    }
    return ok ? 0 : 1;
  } catch (error) {
    if (error instanceof BundleError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      say(`error: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

function validKey(key: string): boolean {
  try {
    parseVerifierKey(key);
    return true;
  } catch {
    return false;
  }
}
