import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';

describe('canonical JSON', () => {
  it('writes keys in order at every depth, and leaves undefined out as JSON does', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: null, y: 'x' }], c: undefined } })).toBe('{"a":{"d":[2,{"y":"x","z":null}]},"b":1}');
    expect(canonicalJson([undefined, 'é', 1.5])).toBe('[null,"é",1.5]');
  });

  it('gives the same text for the same value however it was built, and that text is the value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        const rebuilt = JSON.parse(JSON.stringify(value), (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v));
        expect(canonicalJson(rebuilt)).toBe(text);
      }),
    );
  });
});
