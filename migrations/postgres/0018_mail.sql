-- Mail and the single-use links it carries (issue 13).
--
-- 1. The outbox. A message is inserted in the same transaction as the change that causes it,
--    so it exists exactly when the change committed; the sender (service::mail::sender) claims
--    due rows (`claimed_until` is its lease), sends them and records the outcome. Once sent,
--    the bodies are erased: they carry single-use links, which must not stay at rest.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_done ON mail_outbox (created_at)
    WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;

-- 2. Single-use links (password reset, address verification, invitation): the SHA-256 of
--    256 random bits, so the hash alone is the key. `email` is the address the link was sent
--    to: a verification proves that address and no other.
CREATE TABLE user_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL CHECK (purpose IN ('reset', 'verify', 'invite')),
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX user_links_user ON user_links (tenant_id, user_id, purpose);
CREATE INDEX user_links_expiry ON user_links (expires_at);
