import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Provider } from 'oidc-provider';
import type { Logger } from 'pino';
import type { KeySet, SigningKeyLibrary } from '../libraries/signing-keys.ts';

/**
 * Holds the running oidc-provider and replaces it when the signing keys change (`gatehouse keys rotate` from
 * another process, or a published key reaching its activation time). oidc-provider reads its keys once at
 * construction; everything else it needs lives in storage, so a new instance takes over between two requests.
 */
export interface ProviderHost {
  current(): Provider;
  /** The keys the current provider signs with. */
  keySet(): KeySet;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Re-reads the keys now; true when the provider was replaced. */
  refresh(): Promise<boolean>;
  close(): void;
}

export async function createProviderHost(deps: {
  keys: SigningKeyLibrary;
  build: (keySet: KeySet) => Provider;
  refreshSeconds: number;
  log: Logger;
}): Promise<ProviderHost> {
  let keySet = await deps.keys.loadKeySet();
  let provider = deps.build(keySet);
  let handler = provider.callback();
  let fingerprint = keySet.fingerprint;

  async function refresh(): Promise<boolean> {
    if ((await deps.keys.currentFingerprint()) === fingerprint) return false;
    const next = await deps.keys.loadKeySet();
    provider = deps.build(next);
    handler = provider.callback();
    keySet = next;
    fingerprint = next.fingerprint;
    deps.log.info({ kids: next.fingerprint }, 'signing keys changed; provider reloaded');
    return true;
  }

  const timer = setInterval(() => {
    refresh().catch((error: unknown) => deps.log.warn({ err: error }, 'could not re-read signing keys'));
  }, deps.refreshSeconds * 1000);
  timer.unref();

  return {
    current: () => provider,
    keySet: () => keySet,
    handle: (req, res) => handler(req, res) as unknown as Promise<void>,
    refresh,
    close: () => clearInterval(timer),
  };
}
