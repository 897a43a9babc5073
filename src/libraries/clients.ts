import { randomBytes } from 'node:crypto';
import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { conflict, invalidRequest, notFound } from '../errors/app-error.ts';
import type { ClientQueries, ClientRow } from '../queries/client-queries.ts';
import { isLoopbackHost } from '../config/loopback.ts';
import { noSuchRole } from './rbac.ts';
import { sealContexts } from '../vocabulary/seal-contexts.ts';
import type { SecretBox } from './secret-box.ts';
import { noConfigCache, type ConfigCache } from '../db/config-cache.ts';
import { isForeignKeyViolation, isUniqueViolation } from '../db/sql-state.ts';

export const deviceCodeGrant = 'urn:ietf:params:oauth:grant-type:device_code';
export const supportedGrantTypes = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  deviceCodeGrant,
] as const;
export type GrantType = (typeof supportedGrantTypes)[number];

export interface NewClientInput {
  id: string;
  name?: string | undefined;
  secret?: string | undefined;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  scope?: string | undefined;
  public: boolean;
  firstParty: boolean;
  backchannelLogoutUri?: string | undefined;
  /** OpenID Connect Front-Channel Logout 1.0: loaded in an iframe when the user signs out. */
  frontchannelLogoutUri?: string | undefined;
  /** Where Gatehouse sends a user to start signing in to this app again (OIDC Core section 4). */
  initiateLoginUri?: string | undefined;
  /** Home page of the application. */
  clientUri?: string | undefined;
  authMethod?: 'client_secret_basic' | 'client_secret_post' | undefined;
  /** Registered APIs (identifiers) this client may get user access tokens for; any other `resource` is refused. */
  apis?: string[] | undefined;
}

export interface ClientSummary {
  id: string;
  name: string | null;
  public: boolean;
  firstParty: boolean;
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scope: string;
  backchannelLogoutUri: string | null;
  /** APIs the client may get user access tokens for. */
  apis: string[];
}

/** Validates metadata the way oidc-provider will read it (its own client schema); throws with a description. */
export type ClientMetadataValidator = (metadata: Record<string, unknown>) => Promise<void>;

/** Clients Gatehouse registers for itself; operators cannot delete them. */
export const builtinClientIds: ReadonlySet<string> = new Set(['gatehouse-account', 'gatehouse-console']);

export const defaultClientScope = 'openid email profile roles offline_access';
const clientIdPattern = /^[A-Za-z0-9._~-]{1,128}$/;
const secretContext = sealContexts.clientSecret;

function checkUri(value: string, field: string, production: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidRequest(`${field} "${value}" is not an absolute URI`, field);
  }
  if (url.hash || value.includes('#'))
    throw invalidRequest(`${field} "${value}" must not have a fragment`, field);
  // https anywhere; http on loopback (RFC 8252 section 7.3) and, outside production, on any host for local
  // setups; other schemes are the private-use URI schemes of native apps (RFC 8252 section 7.1).
  if (url.protocol === 'http:' && production && !isLoopbackHost(url.hostname)) {
    throw invalidRequest(`${field} "${value}" must use https (http is only accepted on loopback)`, field);
  }
  if (['javascript:', 'data:', 'file:', 'vbscript:'].includes(url.protocol)) {
    throw invalidRequest(`${field} "${value}" uses a forbidden scheme`, field);
  }
  return url;
}

function toSummary(row: ClientRow): ClientSummary {
  const metadata = row.metadata as Record<string, unknown> & {
    grant_types?: string[];
    redirect_uris?: string[];
    post_logout_redirect_uris?: string[];
  };
  return {
    id: row.id,
    name: (metadata.client_name as string | undefined) ?? null,
    public: metadata.token_endpoint_auth_method === 'none',
    firstParty: row.first_party,
    grantTypes: metadata.grant_types ?? [],
    redirectUris: metadata.redirect_uris ?? [],
    postLogoutRedirectUris: metadata.post_logout_redirect_uris ?? [],
    scope: (metadata.scope as string | undefined) ?? '',
    backchannelLogoutUri: (metadata.backchannel_logout_uri as string | undefined) ?? null,
    apis: [...row.apis],
  };
}

