import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import { isLoopbackHost } from '../config/loopback.ts';

const emailViewsDir = fileURLToPath(new URL('../../views/email/', import.meta.url));

/** The messages Gatehouse sends; each has `views/email/<kind>.txt.eta` and `<kind>.html.eta`. */
export type MailKind =
  | 'password-reset'
  | 'password-changed'
  | 'email-verification'
  | 'invitation'
  | 'sign-up'
  | 'sign-up-existing'
  | 'email-change'
  | 'email-changed'
  | 'sign-in-code';

const subjects: Record<MailKind, string> = {
  'password-reset': 'Reset your password',
  'password-changed': 'Your password was changed',
  'email-verification': 'Confirm your email address',
  invitation: 'You are invited: set up your account',
  'sign-up': 'Finish creating your account',
  'sign-up-existing': 'You already have an account',
  'email-change': 'Confirm the new address of your account',
  'email-changed': 'The address of your account was changed',
  'sign-in-code': 'Your sign-in code',
};

/** The path of the development mailbox page (src/routes/dev-mailbox.ts). */
export const devMailboxPath = '/dev/mailbox';

/** One message kept by the development mailbox. */
export interface DevMail {
  kind: MailKind;
  to: string;
  from: string;
  subject: string;
  text: string;
  at: Date;
}

/**
 * Where a development server without an SMTP server keeps the messages it would have sent, so reset, verification
 * and invitation links can be followed from `GET /dev/mailbox`. In this process's memory: it exists only in a
 * single-process server outside production (see `devMailboxWanted`), never in the CLI (a separate process).
 */
export interface DevMailbox {
  keep(mail: DevMail): void;
  /** The kept messages, newest first. */
  messages(): DevMail[];
}

/** A development mailbox that keeps the last `capacity` messages. */
export function createDevMailbox(capacity = 50): DevMailbox {
  const kept: DevMail[] = [];
  return {
    keep(mail) {
      kept.push(mail);
      if (kept.length > capacity) kept.splice(0, kept.length - capacity);
    },
    messages: () => kept.toReversed(),
  };
}

/**
 * Whether a server keeps its mail in a development mailbox: only without `smtp.url`, outside production, with
 * `smtp.devMailbox` on and one process (workers would each keep their own, and a link's page could land on another).
 */
export function devMailboxWanted(config: {
  production: boolean;
  smtp: { url: string | null; devMailbox: boolean };
  cluster: { workers: number };
}): boolean {
  return !config.production && !config.smtp.url && config.smtp.devMailbox && config.cluster.workers <= 1;
}

export interface MailerSettings {
  /** `smtp.url`; null: no mail is sent and what needs mail is off. */
  url: string | null;
  from: string | null;
  timeoutSeconds: number;
  /** Names the sender and the default From. */
  issuer: string;
  /** In production a plain smtp:// server off this machine must offer STARTTLS (the message carries a link). */
  production: boolean;
}

export interface Mailer {
  /** Whether an SMTP server is configured: features that need mail are off without one. */
  readonly enabled: boolean;
  /**
   * Renders and sends one message. Never throws: a failure (server away, refused) is logged with the kind and a
   * hash of the address, never the link or the address itself, and answered false.
   */
  send(kind: MailKind, to: string, data: Record<string, unknown>): Promise<boolean>;
  close(): void;
}

/** What the log may say about a recipient: a short hash, enough to match two lines, not to read the address. */
export const recipientHash = (address: string) =>
  createHash('sha256').update(address.trim().toLowerCase()).digest('hex').slice(0, 16);

/** The sender of every message: `smtp.from`, else gatehouse@ the issuer's host name. */
export function senderOf(settings: Pick<MailerSettings, 'from' | 'issuer'>): string {
  return settings.from ?? `Gatehouse <gatehouse@${new URL(settings.issuer).hostname}>`;
}

/** The HTML renderer (escaping) and the plain-text one of the message templates. */
function emailRenderers() {
  return {
    eta: new Eta({ views: emailViewsDir, cache: true, autoEscape: true, autoTrim: false }),
    text: new Eta({ views: emailViewsDir, cache: true, autoEscape: false, autoTrim: false }),
  };
}

/**
 * A mailer that sends nothing and keeps each message's text in the development mailbox instead. Its log line names
 * where to read the message and a hash of the recipient, never the link.
 */
function createDevMailboxMailer(
  settings: MailerSettings,
  mailbox: DevMailbox,
  log: Pick<Logger, 'warn'> & Partial<Pick<Logger, 'info'>>,
): Mailer {
  const { text } = emailRenderers();
  const from = senderOf(settings);
  const say = log.info ? log.info.bind(log) : log.warn.bind(log);
  return {
    enabled: true,
    async send(kind, to, data) {
      mailbox.keep({
        kind,
        to,
        from,
        subject: subjects[kind],
        text: text.render(`./${kind}.txt.eta`, data),
        at: new Date(),
      });
      say(
        { mail: kind },
        `mail for ${recipientHash(to)} is in the development mailbox at ${settings.issuer}${devMailboxPath}`,
      );
      return true;
    },
    close() {},
  };
}

/**
 * Mail over SMTP with nodemailer: a plain-text body and a simple HTML one, both from eta templates under
 * `views/email/` (HTML-escaped). One connection per message (mail is rare: a pool would keep a CLI process alive).
 */
export function createMailer(
  settings: MailerSettings,
  log: Pick<Logger, 'warn'> & Partial<Pick<Logger, 'info'>> = { warn: () => undefined },
  options: { devMailbox?: DevMailbox | undefined } = {},
): Mailer {
  if (!settings.url && options.devMailbox && !settings.production)
    return createDevMailboxMailer(settings, options.devMailbox, log);
  if (!settings.url) {
    return {
      enabled: false,
      async send(kind) {
        log.warn({ mail: kind }, 'mail not sent: smtp.url is not configured');
        return false;
      },
      close() {},
    };
  }
  const url = new URL(settings.url);
  const timeoutMs = settings.timeoutSeconds * 1000;
  const transport = nodemailer.createTransport({
    url: settings.url,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    requireTLS: settings.production && url.protocol === 'smtp:' && !isLoopbackHost(url.hostname),
  } as Parameters<typeof nodemailer.createTransport>[0]);
  const { eta, text } = emailRenderers();
  const from = senderOf(settings);

  return {
    enabled: true,
    async send(kind, to, data) {
      const recipient = recipientHash(to);
      try {
        const info = (await transport.sendMail({
          from,
          to,
          subject: subjects[kind],
          text: text.render(`./${kind}.txt.eta`, data),
          html: eta.render(`./${kind}.html.eta`, data),
        })) as { messageId?: string };
        log.info?.({ mail: kind, recipient, messageId: info.messageId }, 'mail sent');
        return true;
      } catch (error) {
        // The error's message only: nodemailer's may quote the SMTP conversation, never our link, but keep it short.
        const reason =
          error instanceof Error
            ? `${error.name}: ${error.message}`.replace(/\/\/[^/\s@]*@/g, '//***@').slice(0, 200)
            : 'unknown';
        log.warn({ mail: kind, recipient, reason }, 'mail could not be sent');
        return false;
      }
    },
    close() {
      transport.close();
    },
  };
}
