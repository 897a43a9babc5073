import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  accessTokenHash,
  anyPermission,
  authenticated,
  createGuard,
  createMemoryReplayCache,
  extractToken,
  formatChallenge,
  IssuerUnavailableError,
  permission,
  requestUrl,
  scope,
  type GuardAuth,
  type GuardDecision,
  type GuardRefusal,
  type GuardRequest,
} from '../../../packages/guard/src/index.ts';

/** The framework-free core of @gatehouse/guard: token extraction, challenges and the 401/403/503 rule. */

const auth = (over: Partial<GuardAuth> = {}): GuardAuth => ({
  subject: 'user-1',
  clientId: 'app',
  roles: ['reader'],
  permissions: ['articles:read'],
  scope: ['openid', 'articles:read'],
  claims: {},
  ...over,
});

const request = (authorization?: string, over: Partial<GuardRequest> = {}): GuardRequest => ({
  method: 'GET',
  path: '/articles?page=2',
  authorization: authorization === undefined ? [] : [authorization],
  dpop: [],
  ...over,
});

function refused(decision: GuardDecision): GuardRefusal {
  if (decision.allow) throw new Error('expected a refusal');
  return decision;
}

describe('extractToken', () => {
  it('reads Bearer and DPoP tokens, case-insensitively', () => {
    expect(extractToken(['Bearer abc.def-ghi_~+/=='])).toEqual({
      kind: 'token',
      scheme: 'Bearer',
      token: 'abc.def-ghi_~+/==',
    });
    expect(extractToken(['bearer abc'])).toEqual({ kind: 'token', scheme: 'Bearer', token: 'abc' });
    expect(extractToken(['DPoP abc'])).toEqual({ kind: 'token', scheme: 'DPoP', token: 'abc' });
  });

  it('tells no token, another scheme, a malformed token and several headers apart', () => {
    expect(extractToken([])).toEqual({ kind: 'none' });
    expect(extractToken([''])).toEqual({ kind: 'none' });
    expect(extractToken(['Basic dXNlcjpwYXNz'])).toEqual({ kind: 'none' });
    expect(extractToken(['Bearer'])).toEqual({ kind: 'malformed', scheme: 'Bearer' });
    expect(extractToken(['Bearer not.a-token!'])).toEqual({ kind: 'malformed', scheme: 'Bearer' });
    expect(extractToken(['Bearer a b'])).toEqual({ kind: 'malformed', scheme: 'Bearer' });
    expect(extractToken(['DPoP "x"'])).toEqual({ kind: 'malformed', scheme: 'DPoP' });
    expect(extractToken(['Bearer a', 'Bearer b'])).toEqual({ kind: 'multiple' });
  });
});

describe('formatChallenge and requestUrl', () => {
  it('quotes parameters and never lets a description break the header', () => {
    expect(formatChallenge('Bearer', 'api')).toBe('Bearer realm="api"');
    expect(
      formatChallenge('DPoP', 'my "api"', {
        error: 'invalid_dpop_proof',
        description: 'bad "x"\n',
        algs: ['ES256', 'EdDSA'],
      }),
    ).toBe(
      `DPoP realm="my 'api'", error="invalid_dpop_proof", error_description="bad 'x'?", algs="ES256 EdDSA"`,
    );
    expect(
      formatChallenge('Bearer', 'api', { error: 'insufficient_scope', description: 'd', scope: 'a b' }),
    ).toBe('Bearer realm="api", error="insufficient_scope", error_description="d", scope="a b"');
  });

  it('builds the htu from the configured base URL and the path, without the query', () => {
    expect(requestUrl('https://api.example.com/', '/items/1?x=1#f')).toBe('https://api.example.com/items/1');
    expect(requestUrl('https://api.example.com/v1', 'items')).toBe('https://api.example.com/v1/items');
  });
});

