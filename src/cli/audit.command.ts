import fs from 'node:fs';
import type { Command } from 'commander';
import { printJson, printLine, printTable, progressBar } from './output.js';
import { UsageError, withDatabase } from './runtime.js';
import type { DataDeps } from '../data/record-store.js';
import type { RawAuditFilter } from '../modules/audit/audit.service.js';

const repeat = (value: string, previous: string[] = []): string[] => [...previous, value];

interface FilterOptions {
  actor?: string[];
  token?: string[];
  session?: string[];
  address?: string[];
  record?: string;
  subject?: string;
  action?: string[];
  outcome?: string;
  type?: string;
  from?: string;
  to?: string;
}

function filterOptions(command: Command): Command {
  return command
    .option('--actor <who>', 'a user (email or id), CLI operator or job; repeat for more', repeat)
    .option('--token <id>', 'an API token id; repeat for more', repeat)
    .option('--session <id>', 'a session id as the log holds it; repeat for more', repeat)
    .option('--address <ip>', 'a source address; repeat for more', repeat)
    .option('--record <id>', 'entries that name this record')
    .option('--subject <id>', "entries about this person (a contact's or lead's id), their notes and tickets")
    .option('--action <action>', 'an action, or a family as record.*; repeat for more', repeat)
    .option('--outcome <outcome>', 'success, denied or failure')
    .option('--type <recordType>', 'a record type')
    .option('--from <time>', 'start of the window (a date or ISO-8601 time), inclusive')
    .option('--to <time>', 'end of the window, exclusive');
}

/** Users are named by email on the command line; the log knows them by id. */
async function rawFilter(deps: DataDeps, opts: FilterOptions): Promise<RawAuditFilter> {
  const { findUserByEmail } = await import('../modules/users/users.service.js');
  const actors: string[] = [];
  for (const actor of opts.actor ?? []) {
    const user = actor.includes('@') ? await findUserByEmail(deps, actor) : undefined;
    actors.push(user?.id ?? actor);
  }
  return {
    ...(actors.length ? { actor: actors } : {}),
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.session ? { session: opts.session } : {}),
    ...(opts.address ? { address: opts.address } : {}),
    ...(opts.action ? { action: opts.action } : {}),
    ...(opts.record !== undefined ? { record: opts.record } : {}),
    ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
    ...(opts.outcome !== undefined ? { outcome: opts.outcome } : {}),
    ...(opts.type !== undefined ? { recordType: opts.type } : {}),
    ...(opts.from !== undefined ? { from: opts.from } : {}),
    ...(opts.to !== undefined ? { to: opts.to } : {}),
  };
}

function wholeNumber(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(raw)) throw new UsageError(`${name} must be a whole number`);
  return Number(raw);
}

