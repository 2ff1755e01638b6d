/** A time from the API (ISO 8601) in the reader's language, to the minute. */
export function formatDateTime(iso: string | null | undefined, language: string): string {
  if (!iso) return '';
  return new Date(iso).toLocaleString(language, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A date from the API in the reader's language. */
export function formatDate(iso: string | null | undefined, language: string): string {
  if (!iso) return '';
  return new Date(iso).toLocaleDateString(language, { dateStyle: 'medium' });
}
