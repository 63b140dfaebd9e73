-- API tokens for automation (issue 10): bound to one tenant (or `platform`) and a role, shown
-- once, stored as SHA-256. Revocation and expiry are read from this table on every request.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at);
