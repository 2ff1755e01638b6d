import { generateSecret, generateURI, generate, verify } from 'otplib';

/**
 * Time-based one-time passwords (RFC 6238) as every authenticator app reads them: HMAC-SHA-1,
 * six digits, 30-second steps, a 160-bit secret. A code is accepted one step either side of the
 * server's clock, and only if its step comes after the step of the last code the factor accepted,
 * so a code seen over a shoulder or replayed from a log never works a second time.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;

export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The `otpauth://` address an authenticator app scans from a QR code. */
export function totpUri(secret: string, issuer: string, account: string): string {
  return generateURI({ issuer, label: account, secret, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS });
}

export async function totpCode(secret: string | Uint8Array, epochSeconds: number, digits: number = TOTP_DIGITS): Promise<string> {
  return generate({ secret, epoch: epochSeconds, digits, period: TOTP_PERIOD_SECONDS, algorithm: 'sha1' });
}

/**
 * The time step a code belongs to when it is valid at `epochSeconds` (±1 step) and later than
 * `afterStep`; otherwise null.
 */
export async function acceptedStep(secret: string, code: string, epochSeconds: number, afterStep: number | null): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  const result = await verify({
    secret,
    token: code,
    epoch: epochSeconds,
    epochTolerance: TOTP_PERIOD_SECONDS,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    algorithm: 'sha1',
    ...(afterStep !== null ? { afterTimeStep: afterStep } : {}),
  });
  return result.valid && 'timeStep' in result ? result.timeStep : null;
}
