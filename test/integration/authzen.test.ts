import { createHash, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { checkAnswer, hostileJson } from '../support/hostile-input.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * The OpenID AuthZEN Authorization API 1.0 over HTTP with real access tokens: the metadata document, who may ask
 * (401/403), evaluation over real Cedar policies and the directory (RBAC, a forbid, ABAC, ownership, sharing),
 * reasons, batches with defaults and the three semantics, the three searches page by page, and bad input (400
 * naming the field, 413, never a 500).
 */
let gh: TestGatehouse;
let token: string;
const ids: Record<string, string> = {};
const requestId = 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716';

const policies = `
@id("cms-writers-edit-own")
permit(principal in role::"writer", action == Action::"edit", resource is post)
  when { resource has author && resource.author == principal };
@id("drive-owner")
permit(principal, action in [Action::"view", Action::"edit"], resource is file)
  when { resource has owner && resource.owner == principal };
@id("drive-viewers")
permit(principal, action == Action::"view", resource is file)
  when { resource has viewers && principal in resource.viewers };
@id("streaming-tier")
permit(principal, action == Action::"stream", resource is video)
  when { principal has tier && resource has tiers && resource.tiers.contains(principal.tier) };
@id("streaming-geo")
forbid(principal, action == Action::"stream", resource is video)
  unless { context has country && resource has countries && resource.countries.contains(context.country) };
@id("classified")
forbid(principal, action, resource)
  when { resource has classified && resource.classified };
@id("public-docs")
permit(principal, action == Action::"read", resource is doc)
  when { resource has public && resource.public };
`;

/** A `client_credentials` client holding `roles`, and its access token for `resource` (default the AuthZEN API). */
async function clientToken(clientId: string, roles: string[], resource = `${gh.url}/authz`) {
  const secret = `${clientId}-secret-0123456789`;
  await gh.gatehouse.clients.register({
    id: clientId,
    secret,
    redirectUris: [],
    postLogoutRedirectUris: [],
    grantTypes: ['client_credentials'],
    public: false,
    firstParty: false,
    roles,
  });
  const client = await oidc.discovery(new URL(gh.url), clientId, undefined, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });
  return (await oidc.clientCredentialsGrant(client, { resource })).access_token;
}

