import type { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { invalidRequest } from '../errors/app-error.ts';
import { collect, secretOption, stdinHelp, table } from './options.ts';

interface ClientCreateOptions {
  id: string;
  name?: string;
  secret?: string;
  secretStdin?: boolean;
  redirectUri: string[];
  postLogoutRedirectUri: string[];
  grantType: string[];
  scope?: string;
  public?: boolean;
  firstParty?: boolean;
  role: string[];
  api: string[];
  backchannelLogoutUri?: string;
  frontchannelLogoutUri?: string;
  initiateLoginUri?: string;
  clientUri?: string;
  authMethod?: 'client_secret_basic' | 'client_secret_post';
  requireMfa?: boolean;
}

interface ClientUpdateOptions {
  id: string;
  name?: string;
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  grantType?: string[];
  scope?: string;
  firstParty?: boolean;
  thirdParty?: boolean;
  api: string[];
  removeApi: string[];
  backchannelLogoutUri?: string;
}

export function registerClientCommands(program: Command, context: () => CliContext): void {
  const client = program.command('client').description('manage OAuth clients (applications)');

  client
    .command('create')
    .description('register an application')
    .requiredOption('--id <id>', 'client_id')
    .option('--name <name>', 'name shown on the sign-in and consent pages')
    .option('--secret <secret>', 'client secret (default: generated and printed once)')
    .option('--secret-stdin', stdinHelp('client secret'))
    .option('--redirect-uri <uri>', 'redirect URI, matched exactly (repeatable)', collect, [])
    .option(
      '--post-logout-redirect-uri <uri>',
      'where RP-initiated logout may return (repeatable)',
      collect,
      [],
    )
    .option(
      '--grant-type <type>',
      'authorization_code, refresh_token, client_credentials or urn:ietf:params:oauth:grant-type:device_code (repeatable; default authorization_code refresh_token)',
      collect,
      [],
    )
    .option('--scope <scopes>', 'scopes the client may request', 'openid email profile roles offline_access')
    .option('--public', 'no secret (browser or native app); PKCE is then required')
    .option('--first-party', 'trusted application: its users are not asked for consent')
    .option('--role <role>', 'service-account role for client_credentials tokens (repeatable)', collect, [])
    .option(
      '--api <uri>',
      'registered API this app may get user access tokens for (repeatable; any other resource is refused)',
      collect,
      [],
    )
    .option('--backchannel-logout-uri <uri>', 'OpenID Connect Back-Channel Logout endpoint of the client')
    .option('--frontchannel-logout-uri <uri>', 'OpenID Connect Front-Channel Logout page of the client')
    .option(
      '--initiate-login-uri <uri>',
      'https address where Gatehouse sends users to start signing in to this app',
    )
    .option('--client-uri <uri>', 'home page of the application')
    .option('--auth-method <method>', 'client_secret_basic (default) or client_secret_post')
    .option('--require-mfa', 'users of this app must pass a second factor')
    .action(async (options: ClientCreateOptions) => {
      const secret = await secretOption(
        { value: options.secret, stdin: options.secretStdin },
        { option: '--secret', stdinOption: '--secret-stdin', what: 'client secret' },
      );
      const cli = context();
      const created = await cli.withRuntime(({ libraries }) =>
        libraries.clients.register({
          id: options.id,
          name: options.name,
          secret,
          redirectUris: options.redirectUri,
          postLogoutRedirectUris: options.postLogoutRedirectUri,
          grantTypes: options.grantType,
          scope: options.scope,
          public: options.public === true,
          firstParty: options.firstParty === true,
          backchannelLogoutUri: options.backchannelLogoutUri,
          frontchannelLogoutUri: options.frontchannelLogoutUri,
          initiateLoginUri: options.initiateLoginUri,
          clientUri: options.clientUri,
          authMethod: options.authMethod,
          apis: options.api,
          roles: options.role,
          mfaRequired: options.requireMfa === true,
        }),
      );
      const lines = [`created client ${created.client.id}`];
      if (created.secret && secret === undefined) lines.push(`client secret (shown once): ${created.secret}`);
      cli.print(
        { ...created.client, roles: created.roles, ...(created.secret ? { secret: created.secret } : {}) },
        lines.join('\n'),
      );
    });

  client
    .command('update')
    .description('change a registered application (the secret and the client type stay)')
    .requiredOption('--id <id>', 'client_id')
    .option('--name <name>', 'name shown on the sign-in and consent pages')
    .option('--redirect-uri <uri>', 'redirect URIs, replacing the current ones (repeatable)', collect)
    .option('--post-logout-redirect-uri <uri>', 'post-logout redirect URIs, replacing (repeatable)', collect)
    .option('--grant-type <type>', 'grant types, replacing the current ones (repeatable)', collect)
    .option('--scope <scopes>', 'scopes the client may request')
    .option('--first-party', 'trusted application: its users are not asked for consent')
    .option('--third-party', 'its users are asked for consent again')
    .option('--api <uri>', 'allow user access tokens for this registered API (repeatable; adds)', collect, [])
    .option('--remove-api <uri>', 'no longer allow this API (repeatable)', collect, [])
    .option('--backchannel-logout-uri <uri>', 'OpenID Connect Back-Channel Logout endpoint ("" removes it)')
    .action(async (options: ClientUpdateOptions) => {
      const cli = context();
      if (options.firstParty && options.thirdParty)
        throw invalidRequest('give either --first-party or --third-party, not both', 'first-party');
      const updated = await cli.withRuntime(({ libraries }) =>
        libraries.clients.update(options.id, {
          name: options.name,
          redirectUris: options.redirectUri,
          postLogoutRedirectUris: options.postLogoutRedirectUri,
          grantTypes: options.grantType,
          scope: options.scope,
          firstParty: options.firstParty ? true : options.thirdParty ? false : undefined,
          backchannelLogoutUri: options.backchannelLogoutUri,
          addApis: options.api,
          removeApis: options.removeApi,
        }),
      );
      cli.print(updated, `updated client ${updated.id} (APIs: ${updated.apis.join(' ') || 'none'})`);
    });

  client
    .command('rotate-secret')
    .description('give a confidential client a new secret, printed once; the old one is refused from now on')
    .requiredOption('--id <id>', 'client_id')
    .action(async (options: { id: string }) => {
      const cli = context();
      const rotated = await cli.withRuntime(({ libraries }) =>
        libraries.lifecycle.rotateClientSecret(options.id, 'cli'),
      );
      cli.print(
        { client_id: rotated.clientId, client_secret: rotated.secret },
        `new secret of ${rotated.clientId} (shown once): ${rotated.secret}`,
      );
    });

  client
    .command('delete')
    .description('delete an application: its token requests fail (invalid_client) from now on')
    .requiredOption('--id <id>', 'client_id')
    .action(async (options: { id: string }) => {
      const cli = context();
      await cli.withRuntime(({ libraries }) => libraries.lifecycle.deleteClient(options.id, 'cli'));
      cli.print({ id: options.id, deleted: true }, `deleted client ${options.id}`);
    });

  client
    .command('list')
    .description('list applications')
    .action(async () => {
      const cli = context();
      const clients = await cli.withRuntime(({ libraries }) => libraries.clients.list());
      cli.print(
        clients,
        table([
          ['ID', 'TYPE', 'GRANT TYPES', 'APIS', 'REDIRECT URIS'],
          ...clients.map((c) => [
            c.id,
            c.public ? 'public' : 'confidential',
            c.grantTypes.join(' '),
            c.apis.join(' '),
            c.redirectUris.join(' '),
          ]),
        ]),
      );
    });
}
