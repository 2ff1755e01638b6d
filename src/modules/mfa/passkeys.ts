import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';

/**
 * Passkeys (WebAuthn): a key pair made and kept by the user's device, unlocked there with a
 * fingerprint, face or PIN, and bound to this site's address, so a phishing site can neither use
 * nor relay it. Rampart asks for user verification every time, which makes a passkey two factors
 * in one (something held, something known or been), enough to sign in on its own.
 *
 * Every ceremony runs on a challenge the server made, kept in the database for five minutes and
 * taken exactly once; what the browser answers is checked for this site's origin and relying
 * party id (`RAMPART_PUBLIC_URL`), the challenge, user verification and the signature, and a
 * signature counter that goes backwards (a cloned authenticator) is refused.
 */
const CHALLENGE_TTL_MS = 5 * 60_000;
const RP_NAME = 'Rampart CRM';

export type ChallengePurpose = 'register' | 'verify' | 'sign-in';

export interface RelyingParty {
  /** The host name passkeys are bound to. */
  id: string;
  /** The origin browsers report: scheme, host and port of the public URL. */
  origin: string;
}

export function relyingPartyOf(publicUrl: string): RelyingParty {
  const url = new URL(publicUrl);
  return { id: url.hostname.replace(/^\[|\]$/g, ''), origin: url.origin };
}

export interface PasskeyView {
  id: string;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export async function listPasskeys(deps: DataDeps, userId: string): Promise<PasskeyView[]> {
  const rows = await deps.db.selectFrom('passkeys').select(['id', 'label', 'created_at', 'last_used_at']).where('user_id', '=', userId).orderBy('created_at').execute();
  return rows.map((r) => ({ id: r.id, label: r.label, createdAt: r.created_at, lastUsedAt: r.last_used_at }));
}

async function storeChallenge(deps: DataDeps, challenge: string, purpose: ChallengePurpose, userId: string | null, sessionId: string | null): Promise<string> {
  const id = newId();
  const now = deps.clock.now();
  await deps.db
    .insertInto('webauthn_challenges')
    .values({ id, challenge, purpose, user_id: userId, session_id: sessionId, created_at: now.toISOString(), expires_at: new Date(now.getTime() + CHALLENGE_TTL_MS).toISOString() })
    .execute();
  // Challenges nobody answered are dropped as new ones are made.
  await deps.db.deleteFrom('webauthn_challenges').where('expires_at', '<', now.toISOString()).execute();
  return id;
}

/** Takes a challenge for one use: the row goes, so a second answer to it finds nothing. */
async function takeChallenge(deps: DataDeps, challengeId: unknown, purpose: ChallengePurpose, userId: string | null, sessionId: string | null): Promise<string> {
  const refused = new AppError('auth.mfa_invalid', 'The passkey answer is not valid for this request; try again');
  if (typeof challengeId !== 'string' || challengeId.length > 64) throw refused;
  const row = await deps.db.selectFrom('webauthn_challenges').selectAll().where('id', '=', challengeId).executeTakeFirst();
  if (!row) throw refused;
  const taken = await deps.db.deleteFrom('webauthn_challenges').where('id', '=', challengeId).executeTakeFirst();
  if (Number(taken.numDeletedRows) !== 1) throw refused;
  const bound = row.purpose === purpose && row.user_id === userId && row.session_id === sessionId;
  if (!bound || row.expires_at <= deps.clock.now().toISOString()) throw refused;
  return row.challenge;
}

/** Options for the browser to make a passkey for this user; the challenge is bound to the session. */
export async function registrationOptions(
  deps: DataDeps,
  rp: RelyingParty,
  user: { id: string; email: string; name: string },
  sessionId: string,
): Promise<{ challengeId: string; options: PublicKeyCredentialCreationOptionsJSON }> {
  const existing = await listPasskeys(deps, user.id);
  const options = await generateRegistrationOptions({
    rpName: RP_NAME,
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.name,
    userID: new TextEncoder().encode(user.id),
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.id })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
  return { challengeId: await storeChallenge(deps, options.challenge, 'register', user.id, sessionId), options };
}

/** Checks the browser's answer to a registration challenge and keeps the new passkey. */
export async function registerPasskey(
  deps: DataDeps,
  rp: RelyingParty,
  userId: string,
  sessionId: string,
  input: { challengeId: unknown; response: unknown; label?: unknown },
): Promise<{ id: string; label: string }> {
  const expectedChallenge = await takeChallenge(deps, input.challengeId, 'register', userId, sessionId);
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response: input.response as RegistrationResponseJSON,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
    });
  } catch {
    throw new AppError('auth.mfa_invalid', 'The passkey could not be checked; try again');
  }
  if (!verified.verified || !verified.registrationInfo) throw new AppError('auth.mfa_invalid', 'The passkey could not be checked; try again');
  const { credential } = verified.registrationInfo;
  const label = typeof input.label === 'string' && input.label.trim().length > 0 ? input.label.trim().slice(0, 100) : 'Passkey';
  const taken = await deps.db.selectFrom('passkeys').select('id').where('id', '=', credential.id).executeTakeFirst();
  if (taken) throw new AppError('auth.mfa_invalid', 'This passkey is already registered');
  await deps.db
    .insertInto('passkeys')
    .values({
      id: credential.id,
      user_id: userId,
      label,
      public_key: Buffer.from(credential.publicKey).toString('base64url'),
      counter: credential.counter,
      transports: JSON.stringify(credential.transports ?? []),
      created_at: deps.clock.now().toISOString(),
      last_used_at: null,
    })
    .execute();
  return { id: credential.id, label };
}

