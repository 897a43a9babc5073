import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors/config-error.ts';
import { readBootstrapAdmin } from '../../../src/libraries/bootstrap-admin.ts';
import { createPasswordPolicy, loadCommonPasswords } from '../../../src/libraries/password-policy.ts';

/** The first administrator's password comes from a file (a Docker secret), checked before anything is served. */
describe('reading the bootstrap administrator', () => {
  const policy = createPasswordPolicy(
    { minLength: 15, minLengthWithMfa: 8, maxLength: 256 },
    loadCommonPasswords(),
  );
  const email = 'ops@example.com';
  let dir: string;
  const secretFile = (content: string) => {
    const path = join(dir, 'admin_password');
    writeFileSync(path, content);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-bootstrap-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is nothing to do when the variables are not set', async () => {
    await expect(readBootstrapAdmin({ email: null, passwordFile: null }, policy)).resolves.toBeUndefined();
  });

  it('reads the password without the trailing newline a secret file ends with', async () => {
    const passwordFile = secretFile('quiet-meadow-compass-417\n');
    await expect(readBootstrapAdmin({ email, passwordFile }, policy)).resolves.toEqual({
      email,
      password: 'quiet-meadow-compass-417',
    });
  });

  it('stops start-up naming the variable when the file cannot be read, never with the password', async () => {
    const passwordFile = join(dir, 'missing');
    await expect(readBootstrapAdmin({ email, passwordFile }, policy)).rejects.toThrow(
      new ConfigError(`GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: cannot read ${passwordFile} (ENOENT)`),
    );
  });

  it('stops start-up when the password rules refuse the password, saying why but not what it was', async () => {
    const passwordFile = secretFile('short-one\n');
    const refusal = await readBootstrapAdmin({ email, passwordFile }, policy).catch(
      (error: unknown) => error,
    );
    expect(refusal).toEqual(
      new ConfigError(
        `GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD_FILE: the password in ${passwordFile} is refused: ` +
          'the password must have at least 15 characters (8 with two-step verification on)',
      ),
    );
    expect((refusal as Error).message).not.toContain('short-one');
    await expect(
      readBootstrapAdmin({ email, passwordFile: secretFile('quiet-meadow\ncompass-417\n') }, policy),
    ).rejects.toThrow(/must hold the password on one line/);
  });
});
