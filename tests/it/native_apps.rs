//! RFC 8252 §8.6 for public clients: a remembered consent (and first-party status) skips the
//! consent question only when the redirect URI proves the client's identity — a claimed https
//! URI or a loopback one. With a private-use scheme any app could be asking: the user is asked
//! again, and `prompt=none` fails with `consent_required` (issue 9, item 14).

use std::collections::HashMap;

use opentrusty::service::Context;
use opentrusty::service::authorize::{self, Outcome};
use opentrusty::service::clients::{self, NewClient};
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::*;

const NATIVE: &str = "com.example.app:/cb";
const LOOPBACK: &str = "http://127.0.0.1/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

async fn ask(
    w: &World,
    client_id: &str,
    redirect: &str,
    extra: &[(&str, &str)],
    consent: Option<bool>,
) -> Outcome {
    let mut p: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        p.insert(k.to_string(), v.to_string());
    }
    authorize::authorize(
        &w.app,
        &w.a,
        p,
        Some(&w.session),
        consent,
        &Context::default(),
    )
    .await
    .unwrap()
}

fn issued(o: &Outcome, redirect: &str) -> bool {
    matches!(o, Outcome::Redirect(to) if to.starts_with(redirect) && to.contains("code="))
}

async fn public_clients_prove_identity_by_redirect_uri(store: Store) {
    let w = world(store).await;
    for first_party in [false, true] {
        let app = clients::create(
            &w.app,
            &w.a,
            &NewClient {
                name: "Native".into(),
                redirect_uris: vec![NATIVE.into(), LOOPBACK.into(), CB.into()],
                public: true,
                first_party,
                ..NewClient::default()
            },
            &Context::default(),
        )
        .await
        .unwrap();
        let id = app.client.client_id.as_str();
        // The user approves once (through the private-use URI): that consent is remembered.
        let approved = ask(&w, id, NATIVE, &[], Some(true)).await;
        assert!(issued(&approved, NATIVE), "{approved:?}");
        // Through the private-use scheme the question comes again, and prompt=none fails.
        let again = ask(&w, id, NATIVE, &[], None).await;
        assert!(
            matches!(again, Outcome::Consent { .. }),
            "first_party={first_party}: {again:?}"
        );
        let silent = ask(&w, id, NATIVE, &[("prompt", "none")], None).await;
        match &silent {
            Outcome::Redirect(to) => {
                assert!(
                    to.starts_with(NATIVE) && to.contains("error=consent_required"),
                    "{to}"
                )
            }
            other => panic!("{other:?}"),
        }
        // Loopback and claimed https URIs prove the app: the remembered consent applies.
        for uri in [LOOPBACK, CB] {
            let o = ask(&w, id, uri, &[("prompt", "none")], None).await;
            assert!(issued(&o, uri), "first_party={first_party} {uri}: {o:?}");
        }
    }
}
both_backends!(public_clients_prove_identity_by_redirect_uri);
