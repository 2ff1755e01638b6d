import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Executor } from '../db/database.js';
import type { RequestEventsTable } from '../db/schema.js';
import type { AuthDeps } from '../modules/auth/auth.service.js';
import { newId } from '../shared/ids.js';

/**
 * Request events: what the HTTP layer saw go wrong or look hostile, for the detection engine.
 * Recorded after the answer has gone out, for refusals (401, 403, 423), missing addresses (404),
 * rate limits (429), requests from a blocked address, and requests that look like probes, whatever
 * their answer. An ordinary successful request costs a few regular-expression tests and writes
 * nothing. What is kept never includes the query string, the body or headers (they carry personal
 * data and credentials): for a probe only the class of pattern it matched; for a path no route
 * knows, at most its first segment.
 */

export type ProbeClass = 'sql' | 'script' | 'traversal' | 'scanner';

/** At most this many events per address and second are stored; the rest are counted in `repeats`. */
export const EVENTS_PER_ADDRESS_PER_SECOND = 3;
/** At most this many events per second are stored by one process, whatever their addresses. */
export const EVENTS_PER_SECOND = 50;
/** Addresses whose counts are kept in memory at once; events from further ones are only counted. */
const MAX_TRACKED_ADDRESSES = 10_000;
/** Rows per insert statement. */
const BATCH_ROWS = 200;

