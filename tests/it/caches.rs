//! The tenant and client caches hold nothing keyed by malformed input, at most a bounded
//! number of "not found" answers, and probing random names never evicts the real entries
//! (issue 9, defect 1). Both backends.

use opentrusty::service::client_cache::MAX_MISSING;
use opentrusty::store::Store;

use crate::both_backends;
use crate::oauth_world::{app, client, tenant};

async fn caches_are_bounded_against_random_names(store: Store) {
    let app = app(store);
    let acme = tenant(&app, "acme").await;
    let (rp, _) = client(&app, &acme, &["client_credentials"], false).await;

    // Malformed slugs are unknown at once: no entry at all.
    for bad in ["A", "-x", &"a".repeat(64), &"a".repeat(60_000), "a b", "é1"] {
        assert!(app.tenants.get(&app.store, bad).await.unwrap().is_none());
    }
    assert_eq!(app.tenants.sizes(), (0, 0));
    // The real tenant is found and stays found while random valid slugs are probed.
    assert!(app.tenants.get(&app.store, "acme").await.unwrap().is_some());
    for i in 0..3_000 {
        assert!(
            app.tenants
                .get(&app.store, &format!("nope-{i}"))
                .await
                .unwrap()
                .is_none()
        );
    }
    let (found, missing) = app.tenants.sizes();
    assert_eq!(found, 1, "the real tenant was not evicted");
    assert!(missing <= 1_024, "{missing} missing slugs kept");

    // Client ids over the bound are unknown without an entry; random ones are bounded.
    let long = "c".repeat(60_000);
    assert!(app.clients.get(&app, &acme, &long).await.unwrap().is_none());
    assert_eq!(app.clients.sizes(), (0, 0));
    assert!(
        app.clients
            .get(&app, &acme, &rp.client_id)
            .await
            .unwrap()
            .is_some()
    );
    for i in 0..3_000 {
        let id = format!("unknown-{i}");
        assert!(app.clients.get(&app, &acme, &id).await.unwrap().is_none());
    }
    let (found, missing) = app.clients.sizes();
    assert_eq!(found, 1, "the real client was not evicted");
    assert!(missing <= MAX_MISSING, "{missing} missing ids kept");
}
both_backends!(caches_are_bounded_against_random_names);
