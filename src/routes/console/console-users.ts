import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { invalidRequest } from '../../errors/app-error.ts';
import type { AccountLibrary, Account } from '../../libraries/accounts.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { InvitationLibrary } from '../../libraries/invitations.ts';
import type { Lifecycle } from '../../libraries/lifecycle.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import { describeDevice } from '../account/account-sessions.ts';
import { csrfOnlyForm, textField } from '../forms.ts';
import { backTo, checkbox, choices, noticeFrom, optionalText, orShowAgain } from './console-forms.ts';
import type { ConsoleKit } from './console-session.ts';

export interface ConsoleUsersDeps {
  accounts: AccountLibrary;
  rbac: RbacLibrary;
  mfa: MfaLibrary;
  sessions: SessionManagement;
  audit: AuditLog;
  lifecycle: Lifecycle;
  /** Invitations by email; absent when mail is off (no SMTP server), and the page then offers none. */
  invitations?: Pick<InvitationLibrary, 'invite'>;
}

const pageSize = 25;
const listQuery = z.object({
  email: z.string().max(320).optional(),
  cursor: z.string().max(200).optional(),
});
const createForm = z.object({
  csrf: textField(100),
  email: textField(320),
  password: textField(1024),
  name: optionalText(200),
  roles: choices(100, 64),
});
const inviteForm = z.object({
  csrf: textField(100),
  email: textField(320),
  name: optionalText(200),
  roles: choices(100, 64),
});
const roleForm = z.object({ csrf: textField(100), role: textField(64).min(1) });
const groupForm = z.object({ csrf: textField(100), group: textField(64).min(1) });
const attributeForm = z.object({
  csrf: textField(100),
  name: textField(64).min(1),
  value: z.string().max(4000),
});
const attributeNameForm = z.object({ csrf: textField(100), name: textField(64).min(1) });
const deleteForm = z.object({ csrf: textField(100), confirm: checkbox });

const notices = {
  created: 'The user is created.',
  invited: 'The invitation is sent: the link lets the person set a password.',
  'role-assigned': 'The role is assigned.',
  'role-removed': 'The role is removed.',
  'group-added': 'The user is added to the group.',
  'group-removed': 'The user is removed from the group.',
  'attribute-set': 'The attribute is set.',
  'attribute-removed': 'The attribute is removed.',
  'session-ended': 'The session is signed out.',
  'signed-out': 'The user is signed out everywhere.',
  disabled: 'The user is disabled and signed out everywhere.',
  enabled: 'The user is enabled.',
  'mfa-reset': 'The second factor is reset.',
  'mfa-none': 'The user had no second factor.',
  deleted: 'The user is deleted.',
} as const;

