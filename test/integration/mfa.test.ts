import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createPool, type Pool } from '../../src/db/pg-pool.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createLibraries, type Libraries } from '../../src/libraries/create-libraries.ts';
import { totpCodeAt } from '../../src/libraries/totp.ts';
import { reencryptSecrets } from '../../src/libraries/secret-rotation.ts';
import { createSealedValueQueries } from '../../src/queries/sealed-value-queries.ts';
import { createPasskeyQueries } from '../../src/queries/passkey-queries.ts';
import { cliEnvironment, runCli } from '../support/gatehouse-process.ts';
import { createTestDatabase, type TestDatabase } from '../support/services.ts';
import { silentLog, testSecret } from '../support/test-gatehouse.ts';

/** The MFA library against real Postgres: enrollment, replay protection across processes, recovery codes, policy. */
let database: TestDatabase;
let pool: Pool;
let libraries: Libraries;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateDatabase(database.url, silentLog);
  pool = createPool({ connectionString: database.url, max: 4 }, () => undefined);
  libraries = createLibraries(
    loadConfig({ NODE_ENV: 'test', GATEHOUSE_SECRET: testSecret }),
    pool,
    testSecret,
  );
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

async function newAccount(name: string) {
  return libraries.accounts.create({
    email: `${name}-${Date.now()}@example.com`,
    password: 'passphrase for mfa',
  });
}

describe('the MFA library', () => {
  it('counts a factor only once it is confirmed with a code, and then shows ten recovery codes', async () => {
    const account = await newAccount('confirm');
    const enrollment = await libraries.mfa.startEnrollment(account);
    expect(await libraries.mfa.isEnrolled(account.id)).toBe(false);
    expect(await libraries.mfa.confirmEnrollment(account.id, '000000')).toBeUndefined();
    const codes = await libraries.mfa.confirmEnrollment(
      account.id,
      await totpCodeAt(enrollment.secret, now()),
    );
    expect(codes).toHaveLength(10);
    expect(await libraries.mfa.status(account.id)).toEqual({ enrolled: true, recoveryCodesRemaining: 10 });
    await expect(libraries.mfa.startEnrollment(account)).rejects.toThrow('already set up');
  });

  it('stores the TOTP seed sealed, not in plain text', async () => {
    const account = await newAccount('sealed');
    const { secret } = await libraries.mfa.provision(account);
    const { rows } = await pool.query<{ row: string }>(
      'SELECT row_to_json(t)::text AS row FROM totp_factors t WHERE account_id = $1',
      [account.id],
    );
    expect(rows[0]!.row).not.toContain(secret);
  });

  it('accepts a TOTP code once: the same code again, even within its window, is refused', async () => {
    const account = await newAccount('replay');
    const { secret } = await libraries.mfa.provision(account);
    const code = await totpCodeAt(secret, now());
    await expect(libraries.mfa.verify(account.id, code)).resolves.toBe('otp');
    await expect(libraries.mfa.verify(account.id, code)).resolves.toBeUndefined();
    await expect(libraries.mfa.verify(account.id, await totpCodeAt(secret, now() + 30))).resolves.toBe('otp');
  });

  it('lets exactly one of two concurrent sign-ins with the same code through', async () => {
    const account = await newAccount('race');
    const { secret } = await libraries.mfa.provision(account);
    const code = await totpCodeAt(secret, now());
    const results = await Promise.all([
      libraries.mfa.verify(account.id, code),
      libraries.mfa.verify(account.id, code),
      libraries.mfa.verify(account.id, code),
    ]);
    expect(results.filter((result) => result === 'otp')).toHaveLength(1);
  });

  it('accepts each recovery code once, in any case and with or without its dash', async () => {
    const account = await newAccount('recovery');
    const { recoveryCodes } = await libraries.mfa.provision(account);
    await expect(
      libraries.mfa.verify(account.id, recoveryCodes[0]!.toUpperCase().replace('-', '')),
    ).resolves.toBe('recovery_code');
    await expect(libraries.mfa.verify(account.id, recoveryCodes[0]!)).resolves.toBeUndefined();
    expect(await libraries.mfa.remainingRecoveryCodes(account.id)).toBe(9);
    const fresh = await libraries.mfa.regenerateRecoveryCodes(account.id);
    await expect(libraries.mfa.verify(account.id, recoveryCodes[1]!)).resolves.toBeUndefined();
    await expect(libraries.mfa.verify(account.id, fresh[1]!)).resolves.toBe('recovery_code');
  });

  it('keeps recovery codes as keyed hashes only', async () => {
    const account = await newAccount('hashed');
    const { recoveryCodes } = await libraries.mfa.provision(account);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query<{ code_hash: string }>(
      'SELECT code_hash FROM recovery_codes WHERE account_id = $1',
      [account.id],
    );
    await client.end();
    expect(rows).toHaveLength(10);
    for (const code of recoveryCodes)
      expect(rows.map((row) => row.code_hash).join()).not.toContain(code.replace('-', ''));
  });

  it('removes the factor and the recovery codes on reset', async () => {
    const account = await newAccount('reset');
    await libraries.mfa.provision(account);
    await expect(libraries.mfa.reset(account.id)).resolves.toBe(true);
    expect(await libraries.mfa.status(account.id)).toEqual({ enrolled: false, recoveryCodesRemaining: 0 });
    await expect(libraries.mfa.reset(account.id)).resolves.toBe(false);
  });

  it('requires a second factor for holders of a role or users of a client that require it', async () => {
    const account = await newAccount('policy');
    await libraries.rbac.createRole('vault-keeper');
    await libraries.rbac.assignToAccount(account.id, 'vault-keeper');
    expect(await libraries.mfa.isRequired(account.id, undefined)).toBe(false);
    await libraries.mfa.setRoleRequired('vault-keeper', true);
    expect(await libraries.mfa.isRequired(account.id, undefined)).toBe(true);
    await expect(libraries.mfa.setRoleRequired('ghost', true)).rejects.toThrow('no role named ghost');
  });
});

