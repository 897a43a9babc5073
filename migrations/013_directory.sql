-- Up Migration

-- Directory data for policies (issue 14): custom attributes on accounts, groups (nested, holding roles and
-- permissions, inherited by their members), and permissions granted to an account directly.

-- Custom attributes: typed JSON values by name (`{"tier": "gold", "seats": 5}`). Names of the built-in claims
-- (sub, email, email_verified, name, permissions) are refused by the library when written.
ALTER TABLE accounts ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb
  CHECK (jsonb_typeof(attributes) = 'object');

-- Groups. Names follow the role names' rule.
CREATE TABLE groups (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
  description text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A group's parent groups: members of a group are also members of its parents (and of theirs). The library
-- refuses a link that would close a cycle (under a lock on this table); the reads terminate on one anyway.
CREATE TABLE group_parents (
  group_name  text NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  parent_name text NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  PRIMARY KEY (group_name, parent_name),
  CHECK (group_name <> parent_name)
);
CREATE INDEX group_parents_parent_idx ON group_parents (parent_name);

CREATE TABLE group_roles (
  group_name text NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  role_name  text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  PRIMARY KEY (group_name, role_name)
);
CREATE INDEX group_roles_role_idx ON group_roles (role_name);

CREATE TABLE group_permissions (
  group_name text NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  permission text NOT NULL CHECK (permission ~ '^[\x21-\x7e]{1,128}$'),
  PRIMARY KEY (group_name, permission)
);

CREATE TABLE group_members (
  group_name text NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  PRIMARY KEY (group_name, account_id)
);
CREATE INDEX group_members_account_idx ON group_members (account_id);

-- Permissions an account holds directly, not through a role or a group.
CREATE TABLE account_permissions (
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  permission text NOT NULL CHECK (permission ~ '^[\x21-\x7e]{1,128}$'),
  PRIMARY KEY (account_id, permission)
);

-- Every role an account holds: its own and those of its groups and their ancestors. For SQL that asks "does the
-- account hold a role that ..." (the MFA requirement, the bootstrap admin check).
CREATE FUNCTION gatehouse_account_roles(account text) RETURNS SETOF text LANGUAGE sql STABLE AS $$
  WITH RECURSIVE member_of(name) AS (
    SELECT group_name FROM group_members WHERE account_id = account
    UNION
    SELECT gp.parent_name FROM group_parents gp JOIN member_of m ON gp.group_name = m.name
  )
  SELECT role_name FROM account_roles WHERE account_id = account
  UNION
  SELECT gr.role_name FROM group_roles gr JOIN member_of m ON gr.group_name = m.name
$$;

-- What a token carries is cached by every process in the rbac area (migration 007): these tables are part of it.
CREATE TRIGGER groups_version AFTER INSERT OR UPDATE OR DELETE ON groups
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER group_parents_version AFTER INSERT OR UPDATE OR DELETE ON group_parents
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER group_roles_version AFTER INSERT OR UPDATE OR DELETE ON group_roles
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER group_permissions_version AFTER INSERT OR UPDATE OR DELETE ON group_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER group_members_version AFTER INSERT OR UPDATE OR DELETE ON group_members
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');
CREATE TRIGGER account_permissions_version AFTER INSERT OR UPDATE OR DELETE ON account_permissions
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('rbac');

-- Down Migration
DROP TRIGGER account_permissions_version ON account_permissions;
DROP TRIGGER group_members_version ON group_members;
DROP TRIGGER group_permissions_version ON group_permissions;
DROP TRIGGER group_roles_version ON group_roles;
DROP TRIGGER group_parents_version ON group_parents;
DROP TRIGGER groups_version ON groups;
DROP FUNCTION gatehouse_account_roles(text);
DROP TABLE account_permissions;
DROP TABLE group_members;
DROP TABLE group_permissions;
DROP TABLE group_roles;
DROP TABLE group_parents;
DROP TABLE groups;
ALTER TABLE accounts DROP COLUMN attributes;
