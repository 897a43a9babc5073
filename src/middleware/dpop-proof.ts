/**
 * DPoP proof checks (RFC 9449) for Gatehouse's own APIs: the implementation `@gatehouse/guard` ships
 * (`packages/guard/src/dpop.ts`), so the admin API and the AuthZEN API enforce proofs with the same code API owners
 * install.
 */
export * from '../../packages/guard/src/dpop.ts';
