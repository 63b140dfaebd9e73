-- Management API, users (issue 10): a page of users filtered by status walks this index from
-- the cursor on, in creation order (ids are UUIDv7), instead of filtering the whole tenant.
-- The unfiltered page uses the (tenant_id, id) index of the users table's UNIQUE constraint.
CREATE INDEX users_tenant_status ON users (tenant_id, status, id);
-- An email prefix filter is a range of the (tenant_id, email) index; a range means a prefix
-- only in byte order. Emails are case-folded already, and equality is the same in every
-- deterministic collation, so "C" changes nothing else (SQLite's BINARY already compares bytes).
ALTER TABLE users ALTER COLUMN email TYPE TEXT COLLATE "C";
