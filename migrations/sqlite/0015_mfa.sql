-- Second factors (issue 12).
--
-- 1. A user's factors: TOTP seeds (sealed with the key-encryption key, bound to the row's id)
--    and WebAuthn credentials (the credential id, unique within a tenant, and the stored
--    passkey as JSON). A TOTP factor is `confirmed` by its first valid code; `last_step` is
--    the last accepted time step, so a code is accepted once (RFC 6238 §5.2). The row goes
--    with its user.
CREATE TABLE mfa_factors (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('totp', 'webauthn')),
    name          TEXT NOT NULL,
    secret        TEXT,
    kek_id        TEXT,
    credential_id TEXT,
    credential    TEXT,
    last_step     BIGINT,
    confirmed     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_factors_user ON mfa_factors (tenant_id, user_id);
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (tenant_id, credential_id)
    WHERE credential_id IS NOT NULL;

-- 2. Recovery codes: the SHA-256 of each (80 random bits each, so a hash is enough), single
--    use. A new set replaces the old one.
CREATE TABLE mfa_recovery_codes (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