const SQL = [
  /\bunion\b[\s+(/*]+(?:all\b[\s+(/*]+)?select\b/i,
  /['"`)]\s*(?:or|and)\b\s*['"(]?\s*\w+['"]?\s*(?:=|<|>|like\b)/i,
  /\b(?:or|and)\s+\d+\s*=\s*\d+/i,
  /['"`]\s*(?:--|#|\/\*)/,
  /;\s*(?:drop|delete|insert|update|alter|create|truncate|exec|shutdown)\b/i,
  /\b(?:sleep|benchmark|pg_sleep)\s*\(\s*\d/i,
  /\bwaitfor\s+delay\b/i,
  /\binformation_schema\b|\bsqlite_master\b|\bpg_catalog\b/i,
  /\bxp_cmdshell\b|\bload_file\s*\(|\binto\s+(?:out|dump)file\b/i,
];
const SCRIPT = [
  /<\s*\/?\s*(?:script|iframe|object|embed|svg|img|body|details|math)\b[^>]*>?/i,
  /\bjavascript\s*:/i,
  /\bon(?:error|load|mouseover|focus|click|toggle|begin)\s*=/i,
  /\b(?:document\.cookie|alert\s*\(|prompt\s*\(|eval\s*\()/i,
];
const TRAVERSAL = [/(?:^|[/\\=])\.\.(?:[/\\]|$)/, /\/etc\/(?:passwd|shadow|hosts)\b/i, /\bwin\.ini\b|\bboot\.ini\b/i, /\/proc\/self\//i, /\x00/];
const SCANNER_PATHS = [
  /^\/\.(?:env|git|svn|hg|aws|ssh|docker|htaccess|htpasswd|ds_store|vscode|idea)(?:[/.]|$)/i,
  /^\/(?:wp-admin|wp-login\.php|wp-content|wp-includes|xmlrpc\.php|wordpress)(?:[/?]|$)/i,
  /^\/(?:phpmyadmin|pma|myadmin|mysql|adminer(?:\.php)?|dbadmin)(?:[/?]|$)/i,
  /^\/(?:cgi-bin|server-status|server-info|actuator|jmx-console|manager\/html|solr|jenkins|console|boaform|hnap1|owa|autodiscover|vendor\/phpunit|telescope|_profiler|debug\/default)(?:[/?]|$)/i,
  /\.(?:php\d?|asp|aspx|jsp|cgi|pl|bak|sql|swp|old|orig)$/i,
  /^\/(?:config|configuration|settings|database|backup|dump|credentials)\.(?:json|yml|yaml|ini|xml|txt|sql|zip|tar|gz)$/i,
];
const SCANNER_AGENTS = /\b(?:sqlmap|nikto|nmap|masscan|zgrab|nuclei|dirbuster|gobuster|feroxbuster|ffuf|wpscan|acunetix|nessus|openvas|w3af|arachni|havij|zap\/|burp)/i;

/** Percent-decoding that never throws: undecodable escapes stay as they are. Twice, for double-encoded probes. */
function decoded(text: string): string {
  let out = text;
  for (let i = 0; i < 2; i++) {
    try {
      const next = decodeURIComponent(out.replace(/\+/g, ' '));
      if (next === out) break;
      out = next;
    } catch {
      break;
    }
  }
  return out;
}

/**
 * The class of probe a request looks like, from its path, query and User-Agent (never its body),
 * or null. The checks look at the query; what is stored is only the class. A request a browser
 * says another site made it send (`Sec-Fetch-Site: cross-site`) is not one: a page elsewhere could
 * otherwise make the browsers of Rampart's own users send probes and get their addresses blocked.
 */
export function probeClassOf(url: string, userAgent: string | undefined, fetchSite?: string | string[]): ProbeClass | null {
  if (fetchSite === 'cross-site') return null;
  const cut = url.indexOf('?');
  const rawPath = cut === -1 ? url : url.slice(0, cut);
  const path = decoded(rawPath);
  const query = cut === -1 ? '' : decoded(url.slice(cut + 1));
  if (TRAVERSAL.some((p) => p.test(path) || p.test(query) || p.test(rawPath))) return 'traversal';
  if (SCANNER_PATHS.some((p) => p.test(path))) return 'scanner';
  const both = `${path}\n${query}`;
  if (SCRIPT.some((p) => p.test(both))) return 'script';
  if (SQL.some((p) => p.test(both))) return 'sql';
  if (userAgent !== undefined && SCANNER_AGENTS.test(userAgent)) return 'scanner';
  return null;
}

const blocked = new WeakSet<FastifyRequest>();

/** Marks a request as refused because its address is blocked (networks.ts). */
export function noteBlocked(request: FastifyRequest): void {
  blocked.add(request);
}

type NewEvent = Omit<RequestEventsTable, 'id' | 'repeats'>;
type EventKind = RequestEventsTable['kind'];

interface AddressCount {
  stored: number;
  /** Events in this second beyond the allowance, not stored yet. */
  pending: number;
  /** The last of those, written with the count of the others once the second is over. */
  last: NewEvent | null;
}

/** Events beyond every allowance, counted by kind: one row each per second carries them. */
interface Overflow {
  count: number;
  last: NewEvent;
  /** The one address they all came from, or null once there were several. */
  address: string | null | undefined;
}

/** A path no route knows: its first segment when it is a plain word (`/.env`, `/wp-admin`), else `(unmatched)`. */
function unmatchedPath(url: string): string {
  const segment = /^\/[^/?#]*/.exec(url)?.[0] ?? '';
  // A word of letters, without long runs of digits (an id, a phone number) or an email address.
  return /^\/[A-Za-z0-9._~-]{1,40}$/.test(segment) && !/\d{4}/.test(segment) ? segment : '(unmatched)';
}

/**
 * The route's pattern when a specific route matched (ids left out); for any other path (a
 * catch-all route says nothing of what was asked for) only what `unmatchedPath` keeps; never the query.
 */
function pathOf(request: FastifyRequest): string {
  const pattern = request.routeOptions.url;
  return pattern && !pattern.includes('*') ? pattern.slice(0, 200) : unmatchedPath(request.url);
}

/** The kind of event an answer is, or null for an ordinary one. */
function kindOf(status: number, probe: ProbeClass | null, wasBlocked: boolean): EventKind | null {
  if (wasBlocked) return 'blocked';
  if (probe) return 'probe';
  if (status === 401 || status === 403 || status === 423) return 'refused';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  return null;
}

/**
 * Deletes request events that happened before `olderThan` (the detection engine's housekeeping),
 * a few thousand at a time so no statement holds the table for long. Answers how many went.
 */
export async function pruneRequestEvents(deps: { readonly db: Executor }, olderThan: Date): Promise<number> {
  const cutoff = olderThan.toISOString();
  let total = 0;
  for (;;) {
    const ids = await deps.db.selectFrom('request_events').select('id').where('occurred_at', '<', cutoff).limit(5000).execute();
    if (ids.length === 0) return total;
    const gone = await deps.db.deleteFrom('request_events').where('id', 'in', ids.map((r) => r.id)).executeTakeFirst();
    total += Number(gone.numDeletedRows);
    if (ids.length < 5000) return total;
  }
}

/**
 * Records request events after each answer, written in batches about once a second (and when the
 * app closes). At most a few per source address and second are stored, and at most
 * `EVENTS_PER_SECOND` in all, so a flood from many addresses cannot fill the database; the others
 * are counted: the count of an address goes out with the last of its events once the second is
 * over, and what is beyond even that (or from more addresses than are tracked) in one row per kind.
 * No event goes uncounted.
 */
export function installRequestEvents(app: FastifyInstance, deps: AuthDeps, options: { flushMs?: number } = {}): void {
  const log = (error: unknown) => app.log.warn(`request events could not be written (${(error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error'})`);
  /** The second (by the app's clock) the counts are for. */
  let second = Number.NEGATIVE_INFINITY;
  let storedThisSecond = 0;
  let counts = new Map<string, AddressCount>();
  let overflow = new Map<EventKind, Overflow>();
  let queue: RequestEventsTable[] = [];
  // One write at a time, in order; closing the app waits for it before the database goes.
  let writing: Promise<void> = Promise.resolve();

  const enqueue = (event: NewEvent, repeats: number) => {
    // Ids follow this process's real clock, so they keep the order events were queued in.
    queue.push({ id: newId(), ...event, repeats });
  };
  const countOver = (event: NewEvent, n: number) => {
    const entry = overflow.get(event.kind);
    if (!entry) overflow.set(event.kind, { count: n, last: event, address: event.source_address });
    else {
      entry.count += n;
      entry.last = event;
      if (entry.address !== event.source_address) entry.address = null;
    }
  };

  /** Closes the counts of the second that is over: each address's count with its last event while the allowance lasts, the rest by kind. */
  const roll = (next: number) => {
    const carried = [...counts.values()].filter((c) => c.pending > 0 && c.last !== null);
    counts = new Map();
    second = next;
    storedThisSecond = 0;
    for (const count of carried) {
      if (storedThisSecond < EVENTS_PER_SECOND) {
        storedThisSecond += 1;
        enqueue(count.last!, count.pending - 1);
      } else countOver(count.last!, count.pending);
    }
    for (const entry of overflow.values()) {
      const anonymous = entry.address === null;
      enqueue(anonymous ? { ...entry.last, source_address: null, user_agent: null, actor_kind: null, actor_id: null, session_id: null } : entry.last, entry.count - 1);
    }
    overflow = new Map();
  };

  const write = (): Promise<void> => {
    const rows = queue;
    queue = [];
    if (rows.length === 0) return writing;
    writing = writing.then(async () => {
      for (let i = 0; i < rows.length; i += BATCH_ROWS) {
        await deps.db
          .insertInto('request_events')
          .values(rows.slice(i, i + BATCH_ROWS))
          .execute()
          .catch(log);
      }
    });
    return writing;
  };

  const tick = () => {
    const now = Math.floor(deps.clock.now().getTime() / 1000);
    if (now !== second) roll(now);
    void write();
  };
  const timer = setInterval(tick, options.flushMs ?? 1000);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    roll(Number.NEGATIVE_INFINITY);
    await write();
  });

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const status = reply.statusCode;
    const userAgent = request.headers['user-agent'];
    const probe = probeClassOf(request.url, userAgent, request.headers['sec-fetch-site']);
    const kind = kindOf(status, probe, blocked.has(request));
    if (kind === null) return;
    const now = deps.clock.now();
    const address = request.ip ?? null;
    const actor = request.actor?.principal;
    const event: NewEvent = {
      occurred_at: now.toISOString(),
      source_address: address,
      user_agent: userAgent?.slice(0, 500) ?? null,
      method: request.method.slice(0, 10),
      path: pathOf(request),
      status,
      kind,
      probe,
      actor_kind: actor ? actor.kind : null,
      actor_id: actor ? (actor.kind === 'system' ? actor.job : actor.kind === 'cli' ? actor.operator : actor.userId) : null,
      session_id: actor?.kind === 'user' ? actor.sessionId : actor?.kind === 'token' ? actor.tokenId : null,
    };
    const at = Math.floor(now.getTime() / 1000);
    // A new second: what the last one only counted is queued first.
    if (at !== second) roll(at);
    const key = address ?? '';
    let count = counts.get(key);
    if (!count) {
      if (counts.size >= MAX_TRACKED_ADDRESSES) return countOver(event, 1);
      count = { stored: 0, pending: 0, last: null };
      counts.set(key, count);
    }
    if (count.pending === 0 && count.stored < EVENTS_PER_ADDRESS_PER_SECOND && storedThisSecond < EVENTS_PER_SECOND) {
      count.stored += 1;
      storedThisSecond += 1;
      enqueue(event, 0);
      return;
    }
    count.pending += 1;
    count.last = event;
  });
}
