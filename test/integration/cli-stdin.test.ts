/**
 * Secrets on the command line land in shell history and the process list (issue 13 item 12): `--password-stdin`,
 * `--secret-stdin` and `--client-secret-stdin` read them from standard input instead. The value given there is the
 * one that works afterwards; an empty value, or both forms at once, is refused with exit code 2 and nothing written.
 */
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import pg from 'pg';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

let gatehouse: TestGatehouse;
let env: NodeJS.ProcessEnv;

/** Runs the CLI with `input` written to its standard input (then closed). */
const gatehouseWithStdin = (input: string, ...args: string[]) => runCli(args, env, { stdin: input });

async function count(table: string): Promise<number> {
  const client = new pg.Client({ connectionString: gatehouse.database.url });
  await client.connect();
  const { rows } = await client.query<{ count: string }>(`SELECT count(*) FROM ${table}`);
  await client.end();
  return Number(rows[0]!.count);
}

async function clientCredentials(clientId: string, secret: string): Promise<number> {
  const response = await fetch(`${gatehouse.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  return response.status;
}

beforeAll(async () => {
  gatehouse = await startTestGatehouse({ hot: 'memory' });
  env = cliEnvironment(gatehouse.database.url);
}, 60_000);

afterAll(() => gatehouse.close());

describe('secrets on standard input', () => {
  it('keeps a password out of shell history: user create --password-stdin', async () => {
    const password = 'correct horse battery staple on a pipe';
    const created = await gatehouseWithStdin(
      `${password}\nthe rest of the input is not read\n`,
      'user',
      'create',
      '--email',
      'kim@example.com',
      '--password-stdin',
      '--json',
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email: 'kim@example.com' });

    expect(await gatehouse.gatehouse.accounts.authenticate('kim@example.com', password)).toMatchObject({
      email: 'kim@example.com',
    });
    expect(
      await gatehouse.gatehouse.accounts.authenticate('kim@example.com', `${password}\n`),
    ).toBeUndefined();
  });

  it('takes a password on stdin that ends without a newline, or with CRLF', async () => {
    for (const [email, input] of [
      ['ana@example.com', 'violet umbrella over quiet harbour'],
      ['bo@example.com', 'seven lanterns drifting past midnight\r\n'],
    ] as const) {
      const created = await gatehouseWithStdin(input, 'user', 'create', '--email', email, '--password-stdin');
      expect(created.code).toBe(0);
      expect(
        await gatehouse.gatehouse.accounts.authenticate(email, input.replace(/\r\n$/, '')),
      ).toMatchObject({ email });
    }
  });

  it('refuses an empty password on stdin, or both forms at once, with exit code 2 and nothing written', async () => {
    const before = await count('accounts');
    const empty = await gatehouseWithStdin(
      '\nsecond line\n',
      'user',
      'create',
      '--email',
      'e@example.com',
      '--password-stdin',
    );
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--password-stdin');
    const nothing = await gatehouseWithStdin(
      '',
      'user',
      'create',
      '--email',
      'e@example.com',
      '--password-stdin',
    );
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('--password-stdin');
    const both = await gatehouseWithStdin(
      'long enough password\n',
      'user',
      'create',
      '--email',
      'e@example.com',
      '--password',
      'long enough password',
      '--password-stdin',
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--password.*--password-stdin/);
    const neither = await gatehouseWithStdin('', 'user', 'create', '--email', 'e@example.com');
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('--password');
    expect(await count('accounts')).toBe(before);
  });

  it('keeps a client secret out of shell history: client create --secret-stdin', async () => {
    const secret = 'a client secret only stdin has seen 0123456789';
    const created = await gatehouseWithStdin(
      `${secret}\n`,
      'client',
      'create',
      '--id',
      'stdin-service',
      '--secret-stdin',
      '--grant-type',
      'client_credentials',
      '--json',
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).not.toContain('shown once');

    expect(await clientCredentials('stdin-service', secret)).toBe(200);
    expect(await clientCredentials('stdin-service', `${secret}x`)).toBe(401);

    const before = await count('clients');
    const both = await gatehouseWithStdin(
      `${secret}\n`,
      'client',
      'create',
      '--id',
      'stdin-both',
      '--secret',
      secret,
      '--secret-stdin',
      '--grant-type',
      'client_credentials',
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--secret.*--secret-stdin/);
    const empty = await gatehouseWithStdin(
      '\n',
      'client',
      'create',
      '--id',
      'stdin-empty',
      '--secret-stdin',
      '--grant-type',
      'client_credentials',
    );
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--secret-stdin');
    expect(await count('clients')).toBe(before);
  });

  it('keeps an upstream client secret out of shell history: idp create --client-secret-stdin', async () => {
    const created = await gatehouseWithStdin(
      'upstream secret from stdin\n',
      'idp',
      'create',
      '--id',
      'gh-stdin',
      '--type',
      'github',
      '--client-id',
      'upstream-client',
      '--client-secret-stdin',
      '--json',
    );
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      id: 'gh-stdin',
      redirect_uri: expect.stringMatching(/\/federation\/gh-stdin\/callback$/),
    });

    const before = await count('identity_providers');
    const both = await gatehouseWithStdin(
      'upstream secret\n',
      'idp',
      'create',
      '--id',
      'gh-both',
      '--type',
      'github',
      '--client-id',
      'x',
      '--client-secret',
      'upstream secret',
      '--client-secret-stdin',
    );
    expect(both.code).toBe(2);
    const neither = await gatehouseWithStdin(
      '',
      'idp',
      'create',
      '--id',
      'gh-none',
      '--type',
      'github',
      '--client-id',
      'x',
    );
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('--client-secret');
    expect(await count('identity_providers')).toBe(before);
  });

  it('says in --help that the stdin forms keep the value out of shell history', async () => {
    for (const [command, option] of [
      ['user', '--password-stdin'],
      ['client', '--secret-stdin'],
      ['idp', '--client-secret-stdin'],
    ] as const) {
      const help = await gatehouseWithStdin('', command, 'create', '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(option);
      expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/keeps it out of shell history/);
    }
  });
});
