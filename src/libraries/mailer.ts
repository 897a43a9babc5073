import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import { isLoopbackHost } from '../config/loopback.ts';

const emailViewsDir = fileURLToPath(new URL('../../views/email/', import.meta.url));

/** The messages Gatehouse sends; each has `views/email/<kind>.txt.eta` and `<kind>.html.eta`. */
export type MailKind = 'password-reset' | 'password-changed' | 'email-verification';

const subjects: Record<MailKind, string> = {
  'password-reset': 'Reset your password',
  'password-changed': 'Your password was changed',
  'email-verification': 'Confirm your email address',
};

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

/**
 * Mail over SMTP with nodemailer: a plain-text body and a simple HTML one, both from eta templates under
 * `views/email/` (HTML-escaped). One connection per message (mail is rare: a pool would keep a CLI process alive).
 */
export function createMailer(
  settings: MailerSettings,
  log: Pick<Logger, 'warn'> & Partial<Pick<Logger, 'info'>> = { warn: () => undefined },
): Mailer {
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
  const eta = new Eta({ views: emailViewsDir, cache: true, autoEscape: true, autoTrim: false });
  const text = new Eta({ views: emailViewsDir, cache: true, autoEscape: false, autoTrim: false });
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
