import * as oidc from 'openid-client';
import { connectConfiguredRedis, waitForRedis } from '../../src/storage/connect-redis.ts';
import { createRedisHotState, type HotState } from '../../src/storage/hot-state.ts';
import { authorizeOverHttp, createHttpBrowser } from '../support/http-sign-in.ts';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.ts';
import { describeStorageContract } from '../support/storage-contract.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * Gatehouse on a 3-master Redis Cluster: the storage contract holds (no CROSSSLOT: each transaction's keys share a
 * hash tag), and a whole sign-in with refresh works.
 */
let cluster: LocalRedisCluster;
let hotState: HotState;

beforeAll(async () => {
  cluster = await startRedisCluster();
  const client = connectConfiguredRedis(
    { redisUrl: null, redisSentinel: null, redisCluster: { nodes: cluster.nodes } },
    () => undefined,
  )!;
  await waitForRedis(client);
  hotState = createRedisHotState(client, 'contract:', 3600, () => 0);
}, 60_000);

afterAll(async () => {
  await hotState?.close();
  await cluster?.stop();
});

describeStorageContract({
  name: 'Redis Cluster',
  pointers: true,
  adapterFor: (model) => hotState.adapterFor(model),
});

describe('Gatehouse on Redis Cluster', () => {
  let gh: TestGatehouse;

  beforeAll(async () => {
    gh = await startTestGatehouse({ redisCluster: cluster.nodes });
    await gh.gatehouse.accounts.create({
      email: 'cluster@example.com',
      password: 'sharded store passphrase',
    });
    await gh.gatehouse.clients.create({
      id: 'app',
      secret: 'app-secret-0123456789',
      redirectUris: ['http://127.0.0.1:9/cb'],
      postLogoutRedirectUris: [],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      public: false,
      firstParty: true,
    });
  }, 60_000);

  afterAll(() => gh?.close());

  it('signs in, refreshes, introspects and revokes', async () => {
    const rp = await oidc.discovery(
      new URL(gh.url),
      'app',
      undefined,
      oidc.ClientSecretBasic('app-secret-0123456789'),
      { execute: [oidc.allowInsecureRequests] },
    );
    const flow = await authorizeOverHttp(
      createHttpBrowser(),
      {
        issuer: gh.url,
        clientId: 'app',
        redirectUri: 'http://127.0.0.1:9/cb',
        scope: 'openid email offline_access',
        params: { prompt: 'consent' },
      },
      { email: 'cluster@example.com', password: 'sharded store passphrase' },
    );
    const tokens = await oidc.authorizationCodeGrant(rp, flow.callback, {
      pkceCodeVerifier: flow.codeVerifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
    });
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(await oidc.tokenIntrospection(rp, refreshed.access_token)).toMatchObject({ active: true });
    await oidc.tokenRevocation(rp, refreshed.access_token);
    expect((await oidc.tokenIntrospection(rp, refreshed.access_token)).active).toBe(false);
  });
});