describe('a role that requires a second factor, held through a group', () => {
  it('stops a member of a group holding that role from using it with a password alone', async () => {
    const account = await newAccount('grouped');
    await libraries.rbac.createRole('treasurer');
    await libraries.mfa.setRoleRequired('treasurer', true);
    await libraries.rbac.groups.create('finance', { roles: ['treasurer'] });
    await libraries.rbac.groups.create('payments', { parents: ['finance'] });
    expect(await libraries.mfa.isRequired(account.id, undefined)).toBe(false);
    await libraries.rbac.groups.addMember('payments', account.id);
    expect(await libraries.mfa.isRequired(account.id, undefined)).toBe(true);
  });
});

describe('a rotation of the root secret', () => {
  const nextSecret = 'next-secret-next-secret-next-secret-0123456789';
  const librariesUnder = (secret: string, previous?: string) =>
    createLibraries(
      loadConfig({
        NODE_ENV: 'test',
        GATEHOUSE_SECRET: secret,
        ...(previous ? { GATEHOUSE_PREVIOUS_SECRETS: previous } : {}),
      }),
      pool,
      secret,
    );

  it('stops a root-secret rotation from invalidating every recovery code (and TOTP seed) once the old secret goes', async () => {
    const account = await newAccount('rotation');
    const { recoveryCodes, secret: seed } = await libraries.mfa.provision(account);

    // The operator rotates: new secret, old one listed as previous, everything re-sealed, then the old one dropped.
    const during = librariesUnder(nextSecret, testSecret);
    await reencryptSecrets({ pool, queries: createSealedValueQueries(pool), secretBox: during.secretBox });
    const after = librariesUnder(nextSecret);

    expect(await after.mfa.verify(account.id, recoveryCodes[0]!)).toBe('recovery_code');
    expect(await after.mfa.verify(account.id, recoveryCodes[0]!)).toBeUndefined();
    expect(await after.mfa.verify(account.id, await totpCodeAt(seed, now() + 30))).toBe('otp');
    // New codes made after the rotation work too.
    const [fresh] = await after.mfa.regenerateRecoveryCodes(account.id);
    expect(await after.mfa.verify(account.id, fresh!)).toBe('recovery_code');
  });
});

describe('an operator reset of a lost device', () => {
  it('removes the passkeys with user reset-mfa --passkeys, and only with it, recording how many', async () => {
    const account = await newAccount('lost-device');
    const passkeys = createPasskeyQueries(pool);
    for (const name of ['phone', 'laptop'])
      await passkeys.insert({
        accountId: account.id,
        credentialId: randomBytes(16).toString('base64url'),
        publicKey: randomBytes(77),
        counter: 0,
        transports: ['internal'],
        deviceType: 'multiDevice',
        backedUp: true,
        userVerified: true,
        name,
      });
    const env = cliEnvironment(database.url);
    const plain = await runCli(['user', 'reset-mfa', '--email', account.email, '--json'], env);
    expect(plain.json()).toEqual({ email: account.email, removed: false });
    expect(await passkeys.countFor(account.id)).toBe(2);
    const reset = await runCli(['user', 'reset-mfa', '--email', account.email, '--passkeys', '--json'], env);
    expect(reset.code).toBe(0);
    expect(reset.json()).toMatchObject({ removed: true, passkeys: 2 });
    expect(await passkeys.countFor(account.id)).toBe(0);
    const audit = await libraries.audit.list({
      since: new Date(0),
      type: 'mfa.removed',
      accountId: account.id,
    });
    expect(audit).toEqual([expect.objectContaining({ actor: 'cli', details: { passkeys: 2 } })]);
  });
});
