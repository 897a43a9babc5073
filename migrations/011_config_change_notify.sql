-- Up Migration

-- A configuration change reaches running Gatehouse processes at once: the trigger that bumps an area's version
-- (migration 007) also notifies the channel `gatehouse_config` with the area's name. Postgres delivers the
-- notification when the writing transaction commits (never for a rollback), to every process that LISTENs (one
-- connection each, `src/db/config-listener.ts`), which forgets that area. Being a trigger, no writer can forget it:
-- the CLI, the admin API and a hand-written UPDATE all notify. The version poll stays as the fallback for a
-- notification missed while a listener reconnects, and for embedded PGlite, whose socket cannot deliver one.
CREATE OR REPLACE FUNCTION gatehouse_bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE config_versions SET version = version + 1 WHERE name = TG_ARGV[0];
  PERFORM pg_notify('gatehouse_config', TG_ARGV[0]);
  RETURN NULL;
END
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION gatehouse_bump_config_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE config_versions SET version = version + 1 WHERE name = TG_ARGV[0];
  RETURN NULL;
END
$$;
