-- Credentials die together (issue 9); the same change as the SQLite migration of this name:
-- per-user revocation, client status and introspection permission, and the refresh grace
-- retry that leaves at most one live child.
--
-- * users -> tokens indexes: a password change, disable or delete revokes (or, through the
--   foreign keys, deletes) every token of the user without scanning the token tables.
--   client_credentials tokens have no user and add no entry.
-- * oauth_clients.status: a disabled client cannot authenticate or start a flow.
-- * oauth_clients.introspection: may introspect other clients' access tokens (RFC 7662 §4).
-- * generation: a refresh token's place in its family (0 for the code's own, +1 per rotation),
--   copied onto the access token issued with it, so a grace retry of token N revokes exactly
--   what was minted after N. retried_at: the one grace retry a used token is allowed.

CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX access_tokens_user ON access_tokens (user_id) WHERE user_id IS NOT NULL;

ALTER TABLE oauth_clients ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'disabled'));
ALTER TABLE oauth_clients ADD COLUMN introspection BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE refresh_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN retried_at BIGINT;
ALTER TABLE access_tokens ADD COLUMN generation BIGINT;
