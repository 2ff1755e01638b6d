import { ExportButton } from '../transfer/export-button';
import type { RecordType } from './record-types';

/**
 * The place in a list's header where the export button belongs: it hands the export the list it
 * would export, the type and the filters and search the user set, which stay in memory and travel
 * in the request body, never in an address.
 */
export function ExportSlot({ type, query }: { type: RecordType; query: Record<string, string> }) {
  return <ExportButton type={type} query={query} />;
}
