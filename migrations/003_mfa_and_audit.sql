-- Up Migration

-- TOTP second factor (RFC 6238). The seed is sealed with the at-rest key. A factor counts once confirmed with a
-- code; `last_used_step` is the last time step accepted, so a code is never accepted twice (RFC 6238 section 5.2).
CREATE TABLE totp_factors (
  account_id     text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  sealed_secret  text NOT NULL,
  confirmed_at   timestamptz,
  last_used_step bigint,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- One-time recovery codes, stored as keyed hashes (HMAC with a key derived from GATEHOUSE_SECRET).
CREATE TABLE recovery_codes (
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  code_hash  text NOT NULL,
  used_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, code_hash)
);

-- MFA policies: a role or a client can require a second factor at sign-in.
ALTER TABLE roles ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;
ALTER TABLE clients ADD COLUMN mfa_required boolean NOT NULL DEFAULT false;

-- Audit log: who did what, when, from where. Never holds secrets.
CREATE TABLE audit_events (
  id         bigserial PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  type       text NOT NULL,
  account_id text,
  client_id  text,
  actor      text,
  ip         text,
  details    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_account_idx ON audit_events (account_id, at) WHERE account_id IS NOT NULL;

-- Down Migration
DROP TABLE audit_events;
ALTER TABLE clients DROP COLUMN mfa_required;
ALTER TABLE roles DROP COLUMN mfa_required;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
