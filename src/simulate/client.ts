/**
 * The HTTP side of `rampart simulate`: it talks to a running instance only through its public API,
 * as browsers, scripts and attackers would. Every simulated person or attacker is an `Agent` with
 * an address and a browser of its own; the address travels in `X-Forwarded-For`, which a rehearsal
 * instance trusts (RAMPART_TRUST_PROXY=true), so one machine can play many networks. The
 * administrator's token drives setup and reads alerts from the machine's own address.
 */

/** An answer: status, the parsed JSON body (or text), and the stable error code when there is one. */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly code: string | null;
}

/** An answer with the cookies it set, which only an Agent keeps. */
interface RawAnswer extends Answer {
  readonly setCookies: readonly string[];
}

export class SimulationError extends Error {
  override readonly name = 'SimulationError';
}

const REQUEST_TIMEOUT_MS = 60_000;

export interface SendOptions {
  readonly body?: unknown;
  /** A raw body with its content type (CSV uploads). */
  readonly raw?: { readonly contentType: string; readonly text: string };
  readonly headers?: Record<string, string>;
}

/** One instance's base URL and the fetch calls to it. */
export class Http {
  readonly base: string;
  /** Requests sent, for the report. */
  sent = 0;

  constructor(url: string) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new SimulationError(`--url ${url} is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new SimulationError('--url must be http:// or https://');
    this.base = parsed.origin;
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<RawAnswer> {
    const headers: Record<string, string> = { accept: 'application/json, text/csv, application/x-ndjson', ...(options.headers ?? {}) };
    let body: string | undefined;
    if (options.raw) {
      headers['content-type'] = options.raw.contentType;
      body = options.raw.text;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    this.sent += 1;
    let response: Response;
    try {
      response = await fetch(this.base + path, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (error) {
      const cause = networkCause(error);
      throw new SimulationError(`Cannot reach ${this.base} (${cause})`);
    }
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('application/json') && text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const code = (parsed as { error?: { code?: unknown } } | null)?.error?.code;
    return { status: response.status, body: parsed, code: typeof code === 'string' ? code : null, setCookies: response.headers.getSetCookie() };
  }
}

/** Why a request never got an answer: ECONNREFUSED, ENOTFOUND, a timeout… */
function networkCause(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const e = current as { code?: unknown; name?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (e.name === 'TimeoutError') return 'timed out';
    const next = e.cause ?? e.errors?.[0];
    if (!next && current !== error && typeof (current as Error).message === 'string') return (current as Error).message;
    current = next;
  }
  return 'no answer';
}

/** The error codes that mean the instance contained the caller rather than merely refused one request. */
export const CONTAINMENT_CODES: ReadonlySet<string> = new Set([
  'request.address_blocked',
  'auth.account_locked',
  'auth.session_expired',
  'auth.unauthenticated',
  'auth.step_up_required',
  'auth.mfa_required',
  'system.lockdown',
]);

export const SESSION_COOKIE = 'rampart_session';
export const CSRF_HEADER = 'x-csrf-token';

/**
 * A browser at an address: anonymous at first, signed in once `signIn` succeeds. Writes made with
 * the session carry its CSRF token, as the web app's do.
 */
export class Agent {
  private cookie: string | null = null;
  private csrf: string | null = null;

  constructor(
    readonly http: Http,
    readonly address: string,
    readonly userAgent: string,
  ) {}

  get signedIn(): boolean {
    return this.cookie !== null;
  }

  /** Forgets the session, as closing a private window would. */
  forget(): void {
    this.cookie = null;
    this.csrf = null;
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { 'x-forwarded-for': this.address, 'user-agent': this.userAgent, ...(options.headers ?? {}) };
    if (this.cookie) {
      headers.cookie = `${SESSION_COOKIE}=${this.cookie}`;
      if (this.csrf && method !== 'GET' && method !== 'HEAD') headers[CSRF_HEADER] = this.csrf;
    }
    const { setCookies, ...answer } = await this.http.send(method, path, { ...options, headers });
    for (const line of setCookies) {
      const match = new RegExp(`^${SESSION_COOKIE}=([^;]*)`).exec(line);
      if (match) this.cookie = match[1] === '' ? null : match[1]!;
    }
    // A session answer, or one that carries a renewed session (confirming a first second factor).
    const body = answer.body as { csrfToken?: unknown; session?: { csrfToken?: unknown } | null } | null;
    const session = body && typeof body === 'object' && body.session && typeof body.session === 'object' ? body.session : body;
    if (answer.status < 300 && session && typeof session.csrfToken === 'string') this.csrf = session.csrfToken;
    return answer;
  }

  get(path: string): Promise<Answer> {
    return this.send('GET', path);
  }

  post(path: string, body?: unknown): Promise<Answer> {
    return this.send('POST', path, body === undefined ? {} : { body });
  }

  patch(path: string, body: unknown): Promise<Answer> {
    return this.send('PATCH', path, { body });
  }

  /** Signs in with a password; answers the login answer (stage `active`, `mfa` or `enrol` on 200). */
  async signIn(email: string, password: string): Promise<Answer> {
    this.forget();
    return this.post('/api/v1/auth/login', { email, password });
  }

  async signOut(): Promise<void> {
    if (this.cookie) await this.post('/api/v1/auth/logout');
    this.forget();
  }
}

/** The administrator's token: setup, the simulated clock, alerts. From the machine's own address. */
export class Admin {
  constructor(
    readonly http: Http,
    private readonly token: string,
  ) {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) throw new SimulationError('--token does not look like an API token');
  }

  send(method: string, path: string, body?: unknown): Promise<Answer> {
    return this.http.send(method, path, { headers: { authorization: `Bearer ${this.token}`, 'user-agent': 'rampart-simulate' }, ...(body === undefined ? {} : { body }) });
  }

  /** Sends and insists on success; a failure names the request, the error code and its message. */
  async must<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.send(method, path, body);
    if (answer.status >= 300) {
      const message = (answer.body as { error?: { message?: string } } | null)?.error?.message;
      throw new SimulationError(`${method} ${path.split('?')[0]} answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}${message ? `: ${message}` : ''}`);
    }
    return answer.body as T;
  }

  async upload(path: string, csv: string): Promise<Answer> {
    return this.http.send('POST', path, { headers: { authorization: `Bearer ${this.token}`, 'user-agent': 'rampart-simulate' }, raw: { contentType: 'text/csv', text: csv } });
  }
}

/** Waits, for pacing. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
