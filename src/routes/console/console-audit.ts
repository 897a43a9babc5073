import type Router from '@koa/router';
import { z } from 'zod';
import { invalidRequest } from '../../errors/app-error.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { ConsoleKit } from './console-session.ts';

export interface ConsoleAuditDeps {
  audit: AuditLog;
}

/** How many events the page reads at most (the newest of them are shown first). */
const readLimit = 10_000;
const shownLimit = 500;

const auditQuery = z.object({
  type: z.string().max(64).optional(),
  actor: z.string().max(300).optional(),
  since: z.string().max(40).optional(),
});

/**
 * `since` as the CLI's `audit --since` reads it: a duration back from now (`30m`, `24h`, `7d`) or a date (ISO 8601).
 * Empty: the last 24 hours.
 */
export function sinceOf(value: string | undefined, now = Date.now()): Date {
  const text = value?.trim();
  if (!text) return new Date(now - 86_400_000);
  const relative = /^(\d{1,6})([smhd])$/.exec(text);
  if (relative) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(relative[1]) * unit * 1000);
  }
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime()))
    throw invalidRequest(
      '"since" must be a duration such as 30m, 24h or 7d, or a date such as 2026-01-31',
      'since',
    );
  return date;
}

/**
 * The audit log with filters: an event type (`admin.change`, or a family such as `signin`), an actor (`console:<sub>`,
 * `admin:<sub>`, `cli`; one ending in `:` takes every actor of that kind) and since when.
 */
export function registerConsoleAudit(router: Router, kit: ConsoleKit, deps: ConsoleAuditDeps): void {
  router.get('/audit', async (ctx) => {
    const current = await kit.read(ctx);
    if (!current) return;
    const parsed = auditQuery.safeParse(ctx.query);
    if (!parsed.success) throw invalidRequest('the filters are malformed', 'query');
    const { type, actor, since } = parsed.data;
    const matching = await deps.audit.list({
      since: sinceOf(since),
      type: type?.trim() || undefined,
      actor: actor?.trim() || undefined,
      limit: readLimit,
    });
    const newest = matching.slice(-shownLimit).reverse();
    kit.render(ctx, current, 'audit', {
      title: 'Audit log',
      filters: { type: type ?? '', actor: actor ?? '', since: since ?? '' },
      events: newest.map((event) => ({ ...event, details: JSON.stringify(event.details) })),
      truncated: matching.length > shownLimit,
      limitReached: matching.length >= readLimit,
    });
  });
}
