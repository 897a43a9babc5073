-- Up Migration

-- Role-based access control. Permissions are free-form strings (`invoices:read`); a role holds permissions;
-- accounts and clients (service accounts, for client_credentials) hold roles.
CREATE TABLE roles (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
  description text,
  builtin     boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE role_permissions (
  role_name  text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  permission text NOT NULL CHECK (permission ~ '^[\x21-\x7e]{1,128}$'),
  PRIMARY KEY (role_name, permission)
);

CREATE TABLE account_roles (
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  role_name  text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  PRIMARY KEY (account_id, role_name)
);
CREATE INDEX account_roles_role_idx ON account_roles (role_name);

CREATE TABLE client_roles (
  client_id text NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
  role_name text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  PRIMARY KEY (client_id, role_name)
);

-- APIs (resource servers, RFC 8707 resource indicators). An API declares the permissions its tokens may carry.
CREATE TABLE api_resources (
  identifier       text PRIMARY KEY,
  name             text,
  format           text NOT NULL DEFAULT 'jwt' CHECK (format IN ('jwt', 'opaque')),
  access_token_ttl integer CHECK (access_token_ttl > 0),
  builtin          boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_permissions (
  api_identifier text NOT NULL REFERENCES api_resources (identifier) ON DELETE CASCADE,
  permission     text NOT NULL CHECK (permission ~ '^[\x21-\x7e]{1,128}$'),
  PRIMARY KEY (api_identifier, permission)
);

INSERT INTO roles (name, description, builtin) VALUES ('admin', 'Administers Gatehouse through its admin API', true);
INSERT INTO role_permissions (role_name, permission) VALUES ('admin', 'admin:read'), ('admin', 'admin:write');

-- Down Migration
DROP TABLE api_permissions;
DROP TABLE api_resources;
DROP TABLE client_roles;
DROP TABLE account_roles;
DROP TABLE role_permissions;
DROP TABLE roles;