describe('createGuard: the 401/403/503 rule', () => {
  const tokens: Record<string, GuardAuth> = {
    reader: auth(),
    nobody: auth({ permissions: [], scope: [] }),
  };
  const guard = createGuard({
    issuer: 'https://id.example.com',
    audience: 'https://api.example.com',
    verify: async (token) => {
      if (token === 'down') throw new IssuerUnavailableError('down');
      if (token === 'broken') throw new Error('bug');
      return tokens[token];
    },
  });

  it('answers 401 with a bare Bearer challenge (no DPoP challenge when DPoP is off) without a token', async () => {
    for (const header of [undefined, 'Basic dXNlcjpwYXNz']) {
      const answer = refused(await guard.check(request(header), permission('articles:read')));
      expect(answer).toEqual({
        allow: false,
        status: 401,
        headers: { 'WWW-Authenticate': 'Bearer realm="api"', 'Cache-Control': 'no-store' },
        body: { error: 'unauthorized', error_description: 'an access token is required' },
      });
    }
  });

  it('answers 401 invalid_token for a malformed or unknown token, 400 for two Authorization headers', async () => {
    for (const header of ['Bearer not.a-token!', 'Bearer unknown']) {
      const answer = refused(await guard.check(request(header), authenticated));
      expect(answer.status).toBe(401);
      expect(answer.headers['WWW-Authenticate']).toMatch(
        /^Bearer realm="api", error="invalid_token", error_description="/,
      );
      expect(answer.body.error).toBe('invalid_token');
    }
    const two = refused(
      await guard.check(
        request(undefined, { authorization: ['Bearer reader', 'Bearer nobody'] }),
        authenticated,
      ),
    );
    expect(two.status).toBe(400);
    expect(two.body.error).toBe('invalid_request');
  });

  it('answers 403 insufficient_scope for a valid token lacking the permission or scope, and allows with it', async () => {
    const lacking = refused(await guard.check(request('Bearer nobody'), permission('articles:read')));
    expect(lacking.status).toBe(403);
    expect(lacking.headers['WWW-Authenticate']).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="requires permission articles:read", scope="articles:read"',
    );
    expect(lacking.body).toEqual({
      error: 'insufficient_scope',
      error_description: 'requires permission articles:read',
    });
    expect(refused(await guard.check(request('Bearer nobody'), scope('articles:read'))).status).toBe(403);
    expect(refused(await guard.check(request('Bearer reader'), anyPermission(['a', 'b']))).status).toBe(403);
    expect(
      refused(await guard.check(request('Bearer reader'), permission(['articles:read', 'x']))).body
        .error_description,
    ).toBe('requires permission x');

    expect(await guard.check(request('Bearer reader'), permission('articles:read'))).toEqual({
      allow: true,
      auth: tokens.reader,
    });
    expect((await guard.check(request('Bearer reader'), anyPermission(['x', 'articles:read']))).allow).toBe(
      true,
    );
    expect((await guard.check(request('Bearer reader'), scope('articles:read'))).allow).toBe(true);
    expect((await guard.check(request('Bearer nobody'), authenticated)).allow).toBe(true);
  });

  it('answers 503 (never 401, never allow) when the token cannot be checked', async () => {
    for (const token of ['down', 'broken']) {
      const answer = refused(await guard.check(request(`Bearer ${token}`), authenticated));
      expect(answer.status).toBe(503);
      expect(answer.headers).toEqual({ 'Cache-Control': 'no-store', 'Retry-After': '5' });
      expect(answer.body.error).toBe('temporarily_unavailable');
    }
  });

  it('refuses an unbound token with the DPoP scheme and a bound token when DPoP is off', async () => {
    expect(
      refused(await guard.check(request('DPoP reader'), authenticated)).headers['WWW-Authenticate'],
    ).toMatch(/^Bearer realm="api", error="invalid_token"/);
    const bound = createGuard({
      issuer: 'https://id.example.com',
      audience: 'https://api.example.com',
      verify: async () => auth({ confirmation: { jkt: 'x' } }),
    });
    const answer = refused(await bound.check(request('DPoP token'), authenticated));
    expect(answer.status).toBe(401);
    expect(answer.body.error_description).toBe('this API does not accept DPoP-bound access tokens');
  });
});

