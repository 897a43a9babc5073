-- Up Migration

-- Self-service sign-up (issue 16, `signUp.enabled`): what a person typed on "Create an account", kept until their
-- address is confirmed by the mailed link. No account exists before that, so a sign-up for someone else's address
-- creates nothing that address's owner would later find waiting with a stranger's password. Only the SHA-256 of the
-- link's token is stored, and the argon2id hash of the chosen password; a row works once and until `expires_at`.
CREATE TABLE sign_ups (
  token_hash bytea PRIMARY KEY,
  email text NOT NULL,
  name text,
  password_hash text NOT NULL,
  return_to text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX sign_ups_expires_at ON sign_ups (expires_at);

-- Down Migration
DROP TABLE sign_ups;
