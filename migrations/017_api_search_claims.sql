-- Up Migration

-- Search claims (issue 14, `api create --search-claim NAME=ACTION:TYPE`): user access tokens for the API carry claim
-- NAME, the resources of TYPE the subject may ACTION, from a resource search at issuance. Kept with the API as a JSON
-- array of {"name", "action", "type"} (validated by the rbac library before it is written), so the API definition,
-- read through the config cache, holds everything an issuance needs.
ALTER TABLE api_resources
  ADD COLUMN search_claims jsonb NOT NULL DEFAULT '[]'::jsonb
  CHECK (jsonb_typeof(search_claims) = 'array');

-- Down Migration
ALTER TABLE api_resources DROP COLUMN search_claims;
