import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { invalidRequest } from '../../errors/app-error.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import { supportedGrantTypes, type ClientLibrary } from '../../libraries/clients.ts';
import type { Lifecycle } from '../../libraries/lifecycle.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import { accountClientId } from '../account/account-client.ts';
import { csrfOnlyForm, textField } from '../forms.ts';
import { backTo, checkbox, choices, lines, noticeFrom, optionalText, orShowAgain } from './console-forms.ts';
import type { ConsoleKit } from './console-session.ts';
import { consoleClientId, type CurrentConsoleSession } from './console-session.ts';

export interface ConsoleClientsDeps {
  clients: ClientLibrary;
  rbac: RbacLibrary;
  audit: AuditLog;
  lifecycle: Lifecycle;
}

const grantType = z.enum(supportedGrantTypes);
const createForm = z.object({
  csrf: textField(100),
  id: textField(128),
  name: optionalText(200),
  type: z.enum(['confidential', 'public']),
  grant_types: choices(4, 100).pipe(z.array(grantType)),
  redirect_uris: lines(50 * 2000),
  post_logout_redirect_uris: lines(50 * 2000),
  scope: optionalText(1000),
  first_party: checkbox,
  roles: choices(100, 64),
  apis: choices(100),
});
const editForm = z.object({
  csrf: textField(100),
  name: optionalText(200),
  redirect_uris: lines(50 * 2000),
  post_logout_redirect_uris: lines(50 * 2000),
  apis: choices(100),
});
const deleteForm = z.object({ csrf: textField(100), confirm: checkbox });

const notices = {
  created: 'The client is registered.',
  updated: 'The client is saved.',
  deleted: 'The client is deleted.',
} as const;

/** Gatehouse's own clients: managed by Gatehouse at every start, so the console shows them without changing them. */
const ownClients: ReadonlySet<string> = new Set([accountClientId, consoleClientId]);

/** Clients: the list, registration, and each client's page (redirect URIs, allowed APIs, its secret, deletion). */
export function registerConsoleClients(router: Router, kit: ConsoleKit, deps: ConsoleClientsDeps): void {
  const { clients, rbac, audit } = deps;
  const clientPage = (id: string) => `/admin/clients/${encodeURIComponent(id)}`;

  const audited = (ctx: Context, actor: string, action: string, clientId: string, change: object) =>
    audit.record('admin.change', {
      actor,
      ip: ctx.ip,
      clientId,
      details: { action, target: `client:${clientId}`, ...change },
    });

  /** The secret page: shown once, right after it was made (the page is never stored: see the router's noStore). */
  function showSecret(ctx: Context, current: CurrentConsoleSession, clientId: string, secret: string) {
    kit.render(ctx, current, 'client-secret', {
      title: 'Client secret',
      clientId,
      secret,
      back: clientPage(clientId),
    });
  }

  async function showList(ctx: Context, current: CurrentConsoleSession, error?: string) {
    kit.render(ctx, current, 'clients', {
      title: 'Clients',
      notice: noticeFrom(ctx, notices),
      error,
      clients: await clients.list(),
      roles: (await rbac.listRoles()).map((role) => role.name),
      apis: (await rbac.listApis()).map((api) => api.identifier),
      grantTypes: supportedGrantTypes,
      form:
        ctx.method === 'POST' ? ctx.request.body : { grant_types: ['authorization_code', 'refresh_token'] },
    });
  }

  router.get('/clients', async (ctx) => {
    const current = await kit.read(ctx);
    if (current) await showList(ctx, current);
  });

  router.post('/clients', async (ctx) => {
    const change = await kit.change(ctx, createForm, '/admin/clients');
    if (!change) return;
    const form = change.form;
    await orShowAgain(
      ctx,
      async () => {
        const { client, roles, secret } = await clients.register({
          id: form.id,
          name: form.name,
          public: form.type === 'public',
          grantTypes: form.grant_types,
          redirectUris: form.redirect_uris,
          postLogoutRedirectUris: form.post_logout_redirect_uris,
          scope: form.scope,
          firstParty: form.first_party,
          roles: form.roles,
          apis: form.apis,
        });
        // The secret is shown once, to the administrator: never to the audit log.
        await audited(ctx, change.actor, 'client.create', client.id, { after: { ...client, roles } });
        if (secret) {
          ctx.status = 201;
          showSecret(ctx, change, client.id, secret);
        } else backTo(ctx, clientPage(client.id), 'created');
      },
      (message) => showList(ctx, change, message),
    );
  });

  async function showClient(ctx: Context, current: CurrentConsoleSession, id: string, error?: string) {
    const client = await clients.get(id);
    const access = await rbac.effectiveAccess({ clientId: client.id });
    kit.render(ctx, current, 'client', {
      title: client.name ? `${client.name} (${client.id})` : client.id,
      notice: noticeFrom(ctx, notices),
      error,
      client,
      access,
      own: ownClients.has(client.id),
      apis: (await rbac.listApis()).map((api) => api.identifier),
      base: clientPage(client.id),
    });
  }

  router.get('/clients/:id', async (ctx) => {
    const current = await kit.read(ctx);
    if (current) await showClient(ctx, current, ctx.params.id!);
  });

  /** A change of one client: refused for Gatehouse's own (its next start would undo it anyway). */
  async function changeClient<T extends z.ZodType<{ csrf: string }>>(ctx: Context, schema: T) {
    const id = ctx.params.id!;
    const change = await kit.change(ctx, schema, clientPage(id));
    if (!change) return undefined;
    const client = await clients.get(id);
    if (ownClients.has(client.id))
      throw invalidRequest(`${client.id} is Gatehouse's own client: Gatehouse manages it`, 'id');
    return { ...change, client };
  }

  router.post('/clients/:id', async (ctx) => {
    const change = await changeClient(ctx, editForm);
    if (!change) return;
    const { form, client: before } = change;
    await orShowAgain(
      ctx,
      async () => {
        const after = await clients.update(before.id, {
          ...(form.name ? { name: form.name } : {}),
          redirectUris: form.redirect_uris,
          postLogoutRedirectUris: form.post_logout_redirect_uris,
          apis: form.apis,
        });
        await audited(ctx, change.actor, 'client.update', before.id, { before, after });
        backTo(ctx, clientPage(before.id), 'updated');
      },
      (message) => showClient(ctx, change, before.id, message),
    );
  });

  router.post('/clients/:id/rotate-secret', async (ctx) => {
    const change = await changeClient(ctx, csrfOnlyForm);
    if (!change) return;
    const { clientId, secret } = await deps.lifecycle.rotateClientSecret(change.client.id, change.actor);
    showSecret(ctx, change, clientId, secret);
  });

  router.post('/clients/:id/delete', async (ctx) => {
    const change = await changeClient(ctx, deleteForm);
    if (!change) return;
    if (!change.form.confirm) throw invalidRequest('tick the box to confirm the deletion', 'confirm');
    await deps.lifecycle.deleteClient(change.client.id, change.actor);
    backTo(ctx, '/admin/clients', 'deleted');
  });
}
