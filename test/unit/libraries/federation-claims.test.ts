import {
  isPlaceholderEmail,
  placeholderEmail,
  usableUpstreamEmail,
} from '../../../src/libraries/accounts.ts';
import { ruleClaimProblem, ruleClaims } from '../../../src/libraries/identity-providers.ts';

describe('the address of an account whose upstream vouched for none', () => {
  it('is undeliverable, recognisable, and distinct for distinct upstream identities', () => {
    expect(placeholderEmail('github', '583231')).toBe('github-583231@users.noreply.invalid');
    const hashed = placeholderEmail('corp', 'User|42');
    expect(hashed).toMatch(/^corp\.[0-9a-f]{32}@users\.noreply\.invalid$/);
    // Subjects that differ only in case or punctuation must not share an address (the unique index is on lower()).
    expect(placeholderEmail('corp', 'Ab')).not.toBe(placeholderEmail('corp', 'ab'));
    expect(placeholderEmail('a-b', 'c')).not.toBe(placeholderEmail('a', 'b-c'));
    expect(isPlaceholderEmail(hashed)).toBe(true);
    expect(isPlaceholderEmail('someone@example.com')).toBe(false);
  });

  it('is never reached by an upstream naming it, nor by a malformed address', () => {
    expect(usableUpstreamEmail(' ada@example.com ')).toBe('ada@example.com');
    expect(usableUpstreamEmail('github-1@users.noreply.invalid')).toBeUndefined();
    expect(usableUpstreamEmail('not an address')).toBeUndefined();
    expect(usableUpstreamEmail(undefined)).toBeUndefined();
  });
});

describe('the claims a role rule may read', () => {
  it('refuses what users edit: GitHub login and name, OpenID profile claims', () => {
    expect(ruleClaimProblem('github', 'login')).toContain('"login"');
    expect(ruleClaimProblem('github', 'name')).toContain('"name"');
    expect(ruleClaimProblem('github', 'site_admin')).toBeUndefined();
    expect(ruleClaimProblem('oidc', 'preferred_username')).toContain('"preferred_username"');
    expect(ruleClaimProblem('google', 'name')).toBeDefined();
    expect(ruleClaimProblem('oidc', 'groups')).toBeUndefined();
  });

  it('reads an email or phone number only when the upstream verified it', () => {
    const claims = { sub: 's', groups: ['a'], name: 'N', email: 'x@example.com', phone_number: '+1' };
    expect(ruleClaims('oidc', { claims, email: 'x@example.com', emailVerified: false })).toEqual({
      sub: 's',
      groups: ['a'],
    });
    expect(
      ruleClaims('oidc', {
        claims: { ...claims, email_verified: true, phone_number_verified: true },
        email: 'x@example.com',
        emailVerified: true,
      }),
    ).toMatchObject({ email: 'x@example.com', phone_number: '+1' });
    expect(
      ruleClaims('github', {
        claims: { id: 1, login: 'octocat', site_admin: false, email: 'public@example.com' },
        email: 'primary@example.com',
        emailVerified: true,
      }),
    ).toEqual({ id: 1, site_admin: false, email: 'primary@example.com' });
  });
});
