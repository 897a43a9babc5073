import { isDatabaseAway } from '../db/sql-state.ts';

const unavailableNodeCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const unavailableMessages = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error',
  'Connection is closed',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'Command timed out',
  'All sentinels are unreachable',
  'Failed to refresh slots cache',
  'CLUSTERDOWN',
];

/**
 * True when an error means Postgres or Redis cannot be reached right now (as opposed to a bad query): such
 * failures answer 503 and heal by themselves when the service returns.
 */
export function isStorageUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as { code?: unknown };
  if (isDatabaseAway(error) || (typeof code === 'string' && unavailableNodeCodes.has(code))) return true;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  if (unavailableMessages.some((message) => error.message.includes(message))) return true;
  return error.cause !== undefined && error.cause !== error && isStorageUnavailable(error.cause);
}
