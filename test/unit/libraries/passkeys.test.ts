import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { Pool } from '../../../src/db/pg-pool.ts';
import { createPasskeyLibrary } from '../../../src/libraries/passkeys.ts';
import type { NewPasskey, PasskeyQueries, PasskeyRow } from '../../../src/queries/passkey-queries.ts';
import { createMemoryHotState } from '../../../src/storage/hot-state.ts';

/**
 * The passkey library against a software authenticator (P-256, attestation `none`) made here byte by byte, and an
 * in-memory table: what it accepts, and the answers it refuses (another origin, a replayed or foreign challenge, a
 * counter that went back, no user verification where it is required, another account's passkey).
 */
const issuer = 'https://id.example.com';
const origin = 'https://id.example.com';
const b64url = (bytes: Uint8Array | Buffer) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest();

function memoryQueries(): PasskeyQueries & { rows: PasskeyRow[] } {
  const rows: PasskeyRow[] = [];
  return {
    rows,
    async insert(passkey: NewPasskey) {
      const row: PasskeyRow = {
        id: randomBytes(8).toString('hex'),
        account_id: passkey.accountId,
        credential_id: passkey.credentialId,
        public_key: Buffer.from(passkey.publicKey),
        counter: String(passkey.counter),
        transports: passkey.transports,
        device_type: passkey.deviceType,
        backed_up: passkey.backedUp,
        user_verified: passkey.userVerified,
        name: passkey.name,
        created_at: new Date(),
        last_used_at: null,
      };
      rows.push(row);
      return row;
    },
    listFor: async (accountId) => rows.filter((row) => row.account_id === accountId),
    countFor: async (accountId) => rows.filter((row) => row.account_id === accountId).length,
    findByCredentialId: async (id) => rows.find((row) => row.credential_id === id),
    async recordUse(id, previous, next) {
      const row = rows.find((candidate) => candidate.id === id && candidate.counter === previous);
      if (!row) return false;
      row.counter = String(next);
      row.last_used_at = new Date();
      return true;
    },
    rename: async () => true,
    async deleteAllFor(accountId) {
      const before = rows.length;
      rows.splice(0, rows.length, ...rows.filter((row) => row.account_id !== accountId));
      return before - rows.length;
    },
    delete: async () => 'deleted',
  };
}

/** A software authenticator with one P-256 key, answering as a browser would serialize it. */
function softwareAuthenticator(rpId: string, accountId: string, synced = false) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const credentialId = randomBytes(16);
  const jwk = publicKey.export({ format: 'jwk' });
  const cose = isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]),
  );
  let counter = 0;
  // UP, UV, BE and BS (backup eligible and backed up: a synced passkey), AT (attested credential data follows).
  const flags = (uv: boolean, attested = false) =>
    0x01 | (uv ? 0x04 : 0) | (synced ? 0x18 : 0) | (attested ? 0x40 : 0);
  const counterBytes = (value: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(value);
    return bytes;
  };
  const clientData = (type: string, challenge: string, from = origin) =>
    Buffer.from(JSON.stringify({ type, challenge, origin: from, crossOrigin: false }));

  return {
    key: privateKey as KeyObject,
    create(challenge: string, options: { uv?: boolean; from?: string } = {}) {
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(credentialId.length);
      const authData = Buffer.concat([
        sha256(rpId),
        Buffer.from([flags(options.uv ?? true, true)]),
        counterBytes(counter),
        Buffer.alloc(16),
        idLength,
        credentialId,
        Buffer.from(cose),
      ]);
      const attestationObject = isoCBOR.encode(
        new Map<string, string | Map<string, string> | Uint8Array>([
          ['fmt', 'none'],
          ['attStmt', new Map<string, string>()],
          ['authData', authData],
        ]),
      );
      return JSON.stringify({
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientData('webauthn.create', challenge, options.from)),
          attestationObject: b64url(attestationObject),
          transports: ['internal'],
        },
      });
    },
    get(challenge: string, options: { uv?: boolean; counter?: number; from?: string } = {}) {
      counter = options.counter ?? counter + 1;
      const authData = Buffer.concat([
        sha256(rpId),
        Buffer.from([flags(options.uv ?? true)]),
        counterBytes(counter),
      ]);
      const client = clientData('webauthn.get', challenge, options.from);
      const signature = sign('sha256', Buffer.concat([authData, sha256(client)]), privateKey);
      return JSON.stringify({
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(client),
          authenticatorData: b64url(authData),
          signature: b64url(signature),
          userHandle: b64url(Buffer.from(accountId)),
        },
      });
    },
  };
}

