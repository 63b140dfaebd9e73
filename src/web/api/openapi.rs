//! The OpenAPI 3.1 document of the management API, generated from the handlers' types and
//! attributes (utoipa): every route, its bodies and parameters, the error shape on every
//! operation, and the bearer security scheme. Built once, served as bytes.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::problem::ErrorBody;

/// The one path that needs no authentication.
pub const PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenTrusty management API",
        description = "Manage tenants, users, clients, keys, API tokens and the audit trail. \
            Authenticate with an API token (`otk_...`) or an access token carrying the \
            `opentrusty:admin` scope. Outside your scope everything is 404."
    ),
    components(schemas(ErrorBody)),
    modifiers(&Finish)
)]
struct Base;

pub fn base() -> Document {
    Base::openapi()
}

/// Error responses every authenticated operation may give, with the one error body.
const ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed JSON"),
    ("401", "Missing or invalid bearer token"),
    ("403", "The caller's role lacks the permission"),
    ("404", "Not found, or outside the caller's scope"),
    ("405", "Method not allowed"),
    ("409", "Conflict (duplicate, last owner)"),
    ("413", "Body over 64 KiB"),
    ("415", "Body is not JSON"),
    (
        "422",
        "A field or parameter failed validation (the message names it)",
    ),
    ("429", "Too many failed authentications"),
    ("500", "Internal error (quote the request id)"),
    ("503", "Temporarily unavailable"),
];

struct Finish;

impl Modify for Finish {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Adds the error responses and the security requirement to every operation (the document
/// is final only once every route is in, hence not in [`Finish`]).
fn complete(mut doc: Document) -> Document {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            for (status, description) in ERRORS {
                let public = path == PATH;
                if public && !matches!(*status, "405" | "500" | "503") {
                    continue;
                }
                op.responses
                    .responses
                    .entry((*status).to_owned())
                    .or_insert_with(|| error(description).into());
            }
            if path != PATH {
                op.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
    doc
}

/// The document, built once.
pub fn json() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| {
        let doc = complete(super::api().into_openapi());
        serde_json::to_vec(&doc).unwrap_or_default()
    })
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = PATH, tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}
