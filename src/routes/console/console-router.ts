import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountLibrary } from '../../libraries/accounts.ts';
import type { AuditLog } from '../../libraries/audit.ts';
import type { ClientLibrary } from '../../libraries/clients.ts';
import type { CsrfTokens } from '../../libraries/csrf.ts';
import type { IdentityProviderLibrary } from '../../libraries/identity-providers.ts';
import type { Lifecycle } from '../../libraries/lifecycle.ts';
import type { MfaLibrary } from '../../libraries/mfa.ts';
import type { PageRenderer } from '../../libraries/page-renderer.ts';
import type { RbacLibrary } from '../../libraries/rbac.ts';
import type { SessionManagement } from '../../libraries/session-management.ts';
import type { SigningKeyLibrary } from '../../libraries/signing-keys.ts';
import type { KeyValueStore } from '../../storage/hot-state.ts';
import { noStore } from '../forms.ts';
import { registerConsoleAudit } from './console-audit.ts';
import { registerConsoleAuth } from './console-auth.ts';
import type { ConsoleClient } from './console-client.ts';
import { registerConsoleClients } from './console-clients.ts';
import { registerConsoleDirectory } from './console-directory.ts';
import { type ConsolePoliciesDeps, registerConsolePolicies } from './console-policies.ts';
import { registerConsoleRoles } from './console-roles.ts';
import { type ConsoleKit, steppedUpNotice, steppedUpQuery } from './console-session.ts';
import { type ConsoleUsersDeps, registerConsoleUsers } from './console-users.ts';

export interface ConsoleRouterDeps {
  issuer: string;
  client: ConsoleClient;
  store: KeyValueStore;
  pages: PageRenderer;
  csrf: CsrfTokens;
  sessionTtlSeconds: number;
  providerSessionId(ctx: Context): string | undefined;
  accounts: AccountLibrary;
  clients: ClientLibrary;
  rbac: RbacLibrary;
  mfa: MfaLibrary;
  sessions: SessionManagement;
  audit: AuditLog;
  keys: SigningKeyLibrary;
  identityProviders: IdentityProviderLibrary;
  lifecycle: Lifecycle;
  authz: ConsolePoliciesDeps['authz'];
  invitations?: ConsoleUsersDeps['invitations'];
}

/** The console's sections, in the order of its navigation. */
const sections = [
  { path: '/admin', label: 'Dashboard' },
  { path: '/admin/users', label: 'Users' },
  { path: '/admin/clients', label: 'Clients' },
  { path: '/admin/roles', label: 'Roles' },
  { path: '/admin/groups', label: 'Groups' },
  { path: '/admin/apis', label: 'APIs' },
  { path: '/admin/providers', label: 'Providers' },
  { path: '/admin/keys', label: 'Signing keys' },
  { path: '/admin/policies', label: 'Policies' },
  { path: '/admin/audit', label: 'Audit log' },
] as const;

/**
 * The admin console at `/admin`: server-rendered pages over the same library use cases as the CLI and the admin
 * API, each change audited with the acting administrator (`console:<sub>`). Reading needs `admin:read`; changing
 * needs `admin:write` and a second factor passed in the last five minutes (console-session.ts). Its routes are
 * named one by one, never `/admin/:anything`, so the admin API under `/admin/api` is never shadowed.
 */
export function createConsoleRouter(deps: ConsoleRouterDeps): Router {
  const router = new Router({ prefix: '/admin' });
  // Every console page shows accounts, clients or secrets: never stored by a browser or a proxy.
  router.use(noStore);
  const guard = registerConsoleAuth(router, deps);
  const kit: ConsoleKit = {
    ...guard,
    render(ctx, current, view, data) {
      const section = [...sections]
        .reverse()
        .find((candidate) => ctx.path === candidate.path || ctx.path.startsWith(`${candidate.path}/`));
      ctx.type = 'html';
      ctx.body = deps.pages.render(`console/${view}`, {
        ...data,
        notice: data.notice ?? (ctx.query[steppedUpQuery] === '1' ? steppedUpNotice : undefined),
        sections: sections.map((candidate) => ({ ...candidate, current: candidate === section })),
        admin: { email: current.session.email, sub: current.session.sub },
        csrf: guard.csrfFor(current),
      });
    },
  };

  router.get('/', async (ctx) => {
    const current = await kit.read(ctx);
    if (!current) return;
    const since = new Date(Date.now() - 86_400_000);
    const [users, clients, roles, keys, recent] = await Promise.all([
      deps.accounts.count(),
      deps.clients.list(),
      deps.rbac.listRoles(),
      deps.keys.list(),
      deps.audit.list({ since, limit: 10_000 }),
    ]);
    kit.render(ctx, current, 'dashboard', {
      title: 'Dashboard',
      counts: { users, clients: clients.length, roles: roles.length },
      keys: keys.filter((key) => key.status === 'signing'),
      failedSignIns: recent.filter((event) => event.type === 'signin.failed').length,
      recent: recent.slice(-10).reverse(),
    });
  });

  registerConsoleUsers(router, kit, deps);
  registerConsoleClients(router, kit, deps);
  registerConsoleRoles(router, kit, deps);
  registerConsoleDirectory(router, kit, deps);
  registerConsoleAudit(router, kit, deps);
  registerConsolePolicies(router, kit, deps);
  return router;
}
