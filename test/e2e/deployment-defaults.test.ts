import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { demoAccount } from '../../src/libraries/demo-seed.ts';
import { launchChromium } from '../support/browser.ts';
import { submitLoginIfShown, type Credentials } from '../support/browser-sign-in.ts';
import { startGatehouseProcess, type GatehouseProcess } from '../support/gatehouse-process.ts';

/**
 * What a deployment gets when it is set up the obvious way: its own database, NODE_ENV left unset. Nobody may
 * sign in with the demo password printed in the README, the first administrator comes only from an explicit step,
 * and a development server is not reachable from the network.
 */
describe('deployment defaults', () => {
  // NODE_ENV left unset, as an operator who never heard of it would (the test helper otherwise sets `test`).
  const unsetNodeEnv = { NODE_ENV: undefined };
  const admin = { email: 'ops@example.com', password: 'amber-quarry-lighthouse-58' };
  let secrets: string;
  let passwordFile: string;
  let browser: Browser;
  const started: GatehouseProcess[] = [];

  const start = async (options: Parameters<typeof startGatehouseProcess>[0]) => {
    const gatehouse = await startGatehouseProcess(options);
    started.push(gatehouse);
    return gatehouse;
  };
  /** The message of a start that must fail; a start that succeeds is stopped and reported. */
  const failedStart = async (options: Parameters<typeof startGatehouseProcess>[0]) => {
    const outcome = await startGatehouseProcess(options).catch((error: unknown) => error as Error);
    if (outcome instanceof Error) return outcome.message;
    await outcome.cleanup();
    throw new Error(`gatehouse started:\n${outcome.output()}`);
  };
  const accounts = async (gatehouse: GatehouseProcess) => {
    const listed = await gatehouse.cli('user', 'list', '--json');
    expect(listed.code).toBe(0);
    return listed.json<{ email: string }[]>().map((account) => account.email);
  };
  const logLine = (gatehouse: GatehouseProcess, msg: string) =>
    gatehouse
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === msg);
  const signIntoAccountPage = async (
    gatehouse: GatehouseProcess,
    credentials: Credentials,
  ): Promise<Page> => {
    const page = await browser.newPage();
    await page.goto(`${gatehouse.issuer}/account`);
    expect(await submitLoginIfShown(page, credentials)).toBe(true);
    return page;
  };

  beforeAll(async () => {
    secrets = mkdtempSync(join(tmpdir(), 'gatehouse-secrets-'));
    passwordFile = join(secrets, 'gatehouse_admin_password');
    // As `echo ... > file` or a Docker secret leaves it: with a trailing newline.
    writeFileSync(passwordFile, `${admin.password}\n`, { mode: 0o600 });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const gatehouse of started.reverse()) await gatehouse.cleanup();
    rmSync(secrets, { recursive: true, force: true });
  });

  it('never hands the published demo admin account to a deployment with its own database (DATABASE_URL set, NODE_ENV unset)', async () => {
    const gatehouse = await start({ env: unsetNodeEnv });
    expect(await accounts(gatehouse)).toEqual([]);
    expect(gatehouse.output()).not.toContain('Demo sign-in');

    const page = await signIntoAccountPage(gatehouse, demoAccount);
    await page.locator('p.error, #account-email').first().waitFor();
    await expect(page.locator('p.error').count()).resolves.toBe(1);
    await expect(page.locator('#account-email').count()).resolves.toBe(0);
    await page.close();
    await gatehouse.stop();
  });

  it('creates the first administrator only from the bootstrap variables, once, never logging the password', async () => {
    const bootstrap = {
      ...unsetNodeEnv,
      GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: admin.email,
      GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: passwordFile,
    };
    const first = await start({ env: bootstrap });
    expect(await accounts(first)).toEqual([admin.email]);
    expect(logLine(first, 'created the first administrator from the bootstrap variables')).toEqual([
      expect.objectContaining({ email: admin.email }),
    ]);
    const page = await signIntoAccountPage(first, admin);
    await page.waitForURL(`${first.issuer}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(admin.email);
    await expect(page.locator('#account-roles').textContent()).resolves.toBe('admin');
    await page.close();
    await first.stop();

    // Left in place (as docker-compose.yml leaves them), the variables create nobody once an admin exists.
    const second = await start({
      reuse: first,
      env: { ...bootstrap, GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: 'someone-else@example.com' },
    });
    expect(await accounts(second)).toEqual([admin.email]);
    expect(logLine(second, 'an administrator exists: the bootstrap variables changed nothing')).toHaveLength(
      1,
    );
    await second.stop();

    for (const gatehouse of [first, second]) expect(gatehouse.output()).not.toContain(admin.password);
  });

  it('stops start-up with a clear message when the bootstrap password file is missing or its password is refused', async () => {
    const base = { ...unsetNodeEnv, GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL: admin.email };
    const missing = join(secrets, 'missing');
    const unreadable = await failedStart({
      env: { ...base, GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: missing },
    });
    expect(unreadable).toContain('exited with 2');
    expect(unreadable).toContain(
      `gatehouse: configuration error: GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: cannot read ${missing} (ENOENT)`,
    );

    const weakFile = join(secrets, 'weak');
    writeFileSync(weakFile, 'opsadmin\n');
    const weak = await failedStart({ env: { ...base, GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: weakFile } });
    expect(weak).toContain('exited with 2');
    expect(weak).toContain(`GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: the password in ${weakFile} is refused`);
    expect(weak).not.toContain('opsadmin');
    for (const message of [unreadable, weak]) expect(message).not.toMatch(/^\s+at /m);
  });

  it('refuses a NODE_ENV typo instead of running the development defaults', async () => {
    const refused = await failedStart({ mode: 'embedded', env: { NODE_ENV: 'prodution' } });
    expect(refused).toContain('exited with 2');
    expect(refused).toContain(
      'gatehouse: configuration error: NODE_ENV "prodution" is not one of production, development, test ' +
        '(leave it unset for development)\n',
    );
  });

  it('keeps the demo user for a newcomer on embedded storage, on a server only this machine can reach', async () => {
    const gatehouse = await start({ mode: 'embedded', env: unsetNodeEnv });
    expect(await accounts(gatehouse)).toEqual([demoAccount.email]);
    expect(logLine(gatehouse, 'gatehouse listening')).toEqual([
      expect.objectContaining({ host: '127.0.0.1' }),
    ]);

    // From the network (this machine's own non-loopback address) nothing answers.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address && !address.internal && address.family === 'IPv4');
    if (external)
      await expect(fetch(`http://${external.address}:${gatehouse.port}/healthz`)).rejects.toThrow(
        'fetch failed',
      );
    await gatehouse.stop();
  });

  it('listens where HOST says and reaches itself there (HOST=::1: the account page signs in over IPv6)', async () => {
    const gatehouse = await start({ host: '[::1]', env: { HOST: '::1' } });
    expect(logLine(gatehouse, 'gatehouse listening')).toEqual([expect.objectContaining({ host: '::1' })]);
    await expect(fetch(`http://127.0.0.1:${gatehouse.port}/healthz`)).rejects.toThrow('fetch failed');

    const user = { email: 'ipv6@example.com', password: 'copper-kettle-orchard-26' };
    expect(
      (await gatehouse.cli('user', 'create', '--email', user.email, '--password', user.password)).code,
    ).toBe(0);
    const page = await signIntoAccountPage(gatehouse, user);
    await page.waitForURL(`${gatehouse.issuer}/account`);
    await expect(page.locator('#account-email').textContent()).resolves.toBe(user.email);
    await page.close();
    await gatehouse.stop();
  });

  it('still listens on every interface in production when HOST is unset', async () => {
    // Production never migrates by itself: a development start prepares the database first.
    const prepared = await start({});
    await prepared.stop();
    const production = await start({
      reuse: prepared,
      env: { NODE_ENV: 'production' },
      config: { cluster: { workers: 1 } },
    });
    const [listening] = logLine(production, 'gatehouse listening');
    expect(['::', '0.0.0.0']).toContain(listening?.host);
    await production.stop();
  });
});
