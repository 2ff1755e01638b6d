import fc from 'fast-check';

/**
 * Arbitraries for hostile HTTP input, for property-based tests of the API. Generated values stay
 * small and printable (an oversized body is described by its size, not carried), so fast-check's
 * counterexample report reads well; `encodePayload` turns a description into the bytes to send.
 */

/** Strings that have broken other systems: injection, markup, control and odd Unicode. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t \n',
  "'",
  '"',
  '`',
  '\\',
  "' OR '1'='1",
  "'; DROP TABLE contacts; --",
  '1) UNION SELECT password_hash FROM users --',
  '%',
  '_',
  '%_%',
  '*',
  '\\%',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '"><svg onload=alert(1)>',
  '{{7*7}}',
  '${7*7}',
  '\u0000',
  'a\u0000b',
  '\u0001\u0008\u001b[31m\u007f',
  '\r\nX-Injected: 1',
  '\u2028\u2029',
  '\ufeff',
  '\u202etxt.exe',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udc00\ud800',
  '😀',
  'e\u0301',
  'ﬀﬁ',
  '张伟 北京市朝阳区',
  '../../etc/passwd',
  '..%2f..%2f',
  'null',
  'undefined',
  'true',
  'NaN',
  'Infinity',
  '-1',
  '0',
  '1e309',
  '99999999999999999999999999',
  '-0',
  '0x10',
  '1.5',
  '__proto__',
  'constructor',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-7FFF-BFFF-FFFFFFFFFFFF',
  '01890a5d-ac96-774b-bcce-b302099a8057\n',
  'x'.repeat(65),
  'y'.repeat(201),
  'z'.repeat(1025),
];

/** Keys that probe prototype pollution, internal columns and odd names. */
export const HOSTILE_KEYS: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '',
  ' ',
  'a.b',
  '$where',
  "name'--",
  '<b>',
  '\u0000',
  '\ud800',
  'id',
  'version',
  'createdAt',
  'deletedAt',
  'createdBy',
  'password_hash',
  'passwordHash',
  'token_hash',
  'roles',
  'custom.x',
  'customFields',
  'k'.repeat(300),
];

/** Numbers at the edges of what JSON, JavaScript and the databases can hold. */
export const HOSTILE_NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1,
  1.5,
  -1.5,
  0.1 + 0.2,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53 + 2,
  -(2 ** 53) - 2,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  1e15 + 1,
  1e300,
  -1e300,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  5e-324,
];

/** Any UTF-16 code unit, so lone surrogates turn up as often as anything else. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  { weight: 1, arbitrary: fc.string({ unit: codeUnit, maxLength: 12 }) },
);

/** A JSON value built as text, so keys such as `__proto__` survive as plain keys. */
export type JsonText = string;

const scalarText: fc.Arbitrary<JsonText> = fc.oneof(
  { weight: 4, arbitrary: hostileString.map((s) => JSON.stringify(s)) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS).map((n) => JSON.stringify(n)) },
  { weight: 1, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)) },
  // Literal texts JSON.stringify cannot produce but JSON.parse accepts.
  { weight: 1, arbitrary: fc.constantFrom('null', 'true', 'false', '1e999', '-1e999', '1E400', '123456789012345678901234567890', '-0.0', '0.0000000000000000000001') },
);

export const hostileJson: fc.Arbitrary<JsonText> = fc.letrec<{ value: JsonText }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: scalarText },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`) },
    { weight: 1, arbitrary: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectText) },
    { weight: 1, arbitrary: fc.integer({ min: 50, max: 2000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 50, max: 1000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`) },
  ),
})).value;

