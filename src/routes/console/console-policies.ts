import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AppError, invalidRequest } from '../../errors/app-error.ts';
import { parseEntityRef } from '../../libraries/authz/cedar-values.ts';
import type { AuthzLibraries } from '../../libraries/authz/create-authz.ts';
import type { CheckedDecision, DecisionRequest } from '../../libraries/authz/decisions.ts';
import { textField } from '../forms.ts';
import { backTo, noticeFrom, optionalText, orShowAgain } from './console-forms.ts';
import type { ConsoleKit, CurrentConsoleSession } from './console-session.ts';

export interface ConsolePoliciesDeps {
  authz: Pick<AuthzLibraries, 'policies' | 'decisions'>;
}

/** Cedar policy text and schema as a form sends them; the size bound is the admin API's body limit's order. */
const setForm = z.object({
  csrf: textField(100),
  text: z.string().max(256 * 1024),
  schema: z
    .string()
    .max(256 * 1024)
    .optional()
    .transform((value) => (value?.trim() ? value : null)),
});
const rollbackForm = z.object({ csrf: textField(100), version: z.coerce.number().int().min(1) });

/** "Try a decision": a GET form (it changes nothing), so its answer can be bookmarked and needs no CSRF token. */
const tryQuery = z.object({
  subject: optionalText(1000),
  action: optionalText(1000),
  resource: optionalText(1000),
  context: optionalText(10_000),
});
type TryQuery = z.infer<typeof tryQuery>;

const notices = {
  saved: 'The policy set is active in every Gatehouse process.',
  restored: 'The older version is active again, as a new version.',
} as const;

/** The `context` field: a JSON object, or nothing. */
function contextOf(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidRequest('context: not JSON', 'context');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalidRequest('context: expected a JSON object', 'context');
  return parsed as Record<string, unknown>;
}

/**
 * The Cedar policy set of the policy decision point: the active version (edit it; Cedar validates it before it
 * becomes active, and a set that does not parse changes nothing and is shown again with Cedar's message), its
 * history (roll back to any version), and "try a decision" (what `gatehouse authz check --explain` answers).
 */
export function registerConsolePolicies(router: Router, kit: ConsoleKit, deps: ConsolePoliciesDeps): void {
  const { policies, decisions } = deps.authz;

  /** The decision the "try" form asks for, or the message of what is wrong with it; nothing when not asked. */
  async function tried(query: Partial<TryQuery>): Promise<{ answer?: CheckedDecision; error?: string }> {
    if (!query.subject && !query.action && !query.resource) return {};
    try {
      if (!query.subject || !query.action || !query.resource)
        throw invalidRequest('a decision needs a subject, an action and a resource', 'subject');
      const request: DecisionRequest = {
        subject: parseEntityRef(query.subject, 'subject'),
        action: { name: query.action },
        resource: parseEntityRef(query.resource, 'resource'),
        context: contextOf(query.context),
      };
      return { answer: await decisions.check(request, { explain: true }) };
    } catch (error) {
      if (!(error instanceof AppError) || error.status >= 500) throw error;
      return { error: error.message };
    }
  }

  async function showPolicies(
    ctx: Context,
    current: CurrentConsoleSession,
    edited?: { text: string; schema: string | null; error: string },
    error?: string,
  ) {
    const parsed = tryQuery.safeParse(ctx.method === 'GET' ? ctx.query : {});
    const query = parsed.success ? parsed.data : {};
    const active = await policies.get();
    kit.render(ctx, current, 'policies', {
      title: 'Policies',
      notice: noticeFrom(ctx, notices),
      // A refused policy set's message sits under its field; any other refusal at the top of the page.
      error,
      policyError: edited?.error,
      active,
      text: edited ? edited.text : active.text,
      schema: edited ? (edited.schema ?? '') : (active.schema ?? ''),
      history: await policies.history(),
      query,
      tried: parsed.success
        ? await tried(query)
        : { error: 'The decision form has a field that is too long.' },
    });
  }

  router.get('/policies', async (ctx) => {
    const current = await kit.read(ctx);
    if (current) await showPolicies(ctx, current);
  });

  router.post('/policies', async (ctx) => {
    const change = await kit.change(ctx, setForm, '/admin/policies');
    if (!change) return;
    const { text, schema } = change.form;
    await orShowAgain(
      ctx,
      async () => {
        // Audited by the library (`policy.changed`, with the version and the policies' ids).
        await policies.set(text, schema, change.actor);
        backTo(ctx, '/admin/policies', 'saved');
      },
      (message) => showPolicies(ctx, change, { text, schema, error: message }),
    );
  });

  router.post('/policies/rollback', async (ctx) => {
    const change = await kit.change(ctx, rollbackForm, '/admin/policies');
    if (!change) return;
    await orShowAgain(
      ctx,
      async () => {
        await policies.rollback(change.form.version, change.actor);
        backTo(ctx, '/admin/policies', 'restored');
      },
      (message) => showPolicies(ctx, change, undefined, message),
    );
  });
}
