import { randomBytes } from 'node:crypto';
import type { DataKeyQueries } from '../queries/data-key-queries.ts';
import { sealContexts } from '../vocabulary/seal-contexts.ts';
import type { SecretBox } from './secret-box.ts';

/**
 * Keys for values that cannot be re-encrypted, only checked (keyed hashes): a random key per purpose, made once,
 * stored sealed under the root secret. Rotating the root secret re-seals the key (`gatehouse secrets reencrypt`)
 * and every hash made with it keeps working, where a key derived from the root secret would change with it.
 */
export function createDataKeys(deps: { queries: DataKeyQueries; secretBox: SecretBox }) {
  const loaded = new Map<string, Promise<Buffer>>();
  const load = async (name: string) => {
    const candidate = deps.secretBox.seal(randomBytes(32).toString('base64url'), sealContexts.dataKey);
    const sealed = await deps.queries.ensure(name, candidate);
    return Buffer.from(deps.secretBox.open(sealed, sealContexts.dataKey), 'base64url');
  };
  return {
    /** The key of that name, made on first use; kept for the life of the process once read. */
    get(name: string): Promise<Buffer> {
      let key = loaded.get(name);
      if (!key) {
        key = load(name);
        // A failed read (the database away) is tried again next time.
        key.catch(() => loaded.delete(name));
        loaded.set(name, key);
      }
      return key;
    },
  };
}

export type DataKeys = ReturnType<typeof createDataKeys>;
