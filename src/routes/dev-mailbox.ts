import { isLoopbackHost } from '../config/loopback.ts';
import Router from '@koa/router';
import { devMailboxPath, type DevMailbox } from '../libraries/mailer.ts';
import type { PageRenderer } from '../libraries/page-renderer.ts';
import { noStore } from './forms.ts';

export interface DevMailboxDeps {
  mailbox: DevMailbox;
  pages: PageRenderer;
  issuer: string;
}

/** A piece of a message's text as the page shows it: words, or a link on this issuer (made clickable). */
type Piece = { text: string } | { link: string };

/** A message's text as paragraphs of pieces: blank lines part paragraphs, links on the issuer become links. */
export function piecesOf(text: string, issuer: string): Piece[][] {
  return text
    .split(/\r?\n\s*\r?\n/)
    .map((paragraph) => paragraph.trim())
    .filter(Boolean)
    .map((paragraph) =>
      paragraph
        .split(/(\s+)/)
        .map((word): Piece => (word.startsWith(`${issuer}/`) ? { link: word } : { text: word })),
    );
}

/**
 * Whether a request's socket address is this machine's (the socket, not a forwarded header a client could write);
 * an IPv4-mapped IPv6 address counts as its IPv4 address.
 */
export function isFromThisMachine(remoteAddress: string | undefined): boolean {
  return isLoopbackHost((remoteAddress ?? '').replace(/^::ffff:/i, ''));
}

/**
 * `GET /dev/mailbox`: the messages a development server without an SMTP server kept instead of sending (newest
 * first), with their links, so reset, verification and invitation can be walked through on `npm start`. Mounted only
 * when the server has a development mailbox (never in production: the path is a 404 there), and it answers only
 * requests from this machine (the messages hold working links); anything else gets the same 404.
 */
export function createDevMailboxRouter(deps: DevMailboxDeps): Router {
  const router = new Router();
  router.use(noStore);
  router.get(devMailboxPath, (ctx) => {
    if (!isFromThisMachine(ctx.req.socket.remoteAddress)) return;
    ctx.set('X-Robots-Tag', 'noindex');
    ctx.type = 'html';
    ctx.body = deps.pages.render('dev-mailbox', {
      title: 'Development mailbox',
      messages: deps.mailbox.messages().map((mail) => ({
        subject: mail.subject,
        to: mail.to,
        from: mail.from,
        at: mail.at.toISOString(),
        paragraphs: piecesOf(mail.text, deps.issuer),
      })),
    });
  });
  return router;
}
