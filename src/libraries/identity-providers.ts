import { conflict, invalidRequest, notFound } from '../errors/app-error.ts';
import type { FederationQueries, IdentityProviderRow } from '../queries/federation-queries.ts';
import { isLoopbackHost } from '../config/loopback.ts';
import { sealContexts } from '../vocabulary/seal-contexts.ts';
import type { SecretBox } from './secret-box.ts';

export type IdentityProviderType = 'oidc' | 'github' | 'google';
export type LinkPolicy = 'confirm' | 'auto' | 'never';

/** Gives a role to users whose upstream profile has `claim` equal to (or, for lists, containing) `value`. */
export interface RoleRule {
  claim: string;
  value: string;
  role: string;
}

export interface NewIdentityProvider {
  id: string;
  type: IdentityProviderType;
  issuer?: string | undefined;
  clientId: string;
  clientSecret: string;
  scope?: string | undefined;
  name?: string | undefined;
  linkPolicy?: LinkPolicy | undefined;
  /** The upstream verifies the addresses it marks `email_verified` (see IdentityProvider.trustEmail). */
  trustEmail?: boolean | undefined;
  roleRules?: RoleRule[] | undefined;
}

export interface IdentityProvider {
  id: string;
  type: IdentityProviderType;
  name: string;
  issuer: string;
  clientId: string;
  scope: string;
  enabled: boolean;
  linkPolicy: LinkPolicy;
  /**
   * The operator vouches that this upstream verifies the addresses it marks `email_verified` (it sends mail to
   * them, or owns the domain). Only then does link policy `auto` link without the account's password.
   */
  trustEmail: boolean;
  roleRules: RoleRule[];
  /** The callback URL to register at the upstream. */
  redirectUri: string;
}

/** An identity provider with its secret opened, for talking to it. */
export interface ProviderCredentials extends IdentityProvider {
  clientSecret: string;
}

/** What the presets fill in: GitHub (OAuth 2.0 + REST API) and Google (OpenID Connect). */
const presets: Record<IdentityProviderType, { issuer?: string; scope: string; name?: string }> = {
  github: { issuer: 'https://github.com', scope: 'read:user user:email', name: 'GitHub' },
  google: { issuer: 'https://accounts.google.com', scope: 'openid email profile', name: 'Google' },
  oidc: { scope: 'openid email profile' },
};

const idPattern = /^[a-z0-9][a-z0-9-]{0,39}$/;

/**
 * Claims an OpenID upstream lets its users set to anything they like (their profile), so a role rule reading one
 * would let a user pick their own roles: OIDC Core section 5.1's profile claims. `email` and `phone_number` count
 * only when the upstream marks them verified (see ruleClaims).
 */
const userEditableOidcClaims = new Set([
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'address',
  'updated_at',
]);

/**
 * GitHub's user fields a role rule may read: the numeric `id` (never reused), `site_admin` (set by GitHub or the
 * Enterprise administrator) and the verified primary `email`. Everything else on `/user` (`login`, `name`,
 * `company`, `blog`, `bio`, ...) the user edits, and a `login` given up is free for anyone to take.
 */
const githubRuleClaims = new Set(['id', 'site_admin', 'email']);

/** Why a role rule may not read `claim` from an upstream of `type`, or undefined when it may. */
export function ruleClaimProblem(type: IdentityProviderType, claim: string): string | undefined {
  if (type === 'github') {
    return githubRuleClaims.has(claim)
      ? undefined
      : `a role rule cannot read the GitHub field "${claim}": the user can change it (rules may read ${[...githubRuleClaims].join(', ')})`;
  }
  return userEditableOidcClaims.has(claim)
    ? `a role rule cannot read the claim "${claim}": users edit it at the upstream`
    : undefined;
}

/**
 * The claims of an upstream sign-in that role rules may read: those the user cannot set freely. An email (or
 * phone number) counts only when the upstream says it verified it; otherwise it is as if it were absent.
 */
