-- Management API, users (issue 10): a page of users filtered by status walks this index from
-- the cursor on, in creation order (ids are UUIDv7), instead of filtering the whole tenant.
-- The unfiltered page uses the (tenant_id, id) index of the users table's UNIQUE constraint.
CREATE INDEX users_tenant_status ON users (tenant_id, status, id);
-- (PostgreSQL also gives users.email the "C" collation here, so that an email prefix is a
-- range of the (tenant_id, email) index; SQLite's BINARY collation already compares bytes.)
