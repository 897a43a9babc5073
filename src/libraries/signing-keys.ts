import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { withTransaction, type Pool } from '../db/pg-pool.ts';
import type { SigningKeyQueries, SigningKeyRow } from '../queries/signing-key-queries.ts';
import { sealContexts } from '../vocabulary/seal-contexts.ts';
import type { SecretBox } from './secret-box.ts';

export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** The keys oidc-provider is given: private JWKs, the signing key of each algorithm first. */
export interface KeySet {
  keys: JWK[];
  /** The same keys without their private parts, for verifying what Gatehouse signed. */
  publicKeys: JWK[];
  /** Changes whenever the published set or the signing order changes. */
  fingerprint: string;
}

export interface PublishedKey {
  kid: string;
  alg: string;
  status: 'signing' | 'next' | 'retiring';
  activatesAt: Date;
  expiresAt: Date | null;
}

const sealContext = sealContexts.signingKey;

async function generateSigningKey(
  alg: SigningAlgorithm,
): Promise<{ kid: string; privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const decorate = (jwk: JWK): JWK => ({ ...jwk, kid, alg, use: 'sig' });
  return { kid, privateJwk: decorate(await exportJWK(privateKey)), publicJwk: decorate(publicJwk) };
}

/**
 * Orders published keys for oidc-provider, which signs with the first key of an algorithm: per algorithm the
 * newest activated key, then older keys (still verifiable), then keys not yet active (published ahead of use).
 */
export function orderForSigning(rows: SigningKeyRow[], now = new Date()): SigningKeyRow[] {
  const active = rows.filter((row) => row.activates_at <= now);
  const pending = rows.filter((row) => row.activates_at > now);
  const byNewest = (a: SigningKeyRow, b: SigningKeyRow) =>
    b.activates_at.getTime() - a.activates_at.getTime();
  return [...active.sort(byNewest), ...pending.sort(byNewest)];
}

/**
 * Signing keys: created on first start, stored sealed in Postgres, rotated by `gatehouse keys rotate`, which
 * publishes the next key `publishBeforeUseSeconds` before it signs and keeps the old key published until every
 * token it signed has expired.
 */
export function createSigningKeyLibrary(deps: {
  pool: Pool;
  queries: SigningKeyQueries;
  secretBox: SecretBox;
  algorithms: readonly SigningAlgorithm[];
  publishBeforeUseSeconds: number;
  /**
   * The longest configured lifetime of anything signed (ID tokens, JWT access tokens); an API's own access-token
   * lifetime (`api create --ttl`) counts too, read when a rotation happens.
   */
  longestSignedLifetimeSeconds: number;
}) {
  const { pool, queries, secretBox, algorithms } = deps;

  async function insertKey(
    tx: Parameters<typeof queries.insert>[1],
    alg: SigningAlgorithm,
    activatesAt: Date,
  ) {
    const { kid, privateJwk, publicJwk } = await generateSigningKey(alg);
    await queries.insert(
      {
        kid,
        alg,
        sealedJwk: secretBox.seal(JSON.stringify(privateJwk), sealContext),
        publicJwk: publicJwk as Record<string, unknown>,
        activatesAt,
      },
      tx,
    );
    return kid;
  }

  return {
    /** Creates a key for every configured algorithm that has none. Safe when several processes start at once. */
    async ensureKeys(): Promise<string[]> {
      return withTransaction(pool, async (tx) => {
        await queries.lock(tx);
        const published = await queries.listPublished(tx);
        const created: string[] = [];
        for (const alg of algorithms) {
          if (!published.some((row) => row.alg === alg)) created.push(await insertKey(tx, alg, new Date()));
        }
        return created;
      });
    },

    /**
     * Adds the next key of every algorithm, signing from `now + activateInSeconds`; the keys it replaces stop being
     * published once the tokens they may still sign until then have expired.
     */
    async rotate(
      activateInSeconds = deps.publishBeforeUseSeconds,
    ): Promise<{ kid: string; alg: string; activatesAt: Date }[]> {
      return withTransaction(pool, async (tx) => {
        await queries.lock(tx);
        const activatesAt = new Date(Date.now() + activateInSeconds * 1000);
        // A retiring key signs until the next one activates; its last tokens live as long as the longest lifetime.
        const longest = Math.max(deps.longestSignedLifetimeSeconds, await queries.longestApiJwtLifetime(tx));
        const retireAt = new Date(activatesAt.getTime() + longest * 1000);
        const published = await queries.listPublished(tx);
        await queries.expire(
          published.filter((row) => algorithms.includes(row.alg as SigningAlgorithm)).map((row) => row.kid),
          retireAt,
          tx,
        );
        const rotated = [];
        for (const alg of algorithms)
          rotated.push({ kid: await insertKey(tx, alg, activatesAt), alg, activatesAt });
        return rotated;
      });
    },

    async list(): Promise<PublishedKey[]> {
      const ordered = orderForSigning(await queries.listPublished());
      const now = new Date();
      const signing = new Set<string>();
      return ordered.map((row) => {
        let status: PublishedKey['status'] = 'retiring';
        if (row.activates_at > now) status = 'next';
        else if (!signing.has(row.alg)) {
          signing.add(row.alg);
          status = 'signing';
        }
        return {
          kid: row.kid,
          alg: row.alg,
          status,
          activatesAt: row.activates_at,
          expiresAt: row.expires_at,
        };
      });
    },

    /** The private keys for oidc-provider, in signing order. */
    async loadKeySet(): Promise<KeySet> {
      const ordered = orderForSigning(await queries.listPublished());
      const keys = ordered.map((row) => JSON.parse(secretBox.open(row.sealed_jwk, sealContext)) as JWK);
      return {
        keys,
        publicKeys: ordered.map((row) => row.public_jwk as JWK),
        fingerprint: ordered.map((row) => row.kid).join(','),
      };
    },

    /** Cheap check for the fingerprint without opening sealed keys. */
    async currentFingerprint(): Promise<string> {
      return orderForSigning(await queries.listPublished())
        .map((row) => row.kid)
        .join(',');
    },
  };
}

export type SigningKeyLibrary = ReturnType<typeof createSigningKeyLibrary>;
