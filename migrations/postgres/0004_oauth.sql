-- OAuth / OIDC state of every tenant: clients, signing keys (private parts encrypted), codes,
-- tokens and consents. Secrets are stored only as SHA-256 hashes. Every row carries tenant_id;
-- children reference their client by (tenant_id, client_id), so a cross-tenant link cannot exist.
-- user_id references users (tenant_id, id): deleting a user deletes its codes, tokens and consents.

CREATE TABLE oauth_clients (
    tenant_id                 TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id                 TEXT NOT NULL,
    name                      TEXT NOT NULL,
    kind                      TEXT NOT NULL CHECK (kind IN ('confidential', 'public')),
    secret_hash               TEXT,
    auth_method               TEXT NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL,
    access_token_ttl          BIGINT NOT NULL,
    refresh_token_ttl         BIGINT NOT NULL,
    id_token_ttl              BIGINT NOT NULL,
    require_pkce              BOOLEAN NOT NULL,
    allow_plain_pkce          BOOLEAN NOT NULL,
    first_party               BOOLEAN NOT NULL,
    claims_in_id_token        BOOLEAN NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE signing_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid          TEXT NOT NULL,
    alg          TEXT NOT NULL,
    generation   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    private_key  TEXT NOT NULL,
    kek_id       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kid),
    UNIQUE (tenant_id, alg, generation)
);

CREATE TABLE auth_codes (
    code_hash             TEXT PRIMARY KEY NOT NULL,
    tenant_id             TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    auth_time             BIGINT NOT NULL,
    sid                   TEXT,
    expires_at            BIGINT NOT NULL,
    used_at               BIGINT,
    created_at            BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    family_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    sid        TEXT,
    code_hash  TEXT,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT,
    scope      TEXT NOT NULL,
    family_id  TEXT,
    code_hash  TEXT,
    auth_time  BIGINT,
    sid        TEXT,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_code ON access_tokens (code_hash);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE consents (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX consents_expires ON consents (expires_at);
