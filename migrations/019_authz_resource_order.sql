-- Up Migration

-- Resource searches and `resource list` page through the resources of a type in byte order of their ids
-- (`id COLLATE "C"`, the same order whatever the database's collation). The primary key's index is in the
-- database's collation, so without this one every page sorted all the resources of its type (a search over
-- 1,000,000 resources sorted them 5,000 times). Relation sets are read per resource: their unique indexes are
-- partial (one per kind of holder), so this one serves the plain (type, id) lookup.
CREATE INDEX authz_resources_type_id_c_idx ON authz_resources (type, id COLLATE "C");
CREATE INDEX authz_resource_relations_resource_idx ON authz_resource_relations (type, id);

-- Down Migration
DROP INDEX authz_resource_relations_resource_idx;
DROP INDEX authz_resources_type_id_c_idx;
