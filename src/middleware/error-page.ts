import type { Context } from 'koa';
import type { PageRenderer } from '../libraries/page-renderer.ts';

/** What Gatehouse's error page says: what happened in words, and where to start again when there is a way. */
export interface ErrorPage {
  title: string;
  message: string;
  restartUrl?: string | undefined;
  /** A way back to the front door, for pages reached by a wrong address. */
  homeUrl?: string | undefined;
  /** The OAuth `error` code, shown small for whoever debugs the application. */
  error?: string | null | undefined;
}

/** Answers a browser with the error page (400 unless told otherwise). */
export function showErrorPage(ctx: Context, pages: PageRenderer, page: ErrorPage, status = 400): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = pages.render('error', { ...page });
}
