import { recordAudit } from '../../data/audit-trail.js';
import { erasePerson } from '../../data/erasure.js';
import { createRecords, deleteRecord, getRecord, inTransaction, listRecords, summarizeRecords, type DataDeps, type RecordInput, type RecordOrigin } from '../../data/record-store.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { handlerOf, requireAlertHandler, requireHandlerStepUp } from '../alerts/alerts.service.js';
import { getUserById, listUsers } from '../users/users.service.js';
import { DecoyMaker, personLabel, type Employer, type Placement } from './honeytokens.decoys.js';
import { deleteHoneytoken, insertHoneytokens, selectHoneytoken, selectHoneytokens, type HoneytokenRow } from './honeytokens.repo.js';

/**
 * Honeytokens: decoy customers planted among the real ones. They are written through the record
 * store like any record (sealed, indexed, searchable, in every list and export of their team), and
 * nothing in a record says it is a decoy; only this module's table knows. Nobody's real work opens
 * them, so the detection engine treats opening, revealing or exporting one as a breach (seeing one
 * pass by in a list page is not).
 *
 * A decoy must not stand out to anyone without alerts.handle:
 * - It sits in a team's pool with no personal owner, so it is in nobody's "my records" and no
 *   salesperson opens it in the course of their day; only where records are in no team at all does
 *   it get a personal owner, drawn as the type's records are spread (or the one asked for).
 * - It is dated as if made by a member of its team (its owner, when it has one) at a random time
 *   within the span of the team's (or owner's) records, and its id carries that time.
 * - It is written by the `honeytokens` job; the audit log's searches show that job's entries, and
 *   the `detection.honeytoken…` ones, only to those who handle alerts (see data/audit-query).
 */

export const HONEYTOKEN_TYPES = ['contacts', 'companies'] as const;
export type HoneytokenType = (typeof HONEYTOKEN_TYPES)[number];
export const MAX_PLANT = 50;

export interface HoneytokenView {
  recordId: string;
  recordType: HoneytokenType;
  /** The decoy's name as it shows in lists, so handlers can recognise it. */
  label: string;
  /** Whether someone moved it to the trash since. */
  inTrash: boolean;
  plantedBy: string;
  plantedAt: string;
}

export interface PlantInput {
  recordType: HoneytokenType;
  count: number;
  /** Every decoy's owner; by default (or null) decoys have none and sit in a team's pool (see sitesFor). */
  ownerId?: string | null;
  /** The team every decoy belongs to; by default the owner's, or teams drawn as the type's records are spread. */
  teamId?: string | null;
}

/** Where decoys go, and who is to seem to have made them there (by weight). */
interface Site {
  placement: Placement;
  authors: (readonly [string | null, number])[];
}

const JOB = 'honeytokens';

function jobContext(ctx: ActorContext): ActorContext {
  return { principal: { kind: 'system', job: JOB }, channel: 'job', requestId: ctx.requestId, sourceAddress: null, userAgent: null };
}

/** Plants `count` decoys of a type, in one transaction; answers them. */
export async function plantHoneytokens(deps: DataDeps, ctx: ActorContext, input: PlantInput): Promise<HoneytokenView[]> {
  await requireAlertHandler(deps, ctx);
  const problems: FieldProblem[] = [];
  if (!(HONEYTOKEN_TYPES as readonly string[]).includes(input.recordType)) problems.push({ field: 'recordType', message: `must be ${HONEYTOKEN_TYPES.join(' or ')}` });
  if (!Number.isSafeInteger(input.count) || input.count < 1 || input.count > MAX_PLANT) problems.push({ field: 'count', message: `must be 1 to ${MAX_PLANT}` });
  if (input.ownerId != null && !isId(input.ownerId)) problems.push({ field: 'ownerId', message: 'is not a user id' });
  if (input.teamId != null && !isId(input.teamId)) problems.push({ field: 'teamId', message: 'is not a team id' });
  if (problems.length > 0) throw new AppError('request.invalid', `The honeytoken request has invalid fields: ${problems.map((p) => p.field).join(', ')}`, problems);

  const job = jobContext(ctx);
  const type = input.recordType;
  return inTransaction(deps, async (tx) => {
    const sites = await sitesFor(tx, job, type, input);
    const employers = type === 'contacts' ? await employerWeights(tx, job) : [];
    const domains = new Map<string, Employer | null>();
    const spans = new Map<Site, Span>();
    const maker = new DecoyMaker();
    const decoys: { input: RecordInput; label: string }[] = [];
    const origins: RecordOrigin[] = [];
    for (let i = 0; i < input.count; i++) {
      const site = maker.weighted(sites);
      if (!spans.has(site)) spans.set(site, await spanOf(tx, job, type, site.placement));
      const span = spans.get(site)!;
      origins.push({ createdAt: new Date(maker.between(span.from, span.to)), createdBy: maker.weighted(site.authors) });
      if (type === 'companies') {
        decoys.push(maker.company(site.placement));
        continue;
      }
      // As in the sample data, most people work at a company on file.
      const employerId = employers.length > 0 && maker.chance(0.9) ? maker.weighted(employers) : null;
      if (employerId !== null && !domains.has(employerId)) domains.set(employerId, await employerOf(tx, job, employerId));
      decoys.push(maker.contact(site.placement, employerId === null ? null : (domains.get(employerId) ?? null)));
    }
    const results = await createRecords(tx, job, type, decoys.map((d) => d.input), [], { origins });
    const refused = results.flatMap((r) => (r.ok ? [] : r.problems));
    // Generated values are valid by construction; what can be refused is the owner or team asked for.
    if (refused.length > 0) throw new AppError('record.invalid_reference', 'The decoys could not be placed: the owner or team does not exist', refused.slice(0, 5));
    const now = tx.clock.now().toISOString();
    const plantedBy = handlerOf(ctx);
    const rows: HoneytokenRow[] = results.map((r) => ({ record_id: (r as { id: string }).id, record_type: type, planted_by: plantedBy, planted_at: now }));
    await insertHoneytokens(tx.db, rows);
    // No record ids: which records are decoys is kept in the honeytokens table, not in a log that
    // every audit reader may search or export.
    await recordAudit(tx, ctx, { action: 'detection.honeytokens_planted', recordType: type, details: { count: rows.length } });
    return rows.map((row, i) => ({ recordId: row.record_id, recordType: type, label: decoys[i]!.label, inTrash: false, plantedBy, plantedAt: now }));
  });
}

