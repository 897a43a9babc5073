import { InvalidArgumentError, type Command } from 'commander';
import type { IdentityProviderType, LinkPolicy, RoleRule } from '../libraries/identity-providers.ts';
import type { CliContext } from './cli-context.ts';
import { invalidRequest } from '../errors/app-error.ts';
import { auditCliChange, secretOption, stdinHelp, table } from './options.ts';

function providerType(value: string): IdentityProviderType {
  if (value !== 'oidc' && value !== 'github' && value !== 'google')
    throw new InvalidArgumentError('expected oidc, github or google');
  return value;
}

function linkPolicy(value: string): LinkPolicy {
  if (value !== 'confirm' && value !== 'auto' && value !== 'never')
    throw new InvalidArgumentError('expected confirm, auto or never');
  return value;
}

/** `--role-rule groups=admins:admin`: users whose upstream `groups` holds `admins` get the role `admin`. */
function roleRule(value: string, previous: RoleRule[] = []): RoleRule[] {
  const match = /^([^=\s]+)=([^:\s]+):(\S+)$/.exec(value);
  if (!match) throw new InvalidArgumentError('expected claim=value:role, for example groups=admins:admin');
  return [...previous, { claim: match[1]!, value: match[2]!, role: match[3]! }];
}

export function registerIdpCommands(program: Command, context: () => CliContext): void {
  const idp = program.command('idp').description('manage upstream identity providers ("Login with ...")');

  idp
    .command('create')
    .description('register an upstream; prints the callback URL to register there (redirect_uri)')
    .requiredOption('--id <id>', 'short id, part of the callback URL')
    .requiredOption('--type <type>', 'oidc, github or google', providerType)
    .option('--issuer <url>', 'issuer URL (oidc; for github a GitHub Enterprise base URL)')
    .requiredOption('--client-id <id>', 'client id Gatehouse has at the upstream')
    .option(
      '--client-secret <secret>',
      'client secret Gatehouse has at the upstream (or --client-secret-stdin; one of the two is required)',
    )
    .option('--client-secret-stdin', stdinHelp('upstream client secret'))
    .option('--scope <scopes>', 'scopes to ask the upstream for (preset per type)')
    .option('--name <name>', 'shown on the button "Continue with <name>"')
    .option(
      '--link-policy <policy>',
      'an existing account with the verified email: confirm (its password once), auto (needs --trust-email), never',
      linkPolicy,
    )
    .option(
      '--trust-email',
      'the upstream verifies the emails it marks verified: lets --link-policy auto link without a password',
    )
    .option(
      '--role-rule <claim=value:role>',
      'give a role from an upstream claim the user cannot edit, checked at every sign-in (repeatable)',
      roleRule,
      [],
    )
    .action(
      async (options: {
        id: string;
        type: IdentityProviderType;
        issuer?: string;
        clientId: string;
        clientSecret?: string;
        clientSecretStdin?: boolean;
        scope?: string;
        name?: string;
        linkPolicy?: LinkPolicy;
        trustEmail?: boolean;
        roleRule: RoleRule[];
      }) => {
        const { clientSecretStdin, ...given } = options;
        const clientSecret = await secretOption(
          { value: given.clientSecret, stdin: clientSecretStdin },
          { option: '--client-secret', stdinOption: '--client-secret-stdin', what: 'client secret' },
        );
        if (clientSecret === undefined)
          throw invalidRequest(
            "required option '--client-secret <secret>' or '--client-secret-stdin' not specified",
          );
        const cli = context();
        const created = await cli.withRuntime(async ({ libraries }) => {
          if (options.roleRule.length > 0)
            await libraries.rbac.assertExist(options.roleRule.map((rule) => rule.role));
          return libraries.identityProviders.create({ ...given, clientSecret, roleRules: options.roleRule });
        });
        const { redirectUri, ...rest } = created;
        cli.print(
          { ...rest, redirect_uri: redirectUri },
          `registered ${created.name} (${created.type}) as ${created.id}\nregister this callback URL at the upstream: ${redirectUri}`,
        );
      },
    );

  idp
    .command('list')
    .description('list upstream identity providers')
    .action(async () => {
      const cli = context();
      const providers = await cli.withRuntime(({ libraries }) => libraries.identityProviders.list());
      cli.print(
        providers.map(({ redirectUri, ...rest }) => ({ ...rest, redirect_uri: redirectUri })),
        table([
          ['ID', 'TYPE', 'NAME', 'ISSUER', 'LINK POLICY', 'TRUST EMAIL', 'CALLBACK URL'],
          ...providers.map((p) => [
            p.id,
            p.type,
            p.name,
            p.issuer,
            p.linkPolicy,
            p.trustEmail ? 'yes' : 'no',
            p.redirectUri,
          ]),
        ]),
      );
    });

  idp
    .command('update')
    .description(
      "change an upstream's name, issuer, client id, client secret or scope (the id and type stay)",
    )
    .requiredOption('--id <id>', 'upstream id')
    .option('--client-id <id>', 'client id Gatehouse has at the upstream')
    .option(
      '--client-secret <secret>',
      'client secret Gatehouse has at the upstream (or --client-secret-stdin)',
    )
    .option('--client-secret-stdin', stdinHelp('upstream client secret'))
    .option('--scope <scopes>', 'scopes to ask the upstream for')
    .option('--name <name>', 'shown on the button "Continue with <name>"')
    .option('--issuer <url>', 'issuer URL (oidc; for github a GitHub Enterprise base URL)')
    .action(
      async (options: {
        id: string;
        clientId?: string;
        clientSecret?: string;
        clientSecretStdin?: boolean;
        scope?: string;
        name?: string;
        issuer?: string;
      }) => {
        const clientSecret = await secretOption(
          { value: options.clientSecret, stdin: options.clientSecretStdin },
          { option: '--client-secret', stdinOption: '--client-secret-stdin', what: 'client secret' },
        );
        const cli = context();
        const updated = await cli.withRuntime(async ({ libraries }) => {
          const before = await libraries.identityProviders.get(options.id);
          const after = await libraries.identityProviders.update(options.id, {
            clientId: options.clientId,
            clientSecret,
            scope: options.scope,
            name: options.name,
            issuer: options.issuer,
          });
          // Never the secret: only that it changed.
          await auditCliChange(libraries, 'idp.update', `idp:${options.id}`, {
            before,
            after: { ...after, ...(clientSecret !== undefined ? { clientSecretChanged: true } : {}) },
          });
          return after;
        });
        const { redirectUri, ...rest } = updated;
        cli.print({ ...rest, redirect_uri: redirectUri }, `updated identity provider ${updated.id}`);
      },
    );

  idp
    .command('delete')
    .description('remove an upstream and the identities linked through it')
    .argument('<id>', 'upstream id')
    .action(async (id: string) => {
      const cli = context();
      await cli.withRuntime(({ libraries }) => libraries.identityProviders.delete(id));
      cli.print({ id, deleted: true }, `deleted identity provider ${id}`);
    });
}
