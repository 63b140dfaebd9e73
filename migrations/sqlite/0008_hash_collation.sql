-- PostgreSQL only (byte-wise collation of hash columns); SQLite's default collation (BINARY)
-- already compares bytes. The migration exists on both backends so that their lists match.
SELECT 1;
