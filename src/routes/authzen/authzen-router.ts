import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { AppError, invalidRequest } from '../../errors/app-error.ts';
import type { BatchItem, DecisionLibrary, DecisionRequest } from '../../libraries/authz/decisions.ts';
import { searchPageSize, type SearchLibrary, type SearchRequest } from '../../libraries/authz/search.ts';
import type { DPoPReplayCache } from '../../middleware/dpop-proof.ts';
import { describeError } from '../../middleware/error-handler.ts';
import { requirePermission, type AccessTokenVerifier } from '../../middleware/require-permission.ts';
import { readJson } from '../admin-api/admin-router.ts';

/** The permission an access token for `<ISSUER>/authz` needs to ask for decisions and searches. */
export const authzenPermission = 'authz:evaluate';
/** The most items one `evaluations` request may hold (more: 413). */
export const maxEvaluations = 1000;
/**
 * The largest AuthZEN request body: the larger of `http.bodyLimitBytes` and this (a batch of 1,000 items with
 * properties takes a few hundred KB). Bodies are read only once the caller's token is accepted.
 */
export const minAuthzenBodyBytes = 1024 * 1024;

export const authzenPaths = {
  configuration: '/.well-known/authzen-configuration',
  evaluation: '/access/v1/evaluation',
  evaluations: '/access/v1/evaluations',
  searchSubject: '/access/v1/search/subject',
  searchResource: '/access/v1/search/resource',
  searchAction: '/access/v1/search/action',
} as const;

export interface AuthzenRouterDeps {
  issuer: string;
  decisions: DecisionLibrary;
  search: SearchLibrary;
  verify: AccessTokenVerifier;
  dpopReplayCache?: DPoPReplayCache;
  bodyLimitBytes: number;
}

// Request shapes (AuthZEN 1.0). Unknown fields are ignored (zod strips them); what the shape cannot say (a type
// that is not a Cedar name, a number that fits no Cedar type) the decision library refuses, naming the field.
const properties = z.record(z.string(), z.unknown());
const text = z.string().max(1024);
const subject = z.object({ type: text, id: text, properties: properties.optional() });
const resource = z.object({ type: text, id: text, properties: properties.optional() });
const action = z.object({ name: text, properties: properties.optional() });
const context = z.record(z.string(), z.unknown());
const semantic = z.enum(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit']);
const options = z.object({ reasons: z.boolean().optional() }).optional();

const evaluationBody = z.object({
  subject,
  action,
  resource,
  context: context.optional(),
  options,
});

/** Each item: any part may come from the defaults at the top level (checked once merged). */
const evaluationsBody = z.object({
  subject: subject.optional(),
  action: action.optional(),
  resource: resource.optional(),
  context: context.optional(),
  evaluations: z
    .array(
      z.object({
        subject: subject.optional(),
        action: action.optional(),
        resource: resource.optional(),
        context: context.optional(),
      }),
    )
    .optional(),
  options: z
    .object({ reasons: z.boolean().optional(), evaluations_semantic: semantic.optional() })
    .optional(),
});

/** `page.next_token` (AuthZEN drafts) or `page.token` (1.0): the answer's `next_token`; `page.limit` results. */
const page = z
  .object({
    next_token: z.string().max(4096).optional(),
    token: z.string().max(4096).optional(),
    limit: z.number().int().min(1).max(searchPageSize.max).optional(),
  })
  .optional();

const searchSubjectBody = z.object({
  subject: z.object({ type: text, id: text.optional(), properties: properties.optional() }),
  action,
  resource,
  context: context.optional(),
  page,
});
const searchResourceBody = z.object({
  subject,
  action,
  resource: z.object({ type: text, id: text.optional(), properties: properties.optional() }),
  context: context.optional(),
  page,
});
const searchActionBody = z.object({
  subject,
  action: z.unknown().optional(),
  resource,
  context: context.optional(),
  page,
});

/** How deep a request's JSON may nest (Cedar values: 32 levels inside properties and context). */
const maxJsonDepth = 64;

/**
 * Refuses JSON nested deeper than {@link maxJsonDepth}, walking it without recursion: a body of `[[[[...` within the
 * size limit must be a 400, not a stack overflow in the code that reads it.
 */
function checkDepth(body: unknown): void {
  const stack: [unknown, number][] = [[body, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (!value || typeof value !== 'object') continue;
    if (depth >= maxJsonDepth)
      throw invalidRequest(`the request nests JSON deeper than ${String(maxJsonDepth)} levels`, 'body');
    for (const item of Object.values(value))
      if (item && typeof item === 'object') stack.push([item, depth + 1]);
  }
}

/** A decision as AuthZEN answers it: exactly `{"decision": bool}`, with `context` only when reasons were asked. */
function decisionObject(item: BatchItem, reasons: boolean) {
  if ('error' in item)
    // An item that could not be evaluated: closed, and why (always: the caller must be able to tell).
    return {
      decision: false,
      context: {
        error: {
          status: 400,
          code: item.error.code,
          message: item.error.message,
          ...(item.error.field ? { field: item.error.field } : {}),
        },
      },
    };
  if (!reasons) return { decision: item.decision };
  return {
    decision: item.decision,
    context: {
      reason_admin: {
        en: item.decision
          ? `permitted by ${item.policies.join(', ')}`
          : item.policies.length > 0
            ? `forbidden by ${item.policies.join(', ')}`
            : 'no policy permits this request',
      },
      policies: item.policies,
      errors: item.errors,
      policy_set_version: item.version,
    },
  };
}

/** Sent back verbatim when it can be (the spec: the same identifier in the response); else the server's own. */
const echoableRequestId = /^[\x21-\x7e](?:[\x20-\x7e]{0,1022}[\x21-\x7e])?$/;

/**
 * Errors as JSON (`error`, `error_description`, `field`) whatever the caller's Accept header, and the caller's
 * `X-Request-ID` echoed on every answer, errors included.
 */
function authzenEnvelope(): Middleware {
  return async (ctx, next) => {
    const requestId = ctx.get('x-request-id');
    if (requestId && echoableRequestId.test(requestId)) ctx.set('X-Request-ID', requestId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined)
        throw new AppError('not_found', 404, 'There is nothing at this address.');
    } catch (error) {
      const described = describeError(error);
      if (described.status >= 500)
        ctx.state.log?.[described.status === 503 ? 'warn' : 'error']({ err: error }, 'request failed');
      ctx.status = described.status;
      if (described.status === 503) ctx.set('Retry-After', '5');
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        error: described.error,
        error_description: described.description,
        ...(described.field ? { field: described.field } : {}),
      };
    }
  };
}