/** Builds oidc-provider client metadata (RFC 7591 names) from what an operator asked for. */
export function buildClientMetadata(input: NewClientInput, production: boolean): Record<string, unknown> {
  if (!clientIdPattern.test(input.id)) {
    throw invalidRequest('the client id must be 1-128 characters of A-Z a-z 0-9 . _ ~ -', 'id');
  }
  // RFC 9700 section 4.15: a client_credentials token's `sub` is the client id, so a client id must never look
  // like an account id (a UUID), or an API could take the client for that user.
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(input.id)) {
    throw invalidRequest('the client id must not have the form of an account id (a UUID)', 'id');
  }
  const grantTypes =
    input.grantTypes.length > 0 ? [...new Set(input.grantTypes)] : ['authorization_code', 'refresh_token'];
  for (const grantType of grantTypes) {
    if (!(supportedGrantTypes as readonly string[]).includes(grantType)) {
      throw invalidRequest(
        `unsupported grant type "${grantType}" (use one of ${supportedGrantTypes.join(', ')})`,
        'grant_type',
      );
    }
  }
  if (input.public && grantTypes.includes('client_credentials')) {
    throw invalidRequest(
      'a public client cannot use client_credentials: it has no secret to authenticate with',
      'grant_type',
    );
  }
  if (input.public && input.secret) throw invalidRequest('a public client has no secret', 'secret');
  const usesRedirects = grantTypes.includes('authorization_code');
  if (usesRedirects && input.redirectUris.length === 0) {
    throw invalidRequest('an authorization_code client needs at least one --redirect-uri', 'redirect_uri');
  }
  const redirectUrls = input.redirectUris.map((uri) => checkUri(uri, 'redirect_uri', production));
  input.postLogoutRedirectUris.forEach((uri) => checkUri(uri, 'post_logout_redirect_uri', production));
  if (input.backchannelLogoutUri) checkUri(input.backchannelLogoutUri, 'backchannel_logout_uri', production);
  const native = redirectUrls.some((url) => url.protocol !== 'http:' && url.protocol !== 'https:');

  const metadata: Record<string, unknown> = {
    client_id: input.id,
    grant_types: grantTypes,
    response_types: usesRedirects ? ['code'] : [],
    redirect_uris: input.redirectUris,
    post_logout_redirect_uris: input.postLogoutRedirectUris,
    token_endpoint_auth_method: input.public ? 'none' : (input.authMethod ?? 'client_secret_basic'),
    application_type: native ? 'native' : 'web',
    scope: (input.scope ?? defaultClientScope).trim().split(/\s+/).join(' '),
  };
  if (input.name) metadata.client_name = input.name;
  if (input.frontchannelLogoutUri) {
    checkUri(input.frontchannelLogoutUri, 'frontchannel_logout_uri', production);
    metadata.frontchannel_logout_uri = input.frontchannelLogoutUri;
    metadata.frontchannel_logout_session_required = true;
  }
  if (input.initiateLoginUri) {
    checkUri(input.initiateLoginUri, 'initiate_login_uri', production);
    metadata.initiate_login_uri = input.initiateLoginUri;
  }
  if (input.clientUri) {
    checkUri(input.clientUri, 'client_uri', production);
    metadata.client_uri = input.clientUri;
  }
  if (input.backchannelLogoutUri) {
    metadata.backchannel_logout_uri = input.backchannelLogoutUri;
    metadata.backchannel_logout_session_required = true;
  }
  return metadata;
}

