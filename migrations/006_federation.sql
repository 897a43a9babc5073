-- Up Migration

-- Upstream identity providers ("Login with GitHub / Google / any OpenID provider"). The client secret is sealed
-- with the at-rest key. `link_policy` decides what happens when an upstream asserts a verified email that an
-- existing account has: ask for the password once (confirm), link at once (auto), or refuse (never).
CREATE TABLE identity_providers (
  id                   text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,39}$'),
  type                 text NOT NULL CHECK (type IN ('oidc', 'github', 'google')),
  name                 text NOT NULL,
  issuer               text NOT NULL,
  client_id            text NOT NULL,
  sealed_client_secret text NOT NULL,
  scope                text NOT NULL,
  enabled              boolean NOT NULL DEFAULT true,
  link_policy          text NOT NULL DEFAULT 'confirm' CHECK (link_policy IN ('confirm', 'auto', 'never')),
  role_rules           jsonb NOT NULL DEFAULT '[]',
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Accounts linked to an upstream identity (the upstream's `sub`, or GitHub's numeric user id).
CREATE TABLE linked_identities (
  idp_id       text NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
  subject      text NOT NULL,
  account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  email        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (idp_id, subject)
);
CREATE INDEX linked_identities_account_idx ON linked_identities (account_id);

-- Down Migration
DROP TABLE linked_identities;
DROP TABLE identity_providers;
