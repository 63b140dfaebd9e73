//! Length bounds for everything a request carries (DESIGN §5: every identifier is bounded
//! before it is used, looked up or cached). The protocols set few limits of their own, so
//! these are generous multiples of what real clients send; anything longer is refused with
//! `invalid_request` naming the parameter, before a lookup.

/// Client ids we issue are 22 characters; 255 leaves room for imported ids.
pub const CLIENT_ID: usize = 255;
/// A client secret (ours are 43 characters).
pub const CLIENT_SECRET: usize = 512;
/// Opaque credentials we issue: codes, access and refresh tokens, session and CSRF cookie
/// values (43 characters each).
pub const TOKEN: usize = 512;
/// Registered redirect URIs are at most this long (`RedirectUri::parse`).
pub const REDIRECT_URI: usize = 2000;
/// RFC 7636 §4.1: a verifier (and a `plain` challenge) is at most 128 characters.
pub const PKCE: usize = 128;
pub const SCOPE: usize = 2048;
pub const STATE: usize = 2048;
pub const NONCE: usize = 512;
/// An email address is at most 254 characters (RFC 5321 §4.5.3.1 path limit); some slack.
pub const LOGIN_HINT: usize = 320;
/// An id_token we signed: a few hundred bytes of claims, a 512-byte RSA-4096 signature.
pub const ID_TOKEN_HINT: usize = 8192;
/// Any other parameter (`prompt`, `max_age`, `ui_locales`, extensions we ignore ...).
pub const OTHER: usize = 2048;
/// A parameter name.
pub const NAME: usize = 64;
/// Parameters in one request (the authorization request defines about twenty).
pub const PARAMS: usize = 64;
/// The base64 part of an HTTP Basic `Authorization` header: room for a percent-encoded
/// client id and secret at their bounds.
pub const BASIC: usize = 4 * (3 * (CLIENT_ID + CLIENT_SECRET) + 1).div_ceil(3);

/// The bound for a form or query parameter.
pub fn max_len(name: &str) -> usize {
    match name {
        "client_id" => CLIENT_ID,
        "client_secret" => CLIENT_SECRET,
        "code" | "refresh_token" | "token" | "access_token" | "csrf" => TOKEN,
        "redirect_uri" | "post_logout_redirect_uri" => REDIRECT_URI,
        "code_verifier" | "code_challenge" => PKCE,
        "scope" => SCOPE,
        "state" => STATE,
        "nonce" => NONCE,
        "login_hint" => LOGIN_HINT,
        "id_token_hint" => ID_TOKEN_HINT,
        _ => OTHER,
    }
}
