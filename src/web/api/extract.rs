//! The management API's extractors: the authenticated [`Caller`], and JSON bodies and query
//! strings whose rejections are the API's own error shape (415 not JSON, 400 malformed, 422 a
//! field that does not fit, naming it, 413 over the body limit).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::app::AppState;
use crate::service::authz::{self, Principal};
use crate::service::{Context, ratelimit};
use crate::web::extract::RequestContext;

/// A verified operator at the host: the admin socket's peer credentials (`SO_PEERCRED`)
/// showed root or a member of the `opentrusty` group. Inserted per connection by `web::conn`
/// only on unix sockets; it names the peer's unix user.
#[derive(Clone, Debug)]
pub struct LocalOperator(pub String);

/// The authenticated caller of a management request, with the request's audit context.
pub struct Caller {
    pub principal: Principal,
    pub ctx: Context,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Problem> {
        let Ok(RequestContext(ctx, ip)) = RequestContext::from_request_parts(parts, app).await;
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        if bearer.is_none()
            && let Some(LocalOperator(user)) = parts.extensions.get::<LocalOperator>()
        {
            return Ok(Caller {
                principal: Principal::local_operator(user),
                ctx,
            });
        }
        let key = ratelimit::ip_key(ip);
        if let Some(after) = authz::throttled(app, &key) {
            return Err(Problem::throttled(after));
        }
        let Some(bearer) = bearer.filter(|b| !b.is_empty()) else {
            if parts.headers.contains_key(header::AUTHORIZATION) {
                authz::failed(app, &key);
            }
            return Err(Problem::unauthorized(
                "a bearer token is required (an API token or an access token with the opentrusty:admin scope)",
            ));
        };
        match authz::authenticate(app, bearer).await? {
            Some(principal) => Ok(Caller { principal, ctx }),
            None => {
                authz::failed(app, &key);
                Err(Problem::unauthorized(
                    "the bearer token is not valid for the management API",
                ))
            }
        }
    }
}

/// A JSON body in, or a JSON answer out. Named `Json` so the OpenAPI generator reads the
/// request body from the handler's argument type.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(too_large)?;
        parse(&bytes).map(Json)
    }
}

fn too_large(e: BytesRejection) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over {} bytes", crate::web::BODY_LIMIT),
        )
    } else {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body could not be read",
        )
    }
}

/// Parses a JSON body: malformed JSON is 400, a well-formed body that is not an object, or
/// has a missing, unknown or mistyped field, is 422 with serde's message, which names the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    // Every request body of the API is an object. serde's derived structs also accept an array
    // of their fields in order (`[null]` would be a patch that changes nothing), which the
    // document does not allow: refuse anything but an object before serde sees it.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(Problem::invalid("invalid body: expected a JSON object")),
            Err(e) => Err(rejection("", e)),
        };
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| rejection(&err.path().to_string(), err.into_inner()))?;
    // Data after the value is malformed JSON, as `serde_json::from_slice` would say.
    de.end().map_err(|e| rejection("", e))?;
    Ok(value)
}

fn rejection(path: &str, e: serde_json::Error) -> Problem {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data if !path.is_empty() && path != "." => {
            Problem::invalid(format!("invalid body: field `{path}`: {e}"))
        }
        Category::Data => Problem::invalid(format!("invalid body: {e}")),
        Category::Syntax | Category::Eof | Category::Io => Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("malformed JSON: {e}"),
        ),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string, rejected as 422 naming the parameter when it does not fit.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(q)
            .map(Query)
            .map_err(|e| Problem::invalid(format!("invalid query: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Patch {
        name: Option<String>,
    }

    fn status(body: &str) -> u16 {
        match parse::<Patch>(body.as_bytes()) {
            Ok(_) => 200,
            Err(p) => p.status.as_u16(),
        }
    }

    #[test]
    fn a_body_is_an_object() {
        assert_eq!(status(" {\"name\": \"x\"}"), 200);
        assert_eq!(status("{}"), 200);
        // serde would take these as the struct's fields in order.
        assert_eq!(status("[null]"), 422);
        assert_eq!(status("[\"x\"]"), 422);
        assert_eq!(status("null"), 422);
        assert_eq!(status("\"x\""), 422);
        assert_eq!(status("{\"nam\": 1}"), 422);
        assert_eq!(status("[null"), 400);
        assert_eq!(status(""), 400);
        assert_eq!(status("{"), 400);
    }
}
