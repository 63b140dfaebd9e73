//! The client form shared by registration and the detail page: what the browser sent, read
//! into the service's `NewClient` / `ClientChanges` (every rule stays in
//! `service::clients::build`), the values shown again with an error, and where each of the
//! service's messages belongs (they start with the field's RFC 7591 name, which is also the
//! form field's name).

use crate::domain::client::{Client, ClientKind, RedirectUri};
use crate::service::Error;
use crate::service::clients::{ClientChanges, NewClient};

/// The form's fields, named as the management API names them (RFC 7591 §2).
pub const FIELDS: &[&str] = &[
    "client_name",
    "client_type",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "scope",
    "token_endpoint_auth_method",
    "id_token_signed_response_alg",
    "introspection",
    "access_token_ttl",
    "refresh_token_ttl",
    "id_token_ttl",
    "first_party",
    "require_pkce",
    "require_mfa",
];

/// The values of the form as typed (or as stored, for the detail page).
#[derive(Clone, Debug)]
pub struct Fields {
    pub client_name: String,
    pub client_type: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: Vec<String>,
    pub scope: String,
    pub token_endpoint_auth_method: String,
    pub id_token_signed_response_alg: String,
    pub first_party: bool,
    pub require_pkce: bool,
    pub allow_plain_pkce: bool,
    pub claims_in_id_token: bool,
    pub introspection: bool,
    pub require_mfa: bool,
    pub access_token_ttl: String,
    pub refresh_token_ttl: String,
    pub id_token_ttl: String,
}

impl Default for Fields {
    /// A new registration: the service's defaults, shown so the operator sees what they get.
    fn default() -> Fields {
        Fields {
            client_name: String::new(),
            client_type: "confidential".into(),
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: "openid profile email offline_access".into(),
            token_endpoint_auth_method: String::new(),
            id_token_signed_response_alg: "RS256".into(),
            first_party: false,
            require_pkce: false,
            allow_plain_pkce: false,
            claims_in_id_token: false,
            introspection: false,
            require_mfa: false,
            access_token_ttl: String::new(),
            refresh_token_ttl: String::new(),
            id_token_ttl: String::new(),
        }
    }
}

