-- Up Migration

-- Accounts. Emails are unique regardless of case; the stored value keeps what the user typed.
CREATE TABLE accounts (
  id             text PRIMARY KEY DEFAULT gen_random_uuid()::text,
  email          text NOT NULL,
  email_verified boolean NOT NULL DEFAULT false,
  name           text,
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  password_hash  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

-- OAuth clients. `metadata` is client metadata as oidc-provider reads it (RFC 7591 names); the secret is sealed
-- with the at-rest key and only opened for oidc-provider, which compares client secrets in plain text.
CREATE TABLE clients (
  id               text PRIMARY KEY,
  sealed_secret    text,
  metadata         jsonb NOT NULL,
  first_party      boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Signing keys. A key is published in JWKS from creation, signs from `activates_at`, and stops signing when a
-- newer key activates; it stays published until `expires_at` (retirement plus the longest token lifetime).
CREATE TABLE signing_keys (
  kid            text PRIMARY KEY,
  alg            text NOT NULL,
  sealed_jwk     text NOT NULL,
  public_jwk     jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  activates_at   timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz
);
CREATE INDEX signing_keys_alg_idx ON signing_keys (alg, activates_at DESC);

-- Durable oidc-provider models (Grant, RefreshToken): a Redis restart must not sign every app out of its
-- offline access.
CREATE TABLE oidc_models (
  model        text NOT NULL,
  id           text NOT NULL,
  payload      jsonb NOT NULL,
  grant_id     text,
  account_id   text,
  expires_at   timestamptz,
  consumed_at  timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_models_grant_idx ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_account_idx ON oidc_models (account_id) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_models_expires_idx ON oidc_models (expires_at);

-- Down Migration
DROP TABLE oidc_models;
DROP TABLE signing_keys;
DROP TABLE clients;
DROP TABLE accounts;
