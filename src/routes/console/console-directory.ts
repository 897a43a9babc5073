import type Router from '@koa/router';
import type { AuditLog } from '../../libraries/audit.ts';
import type { IdentityProviderLibrary } from '../../libraries/identity-providers.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import type { SigningKeyLibrary } from '../../libraries/signing-keys.ts';
import { csrfOnlyForm } from '../forms.ts';
import { backTo, noticeFrom } from './console-forms.ts';
import type { ConsoleKit } from './console-session.ts';

export interface ConsoleDirectoryDeps {
  rbac: RbacLibrary;
  identityProviders: IdentityProviderLibrary;
  keys: SigningKeyLibrary;
  audit: AuditLog;
}

/** The lists an operator mostly reads: groups, APIs, upstream providers, and the signing keys (with rotation). */
export function registerConsoleDirectory(router: Router, kit: ConsoleKit, deps: ConsoleDirectoryDeps): void {
  router.get('/groups', async (ctx) => {
    const current = await kit.read(ctx);
    if (current)
      kit.render(ctx, current, 'groups', { title: 'Groups', groups: await deps.rbac.groups.list() });
  });

  router.get('/apis', async (ctx) => {
    const current = await kit.read(ctx);
    if (current) kit.render(ctx, current, 'apis', { title: 'APIs', apis: await deps.rbac.listApis() });
  });

  router.get('/providers', async (ctx) => {
    const current = await kit.read(ctx);
    if (current)
      kit.render(ctx, current, 'providers', {
        title: 'Upstream providers',
        providers: await deps.identityProviders.list(),
      });
  });

  router.get('/keys', async (ctx) => {
    const current = await kit.read(ctx);
    if (current)
      kit.render(ctx, current, 'keys', {
        title: 'Signing keys',
        notice: noticeFrom(ctx, { rotated: 'The next keys are published; they sign once they activate.' }),
        keys: await deps.keys.list(),
      });
  });

  router.post('/keys/rotate', async (ctx) => {
    const change = await kit.change(ctx, csrfOnlyForm, '/admin/keys');
    if (!change) return;
    // As `gatehouse keys rotate` does it: published now, signing after the configured delay.
    const keys = await deps.keys.rotate();
    await deps.audit.record('keys.rotated', {
      actor: change.actor,
      ip: ctx.ip,
      details: { kids: keys.map((key) => key.kid), activatesAt: keys[0]?.activatesAt },
    });
    backTo(ctx, '/admin/keys', 'rotated');
  });
}
