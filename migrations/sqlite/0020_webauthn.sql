-- WebAuthn ceremonies in progress (issue 12): the server-side state between a ceremony's two
-- requests (the options sent to the browser, then its signed answer). A row is single use
-- (taken by a DELETE), lives at most five minutes (`expires_at`; the daemon purges expired
-- rows), is bound to its tenant and to the browser that started it (`binding`: a hash of its
-- session or pre-login CSRF cookie) and, for a signed-in user, to that user. `purpose` says
-- which ceremony it is: a registration on the account page, a second factor after the
-- password, or a sign-in with a passkey alone. `state` is webauthn-rs's serialised state
-- (JSON, bounded by the service). One live row per browser and purpose: a new start replaces
-- the previous one.
CREATE TABLE webauthn_ceremonies (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('register', 'factor', 'signin')),
    binding     TEXT NOT NULL,
    user_id     TEXT,
    name        TEXT,
    state       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_binding ON webauthn_ceremonies (tenant_id, binding, purpose);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies (expires_at);
