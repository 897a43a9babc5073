export type UpstreamFailure = 'denied' | 'unreachable' | 'rejected';

/**
 * Why a sign-in through an upstream provider failed: the user said no,
 * it could not be reached, or it answered wrongly.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  readonly kind: UpstreamFailure;

  constructor(kind: UpstreamFailure, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.kind = kind;
  }
}
