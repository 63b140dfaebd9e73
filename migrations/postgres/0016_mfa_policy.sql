-- Second-factor policy (issue 12).
--
-- 1. Per tenant: `optional` (users who enrolled a factor are asked for it) or `required`
--    (a user without one enrols at the next login, before any code is issued).
ALTER TABLE tenants ADD COLUMN mfa TEXT NOT NULL DEFAULT 'optional'
    CHECK (mfa IN ('optional', 'required'));

-- 2. Per client: every login for this client needs a second factor (as if it always sent
--    `acr_values=urn:opentrusty:mfa`).
ALTER TABLE oauth_clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;

-- 3. When the session's second factor was verified (its `amr` says which); NULL: password only.
ALTER TABLE sessions ADD COLUMN mfa_at BIGINT;
