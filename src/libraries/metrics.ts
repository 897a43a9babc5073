import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Route labels with bounded cardinality: identifiers in paths are replaced by placeholders. */
export function routeLabel(path: string): string {
  if (path.startsWith('/interaction/'))
    return path
      .replace(/^\/interaction\/[^/]+/, '/interaction/:uid')
      .replace(/\/federation\/[^/]+$/, '/federation/:idp');
  if (path.startsWith('/federation/')) return '/federation/:idp/callback';
  if (path.startsWith('/admin/api/'))
    return path
      .replace(/^(\/admin\/api\/[a-z]+)\/[^/]+/, '$1/:id')
      .replace(/(\/:id\/[a-z-]+)\/[^/]+$/, '$1/:item');
  if (
    path.startsWith('/account/sessions/') ||
    path.startsWith('/account/apps/') ||
    path.startsWith('/account/identities/')
  ) {
    return path.replace(/^(\/account\/[a-z]+)\/[^/]+/, '$1/:id');
  }
  if (path.startsWith('/auth/') || path.startsWith('/device/') || path.startsWith('/session/end/'))
    return path.replace(/\/[^/]+$/, '/:uid');
  if (path.startsWith('/assets/')) return '/assets/:file';
  return path.length > 64 ? 'other' : path;
}

/**
 * Prometheus metrics (prom-client) of one process, served at `/metrics`: request durations by route, sign-in
 * outcomes, tokens issued by grant type, storage errors, and the runtime's own (event loop lag, GC, memory).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requestDuration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request duration by route, method and status class',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const signIns = new Counter({
    name: 'gatehouse_sign_ins_total',
    help: 'Sign-in outcomes (succeeded, failed, locked) by factor',
    labelNames: ['outcome', 'factor'] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Token responses by grant type',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  const storageErrors = new Counter({
    name: 'gatehouse_storage_errors_total',
    help: 'Requests answered 503 because Postgres or Redis was unavailable',
    registers: [registry],
  });
  const securityEvents = new Counter({
    name: 'gatehouse_security_events_total',
    help: 'Audit events by type',
    labelNames: ['type'] as const,
    registers: [registry],
  });

  return {
    registry,
    observeRequest(path: string, method: string, status: number, seconds: number) {
      requestDuration.observe(
        { route: routeLabel(path), method, status: `${Math.floor(status / 100)}xx` },
        seconds,
      );
    },
    /** Fed by the audit log, so every audited event is also counted. */
    auditEvent(type: string) {
      securityEvents.inc({ type });
      if (type === 'signin.succeeded' || type === 'signin.failed' || type === 'signin.locked')
        signIns.inc({ outcome: type.slice(7), factor: 'password' });
      else if (type === 'mfa.verified' || type === 'mfa.recovery_code_used')
        signIns.inc({ outcome: 'succeeded', factor: 'second' });
      else if (type === 'mfa.failed' || type === 'mfa.locked')
        signIns.inc({ outcome: type.slice(4), factor: 'second' });
    },
    tokenIssued(grantType: string) {
      tokens.inc({ grant_type: grantType.length > 80 ? 'other' : grantType });
    },
    storageError() {
      storageErrors.inc();
    },
    render: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
