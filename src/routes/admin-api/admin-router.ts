import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { z } from 'zod';
import { AppError, invalidRequest } from '../../errors/app-error.ts';
import type { AccountLibrary, Account } from '../../libraries/accounts.ts';
import type { ClientLibrary } from '../../libraries/clients.ts';
import type { IdentityProviderLibrary } from '../../libraries/identity-providers.ts';
import type { InvitationLibrary } from '../../libraries/invitations.ts';
import type { Lifecycle } from '../../libraries/lifecycle.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { AuthzLibraries } from '../../libraries/authz/create-authz.ts';
import { unlockAccount } from '../../libraries/operator-requests.ts';
import { findUnstorableText } from '../../db/text-safety.ts';
import { pageByKey } from '../../queries/page-cursor.ts';
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
  /** Disable, enable, delete, set a password, rotate a secret: the use cases shared with the CLI and the console. */
  lifecycle: Lifecycle;
  /** Invitations by email: absent when mail is off, and `POST /invitations` then answers 400 naming smtp.url. */
  invitations?: Pick<InvitationLibrary, 'invite'>;
  verify: AccessTokenVerifier;
  /**
   * Where the ids of accepted DPoP proofs are remembered (shared by every process on the same Redis, so a proof is
   * accepted once by all); default: this process's memory.
   */
  dpopReplayCache?: DPoPReplayCache;
  bodyLimitBytes: number;
}

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
  const { lifecycle } = deps;
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

  // Built once, on first request: generating it takes about 20 ms, too much to spend on every unauthenticated call.
  let openApiDocument: Record<string, unknown> | undefined;
  router.get('/openapi.json', (ctx) => {
    ctx.body = openApiDocument ??= buildOpenApiDocument(deps.issuer);
  });

  router.get('/users', read, async (ctx) => {
    const page = await accounts.listPage(readQuery(ctx.query, schemas.usersQuery));
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
  // The library audits the invitation (`account.invited`, with this administrator as the actor).
  router.post('/invitations', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.inviteUserBody);
    if (!deps.invitations)
      throw invalidRequest(
        'mail is off: set smtp.url (env GATEHOUSE_SMTP_URL) to send invitations',
        'smtp.url',
      );
    const { account, sent } = await deps.invitations.invite(body, actor(ctx));
    if (!sent)
      throw new AppError(
        'service_unavailable',
        503,
        'the invitation could not be mailed; nothing was created',
      );
    ctx.status = 201;
    ctx.body = account;
  });
  router.patch('/users/:id', write, json, async (ctx) => {
    const { attributes, removeAttributes, status, ...body } = readJson(ctx, schemas.updateUserBody);
    const before = await withRoles(await accounts.get(ctx.params.id!));
    if (attributes !== undefined || removeAttributes !== undefined)
      await accounts.updateAttributes(before.id, attributes ?? {}, removeAttributes ?? []);
    let account = await accounts.update(ctx.params.id!, body);
    // Disabling signs the account out everywhere at once (the lifecycle use case), not only at its next sign-in.
    if (status === 'disabled') account = await lifecycle.disableUser(account.id, actor(ctx));
    if (status === 'active' && before.status !== 'active')
      account = await lifecycle.enableUser(account.id, actor(ctx));
    ctx.body = await withRoles(account);
    await audited(ctx, 'user.update', `user:${account.id}`, {
      accountId: account.id,
      before,
      after: ctx.body,
    });
  });
  // The lifecycle of an account (issue 17): each a use case shared with the CLI and the console, audited there.
  router.post('/users/:id/disable', write, async (ctx) => {
    ctx.body = await withRoles(await lifecycle.disableUser(ctx.params.id!, actor(ctx)));
  });
  router.post('/users/:id/enable', write, async (ctx) => {
    ctx.body = await withRoles(await lifecycle.enableUser(ctx.params.id!, actor(ctx)));
  });
  router.delete('/users/:id', write, async (ctx) => {
    await lifecycle.deleteUser(ctx.params.id!, actor(ctx));
    ctx.status = 204;
  });
  router.put('/users/:id/password', write, json, async (ctx) => {
    const { password } = readJson(ctx, schemas.setPasswordBody);
    await lifecycle.setUserPassword(ctx.params.id!, password, actor(ctx));
    ctx.status = 204;
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
    const page = pageByKey(
      await rbac.listRoles(),
      (role) => role.name,
      readQuery(ctx.query, schemas.pageQuery),
    );
    ctx.body = { roles: page.items, next: page.next };
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
    const page = pageByKey(
      await rbac.groups.list(),
      (group) => group.name,
      readQuery(ctx.query, schemas.pageQuery),
    );
    ctx.body = { groups: page.items, next: page.next };
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
    const page = pageByKey(
      await clients.list(),
      (client) => client.id,
      readQuery(ctx.query, schemas.pageQuery),
    );
    ctx.body = { clients: page.items, next: page.next };
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
    await lifecycle.deleteClient(ctx.params.id!, actor(ctx));
    ctx.status = 204;
  });
  /** A new secret, shown once in RFC 7591's names; the old one is refused from now on. */
  router.post('/clients/:id/rotate-secret', write, async (ctx) => {
    const { clientId, secret } = await lifecycle.rotateClientSecret(ctx.params.id!, actor(ctx));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { client_id: clientId, client_secret: secret };
  });

  router.get('/idps', read, async (ctx) => {
    const page = pageByKey(
      await deps.identityProviders.list(),
      (idp) => idp.id,
      readQuery(ctx.query, schemas.pageQuery),
    );
    ctx.body = { idps: page.items, next: page.next };
  });
  router.post('/idps', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.createIdentityProviderBody);
    if (body.roleRules?.length) await rbac.assertExist(body.roleRules.map((rule) => rule.role));
    ctx.status = 201;
    ctx.body = await deps.identityProviders.create(body);
    await audited(ctx, 'idp.create', `idp:${body.id}`, { after: ctx.body });
  });
  router.patch('/idps/:id', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.updateIdentityProviderBody);
    const before = await deps.identityProviders.get(ctx.params.id!);
    ctx.body = await deps.identityProviders.update(before.id, body);
    // The secret is never audited: only that it changed.
    await audited(ctx, 'idp.update', `idp:${before.id}`, {
      before,
      after: { ...(ctx.body as object), ...(body.clientSecret ? { clientSecretChanged: true } : {}) },
    });
  });
  router.delete('/idps/:id', write, async (ctx) => {
    const before = await deps.identityProviders.get(ctx.params.id!);
    await deps.identityProviders.delete(before.id);
    ctx.status = 204;
    await audited(ctx, 'idp.delete', `idp:${before.id}`, { before });
  });

  router.get('/audit', read, async (ctx) => {
    const { cursor, ...query } = readQuery(ctx.query, schemas.auditQuery);
    // One more than asked for says whether there is a next page. (`afterId` is passed through to the audit queries.)
    const filter = { ...query, since: new Date(query.since), limit: query.limit + 1 };
    const events = await deps.audit.list(Object.assign(filter, { afterId: cursor }));
    const page = events.slice(0, query.limit);
    ctx.body = { events: page, next: events.length > query.limit ? (page.at(-1)?.id ?? null) : null };
  });

  router.get('/apis', read, async (ctx) => {
    const page = pageByKey(
      await rbac.listApis(),
      (api) => api.identifier,
      readQuery(ctx.query, schemas.pageQuery),
    );
    ctx.body = { apis: page.items, next: page.next };
  });
  // An API by its identifier, URL-encoded as one path segment (`/apis/https%3A%2F%2Fapi.example.com`).
  router.get('/apis/:identifier', read, async (ctx) => {
    ctx.body = await rbac.getApi(ctx.params.identifier!);
  });
  router.patch('/apis/:identifier', write, json, async (ctx) => {
    const body = readJson(ctx, schemas.updateApiBody);
    const before = await rbac.getApi(ctx.params.identifier!);
    ctx.body = await rbac.updateApi(before.identifier, body);
    await audited(ctx, 'api.update', `api:${before.identifier}`, { before, after: ctx.body });
  });
  router.delete('/apis/:identifier', write, async (ctx) => {
    const before = await rbac.getApi(ctx.params.identifier!);
    await rbac.deleteApi(before.identifier);
    ctx.status = 204;
    await audited(ctx, 'api.delete', `api:${before.identifier}`, { before });
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
