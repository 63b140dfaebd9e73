-- Hashes and random ids are opaque ASCII: compare them byte by byte. With the database's
-- default collation (say en_US.UTF-8, or C.UTF-8) every comparison in their indexes goes
-- through the C library's strcoll, and the token tables are the hot path of the token
-- endpoint: every code, token and rotation inserts into or looks up several such indexes.
-- Equality is unchanged (all these values are ASCII), only the cost of comparing.
ALTER TABLE auth_codes ALTER COLUMN code_hash TYPE TEXT COLLATE "C";
ALTER TABLE access_tokens ALTER COLUMN token_hash TYPE TEXT COLLATE "C";
ALTER TABLE access_tokens ALTER COLUMN family_id TYPE TEXT COLLATE "C";
ALTER TABLE access_tokens ALTER COLUMN code_hash TYPE TEXT COLLATE "C";
ALTER TABLE refresh_tokens ALTER COLUMN token_hash TYPE TEXT COLLATE "C";
ALTER TABLE refresh_tokens ALTER COLUMN family_id TYPE TEXT COLLATE "C";
ALTER TABLE refresh_tokens ALTER COLUMN code_hash TYPE TEXT COLLATE "C";
ALTER TABLE sessions ALTER COLUMN id_hash TYPE TEXT COLLATE "C";
