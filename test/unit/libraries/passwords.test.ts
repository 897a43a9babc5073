import { createPasswordHasher } from '../../../src/libraries/passwords.ts';

const owaspMinimum = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

describe('password hashing', () => {
  const hasher = createPasswordHasher(owaspMinimum);

  it('hashes with argon2id at the configured parameters and verifies only the right password', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await expect(hasher.verify(hash, 'correct horse battery staple')).resolves.toBe(true);
    await expect(hasher.verify(hash, 'correct horse battery stapl')).resolves.toBe(false);
  });

  it('treats a malformed stored hash as a wrong password', async () => {
    await expect(hasher.verify('not a hash', 'anything')).resolves.toBe(false);
  });

  it('asks for a rehash of hashes made with weaker parameters', async () => {
    const stronger = createPasswordHasher({ ...owaspMinimum, timeCost: 3 });
    const weak = await hasher.hash('passphrase for rehash');
    expect(stronger.needsRehash(weak)).toBe(true);
    expect(hasher.needsRehash(weak)).toBe(false);
    expect(hasher.needsRehash('garbage')).toBe(true);
  });
});
