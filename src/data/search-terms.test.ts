import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { termsForQuery, termsForRecord } from './search-terms.js';

function matches(recordValues: string[], query: string): boolean {
  const terms = termsForRecord(recordValues);
  const wanted = termsForQuery(query);
  return wanted.length > 0 && wanted.every((q) => terms.some((t) => t.startsWith(q)));
}

describe('search terms', () => {
  it('finds words by prefix, case-insensitively', () => {
    expect(matches(['Ada Lovelace', 'ada@example.com'], 'LOVE')).toBe(true);
    expect(matches(['Ada Lovelace'], 'ada love')).toBe(true);
    expect(matches(['Ada Lovelace'], 'grace')).toBe(false);
  });

  it('finds Chinese names by any run of characters', () => {
    expect(matches(['王小明'], '小明')).toBe(true);
    expect(matches(['王小明'], '王')).toBe(true);
    expect(matches(['北京科技有限公司'], '科技')).toBe(true);
    expect(matches(['王小明'], '李')).toBe(false);
  });

  it('finds phone numbers by their digits', () => {
    expect(matches(['+86 138-0013-8000'], '13800138000')).toBe(true);
  });

  it('always finds a record by any word of its own text', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z0-9]{1,12}$/), { minLength: 1, maxLength: 6 }), fc.nat(), (words, pick) => {
        const word = words[pick % words.length]!;
        return matches([words.join(' ')], word);
      }),
    );
  });
});