/** Writes an object from entries; duplicate and prototype keys stay exactly as given. */
export function objectText(entries: readonly (readonly [string, JsonText])[]): JsonText {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

/** Bodies that are not JSON, or not UTF-8, though they claim to be. Described as hex or text. */
export const RAW_BODIES: readonly { label: string; bytes: readonly number[] }[] = [
  { label: 'invalid UTF-8 byte', bytes: [0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d] },
  { label: 'overlong slash', bytes: [0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d] },
  { label: 'UTF-8 encoded surrogate', bytes: [0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d] },
  { label: 'truncated multibyte', bytes: [0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xe4, 0xb8, 0x22, 0x7d] },
  { label: 'UTF-16 with BOM', bytes: [0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00] },
  { label: 'NUL bytes', bytes: [0x00, 0x00, 0x00] },
  ...['{', '}', '{"a":}', '[1,]', '{"a":1}{"b":2}', "{'a':1}", 'NaN', 'undefined', '{"a":1,}', '"unterminated', '{"a":"\\x41"}', '{"a":"\\ud800"}', '\ufeff{}', ' ', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{"a":1,"a":"b"}', '[]', '"text"', '42', 'null', 'true'].map((text) => ({
    label: `text ${JSON.stringify(text)}`,
    bytes: [...Buffer.from(text, 'utf8')],
  })),
];

export const CONTENT_TYPES: readonly string[] = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/json-patch+json',
  'application/octet-stream',
];

/** Percent-encodes any string, writing lone surrogates as the (invalid) UTF-8 of their code unit. */
export function encodeLoose(value: string): string {
  let out = '';
  for (const ch of value) {
    try {
      out += encodeURIComponent(ch);
    } catch {
      const c = ch.charCodeAt(0);
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
    }
  }
  return out;
}

/** Already-encoded URL fragments that no encoder produces: broken escapes and invalid UTF-8. */
export const RAW_URL_PIECES: readonly string[] = ['%', '%z', '%zz', '%0', '%00', '%FF', '%C0%AF', '%ED%A0%80', '%E4%B8', '%2F', '%2e%2e', '..', '.', '%252F', '%u0041', '+', '%20', ';', '&', '=', '#', '?'];

/** One URL component: a hostile string, encoded, or a raw broken encoding. */
export const hostileUrlPiece: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: hostileString.map(encodeLoose) },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_URL_PIECES) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...RAW_URL_PIECES, 'a', '1'), { minLength: 2, maxLength: 6 }).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.integer({ min: 150, max: 400 }).map((n) => 'a'.repeat(n)) },
);

/** Values for a `limit`-like parameter. */
export const hostileLimit: fc.Arbitrary<string> = fc.constantFrom('-1', '0', '1', '200', '201', '9999', '10000', '99999999999999999999', '1e3', '1.5', ' 1', '0x10', 'abc', '', '-0', 'NaN', 'Infinity');

/** Cursors: garbage, and well-formed base64url around hostile JSON. */
export const hostileCursor: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('', 'notacursor', '!!!', 'W10', 'bnVsbA', 'e30', 'A'.repeat(1100), '====') },
  { weight: 2, arbitrary: hostileJson.map((text) => Buffer.from(text, 'utf8').toString('base64url')) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('createdAt', '-createdAt', 'name', 'updatedAt', 'id', 'email'), fc.oneof(scalarText, hostileJson), fc.oneof(fc.uuid().map((u) => JSON.stringify(u)), scalarText))
      .map(([key, value, id]) => Buffer.from(`[${JSON.stringify(key)},${value},${id}]`, 'utf8').toString('base64url')),
  },
);

/** A query string value for a named parameter, chosen to fit what the name suggests. */
export function hostileQueryValue(name: string): fc.Arbitrary<string> {
  if (name === 'limit') return fc.oneof(hostileLimit.map(encodeLoose), hostileUrlPiece);
  if (name === 'cursor') return fc.oneof({ weight: 3, arbitrary: hostileCursor.map(encodeLoose) }, { weight: 1, arbitrary: hostileUrlPiece });
  if (name === 'sort') {
    return fc.oneof(fc.constantFrom('createdAt', '-updatedAt', 'name', '-', '--createdAt', 'createdAt;drop', '-email', 'email', 'idNumber', 'password_hash', 'r.id', '1', 'createdAt desc').map(encodeLoose), hostileUrlPiece);
  }
  return hostileUrlPiece;
}

/** Bytes for a JSON body that is just over the limit, as a string field of an object. */
export function oversizedBody(bodyLimit: number, extra: number): Buffer {
  const filler = 'A'.repeat(bodyLimit + extra);
  return Buffer.from(`{"name":"${filler}"}`, 'utf8');
}
