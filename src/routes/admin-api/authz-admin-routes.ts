import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { invalidRequest } from '../../errors/app-error.ts';
import type { AuthzLibraries } from '../../libraries/authz/create-authz.ts';
import * as schemas from './admin-schemas.ts';

/** A page of resources (`?type=T&limit=100&cursor=...`): `next` in the answer is the cursor of the page after. */
const resourcesQuery = z.object({
  type: z.string().min(1).max(200),
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
  cursor: z.string().min(1).max(1024).optional(),
});

/**
 * The policy decision point in the admin API (the CLI's `policy`, `resource` and `authz check` commands): the
 * policy set (get, set, history, a version, rollback), stored resources (put, get, delete, list, import, share,
 * unshare) and one decision with the policies that decided it. Reads need `admin:read`, changes `admin:write`;
 * the libraries audit every change with the caller as the actor.
 */
export function addAuthzAdminRoutes(
  router: Router,
  deps: {
    authz: AuthzLibraries;
    read: Middleware;
    write: Middleware;
    /** The JSON body parser of the admin API, and one for the large bodies (a policy set, an import). */
    json: Middleware;
    largeJson: Middleware;
    actor: (ctx: Context) => string;
    readJson: <T extends z.ZodType>(ctx: Context, schema: T) => z.infer<T>;
    readQuery: <T extends z.ZodType>(query: unknown, schema: T) => z.infer<T>;
  },
): void {
  const { authz, read, write, json, largeJson, actor, readJson } = deps;
  const ref = (ctx: Context) => ({ type: ctx.params.type!, id: ctx.params.id! });

  router.get('/policy', read, async (ctx) => {
    ctx.body = await authz.policies.get();
  });
  router.put('/policy', write, largeJson, async (ctx) => {
    const body = readJson(ctx, schemas.setPolicyBody);
    ctx.body = await authz.policies.set(body.text, body.schema ?? null, actor(ctx));
  });
  router.get('/policy/history', read, async (ctx) => {
    ctx.body = { versions: await authz.policies.history() };
  });
  router.get('/policy/versions/:version', read, async (ctx) => {
    const version = Number(ctx.params.version);
    if (!/^[1-9][0-9]{0,15}$/.test(ctx.params.version!) || !Number.isSafeInteger(version))
      throw invalidRequest(`${ctx.params.version!} is not a policy set version (1, 2, ...)`, 'version');
    ctx.body = await authz.policies.getVersion(version);
  });
  router.post('/policy/rollback', write, json, async (ctx) => {
    const { version } = readJson(ctx, schemas.rollbackPolicyBody);
    ctx.body = await authz.policies.rollback(version, actor(ctx));
  });

  router.get('/resources', read, async (ctx) => {
    const query = deps.readQuery(ctx.query, resourcesQuery);
    const page = await authz.resources.listPage(query.type, { limit: query.limit, after: query.cursor });
    ctx.body = { resources: page.resources, next: page.next };
  });
  router.post('/resources/import', write, largeJson, async (ctx) => {
    ctx.body = await authz.resources.import(readJson(ctx, schemas.importResourcesBody), actor(ctx));
  });
  router.get('/resources/:type/:id', read, async (ctx) => {
    const { type, id } = ref(ctx);
    ctx.body = await authz.resources.get(type, id);
  });
  router.put('/resources/:type/:id', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.putResourceBody);
    ctx.body = await authz.resources.put({ ...ref(ctx), ...body }, actor(ctx));
  });
  router.delete('/resources/:type/:id', write, async (ctx) => {
    const { type, id } = ref(ctx);
    await authz.resources.delete(type, id, actor(ctx));
    ctx.status = 204;
  });
  for (const verb of ['share', 'unshare'] as const)
    router.post(`/resources/:type/:id/${verb}`, write, json, async (ctx) => {
      const { relation, email, group } = readJson(ctx, schemas.shareBody);
      ctx.body = await authz.resources[verb](
        ref(ctx),
        relation,
        email !== undefined ? { email } : { group: group! },
        actor(ctx),
      );
    });

  router.post('/authz/check', read, json, async (ctx) => {
    const { explain, ...request } = readJson(ctx, schemas.authzCheckBody);
    const answer = await authz.decisions.check(request, { explain: explain === true });
    ctx.body = {
      decision: answer.decision,
      policies: answer.policies,
      errors: answer.errors,
      version: answer.version,
      ...(explain ? { entities: answer.entities, context: answer.context } : {}),
    };
  });
}
