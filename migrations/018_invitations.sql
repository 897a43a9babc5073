-- Up Migration

-- Invitations (issue 16, `gatehouse user invite`): an account created without a password, and a single-use link
-- mailed to its address with which the invitee sets one. Kept in `email_tokens` like the other mailed links, under a
-- purpose of its own: only the SHA-256 of the token is stored, it works once and until `expires_at`.
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens
  ADD CONSTRAINT email_tokens_purpose_check
  CHECK (purpose IN ('password_reset', 'email_verification', 'invitation'));

-- Down Migration
DELETE FROM email_tokens WHERE purpose = 'invitation';
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens
  ADD CONSTRAINT email_tokens_purpose_check CHECK (purpose IN ('password_reset', 'email_verification'));
