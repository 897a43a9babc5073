-- Up Migration

-- The APIs a client may get user access tokens for (its `--api` list). Any other `resource` is refused with
-- `invalid_target`, so an app a user signs in to cannot ask for tokens to an API it has no business with (the
-- confused deputy: any app an administrator uses getting tokens for Gatehouse's admin API).
CREATE TABLE client_apis (
  client_id      text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
  api_identifier text NOT NULL REFERENCES api_resources (identifier) ON DELETE CASCADE,
  PRIMARY KEY (client_id, api_identifier)
);
CREATE INDEX client_apis_api_idx ON client_apis (api_identifier);
CREATE TRIGGER client_apis_version AFTER INSERT OR UPDATE OR DELETE ON client_apis
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('clients');

-- A role an upstream's role rule gave (at a federated sign-in) names that upstream; a rule that no longer matches
-- takes it away again. NULL: assigned by an operator, never touched by rules.
ALTER TABLE account_roles
  ADD COLUMN granted_by_idp text REFERENCES identity_providers (id) ON DELETE CASCADE;

-- An upstream whose `email_verified` Gatehouse trusts enough to link accounts by email without asking for the
-- account's password (link policy `auto`).
ALTER TABLE identity_providers ADD COLUMN trust_email boolean NOT NULL DEFAULT false;

-- What a permission lets an application do, in words the consent page shows a person ("Read your documents").
ALTER TABLE api_permissions ADD COLUMN description text CHECK (char_length(description) BETWEEN 1 AND 200);

-- Down Migration
ALTER TABLE api_permissions DROP COLUMN description;
ALTER TABLE identity_providers DROP COLUMN trust_email;
ALTER TABLE account_roles DROP COLUMN granted_by_idp;
DROP TABLE client_apis;