const toDecisionRequest = (item: {
  subject: z.infer<typeof subject>;
  action: z.infer<typeof action>;
  resource: z.infer<typeof resource>;
  context?: Record<string, unknown> | undefined;
}): DecisionRequest => ({
  subject: item.subject,
  action: item.action,
  resource: item.resource,
  context: item.context,
});

/**
 * The OpenID AuthZEN Authorization API 1.0: the metadata document, evaluation, evaluations (batches, with the three
 * `evaluations_semantic` modes) and the subject, resource and action searches. Callers present a Gatehouse access
 * token for `<ISSUER>/authz` holding `authz:evaluate` (401/403 as `requirePermission` says; DPoP-bound tokens with
 * their proof). A deny is `{"decision": false}` with status 200; a malformed request a 400 naming the field.
 */
export function createAuthzenRouter(deps: AuthzenRouterDeps): Router {
  const router = new Router();
  const envelope = authzenEnvelope();
  const guard = requirePermission(authzenPermission, {
    verify: deps.verify,
    realm: 'gatehouse-authz',
    dpop: { baseUrl: deps.issuer, ...(deps.dpopReplayCache ? { replayCache: deps.dpopReplayCache } : {}) },
  });
  const limit = Math.max(deps.bodyLimitBytes, minAuthzenBodyBytes);
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: `${limit}b`, encoding: 'utf-8' });
  const endpoint = (path: string) => `${deps.issuer.replace(/\/+$/, '')}${path}`;
  const post = (path: string, handler: (ctx: Context) => Promise<unknown>) =>
    router.post(path, envelope, guard, json, async (ctx) => {
      ctx.set('Cache-Control', 'no-store');
      checkDepth(ctx.request.body);
      ctx.body = await handler(ctx);
    });

  router.get(authzenPaths.configuration, envelope, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = {
      policy_decision_point: deps.issuer,
      access_evaluation_endpoint: endpoint(authzenPaths.evaluation),
      access_evaluations_endpoint: endpoint(authzenPaths.evaluations),
      search_subject_endpoint: endpoint(authzenPaths.searchSubject),
      search_resource_endpoint: endpoint(authzenPaths.searchResource),
      search_action_endpoint: endpoint(authzenPaths.searchAction),
    };
  });

  post(authzenPaths.evaluation, async (ctx) => {
    const body = readJson(ctx, evaluationBody);
    const answer = await deps.decisions.check(toDecisionRequest(body));
    return decisionObject(answer, body.options?.reasons === true);
  });

  post(authzenPaths.evaluations, async (ctx) => {
    const raw = ctx.request.body as { evaluations?: unknown } | undefined;
    if (Array.isArray(raw?.evaluations) && raw.evaluations.length > maxEvaluations)
      // As the body parser's own 413 is shaped (http-errors): `request_too_large`, its message shown.
      throw Object.assign(
        new Error(`field "evaluations": at most ${String(maxEvaluations)} items per request`),
        { status: 413, expose: true },
      );
    const body = readJson(ctx, evaluationsBody);
    const reasons = body.options?.reasons === true;
    const defaults = {
      subject: body.subject,
      action: body.action,
      resource: body.resource,
      context: body.context,
    };
    if (body.evaluations === undefined) {
      // No `evaluations`: a single evaluation (the spec's backwards-compatible form).
      const single = readJson(ctx, evaluationBody);
      return decisionObject(await deps.decisions.check(toDecisionRequest(single)), reasons);
    }
    // A key given in an item replaces the default of the same name (whole, not merged).
    const requests = body.evaluations.map((item, index) => {
      const merged = {
        subject: item.subject ?? defaults.subject,
        action: item.action ?? defaults.action,
        resource: item.resource ?? defaults.resource,
        context: item.context ?? defaults.context,
      };
      for (const part of ['subject', 'action', 'resource'] as const)
        if (merged[part] === undefined)
          throw invalidRequest(
            `field "evaluations.${String(index)}.${part}": required (in the item or as a default at the top level)`,
            `evaluations.${String(index)}.${part}`,
          );
      return toDecisionRequest(merged as Parameters<typeof toDecisionRequest>[0]);
    });
    const semantics = body.options?.evaluations_semantic ?? 'execute_all';
    const answers = await deps.decisions.checkMany(requests, {
      stopAfter:
        semantics === 'deny_on_first_deny'
          ? (item) => 'error' in item || !item.decision
          : semantics === 'permit_on_first_permit'
            ? (item) => 'decision' in item && item.decision
            : undefined,
    });
    return { evaluations: answers.map((item) => decisionObject(item, reasons)) };
  });

  const pageOf = (body: { page?: z.infer<typeof page> }) => ({
    ...(body.page?.limit !== undefined ? { limit: body.page.limit } : {}),
    ...((body.page?.next_token ?? body.page?.token) !== undefined
      ? { token: (body.page?.next_token ?? body.page?.token)! }
      : {}),
  });
  const searchRequest = (body: {
    subject: SearchRequest['subject'];
    action?: unknown;
    resource: SearchRequest['resource'];
    context?: Record<string, unknown> | undefined;
  }): SearchRequest => ({
    subject: body.subject,
    resource: body.resource,
    context: body.context,
    ...(body.action && typeof body.action === 'object' && 'name' in body.action
      ? { action: body.action as SearchRequest['action'] }
      : {}),
  });
  const answer = (found: { results: unknown[]; next: string }) => ({
    results: found.results,
    page: { next_token: found.next },
  });

  post(authzenPaths.searchSubject, async (ctx) => {
    const body = readJson(ctx, searchSubjectBody);
    return answer(await deps.search.subjects(searchRequest(body), pageOf(body)));
  });
  post(authzenPaths.searchResource, async (ctx) => {
    const body = readJson(ctx, searchResourceBody);
    return answer(await deps.search.resources(searchRequest(body), pageOf(body)));
  });
  post(authzenPaths.searchAction, async (ctx) => {
    const body = readJson(ctx, searchActionBody);
    return answer(await deps.search.actions(searchRequest(body), pageOf(body)));
  });

  return router;
}
