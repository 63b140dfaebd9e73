-- Second factors at login (issue 12): how the user signed in travels with what the sign-in
-- produced, so id_tokens and userinfo can say it (`amr`, RFC 8176, and `acr` derived from
-- it), also after a refresh and after the session itself ended.
-- Space-separated methods (`pwd otp mfa`); NULL on rows from before: unknown, no claim.
ALTER TABLE auth_codes ADD COLUMN amr TEXT;
ALTER TABLE access_tokens ADD COLUMN amr TEXT;
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT;

-- A recovery code used at a sign-in is shown to the user at their next one; this says when
-- the user was told.
ALTER TABLE mfa_recovery_codes ADD COLUMN noticed_at BIGINT;
