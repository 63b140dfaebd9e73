-- A refresh token row is updated once, soon after it was written: used_at when it is rotated
-- (or retried_at, revoked_at). On full heap pages PostgreSQL writes that update as a new row
-- version elsewhere, with a new entry in each of the table's five indexes. Room left free on
-- every page lets the update stay on its page as a HOT update that touches no index (this
-- applies to pages written from now on).
ALTER TABLE refresh_tokens SET (fillfactor = 80);
