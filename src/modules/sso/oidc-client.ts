import * as client from 'openid-client';
import { isLoopback, type OidcSettings } from '../../config/config.js';
import { AppError } from '../../shared/errors.js';

/**
 * The OpenID Connect client: discovery, the authorization request and the code exchange, done by
 * openid-client. It checks the answer's `state` and `iss`, sends the PKCE verifier, and checks
 * the ID token's issuer, audience, expiry, nonce and, with non-repudiation checks on, its
 * signature against the provider's published keys (a plain-HTTP provider on this machine has no
 * TLS to vouch for the token endpoint).
 */

/** What a sign-in needs to remember between the redirect to the provider and its answer. */
export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The ID token's claims, completed from the userinfo endpoint when the token lacks some. */
export interface ProviderIdentity {
  issuer: string;
  subject: string;
  /** Seconds since the epoch, when the provider says when the user last authenticated. */
  authTime: number | null;
  amr: readonly string[];
  claims: Readonly<Record<string, unknown>>;
}

const discovered = new WeakMap<OidcSettings, Promise<client.Configuration>>();

/** The provider's configuration, discovered at first use and kept; a failed discovery is tried again next time. */
export function providerOf(settings: OidcSettings): Promise<client.Configuration> {
  let found = discovered.get(settings);
  if (!found) {
    found = discover(settings);
    discovered.set(settings, found);
    found.catch(() => discovered.delete(settings));
  }
  return found;
}

async function discover(settings: OidcSettings): Promise<client.Configuration> {
  const issuer = new URL(settings.issuer);
  // Configuration refuses any other plain-HTTP issuer; this one is on this machine.
  const plainLoopback = issuer.protocol === 'http:' && isLoopback(issuer.hostname);
  try {
    return await client.discovery(issuer, settings.clientId, { client_secret: settings.clientSecret }, client.ClientSecretBasic(settings.clientSecret), {
      execute: [...(plainLoopback ? [client.allowInsecureRequests] : []), client.enableNonRepudiationChecks],
      timeout: 10,
    });
  } catch (error) {
    throw unavailable(error);
  }
}

function unavailable(cause: unknown): AppError {
  const error = new AppError('auth.sso_unavailable', 'The single sign-on provider cannot be reached; try again later or sign in another way');
  error.cause = cause;
  return error;
}

/** The address the provider sends the browser back to; registered at the provider. */
export function callbackUrlOf(publicUrl: string): string {
  return `${publicUrl}/api/v1/auth/oidc/callback`;
}

/**
 * The authorization request: code flow with an S256 PKCE challenge, a random state and nonce.
 * `reauthenticate` asks the provider to make the user sign in again, now (step-up).
 */
export async function authorizationRequest(settings: OidcSettings, redirectUri: string, options: { reauthenticate?: boolean } = {}): Promise<AuthorizationRequest> {
  const provider = await providerOf(settings);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(provider, {
    redirect_uri: redirectUri,
    scope: settings.scopes,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(options.reauthenticate ? { prompt: 'login', max_age: '0' } : {}),
  });
  return { url: url.href, state, nonce, codeVerifier };
}

/** Why the provider's answer was not accepted: a short code for the audit log, never its text. */
export class ProviderAnswerRefused extends Error {
  constructor(readonly reason: string) {
    super(`the provider's answer was refused: ${reason}`);
    this.name = 'ProviderAnswerRefused';
  }
}

/**
 * Exchanges the code in the provider's answer (`callbackUrl`, with its query) for tokens and
 * answers the identity the ID token vouches for. `needs` names claims to fetch from the userinfo
 * endpoint when the ID token lacks them.
 */
export async function exchangeCode(
  settings: OidcSettings,
  callbackUrl: URL,
  expected: { state: string; nonce: string; codeVerifier: string },
  needs: readonly string[],
): Promise<ProviderIdentity> {
  const provider = await providerOf(settings);
  let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  try {
    tokens = await client.authorizationCodeGrant(provider, callbackUrl, {
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      pkceCodeVerifier: expected.codeVerifier,
      idTokenExpected: true,
    });
  } catch (error) {
    throw refusedOrUnavailable(error);
  }
  const idToken = tokens.claims();
  if (!idToken) throw new ProviderAnswerRefused('no ID token');
  let claims: Record<string, unknown> = { ...idToken };
  const missing = needs.filter((name) => claims[name] === undefined);
  if (missing.length > 0 && provider.serverMetadata().userinfo_endpoint) {
    try {
      const userinfo = await client.fetchUserInfo(provider, tokens.access_token, idToken.sub);
      // The ID token's own claims win; the userinfo endpoint only fills in what it lacks. An
      // address and whether it is verified come together, from one source.
      claims = { ...userinfo, ...claims };
      if (idToken.email === undefined) claims.email_verified = userinfo.email_verified;
      else claims.email_verified = idToken.email_verified;
    } catch (error) {
      throw refusedOrUnavailable(error);
    }
  }
  const amr = Array.isArray(idToken.amr) ? idToken.amr.filter((m): m is string => typeof m === 'string') : [];
  return { issuer: idToken.iss, subject: idToken.sub, authTime: typeof idToken.auth_time === 'number' ? idToken.auth_time : null, amr, claims };
}

/**
 * A provider that answered, but not acceptably (an OAuth error, a token that fails a check), is a
 * refusal; one that did not answer at all is unavailable.
 */
function refusedOrUnavailable(error: unknown): Error {
  if (error instanceof client.ResponseBodyError) return new ProviderAnswerRefused(oauthErrorCode(error.error));
  if (error instanceof client.AuthorizationResponseError) return new ProviderAnswerRefused(oauthErrorCode(error.error));
  if (error instanceof client.ClientError) return new ProviderAnswerRefused(typeof error.code === 'string' ? error.code.slice(0, 64) : 'invalid answer');
  return unavailable(error);
}

/** OAuth error codes are short ASCII words; anything else is not repeated. */
function oauthErrorCode(value: unknown): string {
  return typeof value === 'string' && /^[a-z0-9_]{1,64}$/.test(value) ? value : 'other';
}

// RFC 8176 authentication method references, by the kind of factor each proves.
const KNOWLEDGE = new Set(['pwd', 'pin', 'kba']);
const POSSESSION = new Set(['hwk', 'swk', 'otp', 'sms', 'tel', 'sc', 'pop']);
const INHERENCE = new Set(['fpt', 'face', 'iris', 'retina', 'vbm']);

/**
 * Whether the provider's `amr` shows more than one factor: it says `mfa`, or names methods of two
 * different kinds (something known, held, or inherent). Two methods of one kind, such as an OTP
 * and an SMS code, are still one factor; `user`, `geo`, `rba` and unknown values prove none.
 */
export function isMultiFactor(amr: readonly string[]): boolean {
  if (amr.includes('mfa')) return true;
  const kinds = [KNOWLEDGE, POSSESSION, INHERENCE].filter((kind) => amr.some((method) => kind.has(method)));
  return kinds.length >= 2;
}
