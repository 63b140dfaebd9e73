//! OAuth 2.0 / OIDC error codes: RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6, RFC 6750 §3.1,
//! RFC 7009 §2.2.1. One type for every surface; the web layer decides body vs. redirect.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    InvalidToken,
    UnsupportedTokenType,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidRequest => "invalid_request",
            Code::InvalidClient => "invalid_client",
            Code::InvalidGrant => "invalid_grant",
            Code::UnauthorizedClient => "unauthorized_client",
            Code::UnsupportedGrantType => "unsupported_grant_type",
            Code::InvalidScope => "invalid_scope",
            Code::AccessDenied => "access_denied",
            Code::UnsupportedResponseType => "unsupported_response_type",
            Code::ServerError => "server_error",
            Code::TemporarilyUnavailable => "temporarily_unavailable",
            Code::LoginRequired => "login_required",
            Code::ConsentRequired => "consent_required",
            Code::InteractionRequired => "interaction_required",
            Code::RequestNotSupported => "request_not_supported",
            Code::RequestUriNotSupported => "request_uri_not_supported",
            Code::RegistrationNotSupported => "registration_not_supported",
            Code::InvalidToken => "invalid_token",
            Code::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// HTTP status of a JSON error response (RFC 6749 §5.2: 400, except `invalid_client`
    /// which is 401; RFC 6750 §3.1: `invalid_token` is 401).
    pub fn status(self) -> u16 {
        match self {
            Code::InvalidClient | Code::InvalidToken => 401,
            Code::ServerError => 500,
            Code::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// A protocol error with a human description for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub description: Cow<'static, str>,
}

impl Error {
    pub fn new(code: Code, description: impl Into<Cow<'static, str>>) -> Error {
        Error {
            code,
            description: sanitize(description.into()),
        }
    }
    pub fn invalid_request(d: impl Into<Cow<'static, str>>) -> Error {
        Error::new(Code::InvalidRequest, d)
    }
    pub fn invalid_grant(d: impl Into<Cow<'static, str>>) -> Error {
        Error::new(Code::InvalidGrant, d)
    }
    pub fn invalid_client(d: impl Into<Cow<'static, str>>) -> Error {
        Error::new(Code::InvalidClient, d)
    }
    pub fn invalid_scope(d: impl Into<Cow<'static, str>>) -> Error {
        Error::new(Code::InvalidScope, d)
    }
    pub fn unauthorized_client(d: impl Into<Cow<'static, str>>) -> Error {
        Error::new(Code::UnauthorizedClient, d)
    }
    pub fn server_error() -> Error {
        Error::new(Code::ServerError, "internal error; quote the request id")
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for Error {}

/// RFC 6749 §5.2 limits `error_description` to `%x20-21 / %x23-5B / %x5D-7E`: anything else
/// (quotes, backslashes, CR/LF/TAB, non-ASCII) becomes a space, so client input echoed in a
/// description can never break a header or the JSON.
fn sanitize(s: Cow<'static, str>) -> Cow<'static, str> {
    let ok = |c: char| matches!(c as u32, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e);
    if s.chars().all(ok) {
        return s;
    }
    Cow::Owned(s.chars().map(|c| if ok(c) { c } else { ' ' }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_sanitized() {
        let e = Error::invalid_request("bad \"x\"\r\n\tvalue é");
        assert_eq!(e.description, "bad  x    value  ");
        assert_eq!(Error::invalid_client("x").code.status(), 401);
        assert_eq!(Error::invalid_grant("x").code.status(), 400);
    }
}
