import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/** An operator changes one thing about a client (its name, its URIs): everything else it was registered with stays. */
let gh: TestGatehouse;

beforeAll(async () => {
  gh = await startTestGatehouse({ hot: 'memory' });
});

afterAll(async () => {
  await gh?.close();
});

it('keeps what a client update was not given: front-channel logout, initiate-login and client URIs', async () => {
  await gh.gatehouse.clients.create({
    id: 'portal',
    secret: 'portal-secret-0123456789',
    redirectUris: ['http://127.0.0.1:9/cb'],
    postLogoutRedirectUris: [],
    grantTypes: [],
    public: false,
    firstParty: false,
    frontchannelLogoutUri: 'http://127.0.0.1:9/frontchannel',
    initiateLoginUri: 'https://portal.example/login',
    clientUri: 'http://127.0.0.1:9/',
    backchannelLogoutUri: 'http://127.0.0.1:9/backchannel',
  });
  await gh.gatehouse.clients.update('portal', { name: 'The portal' });

  // What oidc-provider serves the client from: the stored metadata, after the update.
  const metadata = (await gh.gatehouse.provider.Client.find('portal'))!.metadata();
  expect(metadata).toMatchObject({
    client_name: 'The portal',
    frontchannel_logout_uri: 'http://127.0.0.1:9/frontchannel',
    frontchannel_logout_session_required: true,
    initiate_login_uri: 'https://portal.example/login',
    client_uri: 'http://127.0.0.1:9/',
    backchannel_logout_uri: 'http://127.0.0.1:9/backchannel',
  });

  // Removing the back-channel URI (an empty value) still removes it, with its companion flag.
  await gh.gatehouse.clients.update('portal', { backchannelLogoutUri: '' });
  const after = (await gh.gatehouse.provider.Client.find('portal'))!.metadata();
  expect(after.backchannel_logout_uri).toBeUndefined();
  expect(after.backchannel_logout_session_required).not.toBe(true);
  expect(after.frontchannel_logout_uri).toBe('http://127.0.0.1:9/frontchannel');
});
