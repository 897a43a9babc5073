import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One message as the SMTP peer received it, with its text and HTML parts decoded. */
export interface ReceivedMail {
  /** RCPT TO addresses (lower-cased). */
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  headers: Map<string, string>;
  raw: string;
}

export interface SmtpPeer {
  /** `smtp://user:pass@127.0.0.1:<port>` for `smtp.url` (the credentials are accepted, not checked). */
  url: string;
  port: number;
  received: ReceivedMail[];
  /** The next message to `address` (one already received and not yet taken, or the next to arrive). */
  next(address: string, options?: { subject?: RegExp; timeoutMs?: number }): Promise<ReceivedMail>;
  /** Messages received for `address` so far (taken or not). */
  countFor(address: string, subject?: RegExp): number;
  /** Refuse every message from now on (an SMTP server in trouble), or accept them again. */
  refuse(refusing: boolean): void;
  close(): Promise<void>;
}

function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at === -1 ? raw : raw.slice(0, at);
  const body = at === -1 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch ((encoding ?? '').toLowerCase()) {
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      ).toString('utf8');
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}

/** Decoded text/plain and text/html parts of a MIME entity, however nested. */
function parts(raw: string): { text: string; html: string } {
  const { headers, body } = splitHeaders(raw);
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const found = { text: '', html: '' };
    for (const part of body.split(`--${boundary}`).slice(1)) {
      if (part.startsWith('--')) break;
      const inner = parts(part.replace(/^\r?\n/, ''));
      found.text ||= inner.text;
      found.html ||= inner.html;
    }
    return found;
  }
  const decoded = decodeBody(body, headers.get('content-transfer-encoding'));
  return /^text\/html/i.test(type) ? { text: '', html: decoded } : { text: decoded, html: '' };
}

/** A real SMTP server on 127.0.0.1 (smtp-server, no TLS) that keeps what it receives, for tests. */
export async function startSmtpPeer(): Promise<SmtpPeer> {
  const received: ReceivedMail[] = [];
  const taken = new Set<ReceivedMail>();
  const waiting: { matches: (mail: ReceivedMail) => boolean; resolve: (mail: ReceivedMail) => void }[] = [];
  let refusing = false;

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(_auth, _session, callback) {
      callback(null, { user: 'test' });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (refusing) return callback(new Error('451 temporarily refusing mail (test)'));
        const raw = Buffer.concat(chunks).toString('utf8');
        const { headers } = splitHeaders(raw);
        const mail: ReceivedMail = {
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address.toLowerCase()),
          from: headers.get('from') ?? '',
          subject: headers.get('subject') ?? '',
          headers,
          raw,
          ...parts(raw),
        };
        received.push(mail);
        const waiter = waiting.findIndex((entry) => entry.matches(mail));
        if (waiter !== -1) {
          taken.add(mail);
          waiting.splice(waiter, 1)[0]!.resolve(mail);
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;

  const matcher = (address: string, subject?: RegExp) => (mail: ReceivedMail) =>
    mail.to.includes(address.toLowerCase()) && (!subject || subject.test(mail.subject));

  return {
    url: `smtp://mailer:secret@127.0.0.1:${port}`,
    port,
    received,
    next(address, options = {}) {
      const matches = matcher(address, options.subject);
      const early = received.find((mail) => !taken.has(mail) && matches(mail));
      if (early) {
        taken.add(early);
        return Promise.resolve(early);
      }
      const timeoutMs = options.timeoutMs ?? 15_000;
      return new Promise((resolve, reject) => {
        const entry = {
          matches,
          resolve: (mail: ReceivedMail) => {
            clearTimeout(timer);
            resolve(mail);
          },
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(entry), 1);
          reject(new Error(`no mail to ${address} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.push(entry);
      });
    },
    countFor: (address, subject) => received.filter(matcher(address, subject)).length,
    refuse(value) {
      refusing = value;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The first link in a message's text that starts with `prefix`. */
export function linkIn(mail: ReceivedMail, prefix: string): string {
  const found = mail.text.split(/\s+/).find((word) => word.startsWith(prefix));
  if (!found) throw new Error(`no link starting with ${prefix} in the message "${mail.subject}"`);
  return found;
}
