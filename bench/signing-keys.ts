import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export type SigningAlgorithm = 'RS256' | 'ES256';

/**
 * One private signing key per algorithm for the bare provider, made like Gatehouse makes its own
 * (src/libraries/signing-keys.ts: RSA 2048 and P-256, thumbprint kid), so both sign with the same kind of key.
 */
export async function generateSigningKeys(algorithms: readonly SigningAlgorithm[]): Promise<JWK[]> {
  return Promise.all(
    algorithms.map(async (alg) => {
      const { privateKey, publicKey } = await generateKeyPair(alg, {
        extractable: true,
        ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
      });
      const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
      return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
    }),
  );
}
