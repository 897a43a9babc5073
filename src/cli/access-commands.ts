import { InvalidArgumentError, type Command } from 'commander';
import { describeExpectation, probeApi } from '../libraries/api-probe.ts';
import type { CliContext } from './cli-context.ts';
import { table } from './options.ts';

function httpMethod(value: string): string {
  const method = value.toUpperCase();
  if (!/^[A-Z]{3,7}$/.test(method))
    throw new InvalidArgumentError('expected an HTTP method such as GET or DELETE');
  return method;
}

function absoluteUrl(value: string): string {
  try {
    return new URL(value).href;
  } catch {
    throw new InvalidArgumentError('expected an absolute URL');
  }
}

export function registerAccessCommands(program: Command, context: () => CliContext): void {
  program
    .command('explain')
    .description(
      'say whether a user holds a permission, through which role, group or direct grant, or why not',
    )
    .requiredOption('--email <email>', 'account email')
    .requiredOption('--permission <permission>', 'permission to explain')
    .option('--resource <uri>', 'API identifier: also check that its tokens can carry the permission')
    .option(
      '--client <id>',
      'with --resource: also check that this client’s tokens for the API will carry it',
    )
    .action(async (options: { email: string; permission: string; resource?: string; client?: string }) => {
      const cli = context();
      const explanation = await cli.withRuntime(async ({ libraries }) => {
        const account = await libraries.accounts.getByEmail(options.email);
        const api = options.resource ? await libraries.rbac.getApi(options.resource) : undefined;
        const client = options.client ? await libraries.clients.get(options.client) : undefined;
        return libraries.rbac.explain(account.id, options.permission, api, client);
      });
      cli.print(
        {
          email: options.email,
          permission: options.permission,
          ...(options.resource ? { resource: options.resource } : {}),
          ...(options.client ? { client: options.client } : {}),
          ...explanation,
        },
        `${options.email} ${explanation.granted ? 'holds' : 'does not hold'} ${options.permission}: ${explanation.reason}`,
      );
    });

  program
    .command('probe-api')
    .description(
      'check that an API answers 401 and 403 correctly for Gatehouse tokens (exit 1 when it does not)',
    )
    .requiredOption('--url <url>', 'an endpoint of the API that needs the permission', absoluteUrl)
    .option('--method <method>', 'HTTP method', httpMethod, 'GET')
    .requiredOption('--resource <uri>', 'the API identifier registered in Gatehouse')
    .requiredOption('--permission <permission>', 'the permission the endpoint requires')
    .action(async (options: { url: string; method: string; resource: string; permission: string }) => {
      const cli = context();
      const cases = await cli.withRuntime(({ config, libraries }) =>
        probeApi(options, {
          issuer: config.issuer,
          clients: libraries.clients,
          rbac: libraries.rbac,
          keys: libraries.keys,
          accessTokenAlg: config.keys.accessTokenAlg,
        }),
      );
      const failed = cases.some((probe) => probe.verdict === 'fail');
      cli.print(
        { url: options.url, method: options.method, passed: !failed, cases },
        table([
          ['CASE', 'EXPECTED', 'STATUS', 'WWW-AUTHENTICATE', 'VERDICT'],
          ...cases.map((probe) => [
            probe.name,
            describeExpectation(probe.expected),
            String(probe.status),
            probe.wwwAuthenticate ?? '-',
            probe.note ? `${probe.verdict}: ${probe.note}` : probe.verdict,
          ]),
        ]),
      );
      if (failed) process.exitCode = 1;
    });
}
