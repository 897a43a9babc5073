-- Up Migration

-- Passkeys (WebAuthn credentials), several per account. `credential_id` is the authenticator's id of the key
-- (base64url), `public_key` its COSE public key; neither is a secret. `counter` is the signature counter the
-- authenticator last reported (0 for authenticators that keep none, such as synced passkeys): an assertion whose
-- counter does not grow past a non-zero stored one is refused as a possible clone. `device_type` is
-- `singleDevice` (bound to one authenticator) or `multiDevice` (synced), `backed_up` whether it was backed up.
CREATE TABLE passkeys (
  id            text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  account_id    text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  credential_id text NOT NULL UNIQUE,
  public_key    bytea NOT NULL,
  counter       bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
  transports    text[] NOT NULL DEFAULT '{}',
  device_type   text NOT NULL CHECK (device_type IN ('singleDevice', 'multiDevice')),
  backed_up     boolean NOT NULL DEFAULT false,
  user_verified boolean NOT NULL DEFAULT false,
  name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz
);
CREATE INDEX passkeys_account_idx ON passkeys (account_id);

-- Down Migration
DROP TABLE passkeys;