/**
 * Options for the browser to prove a passkey: of one user, for a second step or a step-up
 * (`verify`, bound to the session), or of whoever's passkey it is, to sign in (`sign-in`).
 */
export async function assertionOptions(
  deps: DataDeps,
  rp: RelyingParty,
  bound: { purpose: 'verify'; userId: string; sessionId: string } | { purpose: 'sign-in' },
): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
  const allow = bound.purpose === 'verify' ? await listPasskeys(deps, bound.userId) : [];
  const options = await generateAuthenticationOptions({ rpID: rp.id, userVerification: 'required', allowCredentials: allow.map((p) => ({ id: p.id })) });
  const challengeId = bound.purpose === 'verify' ? await storeChallenge(deps, options.challenge, 'verify', bound.userId, bound.sessionId) : await storeChallenge(deps, options.challenge, 'sign-in', null, null);
  return { challengeId, options };
}

/**
 * Checks the browser's answer to an assertion challenge; answers the passkey's user, or null when
 * the answer does not hold. The signature counter moves forward once per answer.
 */
export async function verifyAssertion(
  deps: DataDeps,
  rp: RelyingParty,
  bound: { purpose: 'verify'; userId: string; sessionId: string } | { purpose: 'sign-in' },
  input: { challengeId: unknown; response: unknown },
): Promise<{ userId: string; passkeyId: string } | null> {
  const expectedChallenge =
    bound.purpose === 'verify' ? await takeChallenge(deps, input.challengeId, 'verify', bound.userId, bound.sessionId) : await takeChallenge(deps, input.challengeId, 'sign-in', null, null);
  const response = input.response as AuthenticationResponseJSON;
  const credentialId = typeof response?.id === 'string' && response.id.length <= 1024 ? response.id : null;
  if (!credentialId) return null;
  let query = deps.db.selectFrom('passkeys').selectAll().where('id', '=', credentialId);
  if (bound.purpose === 'verify') query = query.where('user_id', '=', bound.userId);
  const passkey = await query.executeTakeFirst();
  if (!passkey) return null;
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
      credential: { id: passkey.id, publicKey: new Uint8Array(Buffer.from(passkey.public_key, 'base64url')), counter: Number(passkey.counter), transports: JSON.parse(passkey.transports) },
    });
  } catch {
    return null;
  }
  if (!verified.verified) return null;
  const moved = await deps.db
    .updateTable('passkeys')
    .set({ counter: verified.authenticationInfo.newCounter, last_used_at: deps.clock.now().toISOString() })
    .where('id', '=', passkey.id)
    .where('counter', '=', passkey.counter)
    .executeTakeFirst();
  return Number(moved.numUpdatedRows) === 1 ? { userId: passkey.user_id, passkeyId: passkey.id } : null;
}
