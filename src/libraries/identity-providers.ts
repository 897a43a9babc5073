import { conflict, invalidRequest, notFound } from '../errors/app-error.ts';
import type { FederationQueries, IdentityProviderRow } from '../queries/federation-queries.ts';
import { isLoopbackHost } from './loopback.ts';
import { sealContexts, type SecretBox } from './secret-box.ts';

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

    async delete(id: string): Promise<void> {
      if (!(await deps.queries.deleteProvider(id))) throw notFound(`no identity provider with id ${id}`);
    },
  };
}

export type IdentityProviderLibrary = ReturnType<typeof createIdentityProviderLibrary>;
