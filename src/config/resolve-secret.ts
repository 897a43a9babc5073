import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatehouseConfig } from './load-config.ts';

/**
 * The root secret. Production must set GATEHOUSE_SECRET (the config loader refuses to start without it).
 * Elsewhere, a random secret is generated once into `<dataDir>/secret` and reused, so sessions and sealed keys
 * survive restarts and the CLI shares it with the server.
 */
export function resolveSecret(config: GatehouseConfig): { secret: string; generated: boolean } {
  if (config.secret) return { secret: config.secret, generated: false };
  const path = join(config.dataDir, 'secret');
  try {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored.length >= 32) return { secret: stored, generated: false };
  } catch {
    // first run
  }
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return { secret, generated: true };
}
