-- Admin console (issue 11).
--
-- 1. Every tenant gets the built-in client `opentrusty-console`: the console is a relying party
--    of the tenant's own OpenID Provider (public, PKCE S256, first party, scopes
--    `openid opentrusty:admin`). Its reserved id is its marker (generated client ids are 22
--    random characters, so none can collide). Its redirect and post-logout URIs depend on
--    OPENTRUSTY_ADMIN_URL, which a migration cannot know: they are left empty here and the
--    daemon writes them at start (service::console::reconcile), as tenant creation does.
INSERT INTO oauth_clients (tenant_id, client_id, name, kind, secret_hash, auth_method,
    redirect_uris, post_logout_redirect_uris, grant_types, scopes, id_token_alg,
    access_token_ttl, refresh_token_ttl, id_token_ttl, require_pkce, allow_plain_pkce,
    first_party, claims_in_id_token, introspection, status, created_at, updated_at)
SELECT t.id, 'opentrusty-console', 'OpenTrusty console', 'public', NULL, 'none',
    '', '', 'authorization_code', 'openid opentrusty:admin', 'RS256',
    28800, 2592000, 3600, TRUE, FALSE, TRUE, FALSE, FALSE, 'active', t.created_at, t.created_at
FROM tenants t
WHERE NOT EXISTS (SELECT 1 FROM oauth_clients c
                  WHERE c.tenant_id = t.id AND c.client_id = 'opentrusty-console');

-- 2. Sign-ins in progress: keyed by the SHA-256 of a short-lived pre-login cookie; the state,
--    nonce and PKCE verifier never leave the server. One use, ten minutes.
CREATE TABLE console_logins (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    verifier    TEXT NOT NULL,
    return_to   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- 3. Console sessions: keyed by the SHA-256 of the console cookie. `tokens` holds the access
--    token (presented as a bearer on every console action) and the id_token (the logout hint),
--    sealed with the key-encryption key (AES-256-GCM, bound to the row by its id hash).
CREATE TABLE console_sessions (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    tokens      TEXT NOT NULL,
    kek_id      TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX console_sessions_tenant ON console_sessions (tenant_id, user_id);
