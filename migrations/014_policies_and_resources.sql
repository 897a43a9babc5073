-- Up Migration

-- The policy decision point (issue 14, step 2): the Cedar policy set, versioned, and the resources policies are
-- evaluated against (type, id, attributes, parents) with their relation sets (per-resource sharing).

-- Every version of the policy set ever made; the active one is the highest. A change (`policy set`, `policy
-- rollback`) adds a row, in one statement, so the set is replaced atomically and nothing is ever lost. Versions are
-- numbered 1, 2, ... under a lock on the table (src/queries/policy-queries.ts). The text was parsed (and validated
-- against `schema` when there is one) before it was written.
CREATE TABLE authz_policy_versions (
  version       bigint PRIMARY KEY CHECK (version > 0),
  text          text NOT NULL,
  schema        text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text NOT NULL,
  -- The version this one restored (`policy rollback`), else NULL.
  restored_from bigint REFERENCES authz_policy_versions (version)
);

-- Resources the decision point knows. `type` is a Cedar entity type name (checked further by the library:
-- reserved words); `attributes` hold Cedar entity JSON values (entity references as {"__entity": ...}).
CREATE TABLE authz_resources (
  type       text NOT NULL CHECK (type ~ '^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$' AND length(type) <= 200),
  id         text NOT NULL CHECK (length(id) BETWEEN 1 AND 1024),
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (type, id)
);

-- A resource's parents (`resource in folder::"f"`). A parent need not be a stored resource.
CREATE TABLE authz_resource_parents (
  type        text NOT NULL,
  id          text NOT NULL,
  parent_type text NOT NULL CHECK (parent_type ~ '^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$' AND length(parent_type) <= 200),
  parent_id   text NOT NULL CHECK (length(parent_id) BETWEEN 1 AND 1024),
  PRIMARY KEY (type, id, parent_type, parent_id),
  FOREIGN KEY (type, id) REFERENCES authz_resources (type, id) ON DELETE CASCADE
);
CREATE INDEX authz_resource_parents_parent_idx ON authz_resource_parents (parent_type, parent_id);

-- Per-resource grants (sharing): `resource.<relation>` is the set of the users and groups holding it. A grant goes
-- with the account or group it names.
CREATE TABLE authz_resource_relations (
  type       text NOT NULL,
  id         text NOT NULL,
  relation   text NOT NULL CHECK (relation ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
  account_id text REFERENCES accounts (id) ON DELETE CASCADE,
  group_name text REFERENCES groups (name) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((account_id IS NULL) <> (group_name IS NULL)),
  FOREIGN KEY (type, id) REFERENCES authz_resources (type, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX authz_resource_relations_account_idx
  ON authz_resource_relations (type, id, relation, account_id) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX authz_resource_relations_group_idx
  ON authz_resource_relations (type, id, relation, group_name) WHERE group_name IS NOT NULL;
CREATE INDEX authz_resource_relations_account_fk_idx ON authz_resource_relations (account_id);
CREATE INDEX authz_resource_relations_group_fk_idx ON authz_resource_relations (group_name);

-- Every process caches the active policy set (area `policies`) and the resources it evaluated (area `resources`);
-- a write anywhere tells them at once (migrations 007 and 011).
INSERT INTO config_versions (name) VALUES ('policies'), ('resources') ON CONFLICT DO NOTHING;
CREATE TRIGGER authz_policy_versions_version AFTER INSERT OR UPDATE OR DELETE ON authz_policy_versions
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('policies');
CREATE TRIGGER authz_resources_version AFTER INSERT OR UPDATE OR DELETE ON authz_resources
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('resources');
CREATE TRIGGER authz_resource_parents_version AFTER INSERT OR UPDATE OR DELETE ON authz_resource_parents
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('resources');
CREATE TRIGGER authz_resource_relations_version AFTER INSERT OR UPDATE OR DELETE ON authz_resource_relations
  FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_bump_config_version('resources');

-- Down Migration
DROP TRIGGER authz_resource_relations_version ON authz_resource_relations;
DROP TRIGGER authz_resource_parents_version ON authz_resource_parents;
DROP TRIGGER authz_resources_version ON authz_resources;
DROP TRIGGER authz_policy_versions_version ON authz_policy_versions;
DELETE FROM config_versions WHERE name IN ('policies', 'resources');
DROP TABLE authz_resource_relations;
DROP TABLE authz_resource_parents;
DROP TABLE authz_resources;
DROP TABLE authz_policy_versions;
