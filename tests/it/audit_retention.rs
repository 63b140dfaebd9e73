//! Audit events older than `OPENTRUSTY_AUDIT_RETENTION_DAYS` are purged by housekeeping, per
//! tenant and installation-wide, in batches; newer ones stay (issue 9, defect 7). Both backends.

use opentrusty::domain::ids::TenantId;
use opentrusty::service::housekeeping;
use opentrusty::store::Store;
use opentrusty::store::audit::AuditRow;

use crate::both_backends;
use crate::common::stores::{self, T0};
use crate::oauth_world::{KEK, tenant};

const DAY: i64 = 86_400;

fn row(tenant: Option<TenantId>, created_at: i64, what: &str) -> AuditRow {
    AuditRow {
        event_type: what.into(),
        tenant_id: tenant,
        actor: None,
        target: None,
        ip: None,
        user_agent: None,
        request_id: None,
        metadata: "{}".into(),
        created_at,
    }
}

async fn audit_events_expire_after_the_retention(store: Store) {
    let app = stores::app(
        store,
        &[
            ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
            ("OPENTRUSTY_AUDIT_RETENTION_DAYS", "30"),
        ],
    );
    let a = tenant(&app, "acme").await;
    let b = tenant(&app, "beta").await;
    let mut tx = app.store.begin().await.unwrap();
    // More old events than one batch (500) for acme, a few for beta and the installation.
    for i in 0..1_234 {
        tx.audit_insert(&row(Some(a.id), T0 - 31 * DAY - i, "old"))
            .await
            .unwrap();
    }
    for (owner, at, what) in [
        (Some(a.id), T0 - 29 * DAY, "recent"),
        (Some(a.id), T0, "now"),
        (Some(b.id), T0 - 400 * DAY, "old"),
        (Some(b.id), T0 - DAY, "recent"),
        (None, T0 - 31 * DAY, "old"),
        (None, T0 - 30 * DAY + 1, "recent"),
    ] {
        tx.audit_insert(&row(owner, at, what)).await.unwrap();
    }
    tx.commit().await.unwrap();

    let counts = housekeeping::round(&app).await.unwrap();
    let purged = counts.iter().find(|(t, _)| *t == "audit_events").unwrap().1;
    assert_eq!(purged, 1_234 + 1 + 1);

    let mut tx = app.store.read().await.unwrap();
    let kinds = |rows: Vec<AuditRow>| {
        let mut v: Vec<String> = rows.into_iter().map(|r| r.event_type).collect();
        v.sort();
        v
    };
    assert_eq!(
        kinds(tx.scope(&a).audit_list(10_000).await.unwrap()),
        ["now", "recent"]
    );
    assert_eq!(
        kinds(tx.scope(&b).audit_list(10_000).await.unwrap()),
        ["recent"]
    );
    assert_eq!(
        kinds(tx.audit_list_global(10_000).await.unwrap()),
        ["recent"]
    );
    drop(tx);

    // Nothing left to purge: a second round deletes nothing.
    let counts = housekeeping::round(&app).await.unwrap();
    assert_eq!(
        counts.iter().find(|(t, _)| *t == "audit_events").unwrap().1,
        0
    );
}
both_backends!(audit_events_expire_after_the_retention);
