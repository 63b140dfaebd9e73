-- PostgreSQL only (heap fill factor for HOT updates of refresh tokens); SQLite has no such
-- setting. The migration exists on both backends so that their lists stay the same.
SELECT 1;