/** `audit verify|checkpoint|key|search|blast-radius|prove`. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('The tamper-evident audit log');

  filterOptions(audit.command('search').description('Search the audit log, newest first'))
    .option('--limit <n>', 'entries to show (1 to 500, default 100)')
    .option('--json', 'print the entries as JSON')
    .action(async (opts: FilterOptions & { limit?: string; json?: boolean }, command: Command) => {
      const { parseAuditFilter, searchAudit } = await import('../modules/audit/audit.service.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const limit = wholeNumber('--limit', opts.limit);
        const page = await searchAudit(deps, ctx, parseAuditFilter(await rawFilter(deps, opts)), limit === undefined ? {} : { limit });
        if (opts.json) printJson(page);
        else {
          printTable(
            ['SEQ', 'TIME', 'ACTOR', 'ACTION', 'OUTCOME', 'RECORDS', 'FIELDS'],
            page.items.map((e) => [String(e.seq), e.time, `${e.actorKind}:${e.actorId ?? '-'}`, e.action, e.outcome, e.recordIds.length === 1 ? `${e.recordType}/${e.recordIds[0]}` : e.recordIds.length > 1 ? `${e.recordIds.length} ${e.recordType}` : (e.recordType ?? ''), e.fields.join(',')]),
          );
        }
      });
    });

  filterOptions(audit.command('blast-radius').description('Every person and field the given actors, tokens, sessions or addresses read, changed or exported in a window'))
    .option('--csv <file>', 'write one row per person and field to this file (mode 0600)')
    .option('--json', 'print the whole report as JSON')
    .action(async (opts: FilterOptions & { csv?: string; json?: boolean }, command: Command) => {
      const { auditBlastRadius, parseAuditFilter } = await import('../modules/audit/audit.service.js');
      const { blastRadiusCsv } = await import('../data/audit-query.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const radius = await auditBlastRadius(deps, ctx, parseAuditFilter(await rawFilter(deps, opts)));
        if (opts.csv) fs.writeFileSync(opts.csv, blastRadiusCsv(radius), { mode: 0o600 });
        if (opts.json) printJson(radius);
        else {
          printLine(`${radius.entries} entries in the window; ${radius.subjects.length} people touched; ${radius.exports.length} export(s); ${radius.refused} refused attempt(s)`);
          printTable(
            ['PERSON', 'TYPE', 'FIELDS (read/changed/exported/revealed)'],
            radius.subjects.map((s) => [s.subject, s.subjectType ?? '?', Object.entries(s.fields).map(([f, c]) => `${f} ${c.read}/${c.changed}/${c.exported}/${c.revealed}`).join(', ')]),
          );
          for (const [type, c] of Object.entries(radius.organisationRecords)) printLine(`${type}: ${c.records} record(s), read ${c.read}, changed ${c.changed}, exported ${c.exported}`);
          for (const e of radius.exports) printLine(`export at ${e.time}: ${e.rows} ${e.recordType ?? ''} rows, sha256 ${e.sha256}`);
        }
      });
    });

  audit
    .command('archive')
    .description('Move entries older than N days, up to the newest a signed checkpoint covers, into a signed archive file; the database keeps their hashes')
    .requiredOption('--out <file>', 'the archive to write (a bundle the standalone verifier checks; readable by its owner only)')
    .option('--older-than <days>', 'archive entries older than this many days (default: RAMPART_AUDIT_ARCHIVE_DAYS)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out: string; olderThan?: string; json?: boolean }, command: Command) => {
      const { archiveAudit } = await import('../data/audit-archive.js');
      const { recordAudit } = await import('../data/audit-trail.js');
      const { auditOrigin, loadAuditSigningKey } = await import('../audit/signing-key-file.js');
      const { writeFileAtomically } = await import('../shared/atomic-file.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const days = opts.olderThan !== undefined ? wholeNumber('--older-than', opts.olderThan) : deps.config.audit.archiveDays;
        if (days === undefined || days < 1) throw new UsageError('Say how old entries must be to leave: --older-than DAYS (or RAMPART_AUDIT_ARCHIVE_DAYS)');
        const key = loadAuditSigningKey(deps.config.audit.keyFile, auditOrigin(deps.config.publicUrl), { create: true });
        const before = new Date(deps.clock.now().getTime() - days * 86_400_000);
        const result = await archiveAudit(deps, key, { before, writeFile: (write) => writeFileAtomically(opts.out, 'request.invalid', {}, write) });
        if (result) await recordAudit(deps, ctx, { action: 'audit.archive', details: { fromSeq: result.fromSeq, throughSeq: result.throughSeq, sha256: result.sha256 } });
        if (opts.json) printJson(result ?? { archived: 0 });
        else if (!result) printLine(`Nothing to archive: no entry older than ${days} days that a signed checkpoint covers.`);
        else printLine(`Archived entries ${result.fromSeq} to ${result.throughSeq} to ${opts.out} (sha256 ${result.sha256}); the database keeps their hashes. Keep the file: rampart audit verify --archive ${opts.out} checks it.`);
      });
    });

  audit
    .command('export')
    .description('Write the whole audit log as a self-contained bundle that verifier/rampart-audit-verify.mjs checks offline, without the server')
    .requiredOption('--out <file>', 'the bundle to write (JSON Lines, readable by its owner only)')
    .option('--force', 'overwrite the file if it exists')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out: string; force?: boolean; json?: boolean }, command: Command) => {
      const { exportAudit } = await import('../modules/audit/audit.service.js');
      const { auditSigner } = await import('../audit/signing-key-file.js');
      const { writeFileAtomically } = await import('../shared/atomic-file.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const written = await writeFileAtomically(opts.out, 'request.invalid', { overwrite: Boolean(opts.force) }, (stream) => exportAudit(deps, ctx, stream, auditSigner(deps.config.audit.keyFile, deps.config.publicUrl)));
        if (opts.json) printJson(written);
        else printLine(`Wrote ${written.entries} entries and ${written.checkpoints} checkpoint(s) to ${opts.out} (sha256 ${written.sha256}). Check it with: node verifier/rampart-audit-verify.mjs ${opts.out} --key "$(rampart audit key)"`);
      });
    });

  audit
    .command('prove')
    .description('Print an inclusion proof (--entry N [--size M]) or a consistency proof (--from M [--to N]) as JSON')
    .option('--entry <n>', 'the entry to prove is in the log')
    .option('--size <n>', 'the tree size to prove it against (default: the first checkpoint covering it)')
    .option('--from <n>', 'the earlier tree size of a consistency proof')
    .option('--to <n>', 'the later tree size (default: the whole log)')
    .action(async (opts: { entry?: string; size?: string; from?: string; to?: string }, command: Command) => {
      const { proveConsistency, proveInclusion } = await import('../modules/audit/audit.service.js');
      if ((opts.entry === undefined) === (opts.from === undefined)) throw new UsageError('Give --entry N for an inclusion proof or --from M for a consistency proof');
      await withDatabase(command, async ({ deps, ctx }) => {
        if (opts.entry !== undefined) printJson(await proveInclusion(deps, ctx, wholeNumber('--entry', opts.entry)!, wholeNumber('--size', opts.size)));
        else printJson(await proveConsistency(deps, ctx, wholeNumber('--from', opts.from)!, wholeNumber('--to', opts.to)));
      });
    });

  audit
    .command('verify')
    .description('Recompute every entry of the audit chain and its Merkle tree head, and check every checkpoint; name the first damage (modified, deleted, inserted, reordered, truncated, rewritten, bad signature); exit status 0 only when intact')
    .option('--checkpoint <file>', 'also hold the log to the signed checkpoints kept in this file (as the server appends them); repeat for more', repeat)
    .option('--key <verifierKey>', 'the verifier key the checkpoints must be signed by (default: the one of the audit signing key)')
    .option('--archive <file>', 'also check an archive file that rampart audit archive wrote; repeat for more', repeat)
    .option('--json', 'print the result as JSON')
    .action(async (opts: { checkpoint?: string[]; key?: string; archive?: string[]; json?: boolean }, command: Command) => {
      const { verifyAuditLog } = await import('../data/audit-log.js');
      const { recordAudit } = await import('../data/audit-trail.js');
      const { NoteError, openNote, parseCheckpoint, parseVerifierKey, splitNotes } = await import('../audit/checkpoint.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const { loadAuditSigningKey } = await import('../audit/signing-key-file.js');
        let verifierKey = opts.key;
        if (verifierKey !== undefined) {
          try {
            parseVerifierKey(verifierKey);
          } catch {
            throw new UsageError('--key is not a verifier key (as rampart audit key prints it)');
          }
        } else if (fs.existsSync(deps.config.audit.keyFile)) verifierKey = loadAuditSigningKey(deps.config.audit.keyFile, '', { create: false }).verifierKey;
        const kept: { size: number; root: string; note: string }[] = [];
        for (const file of opts.checkpoint ?? []) {
          if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist`);
          for (const note of splitNotes(fs.readFileSync(file, 'utf8'))) {
            if (!verifierKey) throw new UsageError('Checking kept checkpoints needs the verifier key: give --key');
            try {
              const signed = parseCheckpoint(openNote(note, verifierKey));
              kept.push({ size: signed.size, root: signed.rootHash.toString('hex'), note });
            } catch (error) {
              if (!(error instanceof NoteError)) throw error;
              kept.push({ size: -1, root: '', note });
            }
          }
        }
        const bar = progressBar('verifying the audit chain', Boolean(opts.json));
        const result = await verifyAuditLog(deps, { ...(verifierKey ? { verifierKey } : {}), checkpoints: kept, onProgress: (done, total) => bar.update(done, Math.max(total, done)) });
        bar.stop();
        if ((opts.archive ?? []).length > 0) {
          if (!verifierKey) throw new UsageError('Checking archives needs the verifier key: give --key');
          const { checkArchiveFile } = await import('../data/audit-archive.js');
          for (const file of opts.archive!) {
            if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist`);
            const checked = await checkArchiveFile(deps, file, verifierKey);
            result.problems.push(...checked.problems.map((p) => ({ ...p, detail: `${file}: ${p.detail}` })));
          }
        }
        await recordAudit(deps, ctx, { action: 'audit.verify', outcome: result.problems.length === 0 ? 'success' : 'failure', details: { entries: result.entries, checkpointsGiven: kept.length, problems: result.problems.length } });
        if (opts.json) printJson(result);
        else if (result.problems.length === 0) {
          printLine(`OK: the log is intact up to entry ${result.entries} (tree head ${result.rootHash})${kept.length > 0 ? `, and gives every one of the ${kept.length} checkpoint(s) kept` : ''}${(opts.archive ?? []).length > 0 ? `; the ${opts.archive!.length} archive file(s) hold` : ''}.`);
          if (verifierKey) printLine(result.signedUpTo > 0 ? `Signed up to entry ${result.signedUpTo}.` : 'No checkpoint is signed yet: run rampart audit checkpoint, or let the server sign them.');
        }
        else {
          const [first, ...rest] = result.problems;
          printLine(`BROKEN${first!.seq === null ? '' : ` at entry ${first!.seq}`}: ${first!.kind.replace('_', ' ')}: ${first!.detail}`);
          for (const p of rest) printLine(`  also${p.seq === null ? '' : ` at entry ${p.seq}`}: ${p.kind.replace('_', ' ')}: ${p.detail}`);
        }
        if (result.problems.length > 0) process.exitCode = 1;
      });
    });

  audit
    .command('checkpoint')
    .description("Sign the audit log's current tree head (Ed25519) after verifying the chain, and print the signed checkpoint; keep it off the server")
    .option('--out <file>', 'also append the signed checkpoint to this file')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out?: string; json?: boolean }, command: Command) => {
      const { sealCheckpoint } = await import('../data/audit-log.js');
      const { auditOrigin, loadAuditSigningKey } = await import('../audit/signing-key-file.js');
      await withDatabase(command, async ({ deps }) => {
        const key = loadAuditSigningKey(deps.config.audit.keyFile, auditOrigin(deps.config.publicUrl), { create: true });
        const checkpoint = await sealCheckpoint(deps, key);
        if (opts.out) fs.appendFileSync(opts.out, `${checkpoint.note}\n`, { mode: 0o600 });
        if (opts.json) printJson(checkpoint);
        else process.stdout.write(checkpoint.note);
      });
    });

  audit
    .command('key')
    .description('Print the verifier key of the audit signing key, for whoever checks checkpoints')
    .action(async (_opts: unknown, command: Command) => {
      const { auditOrigin, loadAuditSigningKey } = await import('../audit/signing-key-file.js');
      await withDatabase(command, async ({ deps }) => {
        printLine(loadAuditSigningKey(deps.config.audit.keyFile, auditOrigin(deps.config.publicUrl), { create: true }).verifierKey);
      });
    });
}
