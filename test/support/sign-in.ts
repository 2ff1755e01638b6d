import { totpCode } from '../../src/modules/mfa/totp.js';
import type { TestApp } from './app.js';

export interface SignedIn {
  /** `rampart_session=…`, ready for a cookie header. */
  cookie: string;
  csrf: string;
  /** The authenticator app's secret, when the sign-in had to set one up. */
  secret: string | null;
  recoveryCodes: string[];
}

function cookieOf(response: { headers: Record<string, unknown> }): string {
  const raw = response.headers['set-cookie'];
  const line = (Array.isArray(raw) ? raw[0] : raw) as string;
  return line.split(';')[0]!;
}

/** What each user set up here, so a later sign-in can give its second factor. */
const enrolled = new Map<string, { secret: string; unused: string[] }>();

/**
 * Signs in with a password and, when the user's role requires a second factor they do not have
 * yet, sets up an authenticator app as a person would; a user who has one gives a recovery code
 * (a TOTP code of the same 30 seconds would be refused as already used). The session that comes
 * back is a full one.
 */
export async function signInFully(t: TestApp, email: string, password: string, now: () => number = Date.now): Promise<SignedIn> {
  const login = await t.call('POST', '/api/v1/auth/login', { body: { email, password } });
  if (login.statusCode !== 200) throw new Error(`sign-in failed: ${login.statusCode} ${login.body}`);
  const partial = { cookie: cookieOf(login), 'x-csrf-token': login.json().csrfToken as string };
  if (login.json().stage === 'active') return { cookie: partial.cookie, csrf: partial['x-csrf-token'], secret: null, recoveryCodes: [] };
  if (login.json().stage === 'mfa') {
    const known = enrolled.get(email);
    const recoveryCode = known?.unused.pop();
    if (!known || !recoveryCode) throw new Error(`no second factor left for ${email}`);
    const verified = await t.call('POST', '/api/v1/auth/mfa/verify', { headers: partial, body: { recoveryCode } });
    if (verified.statusCode !== 200) throw new Error(`the second factor failed: ${verified.body}`);
    return { cookie: cookieOf(verified), csrf: verified.json().csrfToken, secret: known.secret, recoveryCodes: [] };
  }
  const started = (await t.call('POST', '/api/v1/auth/mfa/totp', { headers: partial, body: {} })).json();
  const confirmed = await t.call('POST', '/api/v1/auth/mfa/totp/confirm', { headers: partial, body: { factorId: started.factorId, code: await totpCode(started.secret, Math.floor(now() / 1000)) } });
  if (confirmed.statusCode !== 200) throw new Error(`setting up the second factor failed: ${confirmed.body}`);
  enrolled.set(email, { secret: started.secret, unused: [...confirmed.json().recoveryCodes] });
  return { cookie: cookieOf(confirmed), csrf: confirmed.json().session.csrfToken, secret: started.secret, recoveryCodes: confirmed.json().recoveryCodes };
}

/** A browser session as the tests hold it: the cookie's value, the CSRF token and the stage. */
export interface CookieSession {
  cookie: string;
  csrf: string;
  stage: string;
}

/**
 * Requests made the way a browser makes them: with a session's cookie and CSRF header, or with
 * none; and the session an answer sets (a sign-in, a second step, a set-up that completes one).
 * `app` is asked at each request, so the client can be made before the test app exists.
 */
export function cookieClient(app: () => TestApp) {
  const as = (session: Pick<CookieSession, 'cookie' | 'csrf'> | null, method: string, url: string, body?: unknown) =>
    app().app.inject({
      method: method as 'GET',
      url,
      ...(session ? { cookies: { rampart_session: session.cookie }, headers: { 'x-csrf-token': session.csrf } } : {}),
      ...(body !== undefined ? { payload: body as object } : {}),
    });
  const sessionOf = (res: Awaited<ReturnType<typeof as>>): CookieSession => {
    const cookie = res.cookies.find((c) => c.name === 'rampart_session')?.value;
    if (!cookie) throw new Error(`no session cookie in ${res.statusCode} ${res.body}`);
    const body = res.json();
    return { cookie, csrf: body.csrfToken ?? body.session?.csrfToken, stage: body.stage ?? body.session?.stage };
  };
  return { as, sessionOf };
}