/** Every decoy, newest first, with its name. Showing the names is a read of them, and recorded as one. */
export async function listHoneytokens(deps: DataDeps, ctx: ActorContext): Promise<HoneytokenView[]> {
  await requireAlertHandler(deps, ctx);
  const job = jobContext(ctx);
  const views: HoneytokenView[] = [];
  for (const row of await selectHoneytokens(deps.db)) {
    const type = row.record_type as HoneytokenType;
    // Read by the job, and recorded below under an action of its own: an ordinary record.read
    // here would be a touch of the decoy, and the engine would take its own handlers for thieves.
    const record = await getRecord(deps, job, type, row.record_id, { audited: false, includeDeleted: true }).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'record.not_found') return null;
      throw error;
    });
    views.push({
      recordId: row.record_id,
      recordType: type,
      label: record ? labelOf(type, record) : '',
      inTrash: record ? record.deletedAt != null : true,
      plantedBy: row.planted_by,
      plantedAt: row.planted_at,
    });
  }
  for (const type of HONEYTOKEN_TYPES) {
    const ids = views.filter((v) => v.recordType === type).map((v) => v.recordId);
    if (ids.length > 0) await recordAudit(deps, ctx, { action: 'detection.honeytokens_listed', recordType: type, recordIds: ids, fields: type === 'contacts' ? ['firstName', 'lastName'] : ['name'] });
  }
  return views;
}

/**
 * Takes a decoy away for good: a contact is erased (its keys destroyed, a tombstone left that
 * cannot be restored), a company moved to the trash; then it is no longer watched.
 */
export async function removeHoneytoken(deps: DataDeps, ctx: ActorContext, recordId: string): Promise<void> {
  // Taking decoys away blinds detection as surely as turning a rule off: a recent second factor.
  await requireHandlerStepUp(deps, ctx);
  const job = jobContext(ctx);
  await inTransaction(deps, async (tx) => {
    const row = isId(recordId) ? await selectHoneytoken(tx.db, recordId) : undefined;
    if (!row) throw new AppError('honeytoken.not_found', 'No such honeytoken');
    const type = row.record_type as HoneytokenType;
    await (type === 'contacts' ? erasePerson(tx, job, 'contacts', row.record_id) : deleteRecord(tx, job, type, row.record_id)).catch((error: unknown) => {
      // Already gone (trashed or erased by someone): there is nothing left to take away.
      if (error instanceof AppError && (error.code === 'record.not_found' || error.code === 'record.erased')) return;
      throw error;
    });
    await deleteHoneytoken(tx.db, row.record_id);
    await recordAudit(tx, ctx, { action: 'detection.honeytoken_removed', recordType: type, recordIds: [row.record_id] });
  });
}

/**
 * Where decoys go. With an owner asked for: that owner, in the team asked for or the owner's, made
 * by the owner. Otherwise in a team's pool, no owner: the team asked for, or teams drawn in
 * proportion to how many of the type's live records each holds, each decoy made by one of the
 * team's owners (weighted likewise) or members. Only when the type's records are in no team at all
 * do decoys get personal owners, drawn as those records' owners are.
 */