describe('createGuard with DPoP', () => {
  let holder: { privateKey: CryptoKey; publicJwk: JWK; jkt: string };
  let thief: typeof holder;
  const baseUrl = 'https://api.example.com';

  const newKey = async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(pair.publicKey);
    return { privateKey: pair.privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
  };
  const proof = (key: typeof holder, claims: Record<string, unknown> = {}) =>
    new SignJWT({
      htm: 'GET',
      htu: `${baseUrl}/articles`,
      ath: accessTokenHash('bound'),
      jti: crypto.randomUUID(),
      iat: Math.floor(Date.now() / 1000),
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk })
      .sign(key.privateKey);

  let guard: ReturnType<typeof createGuard>;
  beforeAll(async () => {
    holder = await newKey();
    thief = await newKey();
    guard = createGuard({
      issuer: 'https://id.example.com',
      audience: 'https://api.example.com',
      dpop: { baseUrl, replayCache: createMemoryReplayCache() },
      verify: async (token) =>
        token === 'bound'
          ? auth({ confirmation: { jkt: holder.jkt } })
          : token === 'plain'
            ? auth()
            : undefined,
    });
  });

  it('adds a DPoP challenge with the accepted algorithms when there is no token', async () => {
    const answer = refused(await guard.check(request(), authenticated));
    expect(answer.headers['WWW-Authenticate']).toEqual([
      'Bearer realm="api"',
      expect.stringMatching(/^DPoP realm="api", algs="ES256 ES384 ES512 Ed25519 EdDSA PS256/),
    ]);
  });

  it('refuses a bound token as Bearer, and accepts it once with a valid proof', async () => {
    const asBearer = refused(
      await guard.check(request('Bearer bound', { dpop: [await proof(holder)] }), authenticated),
    );
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers['WWW-Authenticate']).toMatch(/^DPoP realm="api", error="invalid_token"/);

    const valid = await proof(holder);
    const accepted = await guard.check(request('DPoP bound', { dpop: [valid] }), permission('articles:read'));
    expect(accepted).toEqual({ allow: true, auth: auth({ confirmation: { jkt: holder.jkt } }) });
    const replay = refused(await guard.check(request('DPoP bound', { dpop: [valid] }), authenticated));
    expect(replay.headers['WWW-Authenticate']).toMatch(
      /^DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof was already used", algs="/,
    );
  });

  it('checks a proof once per request when guards are stacked', async () => {
    const key = {};
    const valid = await proof(holder);
    expect((await guard.check(request('DPoP bound', { dpop: [valid], key }), authenticated)).allow).toBe(
      true,
    );
    expect(
      (await guard.check(request('DPoP bound', { dpop: [valid], key }), permission('articles:read'))).allow,
    ).toBe(true);
    expect((await guard.check(request('DPoP bound', { dpop: [valid], key: {} }), authenticated)).allow).toBe(
      false,
    );
  });

  it('refuses a missing, foreign-key, wrong-URL or doubled proof, and 403s a bound token lacking a permission', async () => {
    const cases: [string[], string][] = [
      [[], 'a DPoP proof is required'],
      [[await proof(thief)], 'the DPoP proof key is not the key the token is bound to'],
      [
        [await proof(holder, { htu: 'https://evil.example/articles' })],
        'the DPoP proof htu does not match the request URL',
      ],
      [[await proof(holder, { htm: 'POST' })], 'the DPoP proof htm does not match the request method'],
      [[await proof(holder), await proof(holder)], 'exactly one DPoP proof is allowed'],
    ];
    for (const [dpop, reason] of cases) {
      const answer = refused(await guard.check(request('DPoP bound', { dpop }), authenticated));
      expect([answer.status, answer.body]).toEqual([
        401,
        { error: 'invalid_dpop_proof', error_description: reason },
      ]);
    }
    const lacking = refused(
      await guard.check(request('DPoP bound', { dpop: [await proof(holder)] }), permission('x')),
    );
    expect(lacking.status).toBe(403);
    expect(lacking.headers['WWW-Authenticate']).toMatch(/^DPoP realm="api", error="insufficient_scope"/);
  });

  it('answers 503 when the replay cache cannot be reached', async () => {
    const unreachable = createGuard({
      issuer: 'https://id.example.com',
      audience: 'https://api.example.com',
      dpop: { baseUrl, replayCache: { claim: () => Promise.reject(new Error('redis down')) } },
      verify: async () => auth({ confirmation: { jkt: holder.jkt } }),
    });
    const answer = refused(
      await unreachable.check(request('DPoP bound', { dpop: [await proof(holder)] }), authenticated),
    );
    expect(answer.status).toBe(503);
  });
});
