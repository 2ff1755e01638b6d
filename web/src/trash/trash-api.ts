import { useSyncExternalStore } from 'react';
import { api, must } from '../api/client';
import type { paths } from '../api/schema';
import type { RecordType } from '../records/record-types';

/**
 * The trash and mass changes as the API offers them: the trash summary and each type's contents,
 * purging, bulk delete and bulk update with their four-eyes approval, and the caller's mass changes
 * waiting on one.
 */

export type TrashSummary = paths['/api/v1/trash/summary']['get']['responses'][200]['content']['application/json'];
export type Approval = paths['/api/v1/approvals/{id}']['get']['responses'][200]['content']['application/json'];

/** The fields a bulk update sets from the list screens. */
export interface OwnershipChanges {
  ownerId?: string | null;
  teamId?: string | null;
}

/** A mass change as it is sent from a list. */
export interface BulkChange {
  kind: 'bulk_delete' | 'bulk_update';
  type: RecordType;
  ids: string[];
  changes?: OwnershipChanges;
}

/** Either the work was done (how many records), or it waits for the approval asked for. */
export type BulkOutcome = { done: number } | { approval: Approval };

/** A mass change of the caller's waiting on its approval, as GET /api/v1/bulk-changes lists it. */
export type WaitingChange = paths['/api/v1/bulk-changes']['get']['responses'][200]['content']['application/json']['items'][number];
export type TrashEntry = paths['/api/v1/trash/contacts']['get']['responses'][200]['content']['application/json']['items'][number];
export interface TrashPage {
  items: TrashEntry[];
  nextCursor: string | null;
}

// The typed client knows each type's path; all six answer alike, so calls name one and pass the real one.
type BulkDeletePath = '/api/v1/contacts/bulk-delete';
type BulkUpdatePath = '/api/v1/contacts/bulk-update';
type TrashListPath = '/api/v1/trash/contacts';

/**
 * Sends a mass change. Over the server's threshold it needs a reason (409 bulk.approval_required
 * without one) and answers the approval asked for; the server keeps the batch under its id.
 */
export async function sendBulkChange(change: BulkChange, reason?: string): Promise<BulkOutcome> {
  const options = reason ? { reason } : {};
  if (change.kind === 'bulk_delete') {
    const answer = must(await api.POST(`/api/v1/${change.type}/bulk-delete` as BulkDeletePath, { body: { ids: change.ids, ...options } }));
    return 'approval' in answer ? { approval: answer.approval as Approval } : { done: answer.deleted };
  }
  const answer = must(await api.POST(`/api/v1/${change.type}/bulk-update` as BulkUpdatePath, { body: { ids: change.ids, changes: (change.changes ?? {}) as Record<string, unknown>, ...options } }));
  return 'approval' in answer ? { approval: answer.approval as Approval } : { done: answer.updated };
}

/** Runs an approved mass change from its approval alone: the server does exactly the batch it kept. */
export async function runApprovedChange(approvalId: string): Promise<number> {
  return must(await api.POST('/api/v1/bulk-changes/{approvalId}/run', { params: { path: { approvalId } } })).records;
}

export async function readApproval(id: string): Promise<Approval> {
  return must(await api.GET('/api/v1/approvals/{id}', { params: { path: { id } } }));
}

/** The caller's own mass changes that wait for a decision, or were approved and not yet run. */
export async function listWaitingChanges(): Promise<WaitingChange[]> {
  return must(await api.GET('/api/v1/bulk-changes', { params: { query: { limit: '100' } } })).items;
}

export async function cancelApproval(id: string): Promise<Approval> {
  return must(await api.POST('/api/v1/approvals/{id}/cancel', { params: { path: { id } } }));
}

export async function readTrashSummary(): Promise<TrashSummary> {
  return must(await api.GET('/api/v1/trash/summary'));
}

/** One type's trash, longest there first: titles as lists show them, who deleted each and when it goes for good. */
export async function listTrash(type: RecordType, cursor: string | null, limit: string): Promise<TrashPage> {
  return must(await api.GET(`/api/v1/trash/${type}` as TrashListPath, { params: { query: { limit, ...(cursor ? { cursor } : {}) } } }));
}

/** Purges records of one type from the trash for good (trash.purge and a recent second factor). */
export async function purgeRecords(type: RecordType, ids: string[]) {
  return must(await api.POST('/api/v1/trash/purge', { body: { type, ids } }));
}

/** What a list shows of a change it asked approval for: what it does, not which records. */
export interface AskedChange {
  kind: BulkChange['kind'];
  type: RecordType;
  records: number;
  fields: string[];
}

/**
 * The changes this tab asked approval for, by approval id, so the list they came from can say how
 * each stands (denied included, which the server no longer lists) and run it once approved. Kept
 * in this page's memory only; GET /api/v1/bulk-changes is the lasting list.
 */
const askedHere = new Map<string, AskedChange>();
const listeners = new Set<() => void>();
let version = 0;

function changed() {
  version += 1;
  for (const listener of listeners) listener();
}

export function rememberAskedChange(approvalId: string, change: AskedChange): void {
  askedHere.set(approvalId, change);
  changed();
}

export function forgetAskedChange(approvalId: string): void {
  if (askedHere.delete(approvalId)) changed();
}

/** The changes asked for in this tab, as [approvalId, change]; re-renders when they change. */
export function useAskedChanges(): [string, AskedChange][] {
  useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => version,
  );
  return [...askedHere.entries()];
}
