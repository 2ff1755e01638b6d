import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/**
 * The one way the web app reaches the server: a client typed from the committed openapi.json
 * (npm run web:types regenerates schema.d.ts), so a route or field that changes on the server
 * breaks the build here instead of a screen at run time.
 */

/** An error as the API answers it: a stable code, a message for people, the fields at fault. */
export interface ApiProblem {
  code: string;
  message: string;
  fields?: { field: string; message: string }[];
  status: number;
}

/** Thrown by `must()` for any answer that is not a success. */
export class ApiError extends Error {
  constructor(readonly problem: ApiProblem) {
    super(problem.message);
  }
}

/**
 * The CSRF token of the current session. It lives only in this page's memory (never in
 * localStorage or a cookie the page can read) and goes back in x-csrf-token on every write.
 */
let csrfToken: string | null = null;
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

type ExpiryListener = (problem: ApiProblem) => void;
const expiryListeners = new Set<ExpiryListener>();
/** Called when a request of a signed-in page comes back 401: the session has ended under it. */
export function onSessionExpired(listener: ExpiryListener): () => void {
  expiryListeners.add(listener);
  return () => expiryListeners.delete(listener);
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type CsrfListener = () => void;
const csrfListeners = new Set<CsrfListener>();
/** Called when a write is refused for its CSRF token: another tab may have moved the session on. */
export function onCsrfRefused(listener: CsrfListener): () => void {
  csrfListeners.add(listener);
  return () => csrfListeners.delete(listener);
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (csrfToken && WRITES.has(request.method)) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
  async onResponse({ response }) {
    // Judged by the error's code, not the address: a wrong password is a 401 too, and must not
    // read as a session that ended. Only a page that holds a session can lose one.
    if ((response.status === 401 || response.status === 403) && csrfToken) {
      const problem = await problemOf(response.clone());
      if (problem.code === 'auth.session_expired' || problem.code === 'auth.unauthenticated') for (const listener of expiryListeners) listener(problem);
      if (problem.code === 'auth.csrf_failed') for (const listener of csrfListeners) listener();
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? 'http://localhost',
  credentials: 'same-origin',
  // Looked up on each call rather than kept from start-up, so tests can answer in its place.
  fetch: (request) => globalThis.fetch(request),
});
api.use(csrf);

async function problemOf(response: Response): Promise<ApiProblem> {
  try {
    const body = (await response.json()) as { error?: Omit<ApiProblem, 'status'> };
    if (body.error && typeof body.error.code === 'string') return { ...body.error, status: response.status };
  } catch {
    // Not JSON: a proxy's page, a network error page.
  }
  return { code: 'request.unexpected', message: '', status: response.status };
}

/**
 * The data of a successful answer, or an ApiError with the server's code and message. Screens
 * call this inside TanStack Query functions and mutations, so errors reach them in one shape.
 */
export function must<T>(result: { data?: T; error?: unknown; response: Response }): NonNullable<T> {
  if (result.data !== undefined && result.response.ok) return result.data as NonNullable<T>;
  const body = result.error as { error?: Omit<ApiProblem, 'status'> } | undefined;
  if (body?.error && typeof body.error.code === 'string') throw new ApiError({ ...body.error, status: result.response.status });
  if (result.response.ok) return undefined as unknown as NonNullable<T>;
  throw new ApiError({ code: 'request.unexpected', message: '', status: result.response.status });
}

/** The problem behind any error a request can throw, a network failure included. */
export function problemFrom(error: unknown): ApiProblem {
  if (error instanceof ApiError) return error.problem;
  return { code: 'request.network', message: '', status: 0 };
}
