import type { JWK } from 'jose';
import type { Fixtures } from '../fixtures.ts';
import type { GatehouseDefaults } from '../gatehouse-defaults.ts';
import type { SigningAlgorithm } from '../signing-keys.ts';

/** What the bench hands the bare provider process, as a JSON file named on its command line. */
export interface BareProviderSettings {
  issuer: string;
  port: number;
  keys: JWK[];
  algorithms: SigningAlgorithm[];
  accessTokenAlg: SigningAlgorithm;
  ttl: GatehouseDefaults['ttl'];
  fixtures: Fixtures;
  cookieKey: string;
  /** Gatehouse's Redis adapter on this prefix; absent: Gatehouse's in-memory store. */
  redis?: { url: string; prefix: string };
}
