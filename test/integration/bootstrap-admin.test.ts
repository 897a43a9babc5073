import { createAdminBootstrap } from '../../src/libraries/bootstrap-admin.ts';
import { createRoleHolderQueries } from '../../src/queries/role-holder-queries.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * The first administrator (GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL + ..._PASSWORD_FILE): created once on an empty database,
 * with role admin, audited; a later start with the variables still set changes nothing, its password included.
 */
describe('bootstrapping the first administrator', () => {
  let gh: TestGatehouse;
  const admin = { email: 'first-admin@example.com', password: 'copper-harbour-windmill-93' };

  beforeAll(async () => {
    gh = await startTestGatehouse();
  });
  afterAll(async () => gh?.close());

  const bootstrap = () =>
    createAdminBootstrap({
      accounts: gh.gatehouse.accounts,
      roleHolders: createRoleHolderQueries(gh.pool),
      audit: gh.gatehouse.audit,
    });

  it('creates the administrator on an empty database, with role admin, and audits it', async () => {
    const since = new Date(Date.now() - 1000);
    const created = await bootstrap().ensure(admin);
    expect(created).toMatchObject({ email: admin.email, emailVerified: true });
    expect(await gh.gatehouse.rbac.rolesOfAccount(created!.id)).toEqual(['admin']);
    expect((await gh.gatehouse.accounts.authenticate(admin.email, admin.password))?.id).toBe(created!.id);
    const events = await gh.gatehouse.audit.list({ since, type: 'admin.change', accountId: created!.id });
    expect(events).toEqual([
      expect.objectContaining({
        actor: 'bootstrap',
        details: expect.objectContaining({ action: 'user.create', target: `user:${created!.id}` }),
      }),
    ]);
    expect(JSON.stringify(events)).not.toContain(admin.password);
  });

  it('changes nothing on a later start, whatever the password file now holds', async () => {
    await expect(
      bootstrap().ensure({ email: admin.email, password: 'another-passphrase-entirely-7' }),
    ).resolves.toBeUndefined();
    await expect(
      bootstrap().ensure({ email: 'second-admin@example.com', password: 'another-passphrase-entirely-7' }),
    ).resolves.toBeUndefined();
    expect(await gh.gatehouse.accounts.findByEmail('second-admin@example.com')).toBeUndefined();
    expect(await gh.gatehouse.accounts.authenticate(admin.email, admin.password)).toBeDefined();
    expect(
      await gh.gatehouse.accounts.authenticate(admin.email, 'another-passphrase-entirely-7'),
    ).toBeUndefined();
  });
});