async function call(
  path: string,
  body: unknown,
  options: { bearer?: string | null; headers?: Record<string, string>; raw?: string } = {},
) {
  const bearer = options.bearer === undefined ? token : options.bearer;
  const response = await fetch(`${gh.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
      ...options.headers,
    },
    body: options.raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = text;
  }
  // Answers are read field by field in the expectations below, so loosely typed.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: response.status, headers: response.headers, body: json as Record<string, any> };
}

const user = (name: string) => ({ type: 'user', id: ids[name]! });
const entity = (name: string) => ({ __entity: user(name) });
const evaluate = (subject: unknown, action: string, resource: unknown, more: Record<string, unknown> = {}) =>
  call('/access/v1/evaluation', { subject, action: { name: action }, resource, ...more });

beforeAll(async () => {
  gh = await startTestGatehouse();
  const { rbac, accounts, authz } = gh.gatehouse;
  await rbac.createRole('pdp', { permissions: ['authz:evaluate'] });
  await rbac.createRole('reader', { permissions: ['report:read'] });
  await rbac.createRole('writer', { permissions: ['post:create'] });
  const account = async (name: string, roles: string[] = [], attributes?: Record<string, unknown>) => {
    const created = await accounts.createWithRoles({
      email: `${name}@example.com`,
      password: 'long enough password',
      roles,
      attributes,
    });
    ids[name] = created.id;
  };
  await account('rita', ['reader']);
  await account('rex', ['reader']);
  await account('wanda', ['writer']);
  await account('walt', ['writer']);
  await account('olga');
  await account('vic');
  await account('gina', [], { tier: 'gold' });
  await account('rob', ['reader']);

  const put = (type: string, id: string, attributes: Record<string, unknown>) =>
    authz.resources.put({ type, id, attributes }, 'test');
  await put('report', 'secret', { classified: true });
  await put('post', 'wanda-1', { author: entity('wanda') });
  await put('post', 'walt-1', { author: entity('walt') });
  await put('file', 'plan', { owner: entity('olga') });
  await put('video', 'film', { tiers: ['gold'], countries: ['DE', 'FR'] });
  for (let n = 1; n <= 7; n++) await put('doc', `doc-0${String(n)}`, { public: n % 2 === 1 });
  await authz.resources.share({ type: 'file', id: 'plan' }, 'viewers', { email: 'vic@example.com' }, 'test');
  await authz.policies.set(policies, null, 'test');

  token = await clientToken('pep', ['pdp']);
}, 120_000);

afterAll(async () => {
  await gh?.close();
});

describe('the metadata document', () => {
  it('names this issuer as the policy decision point and every endpoint, without a token', async () => {
    const response = await fetch(`${gh.url}/.well-known/authzen-configuration`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toEqual({
      policy_decision_point: gh.config.issuer,
      access_evaluation_endpoint: `${gh.config.issuer}/access/v1/evaluation`,
      access_evaluations_endpoint: `${gh.config.issuer}/access/v1/evaluations`,
      search_subject_endpoint: `${gh.config.issuer}/access/v1/search/subject`,
      search_resource_endpoint: `${gh.config.issuer}/access/v1/search/resource`,
      search_action_endpoint: `${gh.config.issuer}/access/v1/search/action`,
    });
  });

  it('registers <ISSUER>/authz as a built-in API declaring authz:evaluate', async () => {
    const api = await gh.gatehouse.rbac.getApi(`${gh.config.issuer}/authz`);
    expect(api.permissions).toEqual(['authz:evaluate']);
  });
});

describe('who may ask', () => {
  const request = {
    subject: { type: 'user', id: 'x' },
    action: { name: 'read' },
    resource: { type: 'doc', id: 'd' },
  };

  it('stops a caller without an access token', async () => {
    const answer = await call('/access/v1/evaluation', request, {
      bearer: null,
      headers: { 'x-request-id': requestId },
    });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="gatehouse-authz"/);
    expect(answer.headers.get('x-request-id')).toBe(requestId);
    expect(answer.body.decision).toBeUndefined();
  });

  it('stops a caller with a forged token', async () => {
    const answer = await call('/access/v1/evaluation', request, { bearer: 'forged.token.value' });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('stops a token meant for another API (the admin API) from asking for decisions', async () => {
    const adminToken = await clientToken('automation', ['admin', 'pdp'], `${gh.url}/admin`);
    for (const path of ['/access/v1/evaluation', '/access/v1/search/resource']) {
      const answer = await call(path, request, { bearer: adminToken });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
  });

  it('stops a client without authz:evaluate from asking for decisions or searching', async () => {
    const other = await clientToken('nosy', ['reader']);
    for (const path of [
      '/access/v1/evaluation',
      '/access/v1/evaluations',
      '/access/v1/search/subject',
      '/access/v1/search/resource',
      '/access/v1/search/action',
    ]) {
      const answer = await call(path, request, { bearer: other });
      expect(answer.status).toBe(403);
      expect(answer.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    }
  });

  it('stops a thief presenting a stolen DPoP-bound token without a proof of its key', async () => {
    const keyPair = (await generateKeyPair('ES256', { extractable: true })) as CryptoKeyPair;
    const client = await oidc.discovery(
      new URL(gh.url),
      'pep',
      undefined,
      oidc.ClientSecretBasic('pep-secret-0123456789'),
      { execute: [oidc.allowInsecureRequests] },
    );
    const DPoP = oidc.getDPoPHandle(client, keyPair);
    const bound = (await oidc.clientCredentialsGrant(client, { resource: `${gh.url}/authz` }, { DPoP }))
      .access_token;
    const url = `${gh.config.issuer}/access/v1/evaluation`;
    const proofFor = async (target: string) =>
      new SignJWT({
        htm: 'POST',
        htu: target,
        ath: createHash('sha256').update(bound).digest('base64url'),
        jti: randomUUID(),
        iat: Math.floor(Date.now() / 1000),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keyPair.publicKey) })
        .sign(keyPair.privateKey);
    const asBearer = await call('/access/v1/evaluation', request, { bearer: bound });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const elsewhere = await call('/access/v1/evaluation', request, {
      bearer: null,
      headers: {
        authorization: `DPoP ${bound}`,
        dpop: await proofFor('https://evil.example/access/v1/evaluation'),
      },
    });
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.headers.get('www-authenticate')).toMatch(/error="invalid_dpop_proof"/);
    const proven = await call('/access/v1/evaluation', request, {
      bearer: null,
      headers: { authorization: `DPoP ${bound}`, dpop: await proofFor(url) },
    });
    expect(proven).toMatchObject({ status: 200, body: { decision: false } });
  });

  it('stops a client whose role lost authz:evaluate at once, not when its token expires', async () => {
    await gh.gatehouse.rbac.createRole('pdp-temp', { permissions: ['authz:evaluate'] });
    const temporary = await clientToken('temp-pep', ['pdp-temp']);
    expect((await call('/access/v1/evaluation', request, { bearer: temporary })).status).toBe(200);
    await gh.gatehouse.rbac.revokePermission('pdp-temp', 'authz:evaluate');
    expect((await call('/access/v1/evaluation', request, { bearer: temporary })).status).toBe(403);
  });
});

describe('evaluation', () => {
  it('answers exactly {"decision": true|false} with status 200, and echoes X-Request-ID', async () => {
    const allowed = await call(
      '/access/v1/evaluation',
      { subject: user('rita'), action: { name: 'report:read' }, resource: { type: 'report', id: 'q3' } },
      { headers: { 'x-request-id': requestId } },
    );
    expect(allowed.status).toBe(200);
    expect(allowed.body).toEqual({ decision: true });
    expect(allowed.headers.get('x-request-id')).toBe(requestId);
    expect(allowed.headers.get('cache-control')).toBe('no-store');
    const denied = await evaluate(user('rita'), 'report:write', { type: 'report', id: 'q3' });
    expect(denied).toMatchObject({ status: 200, body: { decision: false } });
    expect(Object.keys(denied.body)).toEqual(['decision']);
  });

  it('echoes any X-Request-ID the caller chose, not only the ones Gatehouse logs', async () => {
    const chosen = 'req 42 / abc:def';
    const answer = await evaluate(user('rita'), 'report:read', { type: 'report', id: 'q3' }, {});
    expect(answer.status).toBe(200);
    const echoed = await call(
      '/access/v1/evaluation',
      { subject: user('rita'), action: { name: 'report:read' }, resource: { type: 'report', id: 'q3' } },
      { headers: { 'x-request-id': chosen } },
    );
    expect(echoed.headers.get('x-request-id')).toBe(chosen);
  });

  it('decides RBAC, and lets a Cedar forbid restrict it', async () => {
    expect((await evaluate(user('rita'), 'report:read', { type: 'report', id: 'q3' })).body).toEqual({
      decision: true,
    });
    expect((await evaluate(user('rita'), 'report:read', { type: 'report', id: 'secret' })).body).toEqual({
      decision: false,
    });
    // A property sent with the resource counts as a stored attribute would.
    expect(
      (
        await evaluate(user('rita'), 'report:read', {
          type: 'report',
          id: 'q3',
          properties: { classified: true },
        })
      ).body,
    ).toEqual({ decision: false });
  });

  it('decides ownership and sharing', async () => {
    expect((await evaluate(user('wanda'), 'edit', { type: 'post', id: 'wanda-1' })).body.decision).toBe(true);
    expect((await evaluate(user('wanda'), 'edit', { type: 'post', id: 'walt-1' })).body.decision).toBe(false);
    expect((await evaluate(user('olga'), 'edit', { type: 'file', id: 'plan' })).body.decision).toBe(true);
    expect((await evaluate(user('vic'), 'view', { type: 'file', id: 'plan' })).body.decision).toBe(true);
    expect((await evaluate(user('vic'), 'edit', { type: 'file', id: 'plan' })).body.decision).toBe(false);
    expect((await evaluate(user('rita'), 'view', { type: 'file', id: 'plan' })).body.decision).toBe(false);
  });

  it('decides on attributes of the subject, the resource and the context (ABAC)', async () => {
    const film = { type: 'video', id: 'film' };
    expect((await evaluate(user('gina'), 'stream', film, { context: { country: 'DE' } })).body).toEqual({
      decision: true,
    });
    expect((await evaluate(user('gina'), 'stream', film, { context: { country: 'US' } })).body).toEqual({
      decision: false,
    });
    expect((await evaluate(user('gina'), 'stream', film)).body).toEqual({ decision: false });
    // The subject's properties are merged over the account's attributes.
    expect(
      (
        await evaluate({ ...user('olga'), properties: { tier: 'gold' } }, 'stream', film, {
          context: { country: 'FR' },
        })
      ).body,
    ).toEqual({ decision: true });
  });

  it('denies unknown subjects and resources, never an error', async () => {
    expect(
      (await evaluate({ type: 'user', id: 'nobody' }, 'report:read', { type: 'report', id: 'q3' })).body,
    ).toEqual({ decision: false });
    expect((await evaluate(user('olga'), 'view', { type: 'file', id: 'no-such-file' })).body).toEqual({
      decision: false,
    });
    expect((await evaluate({ type: 'robot', id: 'r2' }, 'read', { type: 'galaxy', id: 'far' })).body).toEqual(
      {
        decision: false,
      },
    );
  });

  it('gives the deciding policies and errors only to a caller asking for reasons', async () => {
    const permit = await evaluate(
      user('olga'),
      'view',
      { type: 'file', id: 'plan' },
      { options: { reasons: true } },
    );
    expect(permit.body).toEqual({
      decision: true,
      context: {
        reason_admin: { en: 'permitted by drive-owner' },
        policies: ['drive-owner'],
        errors: [],
        policy_set_version: 1,
      },
    });
    const forbid = await evaluate(
      user('rita'),
      'report:read',
      { type: 'report', id: 'secret' },
      {
        options: { reasons: true },
      },
    );
    expect(forbid.body).toMatchObject({ decision: false, context: { policies: ['classified'] } });
    const rbac = await evaluate(
      user('rita'),
      'report:read',
      { type: 'report', id: 'q3' },
      { options: { reasons: true } },
    );
    expect(rbac.body).toMatchObject({ decision: true, context: { policies: ['gatehouse:rbac'] } });
  });

  it('ignores fields it does not know', async () => {
    const answer = await call('/access/v1/evaluation', {
      subject: { ...user('rita'), extra: 1 },
      action: { name: 'report:read', note: 'x' },
      resource: { type: 'report', id: 'q3', owner_hint: true },
      options: { reasons: false, verbose: 'yes' },
      something_new: { nested: [1, 2] },
    });
    expect(answer).toMatchObject({ status: 200, body: { decision: true } });
  });
});

describe('evaluations', () => {
  const batch = (semantic: string | undefined, evaluations: unknown[]) =>
    call('/access/v1/evaluations', {
      subject: user('rita'),
      action: { name: 'report:read' },
      ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
      evaluations,
    });
  const report = (id: string) => ({ resource: { type: 'report', id } });

  it('merges the defaults into each item (an item’s own key wins) and executes all by default', async () => {
    const answer = await batch(undefined, [
      report('q3'),
      report('secret'),
      report('q4'),
      { ...report('q3'), action: { name: 'report:write' } },
      { ...report('q3'), subject: user('wanda') },
      { resource: { type: 'post', id: 'wanda-1' }, subject: user('wanda'), action: { name: 'edit' } },
    ]);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      evaluations: [
        { decision: true },
        { decision: false },
        { decision: true },
        { decision: false },
        { decision: false },
        { decision: true },
      ],
    });
    expect((await batch('execute_all', [report('secret'), report('q3')])).body).toEqual({
      evaluations: [{ decision: false }, { decision: true }],
    });
  });

  it('stops at the first deny with deny_on_first_deny, and at the first permit with permit_on_first_permit', async () => {
    expect((await batch('deny_on_first_deny', [report('q3'), report('secret'), report('q4')])).body).toEqual({
      evaluations: [{ decision: true }, { decision: false }],
    });
    expect((await batch('deny_on_first_deny', [report('q3'), report('q4')])).body).toEqual({
      evaluations: [{ decision: true }, { decision: true }],
    });
    expect(
      (await batch('permit_on_first_permit', [report('secret'), report('q3'), report('q4')])).body,
    ).toEqual({
      evaluations: [{ decision: false }, { decision: true }],
    });
    expect((await batch('permit_on_first_permit', [report('secret')])).body).toEqual({
      evaluations: [{ decision: false }],
    });
  });

  it('answers an item that cannot be evaluated with its error, and the others still', async () => {
    const answer = await batch(undefined, [
      report('q3'),
      { resource: { type: 'not a type', id: 'x' } },
      { ...report('q4'), context: { amount: 0.123456 } },
      report('q4'),
    ]);
    expect(answer.status).toBe(200);
    const [first, second, third, fourth] = answer.body.evaluations as (typeof answer.body)[];
    expect(first).toEqual({ decision: true });
    expect(second).toMatchObject({
      decision: false,
      context: { error: { status: 400, code: 'invalid_request', field: 'resource.type' } },
    });
    expect(second!.context.error.message).toMatch(/not a valid Cedar entity type name/);
    expect(third).toMatchObject({
      decision: false,
      context: { error: { status: 400, field: 'context.amount' } },
    });
    expect(fourth).toEqual({ decision: true });
    // An error is a deny for deny_on_first_deny.
    expect(
      (await batch('deny_on_first_deny', [{ resource: { type: '1bad', id: 'x' } }, report('q3')])).body,
    ).toMatchObject({ evaluations: [{ decision: false, context: { error: { status: 400 } } }] });
  });

  it('gives reasons per item when asked', async () => {
    const answer = await call('/access/v1/evaluations', {
      subject: user('rita'),
      action: { name: 'report:read' },
      options: { reasons: true },
      evaluations: [report('q3'), report('secret')],
    });
    expect(answer.body.evaluations).toMatchObject([
      { decision: true, context: { policies: ['gatehouse:rbac'] } },
      { decision: false, context: { policies: ['classified'] } },
    ]);
  });

  it('answers a request without an evaluations array as a single evaluation, and an empty one with none', async () => {
    expect(
      (
        await call('/access/v1/evaluations', {
          subject: user('rita'),
          action: { name: 'report:read' },
          resource: { type: 'report', id: 'q3' },
        })
      ).body,
    ).toEqual({ decision: true });
    expect((await batch(undefined, [])).body).toEqual({ evaluations: [] });
  });

  it('stops a batch over 1,000 items (413) and a body over the size limit (413)', async () => {
    const tooMany = await batch(
      undefined,
      Array.from({ length: 1001 }, (_, n) => report(String(n))),
    );
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error).toBe('request_too_large');
    expect(tooMany.body.error_description).toMatch(/1000/);
    const thousand = await batch(
      undefined,
      Array.from({ length: 1000 }, (_, n) => report(String(n))),
    );
    expect(thousand.status).toBe(200);
    expect(thousand.body.evaluations).toHaveLength(1000);
    const huge = await call('/access/v1/evaluation', {
      subject: user('rita'),
      action: { name: 'report:read' },
      resource: { type: 'report', id: 'q3', properties: { padding: 'x'.repeat(1100 * 1024) } },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe('request_too_large');
  });

  it('does not read the body of a caller without a valid token', async () => {
    const answer = await call('/access/v1/evaluations', undefined, {
      bearer: null,
      raw: JSON.stringify({ evaluations: Array.from({ length: 5000 }, () => report('q3')) }),
    });
    expect(answer.status).toBe(401);
  });
});

describe('searches', () => {
  async function allPages(path: string, body: Record<string, unknown>, limit = 2) {
    const pages: unknown[][] = [];
    let next = '';
    do {
      const answer = await call(path, { ...body, page: { limit, ...(next ? { next_token: next } : {}) } });
      expect(answer.status).toBe(200);
      pages.push(answer.body.results as unknown[]);
      next = answer.body.page.next_token as string;
      expect(typeof next).toBe('string');
    } while (next !== '' && pages.length < 20);
    return pages;
  }

  it('finds the resources of a type a subject may act on, page by page', async () => {
    const pages = await allPages('/access/v1/search/resource', {
      subject: user('rita'),
      action: { name: 'read' },
      resource: { type: 'doc' },
    });
    const doc = (id: string) => ({ type: 'doc', id });
    expect(pages).toEqual([
      [doc('doc-01'), doc('doc-03')],
      [doc('doc-05'), doc('doc-07')],
    ]);
    // Without page.limit, all of them in one response.
    const one = await call('/access/v1/search/resource', {
      subject: user('vic'),
      action: { name: 'view' },
      resource: { type: 'file', id: 'ignored' },
    });
    expect(one.body).toEqual({ results: [{ type: 'file', id: 'plan' }], page: { next_token: '' } });
    // A valid type nothing is stored under: no results.
    expect(
      (
        await call('/access/v1/search/resource', {
          subject: user('rita'),
          action: { name: 'read' },
          resource: { type: 'nothing_here' },
        })
      ).body,
    ).toEqual({ results: [], page: { next_token: '' } });
  });

  it('finds the accounts that may act on a resource, page by page', async () => {
    const pages = await allPages('/access/v1/search/subject', {
      subject: { type: 'user' },
      action: { name: 'report:read' },
      resource: { type: 'report', id: 'q3' },
    });
    expect(pages).toEqual([[user('rita'), user('rex')], [user('rob')]]);
    const owners = await call('/access/v1/search/subject', {
      subject: { type: 'user', id: 'ignored' },
      action: { name: 'edit' },
      resource: { type: 'file', id: 'plan' },
    });
    expect(owners.body).toEqual({ results: [user('olga')], page: { next_token: '' } });
  });

  it('finds the actions a subject may do on a resource: those the policies name and its permissions', async () => {
    const pages = await allPages(
      '/access/v1/search/action',
      {
        subject: user('wanda'),
        resource: { type: 'post', id: 'wanda-1' },
      },
      1,
    );
    expect(pages).toEqual([[{ name: 'edit' }], [{ name: 'post:create' }]]);
    const one = await call('/access/v1/search/action', {
      subject: user('vic'),
      resource: { type: 'file', id: 'plan' },
    });
    expect(one.body).toEqual({ results: [{ name: 'view' }], page: { next_token: '' } });
  });

  it('keeps a page token to the search it came from', async () => {
    const first = await call('/access/v1/search/resource', {
      subject: user('rita'),
      action: { name: 'read' },
      resource: { type: 'doc' },
      page: { limit: 1 },
    });
    const next = first.body.page.next_token as string;
    expect(next).not.toBe('');
    const misused = await call('/access/v1/search/action', {
      subject: user('rita'),
      resource: { type: 'doc', id: 'doc-01' },
      page: { next_token: next },
    });
    expect(misused.status).toBe(400);
    expect(misused.body.field).toBe('page.next_token');
    // The 1.0 spelling, page.token, works as next_token does.
    const second = await call('/access/v1/search/resource', {
      subject: user('rita'),
      action: { name: 'read' },
      resource: { type: 'doc' },
      page: { limit: 1, token: next },
    });
    expect(second.body.results).toEqual([{ type: 'doc', id: 'doc-03' }]);
  });
});

describe('bad input', () => {
  const good = {
    subject: { type: 'user', id: 'u' },
    action: { name: 'read' },
    resource: { type: 'doc', id: 'd' },
  };
  const cases: [string, string, unknown, string][] = [
    ['/access/v1/evaluation', 'an empty object', {}, 'subject'],
    ['/access/v1/evaluation', 'a subject that is a string', { ...good, subject: 'alice' }, 'subject'],
    [
      '/access/v1/evaluation',
      'a subject id that is a number',
      { ...good, subject: { type: 'user', id: 7 } },
      'subject.id',
    ],
    ['/access/v1/evaluation', 'no action', { subject: good.subject, resource: good.resource }, 'action'],
    [
      '/access/v1/evaluation',
      'an action name that is not a string',
      { ...good, action: { name: 5 } },
      'action.name',
    ],
    ['/access/v1/evaluation', 'an empty action name', { ...good, action: { name: '' } }, 'action.name'],
    [
      '/access/v1/evaluation',
      'properties that are an array',
      { ...good, resource: { ...good.resource, properties: [1] } },
      'resource.properties',
    ],
    ['/access/v1/evaluation', 'a context that is a string', { ...good, context: 'now' }, 'context'],
    [
      '/access/v1/evaluation',
      'reasons that are not a boolean',
      { ...good, options: { reasons: 'yes' } },
      'options.reasons',
    ],
    [
      '/access/v1/evaluation',
      'a subject type that is not a Cedar name',
      { ...good, subject: { type: 'not a type', id: 'u' } },
      'subject.type',
    ],
    [
      '/access/v1/evaluation',
      'a resource type that is not a Cedar name',
      { ...good, resource: { type: 'doc::', id: 'd' } },
      'resource.type',
    ],
    [
      '/access/v1/evaluation',
      'a resource of the Action type',
      { ...good, resource: { type: 'Action', id: 'd' } },
      'resource.type',
    ],
    [
      '/access/v1/evaluation',
      'an empty subject id',
      { ...good, subject: { type: 'user', id: '' } },
      'subject.id',
    ],
    [
      '/access/v1/evaluation',
      'a number no Cedar type holds',
      { ...good, context: { amount: 1.23456 } },
      'context.amount',
    ],
    [
      '/access/v1/evaluation',
      'a NUL character',
      { ...good, resource: { type: 'doc', id: 'a\u0000b' } },
      'resource.id',
    ],
    [
      '/access/v1/evaluation',
      'a malformed entity escape',
      { ...good, context: { who: { __entity: 'x' } } },
      'context.who.__entity',
    ],
    [
      '/access/v1/evaluations',
      'evaluations that are not an array',
      { ...good, evaluations: {} },
      'evaluations',
    ],
    [
      '/access/v1/evaluations',
      'an unknown semantic',
      { ...good, evaluations: [{}], options: { evaluations_semantic: 'sometimes' } },
      'options.evaluations_semantic',
    ],
    [
      '/access/v1/evaluations',
      'an item with no action and no default',
      { subject: good.subject, evaluations: [{ resource: good.resource }] },
      'evaluations.0.action',
    ],
    [
      '/access/v1/evaluations',
      'an item whose subject is malformed',
      { ...good, evaluations: [{}, { subject: { type: 'user' } }] },
      'evaluations.1.subject.id',
    ],
    [
      '/access/v1/search/resource',
      'a resource search without the subject id',
      { ...good, subject: { type: 'user' } },
      'subject.id',
    ],
    [
      '/access/v1/search/resource',
      'a resource search for an invalid type',
      { ...good, resource: { type: 'no good' } },
      'resource.type',
    ],
    ['/access/v1/search/resource', 'a page limit of 0', { ...good, page: { limit: 0 } }, 'page.limit'],
    [
      '/access/v1/search/resource',
      'a page limit past the maximum',
      { ...good, page: { limit: 100_000 } },
      'page.limit',
    ],
    [
      '/access/v1/search/resource',
      'a forged page token',
      { ...good, page: { next_token: 'not-a-token' } },
      'page.next_token',
    ],
    [
      '/access/v1/search/subject',
      'a subject search without the resource id',
      { ...good, resource: { type: 'doc' } },
      'resource.id',
    ],
    [
      '/access/v1/search/subject',
      'a subject search for an invalid type',
      { ...good, subject: { type: '9lives' } },
      'subject.type',
    ],
    [
      '/access/v1/search/action',
      'an action search without a resource',
      { subject: good.subject },
      'resource',
    ],
  ];

  it.each(cases)('%s: refuses %s with a 400 naming the field', async (path, _what, body, field) => {
    const answer = await call(path, body, { headers: { 'x-request-id': requestId } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request', field });
    expect(typeof answer.body.error_description).toBe('string');
    expect(answer.headers.get('x-request-id')).toBe(requestId);
  });

  it('refuses a body that is not JSON, or not sent as JSON, with a JSON 400 whatever the Accept header', async () => {
    const broken = await call('/access/v1/evaluation', undefined, {
      raw: '{"subject": ',
      headers: { accept: 'text/html' },
    });
    expect(broken.status).toBe(400);
    expect(broken.body.error).toBe('invalid_request');
    const text = await call('/access/v1/evaluation', undefined, {
      raw: JSON.stringify(good),
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(400);
    expect(text.body.field).toBe('body');
    const array = await call('/access/v1/evaluation', [good]);
    expect(array.status).toBe(400);
  });

  it('stops JSON nested deep enough to overflow a recursive reader, with a 400', async () => {
    const depth = 200_000;
    const answer = await call('/access/v1/evaluation', undefined, {
      raw: `{"subject": {"type": "user", "id": "u"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "d"}, "context": {"deep": ${'['.repeat(depth)}${']'.repeat(depth)}}}`,
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request', field: 'body' });
  });

  it('answers hostile bodies with a 4xx shaped as JSON or a decision, never a 5xx or a stack trace', async () => {
    const paths = [
      '/access/v1/evaluation',
      '/access/v1/evaluations',
      '/access/v1/search/subject',
      '/access/v1/search/resource',
      '/access/v1/search/action',
    ];
    const part = hostileJson(['type', 'id', 'name', 'properties']);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.oneof(
          hostileJson(['subject', 'action', 'resource', 'context', 'evaluations', 'options', 'page']),
          fc.record({ subject: part, action: part, resource: part, context: part }),
        ),
        async (path, body) => {
          const response = await fetch(`${gh.url}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
          await checkAnswer(response, `POST ${path} ${JSON.stringify(body).slice(0, 200)}`);
          expect([200, 400, 413]).toContain(response.status);
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 60) },
    );
  });
});
