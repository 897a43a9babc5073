-- Up Migration

-- Refresh token rotation keeps one live chain per refresh token (RFC 9700 section 4.14.2), even when the reuse grace
-- of the Postgres adapter lets a rotated token be answered twice: `rotated_from` is the token a RefreshToken replaced,
-- `successor_id` the first of its successors that was itself used (every other successor is then dead), and
-- `superseded_at` marks a token minted from a dead one. See `src/storage/postgres-adapter.ts`.
ALTER TABLE oidc_models
  ADD COLUMN rotated_from  text,
  ADD COLUMN successor_id  text,
  ADD COLUMN superseded_at timestamptz;

-- Down Migration
ALTER TABLE oidc_models
  DROP COLUMN superseded_at,
  DROP COLUMN successor_id,
  DROP COLUMN rotated_from;
