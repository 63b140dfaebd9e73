-- Self-registration and email verification (issue 13).
--
-- 1. Per tenant: whether anyone may sign up at `{issuer}/register` (off by default; the page
--    also needs mail, since a new account is usable only once its address is proven).
ALTER TABLE tenants ADD COLUMN registration TEXT NOT NULL DEFAULT 'closed'
    CHECK (registration IN ('open', 'closed'));

-- 2. A sign-up waiting for its address to be proven. The user row exists (so the address is
--    taken and a second sign-up gets the same answer) but has no password yet, so it cannot
--    sign in; the password chosen at sign-up waits here and moves onto the user when the
--    verification link is used (and only if the user still has none: a password set since,
--    e.g. through "forgot password", wins). The row goes with its user.
CREATE TABLE registrations (
    tenant_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
