-- Up Migration

-- Single-use links sent by email: password reset and address verification. Only the SHA-256 of the link's token
-- (32 random bytes) is stored, so a copy of the table opens nothing. `email` is the address the link was sent to (a
-- verification link proves that address only, never a newer one); `return_to` is the sign-in page (an interaction
-- path on this issuer) a reset sends its browser back to. A token works once (`used_at`) and until `expires_at`;
-- using one ends every other outstanding token of the account with the same purpose.
CREATE TABLE email_tokens (
  token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  account_id  text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  purpose     text NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
  email       text NOT NULL,
  return_to   text CHECK (return_to IS NULL OR return_to LIKE '/interaction/%'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX email_tokens_account_idx ON email_tokens (account_id, purpose) WHERE used_at IS NULL;
CREATE INDEX email_tokens_expiry_idx ON email_tokens (expires_at);

-- Down Migration
DROP TABLE email_tokens;
