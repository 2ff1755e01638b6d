/**
 * Full-text search terms. Text is folded (NFKC, lower case) and cut into words; runs of Chinese,
 * Japanese or Korean characters, which have no spaces, become overlapping character pairs. A query
 * matches a record when every one of its terms is a prefix of one of the record's terms.
 */
const MAX_TERM_LENGTH = 64;
const MAX_TERMS_PER_RECORD = 200;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const WORD = /[\p{L}\p{N}]+/gu;

// Shortcuts for the common case (emails, phone numbers, Latin names), which give the same terms:
// ASCII text is already NFKC and its words are runs of a-z and 0-9, and a word below U+1100 (where
// the first of the CJK scripts begins) holds no CJK character to test for.
const PLAIN = /^[\u0000-\u10ff]*$/;
const ASCII = /^[\u0000-\u007f]*$/;
const NON_DIGITS = /[^0-9]/g;
const COUNTRY_CODE = /^\+\d{1,3}[\s.-]+(.*)$/;
const PHONE_QUERY = /^\s*\+?[\d\s().-]+$/;

function fold(text: string): string {
  return (ASCII.test(text) ? text : text.normalize('NFKC')).toLowerCase();
}

function addPiece(piece: string, isCjk: boolean, out: Set<string>): void {
  if (!isCjk) {
    out.add(piece.length > MAX_TERM_LENGTH ? piece.slice(0, MAX_TERM_LENGTH) : piece);
    return;
  }
  const chars = [...piece];
  if (chars.length === 1) out.add(chars[0]!);
  for (let i = 0; i + 1 < chars.length; i++) out.add(chars[i]! + chars[i + 1]!);
}

function termsOfWord(word: string, out: Set<string>): void {
  if (PLAIN.test(word)) {
    addPiece(word, false, out);
    return;
  }
  // Split a mixed run (e.g. "abc公司") into CJK and non-CJK pieces.
  let piece = '';
  let pieceIsCjk = false;
  for (const ch of word) {
    const isCjk = CJK.test(ch);
    if (piece && isCjk !== pieceIsCjk) {
      addPiece(piece, pieceIsCjk, out);
      piece = '';
    }
    pieceIsCjk = isCjk;
    piece += ch;
  }
  if (piece) addPiece(piece, pieceIsCjk, out);
}

/**
 * Adds the words of lower-case ASCII text: runs of a-z and 0-9, which is what WORD matches in
 * such text. Returns how many digits it saw.
 */
function addAsciiWords(text: string, out: Set<string>): number {
  let digits = 0;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const isDigit = c >= 48 && c <= 57;
    if (isDigit || (c >= 97 && c <= 122)) {
      if (isDigit) digits++;
      if (start < 0) start = i;
    } else if (start >= 0) {
      addPiece(text.slice(start, i), false, out);
      start = -1;
    }
  }
  if (start >= 0) addPiece(start === 0 ? text : text.slice(start), false, out);
  return digits;
}

/**
 * The terms of recently seen values. Names, cities, job titles and company names repeat from record
 * to record, so a bulk load meets the same values again and again.
 */
const recentTerms = new Map<string, string[]>();
const RECENT_TERMS_MAX = 20_000;
const RECENT_VALUE_MAX_LENGTH = 40;

/** The terms stored for a record, from the values of its searchable fields. */
export function termsForRecord(values: Iterable<unknown>): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string' || value === '') continue;
    if (value.length <= RECENT_VALUE_MAX_LENGTH) {
      let terms = recentTerms.get(value);
      if (terms === undefined) {
        const own = new Set<string>();
        addTermsOfValue(value, own);
        terms = [...own];
        if (recentTerms.size >= RECENT_TERMS_MAX) recentTerms.clear();
        recentTerms.set(value, terms);
      }
      for (const term of terms) out.add(term);
    } else addTermsOfValue(value, out);
    if (out.size >= MAX_TERMS_PER_RECORD) break;
  }
  return out.size > MAX_TERMS_PER_RECORD ? [...out].slice(0, MAX_TERMS_PER_RECORD) : [...out];
}

function addTermsOfValue(value: string, out: Set<string>): void {
  const folded = fold(value);
  let digitCount: number;
  if (ASCII.test(folded)) digitCount = addAsciiWords(folded, out);
  else {
    for (const match of folded.matchAll(WORD)) termsOfWord(match[0], out);
    digitCount = 5;
  }
  // Keep whole numbers too, so pasting a formatted phone number finds it.
  if (digitCount >= 5) {
    const digits = folded.replace(NON_DIGITS, '');
    if (digits.length >= 5 && digits !== folded) out.add(digits.slice(0, MAX_TERM_LENGTH));
  }
  // "+86 138-0013-8000" is also searched for as the national number, without the country code.
  if (folded.charCodeAt(0) === 43) {
    const national = COUNTRY_CODE.exec(folded)?.[1]?.replace(NON_DIGITS, '');
    if (national && national.length >= 5) out.add(national.slice(0, MAX_TERM_LENGTH));
  }
}

/** A phone number as whole-number terms: all its digits, and without the country code when written with one. */
export function phoneNumberTerms(value: string): string[] {
  const digits = value.replace(NON_DIGITS, '');
  if (digits.length < 5) return [];
  const national = value.trim().charCodeAt(0) === 43 ? COUNTRY_CODE.exec(value.trim())?.[1]?.replace(NON_DIGITS, '') : undefined;
  return national && national.length >= 5 && national !== digits ? [digits, national] : [digits];
}

/** The terms of a search query; each must prefix-match a record term. At most 8 are used. */
export function termsForQuery(query: string): string[] {
  // A query that is a phone number, however grouped, looks for the whole number.
  if (PHONE_QUERY.test(query)) {
    const digits = query.replace(NON_DIGITS, '');
    if (digits.length >= 5) return [digits.slice(0, MAX_TERM_LENGTH)];
  }
  const out = new Set<string>();
  const folded = fold(query);
  for (const match of folded.matchAll(WORD)) termsOfWord(match[0], out);
  // A single CJK character is also the first half of a pair, so prefix matching still finds it.
  return [...out].slice(0, 8);
}
