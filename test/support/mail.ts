import fs from 'node:fs';
import path from 'node:path';

export interface ReadMail {
  to: string;
  subject: string;
  text: string;
}

/** Quoted-printable (RFC 2045) and encoded words (RFC 2047, Q and B), as the mailer writes them. */
function decodeQuotedPrintable(text: string): string {
  const bytes: number[] = [];
  const joined = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < joined.length; i++) {
    const hex = joined[i] === '=' ? joined.slice(i + 1, i + 3) : '';
    if (/^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(joined[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeHeader(value: string): string {
  return value.replace(/=\?UTF-8\?([QB])\?([^?]*)\?=\s*/gi, (_all, kind: string, data: string) =>
    kind.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}

/** Parses one message as the mailer renders it: headers, a blank line, a text body. */
export function parseMail(raw: string): ReadMail {
  const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const at = line.indexOf(':');
    headers.set(line.slice(0, at).toLowerCase(), line.slice(at + 1).trim());
  }
  const body = rest.join('\n\n');
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  const text = encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : encoding === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body;
  return { to: headers.get('to') ?? '', subject: decodeHeader(headers.get('subject') ?? ''), text };
}

/** The messages the file transport wrote to a directory, oldest first. */
export function mailIn(dir: string): ReadMail[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.eml'))
    .sort()
    .map((name) => parseMail(fs.readFileSync(path.join(dir, name), 'utf8')));
}

/** The secret of the newest reset link mailed to an address. */
export function resetTokenFor(dir: string, email: string): string | null {
  const mail = mailIn(dir).filter((m) => m.to === email).pop();
  const match = mail?.text.match(/\/reset-password#token=(rpr_[A-Za-z0-9_-]+)/);
  return match?.[1] ?? null;
}
