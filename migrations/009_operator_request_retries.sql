-- Up Migration

-- An operator request (sign out everywhere, unlock) whose carrying out failed (Redis away for a moment) is tried
-- again, with a growing delay, until it succeeds or `attempts` reaches the cap; then `failed_at` is set and it stays
-- failed. `handled_at` is when a process last claimed it; `result` is set once it has been carried out.
ALTER TABLE operator_requests
  ADD COLUMN attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  ADD COLUMN last_error      text CHECK (char_length(last_error) <= 500),
  ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN failed_at       timestamptz;

-- Down Migration
ALTER TABLE operator_requests
  DROP COLUMN failed_at,
  DROP COLUMN next_attempt_at,
  DROP COLUMN last_error,
  DROP COLUMN attempts;