const stringOf = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** OAuth clients: registration by operators (CLI, admin API) and lookup for oidc-provider. */
export function createClientLibrary(deps: {
  pool: Pool;
  queries: ClientQueries;
  secretBox: SecretBox;
  validateMetadata: ClientMetadataValidator;
  production: boolean;
  cache?: ConfigCache;
}) {
  const { queries, secretBox, validateMetadata, production, cache = noConfigCache } = deps;

  /** The distinct API identifiers asked for, each registered (else a 404 naming the first unknown one). */
  async function checkApis(apis: readonly string[] | undefined): Promise<string[]> {
    const unique = [...new Set(apis ?? [])];
    const unknown = unique.length > 0 ? await queries.unknownApis(unique) : [];
    if (unknown.length > 0)
      throw notFound(`no API with identifier ${unknown[0]} (register it with: gatehouse api create)`);
    return unique;
  }

  async function validate(metadata: Record<string, unknown>, secret: string | undefined) {
    try {
      await validateMetadata({ ...metadata, ...(secret ? { client_secret: secret } : {}) });
    } catch (error) {
      const description =
        (error as { error_description?: string }).error_description ?? (error as Error).message;
      throw invalidRequest(`invalid client metadata: ${description}`);
    }
  }

  /** Throws the 404 naming the first of `roles` that is not a role. */
  async function requireRoles(roles: readonly string[]): Promise<void> {
    const [unknown] = await queries.unknownRoles(roles);
    if (unknown !== undefined) throw noSuchRole(unknown);
  }

  /**
   * Checks a new client, then writes it, its APIs and its roles in one transaction: a client never exists without
   * what it was registered with.
   */
  async function insertClient(
    input: NewClientInput,
    extra: { roles: readonly string[]; mfaRequired: boolean },
  ): Promise<{ client: ClientSummary; secret: string | undefined }> {
    const metadata = buildClientMetadata(input, production);
    if (input.secret !== undefined && input.secret.length < 16) {
      throw invalidRequest('a client secret must have at least 16 characters', 'secret');
    }
    const secret = input.public ? undefined : (input.secret ?? randomBytes(32).toString('base64url'));
    await validate(metadata, secret);
    const apis = await checkApis(input.apis);
    if (await queries.findById(input.id)) throw conflict(`a client with id ${input.id} already exists`);
    try {
      await withTransaction(deps.pool, async (tx) => {
        await queries.insert(
          {
            id: input.id,
            sealedSecret: secret ? secretBox.seal(secret, secretContext) : null,
            metadata,
            firstParty: input.firstParty,
            mfaRequired: extra.mfaRequired,
          },
          tx,
        );
        await queries.setApis(input.id, apis, tx);
        await queries.addRoles(input.id, [...new Set(extra.roles)], tx);
      });
      return { client: toSummary((await queries.findById(input.id))!), secret };
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`a client with id ${input.id} already exists`);
      // A role or API deleted since it was checked: nothing was written, and the error names it as the check would.
      if (isForeignKeyViolation(error)) {
        await requireRoles(extra.roles);
        await checkApis(apis);
      }
      throw error;
    }
  }

  return {
    /** @returns the client and, for confidential clients, its secret (shown once; stored sealed). */
    create: (input: NewClientInput) => insertClient(input, { roles: [], mfaRequired: false }),

    /**
     * "Register a client", the one way the admin API and the CLI do it: with its service-account roles (each must
     * exist: a 404 names the first that does not, before anything is checked or written), its allowed APIs and
     * whether its users need a second factor, all written together or not at all.
     * @returns the client, the roles as asked for, and for confidential clients its secret (shown once).
     */
    async register(
      input: NewClientInput & { roles: readonly string[]; mfaRequired?: boolean | undefined },
    ): Promise<{ client: ClientSummary; roles: string[]; secret: string | undefined }> {
      await requireRoles(input.roles);
      const created = await insertClient(input, {
        roles: input.roles,
        mfaRequired: input.mfaRequired === true,
      });
      return { ...created, roles: [...input.roles] };
    },

    /** Creates or refreshes a client Gatehouse itself owns (its account page). */
    async ensure(input: NewClientInput): Promise<void> {
      const metadata = buildClientMetadata(input, production);
      await validate(metadata, input.secret);
      await queries.upsert({
        id: input.id,
        sealedSecret: input.secret ? secretBox.seal(input.secret, secretContext) : null,
        metadata,
        firstParty: input.firstParty,
      });
    },

    /** Changes what an operator may change after registration; the secret and client type stay. */
    async update(
      id: string,
      patch: Partial<
        Pick<
          NewClientInput,
          | 'name'
          | 'redirectUris'
          | 'postLogoutRedirectUris'
          | 'grantTypes'
          | 'scope'
          | 'firstParty'
          | 'backchannelLogoutUri'
        >
      > & {
        /** Replaces the allowed APIs. */
        apis?: string[] | undefined;
        /** Adds to the allowed APIs. */
        addApis?: string[] | undefined;
        /** Removes from the allowed APIs. */
        removeApis?: string[] | undefined;
      },
    ): Promise<ClientSummary> {
      const row = await queries.findById(id);
      if (!row) throw notFound(`no client with id ${id}`);
      const current = toSummary(row);
      const merged: NewClientInput = {
        id,
        name: patch.name ?? current.name ?? undefined,
        redirectUris: patch.redirectUris ?? current.redirectUris,
        postLogoutRedirectUris: patch.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
        grantTypes: patch.grantTypes ?? current.grantTypes,
        scope: patch.scope ?? current.scope,
        public: current.public,
        firstParty: patch.firstParty ?? current.firstParty,
        backchannelLogoutUri:
          patch.backchannelLogoutUri !== undefined
            ? patch.backchannelLogoutUri || undefined
            : (current.backchannelLogoutUri ?? undefined),
        authMethod:
          row.metadata.token_endpoint_auth_method === 'client_secret_post' ? 'client_secret_post' : undefined,
        // What this update does not change, it keeps: a patch of the name once dropped these URIs.
        frontchannelLogoutUri: stringOf(row.metadata.frontchannel_logout_uri),
        initiateLoginUri: stringOf(row.metadata.initiate_login_uri),
        clientUri: stringOf(row.metadata.client_uri),
      };
      // Metadata this library does not build (set by an earlier version or by hand) is kept as it was, under
      // what the update builds.
      const metadata = { ...row.metadata, ...buildClientMetadata(merged, production) };
      for (const key of ['backchannel_logout_uri', 'backchannel_logout_session_required'])
        if (!merged.backchannelLogoutUri) delete metadata[key];
      await validate(
        metadata,
        row.sealed_secret ? secretBox.open(row.sealed_secret, secretContext) : undefined,
      );
      const removed = new Set(patch.removeApis ?? []);
      const apis = await checkApis(
        [...(patch.apis ?? current.apis), ...(patch.addApis ?? [])].filter((api) => !removed.has(api)),
      );
      const updated = await withTransaction(deps.pool, async (tx) => {
        const row = await queries.update({ id, metadata, firstParty: merged.firstParty }, tx);
        if (row) await queries.setApis(id, apis, tx);
        return row;
      });
      if (!updated) throw notFound(`no client with id ${id}`);
      return toSummary((await queries.findById(id))!);
    },

    async list(): Promise<ClientSummary[]> {
      return (await queries.list()).map(toSummary);
    },

    async get(id: string): Promise<ClientSummary> {
      const row = await queries.findById(id);
      if (!row) throw notFound(`no client with id ${id}`);
      return toSummary(row);
    },

    /**
     * Gives a confidential client a new random secret (256 bits), which replaces the old one at once: the old secret
     * is refused from the next request on. A public client has none (400).
     * @returns the new secret, to show once (stored sealed).
     */
    async rotateSecret(id: string): Promise<string> {
      const row = await queries.findById(id);
      if (!row) throw notFound(`no client with id ${id}`);
      if (builtinClientIds.has(id))
        throw invalidRequest(`${id} is Gatehouse's own client: its secret is managed by Gatehouse`, 'id');
      if (row.metadata.token_endpoint_auth_method === 'none' || !row.sealed_secret)
        throw invalidRequest(`${id} is a public client: it has no secret to rotate`, 'id');
      const secret = randomBytes(32).toString('base64url');
      if (!(await queries.setSealedSecret(id, secretBox.seal(secret, secretContext))))
        throw notFound(`no client with id ${id}`);
      return secret;
    },

    async delete(id: string): Promise<void> {
      if (builtinClientIds.has(id))
        throw invalidRequest(`${id} is Gatehouse's own client and cannot be deleted`, 'id');
      if (!(await queries.delete(id))) throw notFound(`no client with id ${id}`);
    },

    /**
     * Metadata as oidc-provider reads it, the secret opened (oidc-provider compares secrets in plain text). Read on
     * every request a client makes, so cached, opened, and shared (frozen): oidc-provider only hashes it to find
     * its own Client instance.
     */
    /** Whether the client may get user access tokens for this API (its `--api` list). */
    async allowsApi(clientId: string, api: string): Promise<boolean> {
      const metadata = await this.findProviderMetadata(clientId);
      return Array.isArray(metadata?.['allowed_apis']) && metadata['allowed_apis'].includes(api);
    },

    async findProviderMetadata(id: string): Promise<Readonly<Record<string, unknown>> | undefined> {
      return cache.getShared('clients', id, async () => {
        const row = await queries.findById(id);
        if (!row) return undefined;
        return {
          ...row.metadata,
          client_id: row.id,
          ...(row.sealed_secret ? { client_secret: secretBox.open(row.sealed_secret, secretContext) } : {}),
          first_party: row.first_party,
          mfa_required: row.mfa_required,
          allowed_apis: [...row.apis],
        };
      });
    },
  };
}

export type ClientLibrary = ReturnType<typeof createClientLibrary>;
