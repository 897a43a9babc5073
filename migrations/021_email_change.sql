-- Up Migration

-- Changing the email on /account (issue 16): a single-use link mailed to the new address, kept in `email_tokens`
-- under a purpose of its own (`email` holds the new address); using it moves the account to that address.
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens
  ADD CONSTRAINT email_tokens_purpose_check
  CHECK (purpose IN ('password_reset', 'email_verification', 'invitation', 'email_change'));

-- Down Migration
DELETE FROM email_tokens WHERE purpose = 'email_change';
ALTER TABLE email_tokens DROP CONSTRAINT email_tokens_purpose_check;
ALTER TABLE email_tokens
  ADD CONSTRAINT email_tokens_purpose_check
  CHECK (purpose IN ('password_reset', 'email_verification', 'invitation'));
