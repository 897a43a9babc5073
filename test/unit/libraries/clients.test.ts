import { AppError } from '../../../src/errors/app-error.ts';
import { buildClientMetadata, type NewClientInput } from '../../../src/libraries/clients.ts';

const base: NewClientInput = {
  id: 'app',
  redirectUris: ['https://app.example.com/cb'],
  postLogoutRedirectUris: [],
  grantTypes: [],
  public: false,
  firstParty: false,
};

function refusal(input: Partial<NewClientInput>, production = true): AppError {
  try {
    buildClientMetadata({ ...base, ...input }, production);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('building client metadata', () => {
  it('makes a confidential code-flow client with refresh tokens by default', () => {
    expect(buildClientMetadata(base, true)).toMatchObject({
      client_id: 'app',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      application_type: 'web',
      scope: 'openid email profile roles offline_access',
    });
  });

  it('makes public clients authenticate with nothing (PKCE instead)', () => {
    expect(buildClientMetadata({ ...base, public: true }, true)).toMatchObject({
      token_endpoint_auth_method: 'none',
    });
  });

  it('treats private-use URI schemes as native apps', () => {
    expect(
      buildClientMetadata({ ...base, public: true, redirectUris: ['com.example.app:/cb'] }, true),
    ).toMatchObject({
      application_type: 'native',
    });
  });

  it('accepts loopback http redirect URIs, and other http hosts only outside production', () => {
    expect(() =>
      buildClientMetadata({ ...base, redirectUris: ['http://127.0.0.1:8080/cb'] }, true),
    ).not.toThrow();
    expect(refusal({ redirectUris: ['http://app.example.com/cb'] }).message).toMatch(/must use https/);
    expect(() =>
      buildClientMetadata({ ...base, redirectUris: ['http://app.example.com/cb'] }, false),
    ).not.toThrow();
  });

  it.each([
    [{ id: 'has space' }, 'id'],
    [{ id: '0d5c8b1e-2f3a-4c5d-8e9f-0a1b2c3d4e5f' }, 'id'],
    [{ redirectUris: [] }, 'redirect_uri'],
    [{ redirectUris: ['/relative'] }, 'redirect_uri'],
    [{ redirectUris: ['https://app.example.com/cb#frag'] }, 'redirect_uri'],
    [{ redirectUris: ['javascript:alert(1)'] }, 'redirect_uri'],
    [{ grantTypes: ['password'] }, 'grant_type'],
    [{ grantTypes: ['client_credentials'], public: true }, 'grant_type'],
    [{ public: true, secret: 'x'.repeat(20) }, 'secret'],
  ])('refuses %j, naming %s', (input, field) => {
    const error = refusal(input as Partial<NewClientInput>);
    expect(error.status).toBe(400);
    expect(error.field).toBe(field);
  });

  it('lets a client_credentials-only client go without redirect URIs', () => {
    expect(
      buildClientMetadata({ ...base, redirectUris: [], grantTypes: ['client_credentials'] }, true),
    ).toMatchObject({
      response_types: [],
      redirect_uris: [],
    });
  });
});