export function ruleClaims(
  type: IdentityProviderType,
  profile: { claims: Record<string, unknown>; email: string | undefined; emailVerified: boolean },
): Record<string, unknown> {
  const readable: Record<string, unknown> = {};
  for (const [claim, value] of Object.entries(profile.claims)) {
    if (!ruleClaimProblem(type, claim)) readable[claim] = value;
  }
  delete readable.email;
  if (profile.emailVerified && profile.email !== undefined) readable.email = profile.email;
  if (type !== 'github' && profile.claims.phone_number_verified !== true) delete readable.phone_number;
  return readable;
}

/** The upstream callback: `<ISSUER>/federation/<id>/callback` (a contract). */
export const federationRedirectUri = (issuer: string, id: string) => `${issuer}/federation/${id}/callback`;

function checkIssuer(value: string, production: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidRequest(`the issuer "${value}" is not an absolute URL`, 'issuer');
  }
  if (url.protocol === 'https:') return value.replace(/\/+$/, '');
  if (url.protocol === 'http:' && !production && isLoopbackHost(url.hostname))
    return value.replace(/\/+$/, '');
  throw invalidRequest(
    production
      ? `the issuer "${value}" must use https`
      : `the issuer "${value}" must use https (http only on localhost or 127.0.0.1 outside production)`,
    'issuer',
  );
}

/**
 * Upstream identity providers: registration by operators (CLI, admin API), with presets for GitHub and Google, and
 * their credentials (the client secret sealed at rest) for the sign-in round trip.
 */
