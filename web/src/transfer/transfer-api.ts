import { api, must } from '../api/client';
import type { paths } from '../api/schema';

/**
 * The import calls. A file travels as its own bytes (text/csv), never decoded here, so the server
 * judges its encoding; the mapping travels in the query string of the API call, never in the
 * page's address. Exports go through the governed-export calls in ../exports/exports-api.ts.
 */

export const IMPORT_TYPES = ['contacts', 'companies'] as const;
export type ImportType = (typeof IMPORT_TYPES)[number];

type PreviewAnswer = paths['/api/v1/imports/{type}/preview']['post']['responses'][200]['content']['application/json'];
export type ImportPreview = PreviewAnswer;
export type ImportField = PreviewAnswer['fields'][number];
export type PreviewRow = PreviewAnswer['rows'][number];
export type ImportEvent = paths['/api/v1/imports/{type}']['post']['responses'][200]['content']['application/x-ndjson'];
export type RowResult = Extract<ImportEvent, { kind: 'rows' }>['rows'][number];
export type RejectedRow = Extract<RowResult, { ok: false }>;
export type ImportFinished = Extract<ImportEvent, { kind: 'finished' }>;

/** One mapping key per column; null skips the column. */
export type Mapping = (string | null)[];

function csvRequest(type: ImportType, file: Blob, mapping?: Mapping) {
  return {
    params: { path: { type }, query: mapping ? { columns: mapping.map((key) => key ?? '').join(',') } : {} },
    // The typed body is the file's text; the bytes are sent as they are instead.
    body: '',
    bodySerializer: () => file,
    headers: { 'content-type': 'text/csv' },
  };
}

/** Reads the file on the server: columns, suggested mapping, fields, row count and the first rows tried. */
export async function previewImport(type: ImportType, file: Blob, mapping?: Mapping): Promise<ImportPreview> {
  return must(await api.POST('/api/v1/imports/{type}/preview', csvRequest(type, file, mapping)));
}

/**
 * Runs the import and hands each line of the server's answer to `onEvent` as it arrives. A file
 * or mapping the server refuses throws an ApiError before any line.
 */
export async function runImport(type: ImportType, file: Blob, mapping: Mapping, onEvent: (event: ImportEvent) => void): Promise<void> {
  const result = await api.POST('/api/v1/imports/{type}', { ...csvRequest(type, file, mapping), parseAs: 'stream' });
  if (!result.response.ok || !result.data) must(result as { data?: unknown; error?: unknown; response: Response });
  const reader = (result.data as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { done, value } = await reader.read();
    buffered += decoder.decode(value, { stream: !done });
    let end = buffered.indexOf('\n');
    while (end >= 0) {
      const line = buffered.slice(0, end).trim();
      buffered = buffered.slice(end + 1);
      if (line !== '') onEvent(JSON.parse(line) as ImportEvent);
      end = buffered.indexOf('\n');
    }
    if (done) break;
  }
  if (buffered.trim() !== '') onEvent(JSON.parse(buffered) as ImportEvent);
}
