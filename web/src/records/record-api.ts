import { api, must } from '../api/client';
import type { paths } from '../api/schema';
import type { RecordItem, RecordType } from './record-types';

/**
 * The record routes, shared by every type. The typed client knows each path separately; these
 * screens treat the six types alike, so calls name one type's path for the types and pass the
 * real one: the server's answer has the same shape for all of them.
 */
type ListPath = '/api/v1/contacts';
type ItemPath = '/api/v1/contacts/{id}';

export interface RecordPage {
  items: RecordItem[];
  nextCursor: string | null;
}

export type ListQuery = Record<string, string>;

// Named by the paths that answer them: the generated schema names are numbered, not stable.
type Answer<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer A } } } } } ? A : never;
export type CustomField = Answer<'/api/v1/custom-fields'>['items'][number];
export type SearchHit = Answer<'/api/v1/search'>['items'][number];
export type Pipeline = Answer<'/api/v1/pipelines'>['items'][number];
export type Board = Answer<'/api/v1/pipelines/{id}/board'>;
export type SavedView = Answer<'/api/v1/views'>['items'][number];
export type TimelineEntry = Answer<'/api/v1/contacts/{id}/timeline'>['items'][number];

export async function listRecords(type: RecordType, query: ListQuery): Promise<RecordPage> {
  return must(await api.GET(`/api/v1/${type}` as ListPath, { params: { query: query as never } })) as unknown as RecordPage;
}

export async function readRecord(type: RecordType, id: string): Promise<RecordItem> {
  return must(await api.GET(`/api/v1/${type}/{id}` as ItemPath, { params: { path: { id } } })) as unknown as RecordItem;
}

export async function createRecord(type: RecordType, body: Record<string, unknown>): Promise<RecordItem> {
  return must(await api.POST(`/api/v1/${type}` as ListPath, { body: body as never })) as unknown as RecordItem;
}

export async function updateRecord(type: RecordType, id: string, body: Record<string, unknown> & { version: number }): Promise<RecordItem> {
  return must(await api.PATCH(`/api/v1/${type}/{id}` as ItemPath, { params: { path: { id } }, body: body as never })) as unknown as RecordItem;
}

export async function deleteRecord(type: RecordType, id: string): Promise<void> {
  must(await api.DELETE(`/api/v1/${type}/{id}` as ItemPath, { params: { path: { id } } }));
}

export async function restoreRecord(type: RecordType, id: string): Promise<RecordItem> {
  return must(await api.POST(`/api/v1/${type}/{id}/restore` as '/api/v1/contacts/{id}/restore', { params: { path: { id } } })) as unknown as RecordItem;
}

/** Masked values in clear, for a stated reason; the server keeps a record of who asked and why. */
export async function revealFields(type: RecordType, id: string, fields: string[], reason: string): Promise<Record<string, unknown>> {
  const answer = must(await api.POST(`/api/v1/${type}/{id}/reveal` as '/api/v1/contacts/{id}/reveal', { params: { path: { id } }, body: { fields, reason } }));
  return answer.values;
}

/** A related list of a record: `/api/v1/<type>/:id/<related>`. */
export async function listRelated(type: RecordType, id: string, related: RecordType, query: ListQuery = {}): Promise<RecordPage> {
  return must(await api.GET(`/api/v1/${type}/{id}/${related}` as '/api/v1/companies/{id}/contacts', { params: { path: { id }, query: query as never } })) as unknown as RecordPage;
}

/** Custom fields of a record type, in form order. */
export async function listCustomFields(type: RecordType): Promise<CustomField[]> {
  const answer = must(await api.GET('/api/v1/custom-fields', { params: { query: { recordType: type } } }));
  return [...answer.items].sort((a, b) => a.position - b.position);
}

/** Query keys, so screens that change a record can refresh what shows it. */
export const recordKeys = {
  all: (type: RecordType) => ['records', type] as const,
  list: (type: RecordType, query: ListQuery) => ['records', type, 'list', query] as const,
  one: (type: RecordType, id: string) => ['records', type, 'one', id] as const,
};
