import { stringToBytes } from 'otplib';
import { describe, expect, it } from 'vitest';
import { acceptedStep, newTotpSecret, totpCode, totpUri } from './totp.js';

describe('TOTP', () => {
  it('reproduces the SHA-1 test vectors of RFC 6238, appendix B', async () => {
    const secret = stringToBytes('12345678901234567890');
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [time, code] of vectors) expect(await totpCode(secret, time, 8), String(time)).toBe(code);
  });

  it('accepts a code one step either side of the clock, never further, and never a step already used', async () => {
    const secret = newTotpSecret();
    const now = 1_800_000_015;
    const code = await totpCode(secret, now);
    const step = Math.floor(now / 30);
    expect(await acceptedStep(secret, code, now, null)).toBe(step);
    expect(await acceptedStep(secret, code, now + 30, null)).toBe(step);
    expect(await acceptedStep(secret, code, now - 30, null)).toBe(step);
    expect(await acceptedStep(secret, code, now + 60, null)).toBeNull();
    expect(await acceptedStep(secret, code, now, step)).toBeNull();
    expect(await acceptedStep(secret, await totpCode(secret, now + 30), now, step)).toBe(step + 1);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect(await acceptedStep(secret, wrong, now, null)).toBeNull();
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 123456']) expect(await acceptedStep(secret, bad, now, null)).toBeNull();
  });

  it('makes 160-bit secrets and the address authenticator apps scan', () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(newTotpSecret()).not.toBe(secret);
    const uri = new URL(totpUri(secret, 'Rampart', 'ada@example.com'));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Rampart');
  });
});
