import type { Scenario } from './scenario.ts';

/** Served from configuration: measures the HTTP stack and the wrapper's middleware more than the protocol. */
export const discovery: Scenario = {
  name: 'discovery',
  description: 'GET /.well-known/openid-configuration',
  prepare: async () => ({
    kind: 'request',
    request: { method: 'GET', path: '/.well-known/openid-configuration' },
  }),
};

export const jwks: Scenario = {
  name: 'jwks',
  description: 'GET /jwks',
  prepare: async () => ({ kind: 'request', request: { method: 'GET', path: '/jwks' } }),
};
