import { api, ApiError, must } from '../api/client';
import type { paths } from '../api/schema';

/**
 * The governed-export and approval calls. An export is asked for with a reason and the list's
 * query, which travels in the request body and never in an address; the file comes back through
 * its one-time download as a blob, saved through an object URL, so nothing about the records
 * reaches the address bar or the browser's history.
 */

export const EXPORT_TYPES = ['companies', 'contacts', 'leads', 'deals', 'activities', 'tickets'] as const;
export type ExportType = (typeof EXPORT_TYPES)[number];
export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export type ExportStatus = 'pending_approval' | 'ready' | 'downloaded' | 'denied' | 'cancelled' | 'expired';

type ExportAnswer = paths['/api/v1/exports/{id}']['get']['responses'][200]['content']['application/json'];
/** An export as its requester sees it. */
export type ExportView = ExportAnswer & { format: ExportFormat; status: ExportStatus };
export type ExportPage = { items: ExportView[]; nextCursor: string | null };

/** What an export of the list would hold and need, asked before anything is created. */
export type ExportEstimate = paths['/api/v1/exports/estimate']['post']['responses'][200]['content']['application/json'];

/** The list's filters, search and sort, as its query string carries them ({ q, sort, ownerId, 'amount[gte]': … }). */
export type ExportQuery = Record<string, string>;

export type Approval = paths['/api/v1/approvals/{id}']['get']['responses'][200]['content']['application/json'];
export type ApprovalPage = paths['/api/v1/approvals']['get']['responses'][200]['content']['application/json'];
export type ApprovalStatus = Approval['status'];

export type TraceResult = paths['/api/v1/exports/trace']['post']['responses'][200]['content']['application/json'];
export type TraceCandidate = TraceResult['candidates'][number];

/** Paging and trash belong to a list's screen, not to what is exported. */
const NOT_EXPORTED = new Set(['limit', 'cursor', 'trash']);

/** The export's query: the list's filters, search and sort, without paging and empty values. */
export function exportQuery(query: Record<string, unknown>): ExportQuery {
  const kept: ExportQuery = {};
  for (const [key, value] of Object.entries(query)) {
    if (NOT_EXPORTED.has(key) || value === undefined || value === null || value === '') continue;
    kept[key] = String(value);
  }
  return kept;
}

/** How many filters (exact or bounds) and whether a search narrow the export, for the dialog to say so. */
export function narrowedBy(query: ExportQuery): { filters: number; searched: boolean } {
  const keys = Object.keys(query);
  return { filters: keys.filter((key) => key !== 'q' && key !== 'sort').length, searched: Boolean(query.q) };
}

/** Asks for an export: answered ready (download now) or pending_approval. */
export async function createExport(input: { type: string; format: ExportFormat; reason: string; query: ExportQuery }): Promise<ExportView> {
  // The list names its own type; the server refuses one it does not know.
  return must(await api.POST('/api/v1/exports', { body: { ...input, type: input.type as ExportType } })) as ExportView;
}

/** The rows an export of the list would hold, the caps that apply and whether it needs approval; nothing is created. */
export async function estimateExport(input: { type: string; query: ExportQuery }): Promise<ExportEstimate> {
  return must(await api.POST('/api/v1/exports/estimate', { body: { ...input, type: input.type as ExportType } }));
}

export async function listExports(query: { cursor?: string; limit?: number; mine?: boolean }): Promise<ExportPage> {
  const params = { ...(query.cursor ? { cursor: query.cursor } : {}), ...(query.limit ? { limit: String(query.limit) } : {}), ...(query.mine ? { mine: 'true' as const } : {}) };
  return must(await api.GET('/api/v1/exports', { params: { query: params } })) as ExportPage;
}

export async function cancelExport(id: string): Promise<ExportView> {
  return must(await api.POST('/api/v1/exports/{id}/cancel', { params: { path: { id } } })) as ExportView;
}

/**
 * Takes an export's one download and saves it through an object URL. A refusal (already taken,
 * expired, a second factor wanted) throws the server's problem before anything is saved.
 */
export async function downloadExport(id: string): Promise<void> {
  const result = await api.GET('/api/v1/exports/{id}/download', { params: { path: { id } }, parseAs: 'blob' });
  // Judged by the answer, not `instanceof Blob`: the Blob class can differ between realms.
  if (!result.response.ok || !result.data) {
    must(result);
    throw new ApiError({ code: 'request.unexpected', message: '', status: result.response.status });
  }
  const name = /filename="([^"]+)"/.exec(result.response.headers.get('content-disposition') ?? '')?.[1] ?? `export-${id}`;
  saveBlob(result.data as Blob, name);
}

/** Offers a blob as a file download; the object URL lives only for this turn. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  try {
    const link = document.createElement('a');
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // The click has started the download; the object URL is not needed after this turn.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

export async function listApprovals(query: { status?: ApprovalStatus; kind?: Approval['kind']; mine?: boolean; cursor?: string; limit?: number }): Promise<ApprovalPage> {
  return must(
    await api.GET('/api/v1/approvals', {
      params: {
        query: {
          ...(query.status ? { status: query.status } : {}),
          ...(query.kind ? { kind: query.kind } : {}),
          ...(query.mine ? { mine: 'true' as const } : {}),
          ...(query.cursor ? { cursor: query.cursor } : {}),
          ...(query.limit ? { limit: String(query.limit) } : {}),
        },
      },
    }),
  );
}

export async function approveRequest(id: string, note: string): Promise<Approval> {
  return must(await api.POST('/api/v1/approvals/{id}/approve', { params: { path: { id } }, body: note.trim() ? { note: note.trim() } : {} }));
}

export async function denyRequest(id: string, note: string): Promise<Approval> {
  return must(await api.POST('/api/v1/approvals/{id}/deny', { params: { path: { id } }, body: note.trim() ? { note: note.trim() } : {} }));
}

/** Sends a found file as its own bytes, so the server reads it as it is; JSON by its name or type. */
export async function traceFile(file: Blob & { name?: string }): Promise<TraceResult> {
  const json = file.type === 'application/json' || /\.json$/i.test(file.name ?? '');
  // The bytes as they are (never decoded here), so the server judges the encoding.
  const bytes = await file.arrayBuffer();
  return must(
    await api.POST('/api/v1/exports/trace', {
      body: '',
      bodySerializer: () => bytes,
      headers: { 'content-type': json ? 'application/json' : 'text/csv' },
    }),
  );
}
