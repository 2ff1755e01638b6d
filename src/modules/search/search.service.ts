import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import type { DataDeps, RecordView } from '../../data/record-store.js';
import { accessOf } from '../../data/access.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { recordServices } from '../record-services.js';

export interface SearchHit {
  type: RecordType;
  id: string;
  title: string;
  subtitle: string | null;
}

export const MAX_SEARCH_HITS = 50;
const DEFAULT_SEARCH_HITS = 20;

const text = (...parts: unknown[]): string => parts.filter((p) => typeof p === 'string' && p !== '').join(' ');
const orNull = (value: string): string | null => (value === '' ? null : value);

/** How each record type reads in a list of hits. */
const PRESENT: Record<RecordType, (r: RecordView) => { title: string; subtitle: string | null }> = {
  companies: (r) => ({ title: text(r.name), subtitle: orNull(text(r.domain) || text(r.city)) }),
  contacts: (r) => ({ title: text(r.firstName, r.lastName), subtitle: orNull(text(r.email) || text(r.jobTitle)) }),
  leads: (r) => ({ title: text(r.firstName, r.lastName), subtitle: orNull(text(r.companyName)) }),
  deals: (r) => ({ title: text(r.name), subtitle: `${String(r.status)} · ${String(r.amount)} ${String(r.currency)}` }),
  activities: (r) => ({ title: text(r.subject), subtitle: orNull(text(r.kind)) }),
  tickets: (r) => ({ title: text(r.subject), subtitle: `${String(r.status)} · ${String(r.priority)}` }),
};

/**
 * Searches every record type the caller may read, through each type's list, and interleaves the
 * hits so one busy type cannot crowd out the others.
 */
export async function searchRecords(deps: DataDeps, ctx: ActorContext, q: string, limit: number = DEFAULT_SEARCH_HITS): Promise<SearchHit[]> {
  if (typeof q !== 'string' || q.trim() === '') throw new AppError('request.invalid', 'Give some text to search for', [{ field: 'q', message: 'is required' }]);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_HITS) {
    throw new AppError('request.invalid', `limit must be 1 to ${MAX_SEARCH_HITS}`, [{ field: 'limit', message: `must be 1 to ${MAX_SEARCH_HITS}` }]);
  }
  // Only the types the principal may read at all (a token's scopes included) are searched.
  const access = await accessOf(deps, ctx);
  const types = RECORD_TYPES.filter((type) => access.scope(type, 'read') !== null);
  const perType = await Promise.all(
    types.map(async (type) => {
      try {
        return (await recordServices[type].list(deps, ctx, { q, limit })).items.map((r) => ({ type, id: r.id, ...PRESENT[type](r) }));
      } catch (error) {
        // A type whose searchable fields the principal's roles hide cannot be searched; it adds no hits.
        if (error instanceof AppError && error.code === 'request.invalid_filter') return [];
        throw error;
      }
    }),
  );
  const hits: SearchHit[] = [];
  for (let i = 0; hits.length < limit && perType.some((list) => i < list.length); i++) {
    for (const list of perType) if (i < list.length && hits.length < limit) hits.push(list[i]!);
  }
  return hits;
}
