import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { field, parseFieldValue, presentFieldValue } from './field-registry.js';

describe('parseFieldValue', () => {
  const text = field('note', 'text', 'internal', { description: 'x', maxLength: 50 });
  const money = field('amount', 'money', 'internal', { description: 'x' });
  const email = field('email', 'email', 'personal', { description: 'x' });
  const date = field('day', 'date', 'internal', { description: 'x' });

  it('accepts any well-formed text without control characters and keeps it', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        const result = parseFieldValue(text, s);
        if (/[\u0000-\u001f\u007f]/.test(s)) return !result.ok;
        return result.ok && (result.value === null || result.value === s.normalize('NFC').trim());
      }),
    );
  });

  it('refuses lone surrogates, NUL and over-long text without echoing the value', () => {
    for (const bad of ['\ud800', 'a\u0000b', 'x'.repeat(51), 'tab\there']) {
      const result = parseFieldValue(text, bad);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).not.toContain(bad);
    }
  });

  it('round-trips money through integer cents', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), (cents) => {
        const result = parseFieldValue(money, cents / 100);
        return result.ok && result.value === cents && presentFieldValue(money, result.value) === cents / 100;
      }),
    );
    expect(parseFieldValue(money, 1.234).ok).toBe(false);
    expect(parseFieldValue(money, -1).ok).toBe(false);
  });

  it('lower-cases emails and refuses non-addresses', () => {
    expect(parseFieldValue(email, 'Ada@Example.COM')).toEqual({ ok: true, value: 'ada@example.com' });
    for (const bad of ['ada', 'ada@', '@x.y', 'a b@c.d', '<a@b.c>']) expect(parseFieldValue(email, bad).ok).toBe(false);
  });

  it('accepts only real calendar dates', () => {
    expect(parseFieldValue(date, '2024-02-29').ok).toBe(true);
    for (const bad of ['2023-02-29', '2024-13-01', '24-01-01', '2024-1-1']) expect(parseFieldValue(date, bad).ok).toBe(false);
  });

  it('keeps whole numbers within the 32-bit columns that hold them', () => {
    const employees = field('employees', 'integer', 'internal', { description: 'x' });
    expect(parseFieldValue(employees, 2_147_483_647).ok).toBe(true);
    expect(parseFieldValue(employees, 2_147_483_648).ok).toBe(false);
    expect(parseFieldValue(employees, '3000000000').ok).toBe(false);
  });

  it('lets a personal field answer filters only through a blind index, and only personal fields have one', () => {
    expect(() => field('email', 'email', 'personal', { description: 'x', filterable: true })).toThrow();
    expect(() => field('email', 'email', 'personal', { description: 'x', filterable: true, blindIndex: 'email' })).not.toThrow();
    expect(() => field('city', 'text', 'internal', { description: 'x', blindIndex: 'text' })).toThrow();
  });
});
