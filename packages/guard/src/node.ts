import type { GuardRequest } from './core.ts';

/** The part of Node's `IncomingMessage` the adapters read. */
export interface NodeLikeRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  headersDistinct?: Record<string, string[] | undefined>;
}

function values(req: NodeLikeRequest, name: 'authorization' | 'dpop'): string[] {
  const distinct = req.headersDistinct?.[name];
  if (distinct) return distinct;
  const value = req.headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The core's view of a Node request, for the path the client addressed. */
export function guardRequest(req: NodeLikeRequest, path: string | undefined): GuardRequest {
  return {
    method: req.method ?? 'GET',
    path: path ?? req.url ?? '/',
    authorization: values(req, 'authorization'),
    dpop: values(req, 'dpop'),
    key: req,
  };
}
