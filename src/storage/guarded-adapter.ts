import { errors, type Adapter } from 'oidc-provider';
import { isStorageUnavailable } from './storage-errors.ts';

/**
 * oidc-provider answers any unexpected error with 500 `server_error`. A storage outage is not a bug: it becomes
 * `temporarily_unavailable` (RFC 6749 section 4.1.2.1) with status 503, and the request can simply be retried.
 */
export function storageUnavailable(cause: unknown): Error {
  const error = new errors.TemporarilyUnavailable('storage is temporarily unavailable, try again shortly', {
    cause,
  });
  Object.assign(error, { status: 503, statusCode: 503 });
  return error;
}

export async function guardStorage<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw isStorageUnavailable(error) ? storageUnavailable(error) : error;
  }
}

export function guardAdapter(adapter: Adapter): Adapter {
  return {
    upsert: (id, payload, expiresIn) => guardStorage(() => adapter.upsert(id, payload, expiresIn)),
    find: (id) => guardStorage(() => adapter.find(id)),
    findByUid: (uid) => guardStorage(() => adapter.findByUid(uid)),
    findByUserCode: (userCode) => guardStorage(() => adapter.findByUserCode(userCode)),
    consume: (id) => guardStorage(() => adapter.consume(id)),
    destroy: (id) => guardStorage(() => adapter.destroy(id)),
    revokeByGrantId: (grantId) => guardStorage(() => adapter.revokeByGrantId(grantId)),
  };
}
