/**
 * Full-text search terms. Text is folded (NFKC, lower case) and cut into words; runs of Chinese,
 * Japanese or Korean characters, which have no spaces, become overlapping character pairs. A query
 * matches a record when every one of its terms is a prefix of one of the record's terms.
 */
const MAX_TERM_LENGTH = 64;
const MAX_TERMS_PER_RECORD = 200;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const WORD = /[\p{L}\p{N}]+/gu;

function fold(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

function termsOfWord(word: string, out: Set<string>): void {
  // Split a mixed run (e.g. "abc公司") into CJK and non-CJK pieces.
  let piece = '';
  let pieceIsCjk = false;
  const flush = (): void => {
    if (!piece) return;
    if (pieceIsCjk) {
      const chars = [...piece];
      if (chars.length === 1) out.add(chars[0]!);
      for (let i = 0; i + 1 < chars.length; i++) out.add(chars[i]! + chars[i + 1]!);
    } else {
      out.add(piece.slice(0, MAX_TERM_LENGTH));
    }
    piece = '';
  };
  for (const ch of word) {
    const isCjk = CJK.test(ch);
    if (piece && isCjk !== pieceIsCjk) flush();
    pieceIsCjk = isCjk;
    piece += ch;
  }
  flush();
}

/** The terms stored for a record, from the values of its searchable fields. */
export function termsForRecord(values: Iterable<unknown>): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string' || value === '') continue;
    const folded = fold(value);
    for (const match of folded.matchAll(WORD)) termsOfWord(match[0], out);
    // Keep whole numbers too, so pasting a formatted phone number finds it.
    const digits = folded.replace(/[^0-9]/g, '');
    if (digits.length >= 5 && digits !== folded) out.add(digits.slice(0, MAX_TERM_LENGTH));
    // "+86 138-0013-8000" is also searched for as the national number, without the country code.
    const national = /^\+\d{1,3}[\s.-]+(.*)$/.exec(folded)?.[1]?.replace(/[^0-9]/g, '');
    if (national && national.length >= 5) out.add(national.slice(0, MAX_TERM_LENGTH));
    if (out.size >= MAX_TERMS_PER_RECORD) break;
  }
  return [...out].slice(0, MAX_TERMS_PER_RECORD);
}

/** The terms of a search query; each must prefix-match a record term. At most 8 are used. */
export function termsForQuery(query: string): string[] {
  const out = new Set<string>();
  const folded = fold(query);
  for (const match of folded.matchAll(WORD)) termsOfWord(match[0], out);
  // A single CJK character is also the first half of a pair, so prefix matching still finds it.
  return [...out].slice(0, 8);
}
