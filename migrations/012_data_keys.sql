-- Up Migration

-- Data keys: random keys for values that can only be checked, never re-encrypted (keyed hashes such as recovery
-- codes). Each is sealed under the root secret like every other secret at rest, so `gatehouse secrets reencrypt`
-- re-seals it and the hashes made with it survive a rotation of GATEHOUSE_SECRET.
CREATE TABLE data_keys (
  name       text PRIMARY KEY,
  sealed_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE data_keys;