describe('passkeys library', () => {
  const account = { id: 'acct-1', email: 'ann@example.com', name: 'Ann' };
  let queries: ReturnType<typeof memoryQueries>;
  let hot: ReturnType<typeof createMemoryHotState>;
  let passkeys: ReturnType<typeof createPasskeyLibrary>;

  beforeEach(() => {
    queries = memoryQueries();
    hot = createMemoryHotState(60);
    passkeys = createPasskeyLibrary({
      pool: {} as Pool,
      queries,
      store: hot.keyValue,
      issuer,
      rpName: 'Gatehouse',
    });
  });
  afterEach(() => hot.close());

  async function registered(uv = true) {
    const authenticator = softwareAuthenticator('id.example.com', account.id);
    const options = await passkeys.registrationOptions(account, 'page-1');
    const outcome = await passkeys.register(
      account.id,
      'page-1',
      authenticator.create(options.challenge, { uv }),
      'Key',
    );
    expect(outcome.kind).toBe('ok');
    return authenticator;
  }

  it('takes the relying-party id from the issuer host, asks for no attestation, and prefers user verification', async () => {
    const options = await passkeys.registrationOptions(account, 'page-1');
    expect(options.rp).toEqual({ id: 'id.example.com', name: 'Gatehouse' });
    expect(options.attestation).toBe('none');
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: 'preferred',
      userVerification: 'preferred',
    });
    expect(Buffer.from(options.user.id, 'base64url').toString()).toBe(account.id);
    // A passwordless request asks the authenticator to verify the person; a second factor only prefers it.
    expect((await passkeys.authenticationOptions('login-1')).userVerification).toBe('required');
    expect((await passkeys.authenticationOptions('mfa-1', account.id)).userVerification).toBe('preferred');
  });

  it('registers a passkey and signs in with it: hwk and user in amr', async () => {
    const authenticator = await registered();
    expect(await passkeys.list(account.id)).toMatchObject([{ name: 'Key', synced: false }]);
    const options = await passkeys.authenticationOptions('login-1');
    const outcome = await passkeys.authenticate('login-1', authenticator.get(options.challenge));
    expect(outcome).toEqual({
      kind: 'ok',
      value: {
        accountId: account.id,
        passkeyId: queries.rows[0]!.id,
        userVerified: true,
        amr: ['hwk', 'user'],
      },
    });
  });

  it('says swk for a synced passkey (backed up, its key leaves the device)', async () => {
    const authenticator = softwareAuthenticator('id.example.com', account.id, true);
    let options: { challenge: string } = await passkeys.registrationOptions(account, 'page-1');
    expect(
      (await passkeys.register(account.id, 'page-1', authenticator.create(options.challenge), 'Phone')).kind,
    ).toBe('ok');
    expect(await passkeys.list(account.id)).toMatchObject([{ synced: true, backedUp: true }]);
    options = await passkeys.authenticationOptions('login-1');
    expect(await passkeys.authenticate('login-1', authenticator.get(options.challenge))).toMatchObject({
      kind: 'ok',
      value: { amr: ['swk', 'user'] },
    });
  });

  it('stops a replayed answer: a challenge is answered once', async () => {
    const authenticator = await registered();
    const options = await passkeys.authenticationOptions('login-1');
    const answer = authenticator.get(options.challenge);
    expect((await passkeys.authenticate('login-1', answer)).kind).toBe('ok');
    expect(await passkeys.authenticate('login-1', answer)).toMatchObject({ kind: 'refused' });
  });

  it("stops an answer to another page's challenge (bound to where it was shown)", async () => {
    const authenticator = await registered();
    const options = await passkeys.authenticationOptions('login-1');
    await passkeys.authenticationOptions('login-2');
    expect(await passkeys.authenticate('login-2', authenticator.get(options.challenge))).toMatchObject({
      kind: 'refused',
    });
  });

  it('stops an answer made for another origin (a phishing site relaying the challenge)', async () => {
    const authenticator = await registered();
    const options = await passkeys.authenticationOptions('login-1');
    const answer = authenticator.get(options.challenge, { from: 'https://id.example.com.evil.test' });
    expect(await passkeys.authenticate('login-1', answer)).toMatchObject({ kind: 'refused' });
  });

  it('stops a cloned authenticator: a signature counter that does not grow is refused', async () => {
    const authenticator = await registered();
    let options = await passkeys.authenticationOptions('login-1');
    expect(
      (await passkeys.authenticate('login-1', authenticator.get(options.challenge, { counter: 5 }))).kind,
    ).toBe('ok');
    options = await passkeys.authenticationOptions('login-1');
    const clone = authenticator.get(options.challenge, { counter: 5 });
    expect(await passkeys.authenticate('login-1', clone)).toMatchObject({ kind: 'refused' });
    expect(queries.rows[0]!.counter).toBe('5');
  });

  it('stops a passwordless sign-in without user verification, and takes it as a second factor (policy preferred)', async () => {
    const authenticator = await registered();
    let options = await passkeys.authenticationOptions('login-1');
    expect(
      await passkeys.authenticate('login-1', authenticator.get(options.challenge, { uv: false })),
    ).toMatchObject({
      kind: 'refused',
    });
    options = await passkeys.authenticationOptions('mfa-1', account.id);
    expect(
      await passkeys.authenticate('mfa-1', authenticator.get(options.challenge, { uv: false })),
    ).toMatchObject({
      kind: 'ok',
      value: { userVerified: false, amr: ['hwk'] },
    });
  });

  it("stops another account's passkey as this account's second factor", async () => {
    const authenticator = await registered();
    const options = await passkeys.authenticationOptions('mfa-1', 'acct-2');
    expect(options.allowCredentials).toEqual([]);
    expect(await passkeys.authenticate('mfa-1', authenticator.get(options.challenge))).toMatchObject({
      kind: 'refused',
    });
  });

  it('requires user verification everywhere under the `required` policy', async () => {
    passkeys = createPasskeyLibrary({
      pool: {} as Pool,
      queries,
      store: hot.keyValue,
      issuer,
      rpName: 'Gatehouse',
      policy: { userVerification: 'required' },
    });
    const authenticator = softwareAuthenticator('id.example.com', account.id);
    const options = await passkeys.registrationOptions(account, 'page-1');
    expect(
      await passkeys.register(
        account.id,
        'page-1',
        authenticator.create(options.challenge, { uv: false }),
        'Key',
      ),
    ).toMatchObject({ kind: 'refused' });
  });
});