export function createIdentityProviderLibrary(deps: {
  queries: FederationQueries;
  secretBox: SecretBox;
  issuer: string;
  production: boolean;
  /** Checks that an OpenID provider answers discovery before it is registered. */
  discover?: (issuer: string) => Promise<void>;
}) {
  const toProvider = (row: IdentityProviderRow): IdentityProvider => ({
    id: row.id,
    type: row.type,
    name: row.name,
    issuer: row.issuer,
    clientId: row.client_id,
    scope: row.scope,
    enabled: row.enabled,
    linkPolicy: row.link_policy,
    trustEmail: row.trust_email,
    roleRules: row.role_rules,
    redirectUri: federationRedirectUri(deps.issuer, row.id),
  });

  return {
    async create(input: NewIdentityProvider): Promise<IdentityProvider> {
      if (!idPattern.test(input.id))
        throw invalidRequest('the id must be 1-40 of a-z 0-9 and -, starting with a letter or digit', 'id');
      const preset = presets[input.type];
      if (!preset)
        throw invalidRequest(`unknown type "${String(input.type)}" (use oidc, github or google)`, 'type');
      const rawIssuer = input.issuer ?? preset.issuer;
      if (!rawIssuer) throw invalidRequest('an oidc upstream needs --issuer', 'issuer');
      const issuer = checkIssuer(rawIssuer, deps.production);
      if (!input.clientId || input.clientId.length > 256)
        throw invalidRequest('a client id (1-256 characters) is required', 'client_id');
      if (!input.clientSecret || input.clientSecret.length > 512)
        throw invalidRequest('a client secret (1-512 characters) is required', 'client_secret');
      const name = (input.name ?? preset.name ?? input.id).trim();
      if (name.length === 0 || name.length > 60)
        throw invalidRequest('the name must have 1-60 characters', 'name');
      for (const rule of input.roleRules ?? []) {
        if (!rule.claim || !rule.value || !rule.role)
          throw invalidRequest('a role rule reads claim=value:role', 'role_rule');
        const problem = ruleClaimProblem(input.type, rule.claim);
        if (problem) throw invalidRequest(problem, 'role_rule');
      }
      if (await deps.queries.findProvider(input.id))
        throw conflict(`an identity provider with id ${input.id} already exists`);
      if (input.type !== 'github' && deps.discover) {
        try {
          await deps.discover(issuer);
        } catch (error) {
          throw invalidRequest(
            `could not read the OpenID configuration of ${issuer}: ${(error as Error).message}`,
            'issuer',
          );
        }
      }
      await deps.queries.insertProvider({
        id: input.id,
        type: input.type,
        name,
        issuer,
        client_id: input.clientId,
        sealed_client_secret: deps.secretBox.seal(input.clientSecret, sealContexts.upstreamClientSecret),
        scope: (input.scope ?? preset.scope).trim().split(/\s+/).join(' '),
        link_policy: input.linkPolicy ?? 'confirm',
        trust_email: input.trustEmail ?? false,
        role_rules: input.roleRules ?? [],
      });
      return toProvider((await deps.queries.findProvider(input.id))!);
    },

    async list(): Promise<IdentityProvider[]> {
      return (await deps.queries.listProviders()).map(toProvider);
    },

    /** The enabled upstreams, for the buttons on the login page. */
    async listEnabled(): Promise<IdentityProvider[]> {
      return (await deps.queries.listProviders(true)).map(toProvider);
    },

    async get(id: string): Promise<IdentityProvider> {
      const row = await deps.queries.findProvider(id);
      if (!row) throw notFound(`no identity provider with id ${id}`);
      return toProvider(row);
    },

    async credentials(id: string): Promise<ProviderCredentials | undefined> {
      const row = await deps.queries.findProvider(id);
      if (!row?.enabled) return undefined;
      return {
        ...toProvider(row),
        clientSecret: deps.secretBox.open(row.sealed_client_secret, sealContexts.upstreamClientSecret),
      };
    },

    /**
     * Changes an upstream's name, issuer (oidc: checked by discovery as at creation), client id, client secret
     * (sealed) or scope; what is not given stays. The id and type stay (the callback URL is made of the id).
     */
    async update(
      id: string,
      patch: {
        name?: string | undefined;
        issuer?: string | undefined;
        clientId?: string | undefined;
        clientSecret?: string | undefined;
        scope?: string | undefined;
      },
    ): Promise<IdentityProvider> {
      const row = await deps.queries.findProvider(id);
      if (!row) throw notFound(`no identity provider with id ${id}`);
      const issuer = patch.issuer === undefined ? undefined : checkIssuer(patch.issuer, deps.production);
      if (patch.clientId !== undefined && (patch.clientId.length === 0 || patch.clientId.length > 256))
        throw invalidRequest('a client id must have 1-256 characters', 'client_id');
      if (
        patch.clientSecret !== undefined &&
        (patch.clientSecret.length === 0 || patch.clientSecret.length > 512)
      )
        throw invalidRequest('a client secret must have 1-512 characters', 'client_secret');
      const name = patch.name?.trim();
      if (name !== undefined && (name.length === 0 || name.length > 60))
        throw invalidRequest('the name must have 1-60 characters', 'name');
      const scope = patch.scope?.trim().split(/\s+/).join(' ');
      if (scope !== undefined && (scope.length === 0 || scope.length > 1000))
        throw invalidRequest('the scope must have 1-1000 characters', 'scope');
      if (issuer !== undefined && issuer !== row.issuer && row.type !== 'github' && deps.discover) {
        try {
          await deps.discover(issuer);
        } catch (error) {
          throw invalidRequest(
            `could not read the OpenID configuration of ${issuer}: ${(error as Error).message}`,
            'issuer',
          );
        }
      }
      const updated = await deps.queries.updateProvider(id, {
        ...(name !== undefined ? { name } : {}),
        ...(issuer !== undefined ? { issuer } : {}),
        ...(patch.clientId !== undefined ? { client_id: patch.clientId } : {}),
        ...(patch.clientSecret !== undefined
          ? {
              sealed_client_secret: deps.secretBox.seal(
                patch.clientSecret,
                sealContexts.upstreamClientSecret,
              ),
            }
          : {}),
        ...(scope !== undefined ? { scope } : {}),
      });
      if (!updated) throw notFound(`no identity provider with id ${id}`);
      return toProvider((await deps.queries.findProvider(id))!);
    },

    async delete(id: string): Promise<void> {
      if (!(await deps.queries.deleteProvider(id))) throw notFound(`no identity provider with id ${id}`);
    },
  };
}

export type IdentityProviderLibrary = ReturnType<typeof createIdentityProviderLibrary>;
