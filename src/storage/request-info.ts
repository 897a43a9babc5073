import { AsyncLocalStorage } from 'node:async_hooks';

/** Who is making the current request, for records written deep inside oidc-provider's hooks (the session ledger). */
export interface RequestInfo {
  ip: string;
  userAgent: string | undefined;
}

export interface RequestInfoScope {
  run<T>(info: RequestInfo, work: () => T): T;
  current(): RequestInfo | undefined;
}

export function createRequestInfoScope(): RequestInfoScope {
  const storage = new AsyncLocalStorage<RequestInfo>();
  return {
    run: (info, work) => storage.run(info, work),
    current: () => storage.getStore(),
  };
}
