import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { isLoopback, type Config } from '../../config/config.js';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}

/** Sends a plain-text mail; rejects when the transport does. The message may hold a secret link. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

/**
 * The configured transport. SMTP goes through nodemailer, which speaks the protocol, STARTTLS and
 * authentication; plain SMTP to another machine must upgrade to TLS or the mail is not sent.
 * `file` writes each message as an .eml file only the owner can read, for a server without mail
 * or for development; `console` prints it.
 */
export function createMailer(settings: Config['mail'], out: { write(text: string): void } = process.stdout): Mailer {
  const { transport, from } = settings;
  if (transport.kind === 'smtp') {
    const url = new URL(transport.url);
    const secure = url.protocol === 'smtps:';
    const smtp = nodemailer.createTransport({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      ...(url.port ? { port: Number(url.port) } : {}),
      secure,
      requireTLS: !secure && !isLoopback(url.hostname),
      ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } } : {}),
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    });
    return {
      async send(message) {
        await smtp.sendMail({ from, ...message });
      },
    };
  }
  // The same RFC 5322 rendering as over SMTP, so a file shows exactly what a mail server would get.
  const render = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  if (transport.kind === 'file') {
    // In the name after the time, so the files of one millisecond still sort in the order written.
    let written = 0;
    return {
      async send(message) {
        const info = await render.sendMail({ from, ...message });
        fs.mkdirSync(transport.dir, { recursive: true, mode: 0o700 });
        written += 1;
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${String(written).padStart(6, '0')}-${randomBytes(4).toString('hex')}.eml`;
        fs.writeFileSync(path.join(transport.dir, name), info.message as Buffer, { mode: 0o600, flag: 'wx' });
      },
    };
  }
  return {
    async send(message) {
      out.write(['', `--- mail to ${message.to}`, `Subject: ${message.subject}`, '', message.text, '---', ''].join('\n'));
    },
  };
}
