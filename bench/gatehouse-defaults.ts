import { readFileSync } from 'node:fs';
import type { SigningAlgorithm } from './signing-keys.ts';

/** The parts of Gatehouse's documented defaults the baseline must share to be a fair comparison. */
export interface GatehouseDefaults {
  ttl: {
    accessToken: number;
    clientCredentials: number;
    authorizationCode: number;
    idToken: number;
    refreshToken: number;
    grant: number;
    interaction: number;
    session: number;
  };
  keys: { algorithms: SigningAlgorithm[]; accessTokenAlg: SigningAlgorithm };
}

/** Reads config/default.json, the file Gatehouse itself starts from, so a changed default changes both sides. */
export function readGatehouseDefaults(): GatehouseDefaults {
  const path = new URL('../config/default.json', import.meta.url);
  const config = JSON.parse(readFileSync(path, 'utf8')) as GatehouseDefaults;
  return { ttl: config.ttl, keys: config.keys };
}
