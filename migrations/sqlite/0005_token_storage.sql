-- Token indexes for the write path (group commit writes thousands of rows per second).
--
-- * Partial family and code indexes: client_credentials tokens have neither, so they add no
--   entry there.
-- * refresh_tokens gets the code_hash index that revoking everything a replayed code issued
--   needs (it scanned the table before).
--
-- (Clustering the token tables on their hash, WITHOUT ROWID, was measured and is slower: rows
-- of ~300 bytes inserted at random places split far more pages than a rowid table appended to
-- in order plus a narrow primary-key index.)

DROP INDEX access_tokens_family;
CREATE INDEX access_tokens_family ON access_tokens (family_id) WHERE family_id IS NOT NULL;
DROP INDEX access_tokens_code;
CREATE INDEX access_tokens_code ON access_tokens (code_hash) WHERE code_hash IS NOT NULL;
CREATE INDEX refresh_tokens_code ON refresh_tokens (code_hash) WHERE code_hash IS NOT NULL;
