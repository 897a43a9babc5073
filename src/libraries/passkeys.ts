import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import { withTransaction, type Pool } from '../db/pg-pool.ts';
import { invalidRequest, notFound } from '../errors/app-error.ts';
import type { PasskeyQueries, PasskeyRow } from '../queries/passkey-queries.ts';
import type { KeyValueStore } from '../storage/hot-state.ts';
import { storeKeys } from '../vocabulary/store-keys.ts';

/**
 * The passkey policy, in one place (no setting yet: `config/schema.ts` would take `passkeys.userVerification` and
 * `passkeys.attestation`, see the README).
 *
 * - `userVerification`: `required` asks the authenticator to verify the person (PIN, fingerprint, face) at every
 *   ceremony and refuses a response without it; `preferred` asks for it but takes a passkey without it as a second
 *   factor after a password. A passwordless sign-in always requires it whatever this says: a passkey alone,
 *   without user verification, is one factor (something you have), and Gatehouse signs no one in on that.
 * - `attestation`: `none` (the default) asks for no attestation: any authenticator may be registered and no
 *   device-identifying certificate is stored. Gatehouse keeps no attestation trust anchors, so `direct` would be
 *   asked for but not checked against a vendor list.
 */
export interface PasskeyPolicy {
  userVerification: 'required' | 'preferred';
  attestation: 'none' | 'direct';
  /** How long a challenge may be answered (also the browser's timeout). Single use either way. */
  challengeTtlSeconds: number;
  /** At most this many passkeys per account. */
  maxPerAccount: number;
}

export const defaultPasskeyPolicy: PasskeyPolicy = {
  userVerification: 'preferred',
  attestation: 'none',
  challengeTtlSeconds: 300,
  maxPerAccount: 20,
};

/** A passkey as the account page shows it. */
export interface PasskeySummary {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Synced between devices (`multiDevice`), or bound to one authenticator. */
  synced: boolean;
  backedUp: boolean;
}

/** What a verified passkey proves, for the ID token's `amr` (RFC 8176). */
export interface PasskeyProof {
  accountId: string;
  passkeyId: string;
  /** The authenticator verified the person (the UV flag): PIN or biometrics, Gatehouse cannot tell which. */
  userVerified: boolean;
  /**
   * RFC 8176 methods: `hwk` for a key bound to one authenticator (a security key, a platform authenticator that does
   * not sync), `swk` for a synced passkey (its private key leaves the hardware it was made on); `user` when the
   * authenticator verified the person.
   */
  amr: string[];
}

/** A refusal names the account of the passkey when the passkey was known (for the audit log, never the page). */
export type PasskeyOutcome<T> =
  { kind: 'ok'; value: T } | { kind: 'refused'; reason: string; accountId?: string };

/** What a challenge was issued for, kept in the hot store until it is answered (once) or expires. */
interface StoredChallenge {
  challenge: string;
  purpose: 'register' | 'authenticate';
  /** The account it was issued for: the registering one, or the one whose second factor is asked. */
  accountId?: string;
  /** Whether this ceremony must have user verification. */
  requireUserVerification: boolean;
}

/** The parts of a browser's PublicKeyCredential JSON Gatehouse reads before the library checks the rest. */
const credentialShape = z.object({
  id: z.string().min(1).max(1400),
  rawId: z.string().min(1).max(1400),
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: z.string().min(1).max(8000) }),
  clientExtensionResults: z.looseObject({}).optional(),
  authenticatorAttachment: z.string().max(40).nullish(),
});

function parseCredential(json: string): z.infer<typeof credentialShape> | undefined {
  try {
    const parsed = credentialShape.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function challengeOf(credential: z.infer<typeof credentialShape>): string | undefined {
  try {
    const client = JSON.parse(
      Buffer.from(credential.response.clientDataJSON, 'base64url').toString('utf8'),
    ) as {
      challenge?: unknown;
    };
    return typeof client.challenge === 'string' ? client.challenge : undefined;
  } catch {
    return undefined;
  }
}

const summaryOf = (row: PasskeyRow): PasskeySummary => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at.toISOString(),
  lastUsedAt: row.last_used_at?.toISOString() ?? null,
  synced: row.device_type === 'multiDevice',
  backedUp: row.backed_up,
});

const amrOf = (deviceType: PasskeyRow['device_type'], userVerified: boolean) => [
  deviceType === 'multiDevice' ? 'swk' : 'hwk',
  ...(userVerified ? ['user'] : []),
];

export const passkeyNameMaxLength = 100;

