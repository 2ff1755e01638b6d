import { vi } from 'vitest';

export interface Answer {
  status?: number;
  body?: unknown;
}

/**
 * Replaces fetch with answers by "METHOD /path" (the query string ignored unless the key has
 * one). Each request is recorded with its parsed JSON body, so a test can check what was sent.
 * A request with no answer fails the test loudly rather than hanging.
 */
export function answerWith(answers: Record<string, Answer | ((request: { url: URL; body: unknown }) => Answer)>) {
  const sent: { method: string; url: URL; body: unknown; headers: Headers }[] = [];
  const fetchStub = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const text = request.method === 'GET' ? '' : await request.text();
    const body = text ? JSON.parse(text) : undefined;
    sent.push({ method: request.method, url, body, headers: request.headers });
    const answer = answers[`${request.method} ${url.pathname}${url.search}`] ?? answers[`${request.method} ${url.pathname}`];
    if (!answer) throw new Error(`no answer for ${request.method} ${url.pathname}${url.search}`);
    const { status = 200, body: payload } = typeof answer === 'function' ? answer({ url, body }) : answer;
    return new Response(payload === undefined ? null : JSON.stringify(payload), { status, headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchStub);
  return sent;
}
