import { decodeCursor } from '../../data/cursor.js';
import type { RecordType } from '../../data/field-registry.js';
import { getRecord, type DataDeps, type RecordPage, type RecordView } from '../../data/record-store.js';
import type { ActorContext } from '../../shared/principal.js';
import { recordServices } from '../record-services.js';
import { requireScope } from '../tokens/tokens.service.js';

/** A list of the records that belong to another one: a company's contacts, a deal's activities. */
export interface Relation {
  parent: RecordType;
  child: RecordType;
  /** The exact filters that pick the parent's children. */
  filters(parentId: string): Record<string, string>;
}

const attached = (parent: RecordType): Relation => ({ parent, child: 'activities', filters: (id) => ({ relatedType: parent, relatedId: id }) });
const pointing = (parent: RecordType, child: RecordType, key: string): Relation => ({ parent, child, filters: (id) => ({ [key]: id }) });

export const RELATIONS: readonly Relation[] = [
  pointing('companies', 'contacts', 'companyId'),
  pointing('companies', 'deals', 'companyId'),
  attached('companies'),
  pointing('companies', 'tickets', 'companyId'),
  pointing('contacts', 'deals', 'contactId'),
  attached('contacts'),
  pointing('contacts', 'tickets', 'contactId'),
  attached('deals'),
  attached('leads'),
  attached('tickets'),
];

export interface RelatedPage {
  limit?: number;
  cursor?: string;
  sort?: string;
}

/**
 * One page of a parent's children, through the child type's service with the relation's filters
 * forced. The parent must be live: a record in the trash shows nothing of what hangs off it.
 */
export async function listRelated(deps: DataDeps, ctx: ActorContext, relation: Relation, parentId: string, page: RelatedPage): Promise<RecordPage> {
  requireScope(ctx, relation.child, 'read');
  // Only its existence is checked; the answer carries nothing of the parent.
  await getRecord(deps, ctx, relation.parent, parentId, { audited: false });
  return recordServices[relation.child].list(deps, ctx, { ...page, filters: relation.filters(parentId) });
}

export interface TimelineEntry {
  type: 'activity' | 'created' | 'updated';
  at: string;
  /** Who made the activity, or created or last changed the contact. */
  actorId: string | null;
  activity: RecordView | null;
}

export interface TimelinePage {
  items: TimelineEntry[];
  nextCursor: string | null;
}

const TIMELINE_SORT = '-createdAt';

/**
 * A contact's history, newest first: the activities attached to it, and its own creation and last
 * change. Pages follow the activities; the contact's own entries join the page whose time span
 * holds them, so a page may carry up to two entries more than `limit`.
 */
export async function contactTimeline(deps: DataDeps, ctx: ActorContext, contactId: string, page: { limit?: number; cursor?: string }): Promise<TimelinePage> {
  requireScope(ctx, 'activities', 'read');
  // The answer carries the contact's history, not its values.
  const contact = await getRecord(deps, ctx, 'contacts', contactId, { audited: false });
  const activities = await recordServices.activities.list(deps, ctx, {
    ...page,
    sort: TIMELINE_SORT,
    filters: { relatedType: 'contacts', relatedId: contact.id },
  });
  const newest = page.cursor === undefined ? null : String(decodeCursor(page.cursor, TIMELINE_SORT).value);
  const oldest = activities.nextCursor === null ? null : String(activities.items.at(-1)?.createdAt);
  const own: TimelineEntry[] = [{ type: 'created', at: String(contact.createdAt), actorId: (contact.createdBy as string | null) ?? null, activity: null }];
  if (contact.updatedAt !== contact.createdAt) own.push({ type: 'updated', at: String(contact.updatedAt), actorId: (contact.updatedBy as string | null) ?? null, activity: null });

  const items: TimelineEntry[] = [
    ...activities.items.map((a) => ({ type: 'activity' as const, at: String(a.createdAt), actorId: (a.createdBy as string | null) ?? null, activity: a })),
    ...own.filter((e) => (newest === null || e.at <= newest) && (oldest === null || e.at > oldest)),
  ];
  // Stable, so at equal times activities stay before the contact's own entries.
  items.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return { items, nextCursor: activities.nextCursor };
}
