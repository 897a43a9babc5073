-- Up Migration

-- The sign-out queue carries other operator actions that need the running servers' hot store (Redis, or their
-- memory with embedded defaults): unlocking an account's sign-in throttles.
ALTER TABLE session_revocations ADD COLUMN action text NOT NULL DEFAULT 'sign-out-everywhere'
  CHECK (action IN ('sign-out-everywhere', 'sign-out-session', 'unlock'));
ALTER TABLE session_revocations RENAME TO operator_requests;
ALTER INDEX session_revocations_pending_idx RENAME TO operator_requests_pending_idx;

-- Down Migration
ALTER INDEX operator_requests_pending_idx RENAME TO session_revocations_pending_idx;
ALTER TABLE operator_requests RENAME TO session_revocations;
ALTER TABLE session_revocations DROP COLUMN action;
