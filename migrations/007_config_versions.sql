-- Up Migration

-- Every Gatehouse process caches configuration it reads on hot paths (clients, APIs, roles, accounts, upstream
-- providers) for a short while. A write anywhere, also from another process such as the CLI, bumps the version of
-- its area here (by trigger); each process polls these few rows and drops what changed.
CREATE TABLE config_versions (
  name    text PRIMARY KEY,
  version bigint NOT NULL DEFAULT 0
);
INSERT INTO config_versions (name) VALUES ('clients'), ('apis'), ('rbac'), ('accounts'), ('idps');

CREATE FUNCTION gatehouse_bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE config_versions SET version = version + 1 WHERE name = TG_ARGV[0];
  RETURN NULL;
END
$$;

CREATE TRIGGER clients_version AFTER INSERT OR UPDATE OR DELETE ON clients
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('clients');
CREATE TRIGGER api_resources_version AFTER INSERT OR UPDATE OR DELETE ON api_resources
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('apis');
CREATE TRIGGER api_permissions_version AFTER INSERT OR UPDATE OR DELETE ON api_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('apis');
CREATE TRIGGER roles_version AFTER INSERT OR UPDATE OR DELETE ON roles
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER role_permissions_version AFTER INSERT OR UPDATE OR DELETE ON role_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER account_roles_version AFTER INSERT OR UPDATE OR DELETE ON account_roles
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER client_roles_version AFTER INSERT OR UPDATE OR DELETE ON client_roles
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER accounts_version AFTER INSERT OR UPDATE OR DELETE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('accounts');
CREATE TRIGGER identity_providers_version AFTER INSERT OR UPDATE OR DELETE ON identity_providers
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('idps');

-- Down Migration
DROP TRIGGER identity_providers_version ON identity_providers;
DROP TRIGGER accounts_version ON accounts;
DROP TRIGGER client_roles_version ON client_roles;
DROP TRIGGER account_roles_version ON account_roles;
DROP TRIGGER role_permissions_version ON role_permissions;
DROP TRIGGER roles_version ON roles;
DROP TRIGGER api_permissions_version ON api_permissions;
DROP TRIGGER api_resources_version ON api_resources;
DROP TRIGGER clients_version ON clients;
DROP FUNCTION gatehouse_bump_config_version();
DROP TABLE config_versions;