/**
 * Passkeys (WebAuthn) through `@simplewebauthn/server`: registration and authentication options, their
 * verification, and the account's list. The relying-party id is the issuer's host name and the only accepted origin
 * the issuer's origin, so a passkey made for Gatehouse answers nowhere else, and a look-alike site gets nothing it
 * can replay. A challenge is kept in the hot store for `challengeTtlSeconds`, per `binding` (the page that shows
 * it: an interaction step, an account page session), and taken (deleted) by the first answer, right or wrong.
 */
export function createPasskeyLibrary(deps: {
  pool: Pool;
  queries: PasskeyQueries;
  store: KeyValueStore;
  issuer: string;
  /** The name authenticators show next to the account ("Gatehouse", or the issuer's host). */
  rpName: string;
  policy?: Partial<PasskeyPolicy>;
}) {
  const { queries, store } = deps;
  const policy: PasskeyPolicy = { ...defaultPasskeyPolicy, ...deps.policy };
  const issuerUrl = new URL(deps.issuer);
  const rpID = issuerUrl.hostname;
  const origin = issuerUrl.origin;
  const timeout = policy.challengeTtlSeconds * 1000;

  async function remember(binding: string, stored: StoredChallenge): Promise<void> {
    await store.set(storeKeys.passkeyChallenge(binding), JSON.stringify(stored), policy.challengeTtlSeconds);
  }

  /** The challenge of `binding`, taken (so it is answered once), if the response answers it. */
  async function takeChallenge(
    binding: string,
    credential: z.infer<typeof credentialShape>,
  ): Promise<StoredChallenge | undefined> {
    const stored = await store.take(storeKeys.passkeyChallenge(binding));
    if (!stored) return undefined;
    const parsed = JSON.parse(stored) as StoredChallenge;
    return challengeOf(credential) === parsed.challenge ? parsed : undefined;
  }

  const expired: PasskeyOutcome<never> = {
    kind: 'refused',
    reason: 'This passkey request has expired or was already used. Try again.',
  };

  return {
    policy,
    rpID,
    origin,

    async list(accountId: string): Promise<PasskeySummary[]> {
      return (await queries.listFor(accountId)).map(summaryOf);
    },

    count: (accountId: string) => queries.countFor(accountId),

    /** Options for `navigator.credentials.create()` to add a passkey to `account`, answerable once from `binding`. */
    async registrationOptions(
      account: { id: string; email: string; name: string | null },
      binding: string,
    ): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await queries.listFor(account.id);
      const options = await generateRegistrationOptions({
        rpName: deps.rpName,
        rpID,
        userName: account.email,
        userDisplayName: account.name ?? account.email,
        // The user handle authenticators store and return at a passwordless sign-in: the account id (opaque, no PII).
        userID: new TextEncoder().encode(account.id),
        timeout,
        attestationType: policy.attestation,
        excludeCredentials: existing.map((row) => ({ id: row.credential_id, transports: row.transports })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: policy.userVerification },
      });
      await remember(binding, {
        challenge: options.challenge,
        purpose: 'register',
        accountId: account.id,
        requireUserVerification: policy.userVerification === 'required',
      });
      return options;
    },

    /** Checks the browser's answer to `registrationOptions` and stores the passkey under `name`. */
    async register(
      accountId: string,
      binding: string,
      responseJson: string,
      name: string,
    ): Promise<PasskeyOutcome<PasskeySummary>> {
      const credential = parseCredential(responseJson);
      if (!credential) return { kind: 'refused', reason: 'The browser did not send a passkey.' };
      const stored = await takeChallenge(binding, credential);
      if (!stored || stored.purpose !== 'register' || stored.accountId !== accountId) return expired;
      if ((await queries.countFor(accountId)) >= policy.maxPerAccount)
        return { kind: 'refused', reason: `An account can have at most ${policy.maxPerAccount} passkeys.` };
      let verification;
      try {
        verification = await verifyRegistrationResponse({
          response: credential as unknown as RegistrationResponseJSON,
          expectedChallenge: stored.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: stored.requireUserVerification,
        });
      } catch {
        return { kind: 'refused', reason: 'The passkey could not be verified. Try again.' };
      }
      if (!verification.verified)
        return { kind: 'refused', reason: 'The passkey could not be verified. Try again.' };
      const info = verification.registrationInfo;
      if (await queries.findByCredentialId(info.credential.id))
        return { kind: 'refused', reason: 'This passkey is already registered.' };
      const row = await queries.insert({
        accountId,
        credentialId: info.credential.id,
        publicKey: info.credential.publicKey,
        counter: info.credential.counter,
        transports: (info.credential.transports ?? []).slice(0, 10),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        userVerified: info.userVerified,
        name: name.trim().slice(0, passkeyNameMaxLength) || 'Passkey',
      });
      return { kind: 'ok', value: summaryOf(row) };
    },

    /**
     * Options for `navigator.credentials.get()`, answerable once from `binding`. With `accountId` (a second factor
     * after the password) only that account's passkeys are allowed; without (a passwordless sign-in) the browser
     * offers its discoverable passkeys for this relying party and user verification is required.
     */
    async authenticationOptions(
      binding: string,
      accountId?: string,
    ): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const allow = accountId ? await queries.listFor(accountId) : [];
      const requireUserVerification = !accountId || policy.userVerification === 'required';
      const options = await generateAuthenticationOptions({
        rpID,
        timeout,
        allowCredentials: allow.map((row) => ({ id: row.credential_id, transports: row.transports })),
        userVerification: requireUserVerification ? 'required' : 'preferred',
      });
      await remember(binding, {
        challenge: options.challenge,
        purpose: 'authenticate',
        ...(accountId ? { accountId } : {}),
        requireUserVerification,
      });
      return options;
    },

    /**
     * Checks the browser's answer to `authenticationOptions`: the challenge of `binding` (taken), a passkey Gatehouse
     * knows (of the expected account, when one was), the user handle, origin, relying-party id, signature, user
     * verification when required, and a signature counter that grew (when the authenticator keeps one).
     */
    async authenticate(binding: string, responseJson: string): Promise<PasskeyOutcome<PasskeyProof>> {
      const refused = (reason: string, accountId?: string): PasskeyOutcome<never> => ({
        kind: 'refused',
        reason,
        ...(accountId ? { accountId } : {}),
      });
      const credential = parseCredential(responseJson);
      if (!credential) return refused('The browser did not send a passkey.');
      const stored = await takeChallenge(binding, credential);
      if (!stored || stored.purpose !== 'authenticate') return expired;
      const row = await queries.findByCredentialId(credential.id);
      if (!row || (stored.accountId && row.account_id !== stored.accountId))
        return refused('This passkey is not registered with Gatehouse. Use another way to sign in.');
      const userHandle = (credential.response as { userHandle?: unknown }).userHandle;
      if (
        typeof userHandle === 'string' &&
        userHandle !== '' &&
        Buffer.from(userHandle, 'base64url').toString('utf8') !== row.account_id
      )
        return refused(
          'This passkey is not registered with Gatehouse. Use another way to sign in.',
          row.account_id,
        );
      let verification;
      try {
        verification = await verifyAuthenticationResponse({
          response: credential as unknown as AuthenticationResponseJSON,
          expectedChallenge: stored.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: {
            id: row.credential_id,
            publicKey: new Uint8Array(row.public_key),
            counter: Number(row.counter),
            transports: row.transports,
          },
          requireUserVerification: stored.requireUserVerification,
        });
      } catch {
        return refused('The passkey could not be verified. Try again.', row.account_id);
      }
      if (!verification.verified)
        return refused('The passkey could not be verified. Try again.', row.account_id);
      const info = verification.authenticationInfo;
      if (!(await queries.recordUse(row.id, row.counter, info.newCounter)))
        return refused('The passkey could not be verified. Try again.', row.account_id);
      return {
        kind: 'ok',
        value: {
          accountId: row.account_id,
          passkeyId: row.id,
          userVerified: info.userVerified,
          amr: amrOf(info.credentialDeviceType, info.userVerified),
        },
      };
    },

    async rename(accountId: string, id: string, name: string): Promise<void> {
      const trimmed = name.trim();
      if (!trimmed || trimmed.length > passkeyNameMaxLength)
        throw invalidRequest(`a passkey name has 1 to ${passkeyNameMaxLength} characters`, 'name');
      if (!(await queries.rename(accountId, id, trimmed))) throw notFound('no such passkey on this account');
    },

    /**
     * Removes a passkey, unless it is the account's last way to sign in (`otherWays`: a password or a linked
     * identity): then the answer says so and nothing is removed.
     */
    async remove(accountId: string, id: string, otherWays: boolean): Promise<PasskeyOutcome<void>> {
      const result = await withTransaction(deps.pool, (tx) => queries.delete(accountId, id, !otherWays, tx));
      if (result === 'missing') throw notFound('no such passkey on this account');
      if (result === 'last')
        return {
          kind: 'refused',
          reason:
            'This passkey is your only way to sign in. Add another passkey or set a password before removing it.',
        };
      return { kind: 'ok', value: undefined };
    },
  };
}

export type PasskeyLibrary = ReturnType<typeof createPasskeyLibrary>;
