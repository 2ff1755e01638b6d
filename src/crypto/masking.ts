/**
 * Masked forms of sensitive values, for people who may know a value exists but not read it:
 * `138****8000`, `z***@example.com`, `110***********1234`. A mask keeps only what helps a person
 * tell records apart (the ends of a number, the domain of an address) and never the length of a
 * short secret.
 */
export type MaskKind = 'phone' | 'email' | 'id-number' | 'text' | 'date';

export function maskValue(kind: MaskKind, value: string): string {
  switch (kind) {
    case 'phone':
      return maskMiddle(value, 3, 4);
    case 'email': {
      const at = value.lastIndexOf('@');
      if (at <= 0) return '***';
      return `${[...value.slice(0, at)][0]}***${value.slice(at)}`;
    }
    case 'id-number':
      return maskMiddle(value, 3, 4);
    case 'date':
      return '****-**-**';
    case 'text': {
      const chars = [...value.trim()];
      return chars.length === 0 ? '' : `${chars[0]}***`;
    }
  }
}

/** Keeps `head` and `tail` characters and stars the rest; too short a value is starred whole. */
function maskMiddle(value: string, head: number, tail: number): string {
  const chars = [...value.replace(/\s/g, '')];
  if (chars.length <= head + tail) return '*'.repeat(Math.max(chars.length, 4));
  return chars.slice(0, head).join('') + '*'.repeat(chars.length - head - tail) + chars.slice(-tail).join('');
}
