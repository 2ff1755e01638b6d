import { InvalidArgumentError, type Command } from 'commander';
import { printJson, printLine, printTable, progressBar, type Progress } from './output.js';
import { withDatabase } from './runtime.js';

function milliseconds(raw: string): number {
  if (!/^\d{1,6}$/.test(raw)) throw new InvalidArgumentError('must be a whole number of milliseconds');
  return Number(raw);
}

/** `keys status|rotate|retire` and `erase`. */
export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('Encryption keys: what is under each version, rotation, retirement');

  keys
    .command('status')
    .description('Show the key-encryption key versions, data key versions and blind-index keys, and how much each holds')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { keyStatus } = await import('../data/key-rotation.js');
      await withDatabase(command, async ({ deps }) => {
        const status = await keyStatus(deps);
        if (opts.json) return printJson(status);
        printLine('Key-encryption key versions:');
        printTable(['version', 'state', 'created', 'data keys', 'index keys', 'MFA secrets'], status.kek.map((k) => [k.id, k.state, k.createdAt, String(k.dataKeys), String(k.indexKeys), String(k.mfaSecrets)]));
        printLine();
        printLine('Data key versions:');
        printTable(['version', 'subjects', 'records', 'custom values'], status.dataKeyVersions.map((v) => [String(v.version), String(v.subjects), String(v.records), String(v.customValues)]));
        printLine();
        printLine('Blind-index keys:');
        printTable(['version', 'state', 'bits', 'created'], status.indexKeys.map((k) => [String(k.version), k.state, String(k.bits), k.createdAt]));
        printLine();
        printLine(`Erased people: ${status.erasedSubjects}. Integrity events: ${status.integrityEvents}.${status.pendingSealing.length > 0 ? ` Still sealing: ${status.pendingSealing.join(', ')}.` : ''}`);
      });
    });

  keys
    .command('rotate')
    .description('Make a new key-encryption key version and wrap every key again with it (online, resumable)')
    .option('--data', 'also give every person and the organisation new data keys and seal every value again')
    .option('--index', 'also replace the blind-index key and rebuild every blind index and search token')
    .option('--pause <ms>', 'pause between batches, to leave room for requests', milliseconds, 0)
    .option('--resume', 'finish an interrupted rotation without making another new version')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { data?: boolean; index?: boolean; pause: number; resume?: boolean; json?: boolean }, command: Command) => {
      const { rewrapAll, rotateDataKeys, rotateIndexKey, rotateKek } = await import('../data/key-rotation.js');
      const { recordAudit } = await import('../data/audit-trail.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        let bar: Progress | null = null;
        let step = '';
        const onProgress = (p: { step: string; done: number; total: number }): void => {
          if (p.step !== step) {
            bar?.stop();
            step = p.step;
            bar = progressBar(p.step === 'rewrap' ? 'rewrapping keys' : p.step === 'reseal' ? 'sealing values again' : 'rebuilding blind indexes', Boolean(opts.json));
          }
          if (p.total > 0) bar!.update(Math.min(p.done, p.total), p.total);
        };
        const { kekId, rewrapped } = opts.resume
          ? { kekId: deps.keyring.kek.currentId(), rewrapped: await rewrapAll(deps, { onProgress, pauseMs: opts.pause }) }
          : await rotateKek(deps, { onProgress, pauseMs: opts.pause });
        const resealed = opts.data ? await rotateDataKeys(deps, { onProgress, pauseMs: opts.pause }) : 0;
        const reindexed = opts.index ? await rotateIndexKey(deps, { onProgress, pauseMs: opts.pause }) : 0;
        (bar as Progress | null)?.stop();
        await recordAudit(deps, ctx, { action: 'keys.rotate', details: { kekId, resumed: Boolean(opts.resume), rewrapped, resealedSubjects: resealed, reindexedRecords: reindexed } });
        if (opts.json) printJson({ kekId, rewrapped, resealedSubjects: resealed, reindexedRecords: reindexed });
        else {
          printLine(
            `Key-encryption key ${kekId} is current; ${rewrapped} keys wrapped again${opts.data ? `, ${resealed} subjects sealed again under new data keys` : ''}${opts.index ? `, ${reindexed} records indexed again under a new blind-index key` : ''}. Older versions stay decrypt-only until you retire them.`,
          );
        }
      });
    });

  keys
    .command('retire')
    .description('Retire an old key-encryption key version; refused while any key is still wrapped with it')
    .argument('<version>', 'the version id, e.g. local:1')
    .option('--json', 'print the result as JSON')
    .action(async (version: string, opts: { json?: boolean }, command: Command) => {
      const { retireKek } = await import('../data/key-rotation.js');
      const { recordAudit } = await import('../data/audit-trail.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        await retireKek(deps, version);
        await recordAudit(deps, ctx, { action: 'keys.retire', details: { kekId: version } });
        if (opts.json) printJson({ retired: version });
        else printLine(`Retired ${version}; it can no longer unwrap anything.`);
      });
    });

  program
    .command('erase')
    .description('Erase a person for good: destroy their data keys (crypto-shredding) and clear their values')
    .argument('<type>', 'contacts or leads')
    .argument('<id>', 'the record id')
    .option('--json', 'print the result as JSON')
    .action(async (type: string, id: string, opts: { json?: boolean }, command: Command) => {
      if (type !== 'contacts' && type !== 'leads') throw new InvalidArgumentError('the type must be contacts or leads');
      const { erasePerson } = await import('../data/erasure.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const result = await erasePerson(deps, ctx, type, id);
        if (opts.json) printJson(result);
        else printLine(`Erased subject ${result.subjectId} at ${result.erasedAt}: ${Object.entries(result.records).map(([t, n]) => `${n} ${t}`).join(', ')} cleared.`);
      });
    });
}