/** A typed JSON value when the field holds JSON (`42`, `true`, `["a"]`), else the text as a string. */
function attributeValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Users: search by email, a paginated list, creation, and each user's page with what an operator changes there. */
export function registerConsoleUsers(router: Router, kit: ConsoleKit, deps: ConsoleUsersDeps): void {
  const { accounts, rbac, audit } = deps;
  const userPage = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

  /** What the admin API records for a change it makes itself (the lifecycle use cases record their own). */
  const audited = (
    ctx: Context,
    actor: string,
    action: string,
    accountId: string,
    change: { before?: unknown; after?: unknown } = {},
  ) =>
    audit.record('admin.change', {
      actor,
      ip: ctx.ip,
      accountId,
      details: { action, target: `user:${accountId}`, ...change },
    });

  async function showList(ctx: Context, current: Parameters<ConsoleKit['render']>[1], error?: string) {
    const query = listQuery.safeParse(ctx.query);
    if (!query.success) throw invalidRequest('the search is malformed', 'email');
    const email = query.data.email?.trim();
    let found: Account[];
    let next: string | null = null;
    if (email) {
      // An exact (case-insensitive) address: the accounts library has no partial search.
      const account = await accounts.findByEmail(email);
      found = account ? [account] : [];
    } else {
      const page = await accounts.listPage({ limit: pageSize, cursor: query.data.cursor });
      found = page.accounts;
      next = page.next;
    }
    kit.render(ctx, current, 'users', {
      title: 'Users',
      notice: noticeFrom(ctx, notices),
      error,
      email: email ?? '',
      users: found,
      next,
      roles: (await rbac.listRoles()).map((role) => role.name),
      invitations: deps.invitations !== undefined,
      form: ctx.method === 'POST' && ctx.path === '/admin/users' ? ctx.request.body : {},
      inviteForm: ctx.method === 'POST' && ctx.path === '/admin/users/invite' ? ctx.request.body : {},
    });
  }

  router.get('/users', async (ctx) => {
    const current = await kit.read(ctx);
    if (current) await showList(ctx, current);
  });

  router.post('/users', async (ctx) => {
    const change = await kit.change(ctx, createForm, '/admin/users');
    if (!change) return;
    const { email, password, name, roles } = change.form;
    await orShowAgain(
      ctx,
      async () => {
        const account = await accounts.createWithRoles({ email, password, name, roles });
        // As the admin API records it; the password never reaches the audit log.
        await audited(ctx, change.actor, 'user.create', account.id, { after: account });
        backTo(ctx, userPage(account.id), 'created');
      },
      (message) => showList(ctx, change, message),
    );
  });

  router.post('/users/invite', async (ctx) => {
    const change = await kit.change(ctx, inviteForm, '/admin/users');
    if (!change) return;
    const { email, name, roles } = change.form;
    await orShowAgain(
      ctx,
      async () => {
        if (!deps.invitations) throw invalidRequest('mail is off: invitations need smtp.url', 'email');
        // The library audits the invitation (`account.invited`, with this administrator as the actor).
        const { account, sent } = await deps.invitations.invite({ email, name, roles }, change.actor);
        if (!sent) throw invalidRequest('the invitation could not be mailed; nothing was created', 'email');
        backTo(ctx, userPage(account.id), 'invited');
      },
      (message) => showList(ctx, change, message),
    );
  });

  router.get('/users/:id', async (ctx) => {
    const current = await kit.read(ctx);
    if (!current) return;
    const account = await accounts.get(ctx.params.id!);
    const [roles, groups, direct, effective, mfa, sessions, grants, allRoles, allGroups] = await Promise.all([
      rbac.directRolesOfAccount(account.id),
      rbac.groups.groupsOfAccount(account.id),
      rbac.directPermissionsOfAccount(account.id),
      rbac.effectiveAccess({ accountId: account.id }),
      deps.mfa.status(account.id),
      deps.sessions.listSessions(account.id),
      deps.sessions.listGrants(account.id),
      rbac.listRoles(),
      rbac.groups.list(),
    ]);
    kit.render(ctx, current, 'user', {
      title: account.email,
      notice: noticeFrom(ctx, notices),
      account,
      self: account.id === current.session.sub,
      roles,
      groups,
      directPermissions: direct,
      effective,
      mfa,
      attributes: Object.entries(account.attributes).map(([name, value]) => ({
        name,
        value: JSON.stringify(value),
      })),
      sessions: sessions.map((session) => ({ ...session, device: describeDevice(session.userAgent) })),
      grants,
      assignable: allRoles.map((role) => role.name).filter((name) => !roles.includes(name)),
      joinable: allGroups.map((group) => group.name).filter((name) => !groups.includes(name)),
      base: userPage(account.id),
    });
  });

  /** A change on one user's page: the guard, the user (404 when gone), then the change and back to the page. */
  function userChange<T extends z.ZodType<{ csrf: string }>>(
    path: string,
    schema: T,
    act: (ctx: Context, account: Account, form: z.infer<T>, actor: string, self: boolean) => Promise<string>,
  ) {
    router.post(`/users/:id/${path}`, async (ctx) => {
      const page = userPage(ctx.params.id!);
      const change = await kit.change(ctx, schema, page);
      if (!change) return;
      const account = await accounts.get(ctx.params.id!);
      const self = account.id === change.session.sub;
      const done = await act(ctx, account, change.form, change.actor, self);
      if (ctx.status !== 303) backTo(ctx, page, done);
    });
  }

  userChange('roles', roleForm, async (ctx, account, { role }, actor) => {
    const before = await rbac.rolesOfAccount(account.id);
    await rbac.assignToAccount(account.id, role);
    await audited(ctx, actor, 'user.assign-role', account.id, {
      before: { roles: before },
      after: { roles: await rbac.rolesOfAccount(account.id) },
    });
    return 'role-assigned';
  });
  userChange('roles/remove', roleForm, async (ctx, account, { role }, actor) => {
    const before = await rbac.rolesOfAccount(account.id);
    await rbac.removeFromAccount(account.id, role);
    await audited(ctx, actor, 'user.remove-role', account.id, {
      before: { roles: before },
      after: { roles: await rbac.rolesOfAccount(account.id) },
    });
    return 'role-removed';
  });
  userChange('groups', groupForm, async (ctx, account, { group }, actor) => {
    await rbac.groups.addMember(group, account.id);
    await audited(ctx, actor, 'group.add-member', account.id, {
      after: { groups: await rbac.groups.groupsOfAccount(account.id) },
    });
    return 'group-added';
  });
  userChange('groups/remove', groupForm, async (ctx, account, { group }, actor) => {
    await rbac.groups.removeMember(group, account.id);
    await audited(ctx, actor, 'group.remove-member', account.id, {
      after: { groups: await rbac.groups.groupsOfAccount(account.id) },
    });
    return 'group-removed';
  });
  userChange('attributes', attributeForm, async (ctx, account, { name, value }, actor) => {
    const updated = await accounts.updateAttributes(account.id, { [name]: attributeValue(value) });
    await audited(ctx, actor, 'user.update', account.id, {
      before: { attributes: account.attributes },
      after: { attributes: updated.attributes },
    });
    return 'attribute-set';
  });
  userChange('attributes/remove', attributeNameForm, async (ctx, account, { name }, actor) => {
    const updated = await accounts.updateAttributes(account.id, {}, [name]);
    await audited(ctx, actor, 'user.update', account.id, {
      before: { attributes: account.attributes },
      after: { attributes: updated.attributes },
    });
    return 'attribute-removed';
  });
  router.post('/users/:id/sessions/:sessionId/revoke', async (ctx) => {
    const page = userPage(ctx.params.id!);
    const change = await kit.change(ctx, csrfOnlyForm, page);
    if (!change) return;
    const account = await accounts.get(ctx.params.id!);
    await deps.sessions.revokeSession(account.id, ctx.params.sessionId!, change.actor);
    backTo(ctx, page, 'session-ended');
  });
  userChange('sign-out', csrfOnlyForm, async (_ctx, account, _form, actor) => {
    await deps.sessions.signOutEverywhere(account.id, actor);
    return 'signed-out';
  });
  // Locking oneself out of the console by mistake is refused; another administrator can do it.
  userChange('disable', csrfOnlyForm, async (_ctx, account, _form, actor, self) => {
    if (self) throw invalidRequest('you cannot disable the account you are signed in with', 'id');
    await deps.lifecycle.disableUser(account.id, actor);
    return 'disabled';
  });
  userChange('enable', csrfOnlyForm, async (_ctx, account, _form, actor) => {
    await deps.lifecycle.enableUser(account.id, actor);
    return 'enabled';
  });
  userChange('reset-mfa', csrfOnlyForm, async (ctx, account, _form, actor) => {
    if (!(await deps.mfa.reset(account.id))) return 'mfa-none';
    // As the CLI and the admin API record it.
    await audit.record('mfa.removed', { accountId: account.id, actor, ip: ctx.ip });
    return 'mfa-reset';
  });
  userChange('delete', deleteForm, async (ctx, account, { confirm }, actor, self) => {
    if (!confirm) throw invalidRequest('tick the box to confirm the deletion', 'confirm');
    if (self) throw invalidRequest('you cannot delete the account you are signed in with', 'id');
    await deps.lifecycle.deleteUser(account.id, actor);
    backTo(ctx, '/admin/users', 'deleted');
    return 'deleted';
  });
}
