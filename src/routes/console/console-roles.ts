import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditLog } from '../../libraries/audit.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import { textField } from '../forms.ts';
import { backTo, noticeFrom, optionalText, orShowAgain } from './console-forms.ts';
import type { ConsoleKit } from './console-session.ts';
import type { CurrentConsoleSession } from './console-session.ts';

export interface ConsoleRolesDeps {
  rbac: RbacLibrary;
  audit: AuditLog;
}

const createForm = z.object({
  csrf: textField(100),
  name: textField(64),
  description: optionalText(500),
  /** Permissions separated by spaces or new lines. */
  permissions: z
    .string()
    .max(500 * 129)
    .optional()
    .transform((value) => (value ?? '').split(/\s+/).filter(Boolean)),
});
const permissionForm = z.object({ csrf: textField(100), permission: textField(128).min(1) });

const notices = {
  created: 'The role is created.',
  granted: 'The permission is granted.',
  revoked: 'The permission is revoked.',
} as const;

/** Roles and their permissions: the list, creating a role, granting and revoking a permission. */
export function registerConsoleRoles(router: Router, kit: ConsoleKit, deps: ConsoleRolesDeps): void {
  const { rbac, audit } = deps;
  const audited = (ctx: Context, actor: string, action: string, role: string, change: object) =>
    audit.record('admin.change', {
      actor,
      ip: ctx.ip,
      details: { action, target: `role:${role}`, ...change },
    });

  async function showRoles(ctx: Context, current: CurrentConsoleSession, error?: string) {
    kit.render(ctx, current, 'roles', {
      title: 'Roles and permissions',
      notice: noticeFrom(ctx, notices),
      error,
      roles: await rbac.listRoles(),
      form: ctx.method === 'POST' && ctx.path === '/admin/roles' ? ctx.request.body : {},
    });
  }

  router.get('/roles', async (ctx) => {
    const current = await kit.read(ctx);
    if (current) await showRoles(ctx, current);
  });

  router.post('/roles', async (ctx) => {
    const change = await kit.change(ctx, createForm, '/admin/roles');
    if (!change) return;
    const { name, description, permissions } = change.form;
    await orShowAgain(
      ctx,
      async () => {
        const role = await rbac.createRole(name, { description, permissions });
        await audited(ctx, change.actor, 'role.create', name, { after: role });
        backTo(ctx, '/admin/roles', 'created');
      },
      (message) => showRoles(ctx, change, message),
    );
  });

  for (const [path, action, done] of [
    ['grant', 'role.grant', 'granted'],
    ['revoke', 'role.revoke', 'revoked'],
  ] as const) {
    router.post(`/roles/:name/${path}`, async (ctx) => {
      const change = await kit.change(ctx, permissionForm, '/admin/roles');
      if (!change) return;
      const before = await rbac.getRole(ctx.params.name!);
      await orShowAgain(
        ctx,
        async () => {
          const after =
            path === 'grant'
              ? await rbac.grantPermission(before.name, change.form.permission)
              : await rbac.revokePermission(before.name, change.form.permission);
          await audited(ctx, change.actor, action, before.name, { before, after });
          backTo(ctx, '/admin/roles', done);
        },
        (message) => showRoles(ctx, change, message),
      );
    });
  }
}
