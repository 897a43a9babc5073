import { InvalidArgumentError, type Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { invalidRequest } from '../errors/app-error.ts';
import { parseSearchClaim } from '../libraries/authz/search-claims.ts';
import { auditCliChange, collect, table } from './options.ts';

function tokenFormat(value: string): 'jwt' | 'opaque' {
  if (value !== 'jwt' && value !== 'opaque') throw new InvalidArgumentError('expected jwt or opaque');
  return value;
}

function describedPermission(value: string, previous: Record<string, string>): Record<string, string> {
  const split = value.indexOf('=');
  if (split < 1) throw new InvalidArgumentError('expected PERMISSION=description');
  return { ...previous, [value.slice(0, split)]: value.slice(split + 1) };
}

export function registerRoleCommands(program: Command, context: () => CliContext): void {
  const role = program.command('role').description('manage roles and their permissions');

  role
    .command('create')
    .description('create a role')
    .argument('<name>', 'role name')
    .option('--permission <permission>', 'permission the role gives (repeatable)', collect, [])
    .option('--description <text>', 'what the role is for')
    .action(async (name: string, options: { permission: string[]; description?: string }) => {
      const cli = context();
      const created = await cli.withRuntime(({ libraries }) =>
        libraries.rbac.createRole(name, {
          permissions: options.permission,
          description: options.description,
        }),
      );
      cli.print(
        created,
        `created role ${created.name} with permissions: ${created.permissions.join(' ') || '(none)'}`,
      );
    });

  role
    .command('list')
    .description('list roles')
    .action(async () => {
      const cli = context();
      const roles = await cli.withRuntime(({ libraries }) => libraries.rbac.listRoles());
      cli.print(
        roles,
        table([
          ['ROLE', 'PERMISSIONS', 'DESCRIPTION'],
          ...roles.map((r) => [r.name, r.permissions.join(' '), r.description ?? '']),
        ]),
      );
    });

  role
    .command('update')
    .description("change a role's MFA policy")
    .argument('<name>', 'role name')
    .option('--require-mfa', 'holders must pass a second factor at sign-in')
    .option('--no-require-mfa', 'holders may sign in with a password alone')
    .action(async (name: string, options: { requireMfa?: boolean }) => {
      const cli = context();
      const updated = await cli.withRuntime(async ({ libraries }) => {
        if (options.requireMfa !== undefined) await libraries.mfa.setRoleRequired(name, options.requireMfa);
        return libraries.rbac.getRole(name);
      });
      cli.print(
        updated,
        `role ${updated.name}: second factor ${updated.mfaRequired ? 'required' : 'optional'}`,
      );
    });

  role
    .command('grant')
    .description('add a permission to a role')
    .argument('<name>', 'role name')
    .requiredOption('--permission <permission>', 'permission to add')
    .action(async (name: string, options: { permission: string }) => {
      const cli = context();
      const updated = await cli.withRuntime(({ libraries }) =>
        libraries.rbac.grantPermission(name, options.permission),
      );
      cli.print(updated, `role ${updated.name} now gives: ${updated.permissions.join(' ')}`);
    });

  role
    .command('revoke')
    .description('take a permission from a role')
    .argument('<name>', 'role name')
    .requiredOption('--permission <permission>', 'permission to take away')
    .action(async (name: string, options: { permission: string }) => {
      const cli = context();
      const updated = await cli.withRuntime(async ({ libraries }) => {
        const before = await libraries.rbac.getRole(name);
        const after = await libraries.rbac.revokePermission(name, options.permission);
        await auditCliChange(libraries, 'role.revoke', `role:${name}`, { before, after });
        return after;
      });
      cli.print(updated, `role ${updated.name} now gives: ${updated.permissions.join(' ') || '(nothing)'}`);
    });

  role
    .command('delete')
    .description('delete a role (not a built-in one); its holders lose it')
    .argument('<name>', 'role name')
    .action(async (name: string) => {
      const cli = context();
      await cli.withRuntime(async ({ libraries }) => {
        const before = await libraries.rbac.getRole(name);
        await libraries.rbac.deleteRole(name);
        await auditCliChange(libraries, 'role.delete', `role:${name}`, { before });
      });
      cli.print({ name, deleted: true }, `deleted role ${name}`);
    });

  const api = program
    .command('api')
    .description('manage APIs (resource servers) that accept Gatehouse tokens');
  api
    .command('create')
    .description(
      'register an API; access tokens requested for it (resource=IDENTIFIER) carry roles and its permissions',
    )
    .requiredOption('--identifier <uri>', 'resource indicator (RFC 8707), the token audience')
    .option('--permission <permission>', 'permission the API checks (repeatable)', collect, [])
    .option(
      '--format <format>',
      'access token format: jwt (RFC 9068, default) or opaque (introspection)',
      tokenFormat,
      'jwt',
    )
    .option('--name <name>', 'display name (shown on the consent page)')
    .option(
      '--describe <permission=text>',
      'what a permission lets an app do, in words the consent page shows (repeatable), e.g. "documents:read=Read your documents"',
      describedPermission,
      {},
    )
    .option(
      '--search-claim <NAME=ACTION:TYPE>',
      'user access tokens carry claim NAME: the resources of TYPE the subject may ACTION, from a resource search at issuance (repeatable; at most 100 entries, then NAME_truncated: true). NAME ends at the first "=", TYPE starts after the last ":" not part of "::", e.g. editable=document:edit:document',
      collect,
      [],
    )
    .action(
      async (options: {
        identifier: string;
        permission: string[];
        describe: Record<string, string>;
        format: 'jwt' | 'opaque';
        name?: string;
        searchClaim: string[];
      }) => {
        const cli = context();
        // Checked before anything opens: a bad value exits 2 with nothing written.
        const searchClaims = options.searchClaim.map((given) => parseSearchClaim(given, '--search-claim'));
        const created = await cli.withRuntime(({ libraries }) =>
          libraries.rbac.createApi({
            identifier: options.identifier,
            permissions: options.permission,
            descriptions: options.describe,
            format: options.format,
            name: options.name,
            searchClaims,
          }),
        );
        cli.print(created, `registered API ${created.identifier} (${created.format} tokens)`);
      },
    );
  api
    .command('update')
    .description('change a registered API: its permissions, token format, name or search claims')
    .requiredOption('--identifier <uri>', 'the API identifier')
    .option('--permission <permission>', 'declare a permission (repeatable; adds)', collect, [])
    .option('--remove-permission <permission>', 'withdraw a permission (repeatable)', collect, [])
    .option('--format <format>', 'access token format: jwt or opaque', tokenFormat)
    .option('--name <name>', 'display name (shown on the consent page)')
    .option(
      '--describe <permission=text>',
      'what a permission lets an app do, in words the consent page shows (repeatable; declares it too)',
      describedPermission,
      {},
    )
    .option(
      '--search-claim <NAME=ACTION:TYPE>',
      'search claims, replacing the current ones (repeatable; as for api create)',
      collect,
    )
    .option('--no-search-claims', 'remove every search claim')
    .action(
      async (options: {
        identifier: string;
        permission: string[];
        removePermission: string[];
        describe: Record<string, string>;
        format?: 'jwt' | 'opaque';
        name?: string;
        searchClaim?: string[];
        searchClaims: boolean;
      }) => {
        if (options.searchClaim !== undefined && !options.searchClaims)
          throw invalidRequest('give either --search-claim or --no-search-claims, not both', 'search-claim');
        // Checked before anything opens: a bad value exits 2 with nothing written.
        const searchClaims = !options.searchClaims
          ? []
          : options.searchClaim?.map((given) => parseSearchClaim(given, '--search-claim'));
        const cli = context();
        const updated = await cli.withRuntime(async ({ libraries }) => {
          const before = await libraries.rbac.getApi(options.identifier);
          const after = await libraries.rbac.updateApi(options.identifier, {
            addPermissions: options.permission,
            removePermissions: options.removePermission,
            descriptions: options.describe,
            format: options.format,
            name: options.name,
            searchClaims,
          });
          await auditCliChange(libraries, 'api.update', `api:${options.identifier}`, { before, after });
          return after;
        });
        cli.print(
          updated,
          `updated API ${updated.identifier} (${updated.format} tokens; permissions: ${updated.permissions.join(' ') || '(none)'})`,
        );
      },
    );
  api
    .command('delete')
    .description('delete a registered API (not a built-in one); clients lose it from their allowed APIs')
    .requiredOption('--identifier <uri>', 'the API identifier')
    .action(async (options: { identifier: string }) => {
      const cli = context();
      await cli.withRuntime(async ({ libraries }) => {
        const before = await libraries.rbac.getApi(options.identifier);
        await libraries.rbac.deleteApi(options.identifier);
        await auditCliChange(libraries, 'api.delete', `api:${options.identifier}`, { before });
      });
      cli.print({ identifier: options.identifier, deleted: true }, `deleted API ${options.identifier}`);
    });
  api
    .command('list')
    .description('list APIs')
    .action(async () => {
      const cli = context();
      const apis = await cli.withRuntime(({ libraries }) => libraries.rbac.listApis());
      cli.print(
        apis,
        table([
          ['IDENTIFIER', 'FORMAT', 'PERMISSIONS'],
          ...apis.map((a) => [a.identifier, a.format, a.permissions.join(' ')]),
        ]),
      );
    });
}

export function registerUserRoleCommands(user: Command, context: () => CliContext): void {
  const withAccount = async (
    cli: CliContext,
    email: string,
    work: (
      accountId: string,
      libraries: Parameters<Parameters<CliContext['withRuntime']>[0]>[0]['libraries'],
    ) => Promise<void>,
  ) =>
    cli.withRuntime(async ({ libraries }) => {
      await work((await libraries.accounts.getByEmail(email)).id, libraries);
    });

  user
    .command('assign-role')
    .description('give an account a role')
    .requiredOption('--email <email>', 'account email')
    .requiredOption('--role <role>', 'role name')
    .action(async (options: { email: string; role: string }) => {
      const cli = context();
      await withAccount(cli, options.email, async (accountId, libraries) => {
        await libraries.rbac.assignToAccount(accountId, options.role);
      });
      cli.print(
        { email: options.email, role: options.role, assigned: true },
        `${options.email} now holds role ${options.role}`,
      );
    });

  user
    .command('remove-role')
    .description('take a role from an account')
    .requiredOption('--email <email>', 'account email')
    .requiredOption('--role <role>', 'role name')
    .action(async (options: { email: string; role: string }) => {
      const cli = context();
      await withAccount(cli, options.email, (accountId, libraries) =>
        libraries.rbac.removeFromAccount(accountId, options.role),
      );
      cli.print(
        { email: options.email, role: options.role, removed: true },
        `${options.email} no longer holds role ${options.role}`,
      );
    });
}
