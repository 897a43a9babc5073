/** A sealed value that does not open: sealed under another secret, for another context, or altered. */
export class SecretBoxError extends Error {
  override name = 'SecretBoxError';
}
