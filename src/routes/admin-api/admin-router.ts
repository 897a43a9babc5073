import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { invalidRequest } from '../../errors/app-error.ts';
import type { AccountLibrary, Account } from '../../libraries/accounts.ts';
import type { ClientLibrary } from '../../libraries/clients.ts';
import type { IdentityProviderLibrary } from '../../libraries/identity-providers.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { AuthzLibraries } from '../../libraries/authz/create-authz.ts';
import { unlockAccount } from '../../libraries/operator-requests.ts';
import { findUnstorableText } from '../../db/text-safety.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import type { SignInThrottles } from '../../libraries/throttles.ts';
import type { DPoPReplayCache } from '../../middleware/dpop-proof.ts';
import { requirePermission, type AccessTokenVerifier } from '../../middleware/require-permission.ts';
import * as schemas from './admin-schemas.ts';
import { addAuthzAdminRoutes } from './authz-admin-routes.ts';
import { buildOpenApiDocument } from './openapi.ts';

export const adminPermissions = { read: 'admin:read', write: 'admin:write' } as const;
/** The body limit of `PUT /policy` and `POST /resources/import` (the larger of this and `http.bodyLimitBytes`). */
export const largeBodyBytes = 4 * 1024 * 1024;

export interface AdminRouterDeps {
  issuer: string;
  accounts: AccountLibrary;
  clients: ClientLibrary;
  rbac: RbacLibrary;
  mfa: MfaLibrary;
  sessions: SessionManagement;
  audit: AuditLog;
  throttles: SignInThrottles;
  identityProviders: IdentityProviderLibrary;
  /** The policy decision point (policies, resources, decisions). */
  authz: AuthzLibraries;
  verify: AccessTokenVerifier;
  /**
   * Where the ids of accepted DPoP proofs are remembered (shared by every process on the same Redis, so a proof is
   * accepted once by all); default: this process's memory.
   */
  dpopReplayCache?: DPoPReplayCache;
  bodyLimitBytes: number;
}

/** The audit query (`?since=ISO&type=mfa&accountId=...&limit=100`); a 400 names the offending parameter. */
const auditQuery = z
  .object({
    since: z.iso.datetime({ offset: true }).default(() => new Date(Date.now() - 86_400_000).toISOString()),
    type: z.string().max(64).optional(),
    accountId: z.string().max(255).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  })
  .strict();

/** A page of the user list (`?limit=100&cursor=...`): `next` in the answer is the cursor of the page after. */
const usersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(1000),
  cursor: z.string().max(200).optional(),
});

/** Reads query parameters against a schema; a 400 names the offending parameter. */
function readQuery<T extends z.ZodType>(query: unknown, schema: T): z.infer<T> {
  const unstorable = findUnstorableText(query);
  if (unstorable)
    throw invalidRequest(`parameter "${unstorable}" holds a character that is not allowed`, unstorable);
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field =
      issue.path.map(String).join('.') ||
      (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : 'query');
    throw invalidRequest(`parameter "${field}": ${issue.message}`, field);
  }
  return parsed.data;
}

/** Reads a JSON body against a schema; a 400 names the first offending field. */
export function readJson<T extends z.ZodType>(ctx: Context, schema: T): z.infer<T> {
  const unstorable = findUnstorableText(ctx.request.body);
  if (unstorable)
    throw invalidRequest(`field "${unstorable}": holds a character that is not allowed (U+0000)`, unstorable);
  if (!ctx.is('application/json'))
    throw invalidRequest('the request body must be JSON (Content-Type: application/json)', 'body');
  const parsed = schema.safeParse(ctx.request.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field =
      issue.path.map(String).join('.') ||
      (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : 'body');
    throw invalidRequest(`field "${field}": ${issue.message}`, field);
  }
  return parsed.data;
}

/**
 * The admin API: JSON under `/admin/api`, described at `/admin/api/openapi.json`. It is itself a registered API
 * (`<ISSUER>/admin`): reading needs `admin:read`, changing needs `admin:write`, and the 401/403 rule is
 * `requirePermission`'s.
 */