fn lines(uris: &[RedirectUri]) -> String {
    uris.iter()
        .map(RedirectUri::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One URI a line; blank lines and surrounding spaces do not count.
fn split_lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl From<&Client> for Fields {
    fn from(c: &Client) -> Fields {
        Fields {
            client_name: c.name.clone(),
            client_type: kind_name(c.kind).into(),
            redirect_uris: lines(&c.redirect_uris),
            post_logout_redirect_uris: lines(&c.post_logout_redirect_uris),
            grant_types: c.grant_types.iter().map(|g| g.as_str().into()).collect(),
            scope: c.scopes.to_string(),
            token_endpoint_auth_method: c.auth_method.as_str().into(),
            id_token_signed_response_alg: c.id_token_alg.as_str().into(),
            first_party: c.first_party,
            require_pkce: c.pkce_required(),
            allow_plain_pkce: c.allow_plain_pkce,
            claims_in_id_token: c.claims_in_id_token,
            introspection: c.introspection,
            require_mfa: c.require_mfa,
            access_token_ttl: c.access_token_ttl.to_string(),
            refresh_token_ttl: c.refresh_token_ttl.to_string(),
            id_token_ttl: c.id_token_ttl.to_string(),
        }
    }
}

pub fn kind_name(k: ClientKind) -> &'static str {
    match k {
        ClientKind::Public => "public",
        ClientKind::Confidential => "confidential",
    }
}

/// Messages to show next to their fields, and one above the form for the rest.
#[derive(Default, Debug)]
pub struct Errors {
    pub fields: Vec<(&'static str, String)>,
    pub form: Option<String>,
    /// The form-level message is a conflict (409), not bad input.
    pub conflict: bool,
}

impl Errors {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.form.is_none()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Puts a use case's `Invalid` message next to the field it names.
    pub fn place(&mut self, message: String) {
        let head = message
            .split([':', ' '])
            .next()
            .unwrap_or_default()
            .to_owned();
        match FIELDS.iter().find(|f| **f == head) {
            Some(f) => self.fields.push((f, message)),
            None => self.form = Some(message),
        }
    }

    /// The errors of a failed use case, or the failure when it is not the caller's input.
    pub fn from_service(e: Error) -> Result<Errors, Error> {
        let mut errors = Errors::default();
        match e {
            Error::Invalid(m) => errors.place(m),
            Error::Conflict(m) => {
                errors.form = Some(m);
                errors.conflict = true;
            }
            e => return Err(e),
        }
        Ok(errors)
    }
}

/// The form and its CSRF token from a `application/x-www-form-urlencoded` body (checkboxes
/// repeat `grant_types`, which a struct extractor cannot read into a list).
pub fn parse(body: &[u8]) -> (Fields, Option<String>) {
    let mut f = Fields {
        grant_types: Vec::new(),
        scope: String::new(),
        id_token_signed_response_alg: String::new(),
        client_type: String::new(),
        ..Fields::default()
    };
    let mut csrf = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "csrf" => csrf = Some(v),
            "client_name" => f.client_name = v,
            "client_type" => f.client_type = v,
            "redirect_uris" => f.redirect_uris = v,
            "post_logout_redirect_uris" => f.post_logout_redirect_uris = v,
            "grant_types" => f.grant_types.push(v),
            "scope" => f.scope = v,
            "token_endpoint_auth_method" => f.token_endpoint_auth_method = v,
            "id_token_signed_response_alg" => f.id_token_signed_response_alg = v,
            "first_party" => f.first_party = true,
            "require_pkce" => f.require_pkce = true,
            "allow_plain_pkce" => f.allow_plain_pkce = true,
            "claims_in_id_token" => f.claims_in_id_token = true,
            "introspection" => f.introspection = true,
            "require_mfa" => f.require_mfa = true,
            "access_token_ttl" => f.access_token_ttl = v,
            "refresh_token_ttl" => f.refresh_token_ttl = v,
            "id_token_ttl" => f.id_token_ttl = v,
            _ => {}
        }
    }
    (f, csrf)
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl Fields {
    /// A lifetime field: empty is "the default" (or "unchanged"); anything but a whole number
    /// is shown next to the field (the range is the service's rule).
    fn ttl(&self, errors: &mut Errors) -> [Option<i64>; 3] {
        let mut read = |v: &str, field: &'static str| match v.trim() {
            "" => None,
            s => s.parse::<i64>().map(Some).unwrap_or_else(|_| {
                errors
                    .fields
                    .push((field, format!("{field} must be a whole number of seconds")));
                None
            }),
        };
        [
            read(&self.access_token_ttl, "access_token_ttl"),
            read(&self.refresh_token_ttl, "refresh_token_ttl"),
            read(&self.id_token_ttl, "id_token_ttl"),
        ]
    }

    /// The registration to ask `service::clients::create` for.
    pub fn to_new(&self) -> Result<NewClient, Errors> {
        let mut errors = Errors::default();
        let public = match self.client_type.as_str() {
            "public" => true,
            "confidential" | "" => false,
            _ => {
                errors.fields.push((
                    "client_type",
                    "client_type must be confidential or public".into(),
                ));
                false
            }
        };
        let [access, refresh, id] = self.ttl(&mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(NewClient {
            name: self.client_name.clone(),
            redirect_uris: split_lines(&self.redirect_uris),
            post_logout_redirect_uris: split_lines(&self.post_logout_redirect_uris),
            public,
            grant_types: self.grant_types.clone(),
            scopes: some(&self.scope),
            id_token_alg: some(&self.id_token_signed_response_alg),
            auth_method: some(&self.token_endpoint_auth_method),
            first_party: self.first_party,
            allow_plain_pkce: self.allow_plain_pkce,
            require_pkce: self.require_pkce,
            claims_in_id_token: self.claims_in_id_token,
            introspection: self.introspection,
            require_mfa: self.require_mfa,
            access_token_ttl: access,
            refresh_token_ttl: refresh,
            id_token_ttl: id,
        })
    }

    /// What differs from the stored client `c`: only those settings are sent, so the audit
    /// event names what the operator changed (an unchanged form changes nothing).
    pub fn changes(&self, c: &Client) -> Result<ClientChanges, Errors> {
        let mut errors = Errors::default();
        let [access, refresh, id] = self.ttl(&mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let now = Fields::from(c);
        fn differ<T: PartialEq + Clone>(new: T, old: T) -> Option<T> {
            (new != old).then_some(new)
        }
        // The order of the checkboxes is not a change.
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        let grants = (sorted(&self.grant_types) != sorted(&now.grant_types))
            .then(|| self.grant_types.clone());
        Ok(ClientChanges {
            name: differ(self.client_name.trim().to_owned(), now.client_name),
            redirect_uris: differ(
                split_lines(&self.redirect_uris),
                split_lines(&now.redirect_uris),
            ),
            post_logout_redirect_uris: differ(
                split_lines(&self.post_logout_redirect_uris),
                split_lines(&now.post_logout_redirect_uris),
            ),
            grant_types: grants,
            scopes: differ(self.scope.trim().to_owned(), now.scope),
            auth_method: some(&self.token_endpoint_auth_method)
                .and_then(|m| differ(m, now.token_endpoint_auth_method)),
            id_token_alg: some(&self.id_token_signed_response_alg)
                .and_then(|a| differ(a, now.id_token_signed_response_alg)),
            first_party: differ(self.first_party, now.first_party),
            require_pkce: differ(self.require_pkce, now.require_pkce),
            allow_plain_pkce: differ(self.allow_plain_pkce, now.allow_plain_pkce),
            claims_in_id_token: differ(self.claims_in_id_token, now.claims_in_id_token),
            introspection: differ(self.introspection, now.introspection),
            require_mfa: differ(self.require_mfa, now.require_mfa),
            access_token_ttl: access.and_then(|v| differ(v, c.access_token_ttl)),
            refresh_token_ttl: refresh.and_then(|v| differ(v, c.refresh_token_ttl)),
            id_token_ttl: id.and_then(|v| differ(v, c.id_token_ttl)),
        })
    }
}

/// Whether `ch` changes anything at all.
pub fn is_empty(ch: &ClientChanges) -> bool {
    serde_json::to_value(ch)
        .ok()
        .and_then(|v| v.as_object().map(serde_json::Map::is_empty))
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{AuthMethod, GrantType, SigningAlg};
    use crate::domain::ids::TenantId;
    use crate::domain::scope::Scope;
    use crate::domain::tenant::Status;

    fn client() -> Client {
        Client {
            tenant_id: TenantId::new(),
            client_id: "c1".into(),
            name: "Shop".into(),
            kind: ClientKind::Confidential,
            auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![RedirectUri::parse("https://shop.example/cb").unwrap()],
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::ClientCredentials],
            scopes: Scope::parse("openid profile").unwrap(),
            id_token_alg: SigningAlg::RS256,
            access_token_ttl: 3600,
            refresh_token_ttl: 86_400,
            id_token_ttl: 3600,
            require_pkce: false,
            allow_plain_pkce: false,
            first_party: false,
            claims_in_id_token: false,
            introspection: false,
            require_mfa: false,
            status: Status::Active,
            created_at: 1,
        }
    }

    /// The form a browser sends for `c` (every field, checkboxes only when checked).
    fn body(c: &Client, extra: &str) -> Vec<u8> {
        let f = Fields::from(c);
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("csrf", "t")
            .append_pair("client_name", &f.client_name)
            .append_pair("redirect_uris", &f.redirect_uris)
            .append_pair("scope", &f.scope)
            .append_pair("token_endpoint_auth_method", &f.token_endpoint_auth_method)
            .append_pair(
                "id_token_signed_response_alg",
                &f.id_token_signed_response_alg,
            )
            .append_pair("access_token_ttl", &f.access_token_ttl)
            .append_pair("refresh_token_ttl", &f.refresh_token_ttl)
            .append_pair("id_token_ttl", &f.id_token_ttl);
        // Checkbox order is the page's, not the stored one.
        for g in f.grant_types.iter().rev() {
            s.append_pair("grant_types", g);
        }
        format!("{}{extra}", s.finish()).into_bytes()
    }

    #[test]
    fn an_unchanged_form_changes_nothing_and_a_change_is_only_itself() {
        let c = client();
        let (f, csrf) = parse(&body(&c, ""));
        assert_eq!(csrf.as_deref(), Some("t"));
        assert!(is_empty(&f.changes(&c).unwrap()));
        let (f, _) = parse(&body(&c, "&first_party=on"));
        let ch = f.changes(&c).unwrap();
        assert_eq!(ch.first_party, Some(true));
        assert_eq!(
            serde_json::to_value(&ch).unwrap(),
            serde_json::json!({ "first_party": true })
        );
        let (mut f, _) = parse(&body(&c, ""));
        f.redirect_uris = " https://shop.example/cb \r\n\r\nhttps://shop.example/two".into();
        let ch = f.changes(&c).unwrap();
        assert_eq!(
            ch.redirect_uris.unwrap(),
            ["https://shop.example/cb", "https://shop.example/two"]
        );
    }

    #[test]
    fn require_a_second_factor_is_a_checkbox_like_the_others() {
        let mut c = client();
        let (f, _) = parse(&body(&c, "&require_mfa=on"));
        assert!(f.to_new().unwrap().require_mfa);
        let ch = f.changes(&c).unwrap();
        assert_eq!(
            serde_json::to_value(&ch).unwrap(),
            serde_json::json!({ "require_mfa": true })
        );
        // Unticked on a client that has it: withdrawn.
        c.require_mfa = true;
        let (f, _) = parse(&body(&c, ""));
        assert_eq!(f.changes(&c).unwrap().require_mfa, Some(false));
    }

    #[test]
    fn a_lifetime_that_is_no_number_is_the_fields_error() {
        let c = client();
        let (mut f, _) = parse(&body(&c, ""));
        f.refresh_token_ttl = "a day".into();
        let e = f.changes(&c).unwrap_err();
        assert!(e.get("refresh_token_ttl").unwrap().contains("whole number"));
        let e = f.to_new().unwrap_err();
        assert!(e.get("refresh_token_ttl").is_some() && e.form.is_none());
        f.refresh_token_ttl = String::new();
        f.client_type = "hybrid".into();
        assert!(f.to_new().unwrap_err().get("client_type").is_some());
    }

    #[test]
    fn service_messages_go_next_to_the_field_they_name() {
        let mut e = Errors::default();
        for m in [
            "client_name must be 1 to 200 characters",
            "redirect_uris: redirect URI \"x\" is invalid",
            "grant_types: client_credentials needs a confidential client",
            "token_endpoint_auth_method: a public client has no secret",
            "id_token_signed_response_alg must be RS256, ES256 or EdDSA",
            "introspection: needs a confidential client (RFC 7662 §2.1)",
            "scope: unknown",
            "id_token_ttl must be 1 to 86400 seconds",
        ] {
            e.place(m.into());
        }
        assert_eq!(e.fields.len(), 8);
        assert!(e.form.is_none());
        assert!(e.get("scope").is_some() && e.get("id_token_ttl").is_some());
        e.place("something else entirely".into());
        assert_eq!(e.form.as_deref(), Some("something else entirely"));
        let c = Errors::from_service(Error::Conflict("taken".into())).unwrap();
        assert!(c.conflict);
        assert!(Errors::from_service(Error::NotFound("client")).is_err());
    }
}
