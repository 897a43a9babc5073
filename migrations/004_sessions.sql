-- Up Migration

-- A ledger of browser sessions: the sessions themselves live in Redis (hot, with a TTL); this says which exist for
-- an account, from where, and since when, so the account page, the CLI and the admin API can list and end them
-- (also with the embedded in-memory store, which another process cannot read).
CREATE TABLE account_sessions (
  session_id   text PRIMARY KEY,
  account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  ip           text,
  user_agent   text,
  clients      text[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX account_sessions_account_idx ON account_sessions (account_id, expires_at);

-- Sign-outs asked for by a process that cannot reach the sessions (the CLI): every Gatehouse process watches this
-- queue, and exactly one carries each request out (sessions, their tokens, back-channel logout).
CREATE TABLE session_revocations (
  id           bigserial PRIMARY KEY,
  account_id   text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  session_id   text,
  requested_at timestamptz NOT NULL DEFAULT now(),
  requested_by text,
  handled_at   timestamptz,
  result       jsonb
);
CREATE INDEX session_revocations_pending_idx ON session_revocations (id) WHERE handled_at IS NULL;

-- Front-channel logout (OpenID Connect Front-Channel Logout 1.0) is not part of oidc-provider 9; Gatehouse keeps
-- the client's URI in its metadata and renders the logout iframes itself.

-- Down Migration
DROP TABLE session_revocations;
DROP TABLE account_sessions;