export function createAdminRouter(deps: AdminRouterDeps): Router {
  const { accounts, clients, rbac, mfa, sessions } = deps;
  const actor = (ctx: Context) => `admin:${ctx.state.access?.subject ?? 'unknown'}`;
  /** Every change through the admin API is audited: who, what, and the record before and after. */
  const audited = (
    ctx: Context,
    action: string,
    target: string,
    change: { before?: unknown; after?: unknown; accountId?: string },
  ) =>
    deps.audit.record('admin.change', {
      actor: actor(ctx),
      ip: ctx.ip,
      ...(change.accountId ? { accountId: change.accountId } : {}),
      details: {
        action,
        target,
        ...(change.before === undefined ? {} : { before: change.before }),
        ...(change.after === undefined ? {} : { after: change.after }),
      },
    });
  const router = new Router({ prefix: '/admin/api' });
  // A DPoP-bound token needs a proof whose htu is the URL clients address: the issuer's plus the path, never what
  // the Host header says.
  const guard = {
    verify: deps.verify,
    realm: 'gatehouse-admin',
    dpop: {
      baseUrl: deps.issuer,
      ...(deps.dpopReplayCache ? { replayCache: deps.dpopReplayCache } : {}),
    },
  };
  const read = requirePermission(adminPermissions.read, guard);
  const write = requirePermission(adminPermissions.write, guard);
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: `${deps.bodyLimitBytes}b`, encoding: 'utf-8' });
  // A policy set (up to 1 MiB, and its schema) and an import (up to 10,000 entities) outgrow the usual limit.
  const largeJson = bodyParser({
    enableTypes: ['json'],
    jsonLimit: `${Math.max(deps.bodyLimitBytes, largeBodyBytes)}b`,
    encoding: 'utf-8',
  });

  /**
   * An account as the admin API shows it: its own roles (`roles`), the groups it is itself a member of (`groups`)
   * and the permissions it holds directly (`directPermissions`); `GET /users/{id}` adds what it holds through all
   * of them.
   */
  const withRoles = async (account: Account) => ({
    ...account,
    roles: await rbac.directRolesOfAccount(account.id),
    groups: await rbac.groups.groupsOfAccount(account.id),
    directPermissions: await rbac.directPermissionsOfAccount(account.id),
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = buildOpenApiDocument(deps.issuer);
  });

  router.get('/users', read, async (ctx) => {
    const page = await accounts.listPage(readQuery(ctx.query, usersQuery));
    ctx.body = { users: await Promise.all(page.accounts.map(withRoles)), next: page.next };
  });
  router.get('/users/:id', read, async (ctx) => {
    const account = await withRoles(await accounts.get(ctx.params.id!));
    const held = await rbac.effectiveAccess({ accountId: account.id });
    ctx.body = { ...account, effective: held };
  });
  router.post('/users', write, json, async (ctx) => {
    const account = await accounts.createWithRoles(readJson(ctx, schemas.createUserBody));
    ctx.status = 201;
    ctx.body = account;
    await audited(ctx, 'user.create', `user:${account.id}`, { accountId: account.id, after: account });
  });
  router.patch('/users/:id', write, json, async (ctx) => {
    const { attributes, removeAttributes, ...body } = readJson(ctx, schemas.updateUserBody);
    const before = await withRoles(await accounts.get(ctx.params.id!));
    if (attributes !== undefined || removeAttributes !== undefined)
      await accounts.updateAttributes(before.id, attributes ?? {}, removeAttributes ?? []);
    const account = await accounts.update(ctx.params.id!, body);
    // A disabled account is signed out everywhere at once, not only refused at its next sign-in.
    if (body.status === 'disabled') await sessions.signOutEverywhere(account.id, actor(ctx));
    ctx.body = await withRoles(account);
    await audited(ctx, 'user.update', `user:${account.id}`, {
      accountId: account.id,
      before,
      after: ctx.body,
    });
  });
  router.post('/users/:id/roles', write, json, async (ctx) => {
    const { role } = readJson(ctx, schemas.roleReferenceBody);
    const account = await accounts.get(ctx.params.id!);
    const before = await rbac.rolesOfAccount(account.id);
    await rbac.assignToAccount(account.id, role);
    ctx.body = await withRoles(account);
    await audited(ctx, 'user.assign-role', `user:${account.id}`, {
      accountId: account.id,
      before: { roles: before },
      after: { roles: (ctx.body as { roles: string[] }).roles },
    });
  });
  router.delete('/users/:id/roles/:role', write, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    const before = await rbac.rolesOfAccount(account.id);
    await rbac.removeFromAccount(account.id, ctx.params.role!);
    ctx.body = await withRoles(account);
    await audited(ctx, 'user.remove-role', `user:${account.id}`, {
      accountId: account.id,
      before: { roles: before },
      after: { roles: (ctx.body as { roles: string[] }).roles },
    });
  });

  router.post('/users/:id/permissions', write, json, async (ctx) => {
    const { permission } = readJson(ctx, schemas.permissionBody);
    const account = await accounts.get(ctx.params.id!);
    const before = await rbac.directPermissionsOfAccount(account.id);
    await rbac.grantToAccount(account.id, permission);
    ctx.body = await withRoles(account);
    await audited(ctx, 'user.grant', `user:${account.id}`, {
      accountId: account.id,
      before: { directPermissions: before },
      after: { directPermissions: (ctx.body as { directPermissions: string[] }).directPermissions },
    });
  });
  router.delete('/users/:id/permissions/:permission', write, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    const before = await rbac.directPermissionsOfAccount(account.id);
    await rbac.revokeFromAccount(account.id, ctx.params.permission!);
    ctx.body = await withRoles(account);
    await audited(ctx, 'user.revoke', `user:${account.id}`, {
      accountId: account.id,
      before: { directPermissions: before },
      after: { directPermissions: (ctx.body as { directPermissions: string[] }).directPermissions },
    });
  });

  router.get('/users/:id/sessions', read, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    ctx.body = {
      sessions: await sessions.listSessions(account.id),
      grants: await sessions.listGrants(account.id),
    };
  });
  router.delete('/users/:id/sessions', write, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    ctx.body = await sessions.signOutEverywhere(account.id, actor(ctx));
  });
  router.delete('/users/:id/sessions/:sessionId', write, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    await sessions.revokeSession(account.id, ctx.params.sessionId!, actor(ctx));
    ctx.status = 204;
  });
  router.delete('/users/:id/grants/:grantId', write, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    await sessions.revokeGrant(account.id, ctx.params.grantId!, actor(ctx));
    ctx.status = 204;
  });
  router.post('/users/:id/reset-mfa', write, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    ctx.body = { removed: await mfa.reset(account.id) };
    await deps.audit.record('mfa.removed', { accountId: account.id, actor: actor(ctx), ip: ctx.ip });
  });
  router.post('/users/:id/unlock', write, async (ctx) => {
    const account = await accounts.get(ctx.params.id!);
    await unlockAccount({ throttles: deps.throttles, audit: deps.audit }, account, actor(ctx));
    ctx.body = { unlocked: true };
  });

  router.get('/roles', read, async (ctx) => {
    ctx.body = { roles: await rbac.listRoles() };
  });
  router.post('/roles', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.createRoleBody);
    ctx.status = 201;
    ctx.body = await rbac.createRole(body.name, body);
    await audited(ctx, 'role.create', `role:${body.name}`, { after: ctx.body });
  });
  router.patch('/roles/:name', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.updateRoleBody);
    const before = await rbac.getRole(ctx.params.name!);
    await mfa.setRoleRequired(ctx.params.name!, body.mfaRequired);
    ctx.body = await rbac.getRole(ctx.params.name!);
    await audited(ctx, 'role.update', `role:${before.name}`, { before, after: ctx.body });
  });
  router.delete('/roles/:name', write, async (ctx) => {
    const before = await rbac.getRole(ctx.params.name!);
    await rbac.deleteRole(ctx.params.name!);
    ctx.status = 204;
    await audited(ctx, 'role.delete', `role:${before.name}`, { before });
  });
  router.post('/roles/:name/permissions', write, json, async (ctx) => {
    const { permission } = readJson(ctx, schemas.permissionBody);
    const before = await rbac.getRole(ctx.params.name!);
    ctx.body = await rbac.grantPermission(ctx.params.name!, permission);
    await audited(ctx, 'role.grant', `role:${before.name}`, { before, after: ctx.body });
  });
  router.delete('/roles/:name/permissions/:permission', write, async (ctx) => {
    const before = await rbac.getRole(ctx.params.name!);
    ctx.body = await rbac.revokePermission(ctx.params.name!, ctx.params.permission!);
    await audited(ctx, 'role.revoke', `role:${before.name}`, { before, after: ctx.body });
  });

  router.get('/groups', read, async (ctx) => {
    ctx.body = { groups: await rbac.groups.list() };
  });
  router.post('/groups', write, json, async (ctx) => {
    const { name, ...body } = readJson(ctx, schemas.createGroupBody);
    ctx.status = 201;
    ctx.body = await rbac.groups.create(name, body);
    await audited(ctx, 'group.create', `group:${name}`, { after: ctx.body });
  });
  router.get('/groups/:name', read, async (ctx) => {
    ctx.body = {
      ...(await rbac.groups.get(ctx.params.name!)),
      members: await rbac.groups.members(ctx.params.name!),
    };
  });
  router.patch('/groups/:name', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.updateGroupBody);
    const before = await rbac.groups.get(ctx.params.name!);
    ctx.body = await rbac.groups.update(before.name, body);
    await audited(ctx, 'group.update', `group:${before.name}`, { before, after: ctx.body });
  });
  router.delete('/groups/:name', write, async (ctx) => {
    const before = await rbac.groups.get(ctx.params.name!);
    await rbac.groups.delete(before.name);
    ctx.status = 204;
    await audited(ctx, 'group.delete', `group:${before.name}`, { before });
  });
  router.post('/groups/:name/members', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.groupMemberBody);
    const account = body.email ? await accounts.getByEmail(body.email) : await accounts.get(body.accountId!);
    await rbac.groups.addMember(ctx.params.name!, account.id);
    ctx.body = await withRoles(account);
    await audited(ctx, 'group.add-member', `group:${ctx.params.name!}`, {
      accountId: account.id,
      after: { groups: (ctx.body as { groups: string[] }).groups },
    });
  });
  router.delete('/groups/:name/members/:accountId', write, async (ctx) => {
    const account = await accounts.get(ctx.params.accountId!);
    await rbac.groups.removeMember(ctx.params.name!, account.id);
    ctx.body = await withRoles(account);
    await audited(ctx, 'group.remove-member', `group:${ctx.params.name!}`, {
      accountId: account.id,
      after: { groups: (ctx.body as { groups: string[] }).groups },
    });
  });

  router.get('/clients', read, async (ctx) => {
    ctx.body = { clients: await clients.list() };
  });
  router.get('/clients/:id', read, async (ctx) => {
    ctx.body = await clients.get(ctx.params.id!);
  });
  router.post('/clients', write, json, async (ctx) => {
    const { client, roles, secret } = await clients.register(readJson(ctx, schemas.createClientBody));
    ctx.status = 201;
    ctx.body = { ...client, roles, ...(secret ? { secret } : {}) };
    // The secret is shown once, to the caller: never to the audit log.
    await audited(ctx, 'client.create', `client:${client.id}`, { after: { ...client, roles } });
  });
  router.patch('/clients/:id', write, json, async (ctx) => {
    const { mfaRequired, ...body } = readJson(ctx, schemas.updateClientBody);
    const before = await clients.get(ctx.params.id!);
    if (mfaRequired !== undefined) await mfa.setClientRequired(ctx.params.id!, mfaRequired);
    ctx.body = await clients.update(ctx.params.id!, {
      ...body,
      backchannelLogoutUri: body.backchannelLogoutUri === null ? '' : body.backchannelLogoutUri,
    });
    await audited(ctx, 'client.update', `client:${before.id}`, { before, after: ctx.body });
  });
  router.delete('/clients/:id', write, async (ctx) => {
    const before = await clients.get(ctx.params.id!);
    await clients.delete(ctx.params.id!);
    ctx.status = 204;
    await audited(ctx, 'client.delete', `client:${before.id}`, { before });
  });

  router.get('/idps', read, async (ctx) => {
    ctx.body = { idps: await deps.identityProviders.list() };
  });
  router.post('/idps', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.createIdentityProviderBody);
    if (body.roleRules?.length) await rbac.assertExist(body.roleRules.map((rule) => rule.role));
    ctx.status = 201;
    ctx.body = await deps.identityProviders.create(body);
    await audited(ctx, 'idp.create', `idp:${body.id}`, { after: ctx.body });
  });
  router.delete('/idps/:id', write, async (ctx) => {
    const before = await deps.identityProviders.get(ctx.params.id!);
    await deps.identityProviders.delete(before.id);
    ctx.status = 204;
    await audited(ctx, 'idp.delete', `idp:${before.id}`, { before });
  });

  router.get('/audit', read, async (ctx) => {
    const query = readQuery(ctx.query, auditQuery);
    ctx.body = { events: await deps.audit.list({ ...query, since: new Date(query.since) }) };
  });

  router.get('/apis', read, async (ctx) => {
    ctx.body = { apis: await rbac.listApis() };
  });
  router.post('/apis', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.createApiBody);
    ctx.status = 201;
    ctx.body = await rbac.createApi(body);
    await audited(ctx, 'api.create', `api:${body.identifier}`, { after: ctx.body });
  });

  addAuthzAdminRoutes(router, {
    authz: deps.authz,
    read,
    write,
    json,
    largeJson,
    actor,
    readJson,
    readQuery,
  });

  return router;
}