async function sitesFor(deps: DataDeps, job: ActorContext, type: HoneytokenType, input: PlantInput): Promise<(readonly [Site, number])[]> {
  if (input.ownerId != null) {
    const owner = await getUserById(deps, input.ownerId).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'user.not_found') throw new AppError('record.invalid_reference', 'The owner does not exist', [{ field: 'ownerId', message: 'does not exist' }]);
      throw error;
    });
    return [[{ placement: { ownerId: owner.id, teamId: input.teamId ?? owner.teamId }, authors: [[owner.id, 1]] }, 1]];
  }
  const groups = (await summarizeRecords(deps, job, type, { groupBy: ['ownerId', 'teamId'], ...(input.teamId != null ? { filters: { teamId: input.teamId } } : {}) })).map((g) => ({
    ownerId: (g.group.ownerId as string | null) ?? null,
    teamId: (g.group.teamId as string | null) ?? null,
    count: g.count,
  }));
  const teams = new Map<string, number>();
  for (const g of groups) if (g.teamId !== null) teams.set(g.teamId, (teams.get(g.teamId) ?? 0) + g.count);
  if (input.teamId != null && teams.size === 0) teams.set(input.teamId, 1);
  if (teams.size > 0) {
    let members: { id: string; teamId: string | null }[] | null = null;
    const sites: (readonly [Site, number])[] = [];
    for (const [teamId, count] of teams) {
      let authors: (readonly [string | null, number])[] = groups.filter((g) => g.teamId === teamId && g.ownerId !== null).map((g) => [g.ownerId, g.count] as const);
      if (authors.length === 0) {
        members ??= (await listUsers(deps, job)).filter((u) => u.status === 'active');
        authors = members.filter((u) => u.teamId === teamId).map((u) => [u.id, 1] as const);
      }
      sites.push([{ placement: { ownerId: null, teamId }, authors: authors.length > 0 ? authors : [[null, 1]] }, count]);
    }
    return sites;
  }
  const owned = groups.filter((g) => g.ownerId !== null).map((g): readonly [Site, number] => [{ placement: { ownerId: g.ownerId, teamId: g.teamId }, authors: [[g.ownerId, 1]] }, g.count]);
  if (owned.length > 0) return owned;
  return [[{ placement: { ownerId: null, teamId: null }, authors: [[null, 1]] }, 1]];
}

/** A span of time, in milliseconds since the epoch, both ends included. */
interface Span {
  from: number;
  to: number;
}

/**
 * When the records around a placement were made: the owner's, else the team's, else the type's;
 * now, when there are none. A decoy dated within it is as old as its neighbours.
 */
async function spanOf(deps: DataDeps, job: ActorContext, type: HoneytokenType, placement: Placement): Promise<Span> {
  const filters: Record<string, string>[] = [];
  if (placement.ownerId !== null) filters.push({ ownerId: placement.ownerId });
  if (placement.teamId !== null) filters.push({ teamId: placement.teamId });
  filters.push({});
  for (const filter of filters) {
    const edge = async (sort: string) => (await listRecords(deps, job, type, { filters: filter, sort, limit: 1 }, { audited: false })).items[0];
    const [oldest, newest] = [await edge('createdAt'), await edge('-createdAt')];
    if (oldest && newest) return { from: Date.parse(String(oldest.createdAt)), to: Date.parse(String(newest.createdAt)) };
  }
  const now = deps.clock.now().getTime();
  return { from: now, to: now };
}

/** Companies contacts work at, weighted by how many do. */
async function employerWeights(deps: DataDeps, job: ActorContext): Promise<(readonly [string, number])[]> {
  return (await summarizeRecords(deps, job, 'contacts', { groupBy: ['companyId'] }))
    .filter((g) => typeof g.group.companyId === 'string')
    .sort((a, b) => b.count - a.count)
    .slice(0, 500)
    .map((g) => [g.group.companyId as string, g.count] as const);
}

/** A company with its domain, or null when it is gone. Only the domain is used, for a decoy's address; nobody is shown the company. */
async function employerOf(deps: DataDeps, job: ActorContext, id: string): Promise<Employer | null> {
  const company = await getRecord(deps, job, 'companies', id, { audited: false }).catch((error: unknown) => {
    if (error instanceof AppError && error.code === 'record.not_found') return null;
    throw error;
  });
  return company ? { id, domain: typeof company.domain === 'string' ? company.domain : null } : null;
}

function labelOf(type: HoneytokenType, record: RecordInput): string {
  if (type === 'companies') return typeof record.name === 'string' ? record.name : '';
  return personLabel(typeof record.firstName === 'string' ? record.firstName : '', typeof record.lastName === 'string' ? record.lastName : '');
}
