-- Identity: users (one tenant each), server-side sessions, and the audit trail.

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    -- Trimmed and case-folded; the uniqueness key within a tenant.
    email               TEXT NOT NULL,
    email_verified      BOOLEAN NOT NULL DEFAULT FALSE,
    -- Argon2id PHC string; NULL means the user cannot log in with a password.
    password_hash       TEXT,
    given_name          TEXT,
    family_name         TEXT,
    name                TEXT,
    nickname            TEXT,
    picture             TEXT,
    locale              TEXT,
    zoneinfo            TEXT,
    status              TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (tenant_id, email),
    -- Target of composite foreign keys, so children cannot point across tenants.
    UNIQUE (tenant_id, id)
);

CREATE TABLE sessions (
    -- SHA-256 (hex) of the cookie value; the value itself is never stored.
    id_hash     TEXT PRIMARY KEY NOT NULL,
    -- Public session id (`sid` claim); not a secret.
    sid         TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    amr         TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    created_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    -- NULL for installation-wide events.
    tenant_id   TEXT REFERENCES tenants (id),
    event_type  TEXT NOT NULL,
    actor       TEXT,
    target      TEXT,
    ip          TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    -- JSON object; never holds passwords, tokens, session ids or secrets.
    metadata    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, created_at);
