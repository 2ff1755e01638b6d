import { recordAudit } from './audit-trail.js';
import type { Kysely } from 'kysely';
import { reindexDocument } from '../db/search-index.js';
import { AppError } from '../shared/errors.js';
import { isId } from '../shared/ids.js';
import { actingUserId, type ActorContext } from '../shared/principal.js';
import { requirePermission } from './access.js';
import { isPersonal, type RecordType } from './field-registry.js';
import { loadCustomFieldDefs } from './custom-field-defs.js';
import { bidxColumn, personalFields, searchTerms } from './record-sealing.js';
import { RECORD_TYPE_DEFS } from './record-types.js';
import { indexKeys } from './keys.js';
import { inTransaction, type DataDeps } from './record-store.js';

/**
 * Crypto-shredding. Erasing a person destroys their data keys, so every value sealed under them
 * (in the database, its WAL, replicas and every backup taken before) can no longer be opened. The
 * live rows are cleared as well: sealed values, blind indexes, search tokens and personal custom
 * values of the person's records and of everything that belongs to them (notes, tickets). The
 * person's own record goes to the trash as a tombstone that cannot be restored. The erasure ledger
 * keeps the subject id and the time, nothing else, so that a restored backup can be erased again.
 */
export const PERSON_TYPES = ['contacts', 'leads'] as const;
export type PersonType = (typeof PERSON_TYPES)[number];
const SUBJECT_TYPES: readonly RecordType[] = ['contacts', 'leads', 'activities', 'tickets'];

export interface ErasureResult {
  subjectId: string;
  erasedAt: string;
  /** How many records of each type held the person's data and were cleared. */
  records: Partial<Record<RecordType, number>>;
}

function anyDb(deps: DataDeps): Kysely<any> {
  return deps.db as unknown as Kysely<any>;
}


export async function erasePerson(deps: DataDeps, ctx: ActorContext, type: PersonType, id: string): Promise<ErasureResult> {
  // Erasure answers a data subject's request: it is the privacy officer's (and the operator's).
  await requirePermission(deps, ctx, 'privacy.handle', 'Your roles do not allow you to erase a person');
  return inTransaction(deps, async (tx) => {
    const row = isId(id) ? ((await anyDb(tx).selectFrom(type).select(['id', 'subject_id']).where('id', '=', id).executeTakeFirst()) as { id: string; subject_id: string | null } | undefined) : undefined;
    if (!row) throw new AppError('record.not_found', `No such ${RECORD_TYPE_DEFS[type].singular}`);
    const subjectId = row.subject_id ?? row.id;
    const already = await anyDb(tx).selectFrom('erasures').select('subject_id').where('subject_id', '=', subjectId).executeTakeFirst();
    if (already) throw new AppError('record.erased', 'This person has already been erased');
    const erasedAt = tx.clock.now().toISOString();
    await anyDb(tx).insertInto('erasures').values({ subject_id: subjectId, erased_at: erasedAt }).execute();
    const records = await clearSubject(tx, subjectId);
    await anyDb(tx)
      .updateTable(type)
      .set({ deleted_at: erasedAt, deleted_by: actingUserId(ctx.principal), updated_at: erasedAt })
      .where('id', '=', row.id)
      .where('deleted_at', 'is', null)
      .execute();
    // The log keeps that the person was erased, never who they were; digests of their values in
    // earlier entries can no longer be tested, their key being gone.
    await recordAudit(tx, ctx, { action: 'record.erase', recordType: type, recordIds: [row.id], details: { subjects: [subjectId], records } });
    return { subjectId, erasedAt, records };
  });
}

/**
 * Destroys a subject's keys and clears what its records hold. Used by erasure and again for every
 * ledger entry after a restore (`reapplyErasures`), when an old backup brought keys or values back.
 */
async function clearSubject(deps: DataDeps, subjectId: string): Promise<Partial<Record<RecordType, number>>> {
  await anyDb(deps).deleteFrom('data_keys').where('subject_id', '=', subjectId).execute();
  deps.keyring.forget(subjectId);
  const index = (await indexKeys(deps)).writing;
  const records: Partial<Record<RecordType, number>> = {};
  for (const type of SUBJECT_TYPES) {
    const def = RECORD_TYPE_DEFS[type];
    const schema = { def, fields: def.fields, custom: await loadCustomFieldDefs(deps.db, type) };
    const rows = (await anyDb(deps).selectFrom(type).selectAll().where('subject_id', '=', subjectId).execute()) as Record<string, unknown>[];
    if (rows.length === 0) continue;
    records[type] = rows.length;
    // Required columns (a last name) keep an empty value; the rest become null.
    const cleared: Record<string, string | null> = {};
    for (const f of personalFields(schema)) cleared[f.column!] = f.required ? '' : null;
    for (const f of def.fields) if (f.blindIndex && f.column) cleared[bidxColumn(f)] = null;
    const ids = rows.map((r) => String(r.id));
    await anyDb(deps).updateTable(type).set(cleared).where('subject_id', '=', subjectId).execute();
    const personalCustom = schema.custom.filter(isPersonal).map((f) => f.customFieldId!);
    if (personalCustom.length > 0) await anyDb(deps).deleteFrom('custom_values').where('record_id', 'in', ids).where('field_id', 'in', personalCustom).execute();
    // The search document keeps only the words of plain fields: tokens of the person's words go.
    for (const row of rows) await reindexDocument(deps.db, deps.dialect, type, { recordId: String(row.id), terms: searchTerms(schema, { ...row, ...cleared }, index) });
  }
  return records;
}

/** Erases again everyone in the ledger: run after restoring a backup taken before their erasure. */
export async function reapplyErasures(deps: DataDeps): Promise<number> {
  const ledger = (await anyDb(deps).selectFrom('erasures').select('subject_id').execute()) as { subject_id: string }[];
  let cleared = 0;
  for (const { subject_id: subjectId } of ledger) {
    // A restored backup brings the keys back with the values; without keys there is nothing to open.
    const left = await anyDb(deps).selectFrom('data_keys').select('subject_id').where('subject_id', '=', subjectId).executeTakeFirst();
    if (!left) continue;
    await inTransaction(deps, (tx) => clearSubject(tx, subjectId));
    cleared += 1;
  }
  return cleared;
}
