//! Group commit (store::group) on both backends: many requests share one transaction, a bad
//! set fails alone, and single-use credentials (codes, refresh tokens) are won exactly once
//! however many requests race for them.

use std::sync::Arc;

use futures_util::future::join_all;
use opentrusty::protocol::Code;
use opentrusty::protocol::secret;
use opentrusty::service::{introspect, userinfo};
use opentrusty::store::{AccessRow, Store, WriteSet, Written};

use crate::both_backends;
use crate::common::stores;
use crate::oauth_world::{KEK, World, basic, by_code, by_refresh, code, exchange, world};

fn service_token(client_id: &str, now: i64) -> (String, AccessRow) {
    let token = secret::generate();
    let row = AccessRow {
        token_hash: secret::hash(&token),
        client_id: client_id.into(),
        user_id: None,
        scope: "api".into(),
        family_id: None,
        code_hash: None,
        auth_time: None,
        sid: None,
        expires_at: now + 3600,
        revoked_at: None,
        created_at: now,
        generation: None,
        amr: None,
    };
    (token, row)
}

/// Whether `rp`'s own refresh (or access) token is active, asked by `rp` itself.
async fn own_active(w: &World, token: &str) -> bool {
    let v = introspect::introspect(&w.app, &w.a, &basic(&w.rp), token, None)
        .await
        .unwrap();
    v["active"] == true
}

async fn active(w: &World, token: &str) -> bool {
    let v = introspect::introspect(&w.app, &w.a, &basic(&w.svc), token, None)
        .await
        .unwrap();
    v["active"] == true
}

/// The writes are issued together, so (on the test's single-threaded runtime) they all queue
/// before the writer task runs and land in one batch. A set whose client does not exist fails
/// its foreign key; the batch is retried set by set and only that one fails.
async fn a_bad_set_fails_alone(store: Store) {
    let w = world(store).await;
    let now = w.app.clock.now();
    let mut tokens = Vec::new();
    let mut writes = Vec::new();
    for i in 0..17 {
        let client = if i == 8 {
            "no-such-client"
        } else {
            &w.svc.0.client_id
        };
        let (token, row) = service_token(client, now);
        tokens.push(token);
        writes.push(w.app.writes.write(WriteSet::new(&w.a, now).access(row)));
    }
    let results = join_all(writes).await;
    for (i, (r, token)) in results.iter().zip(&tokens).enumerate() {
        if i == 8 {
            assert!(r.is_err(), "the set with an unknown client must fail");
            assert!(!active(&w, token).await);
        } else {
            assert_eq!(*r.as_ref().unwrap(), Written::Done);
            assert!(active(&w, token).await, "token {i} was not written");
        }
    }
}
both_backends!(a_bad_set_fails_alone);

/// Eight redemptions of one code at once: one wins, and the other seven are replays that
/// revoke what the winner got (RFC 6749 §4.1.2).
async fn racing_redemptions_revoke_the_winner(store: Store) {
    let w = Arc::new(world(store).await);
    let c = code(&w, &[]).await.unwrap();
    let results = join_all((0..8).map(|_| exchange(&w, &w.a, &w.rp, by_code(&c)))).await;
    let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(wins.len(), 1);
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code, Code::InvalidGrant);
        }
    }
    let won = wins[0];
    assert!(
        userinfo::userinfo(&w.app, &w.a, &won.access_token)
            .await
            .is_err()
    );
    let again = exchange(
        &w,
        &w.a,
        &w.rp,
        by_refresh(won.refresh_token.as_ref().unwrap()),
    );
    assert_eq!(again.await.unwrap_err().code, Code::InvalidGrant);
}
both_backends!(racing_redemptions_revoke_the_winner);

/// Eight rotations of one refresh token at once. With the window off, the seven losers are
/// replays and end the family. With the grace window, one loser may be answered as the one
/// grace retry (replacing the winner's tokens), the others are reuse: whatever the
/// interleaving, at most one of the refresh tokens handed out is live, and at most one access
/// token.
async fn racing_rotations(store: Store, grace: &str) {
    let mut w = world(store).await;
    if grace == "0" {
        w.app = stores::app(
            w.app.store.clone(),
            &[
                ("OPENTRUSTY_KEY_ENCRYPTION_KEY", KEK),
                ("OPENTRUSTY_REFRESH_REUSE_GRACE", "0"),
            ],
        );
    }
    let c = code(&w, &[]).await.unwrap();
    let r0 = exchange(&w, &w.a, &w.rp, by_code(&c))
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let results = join_all((0..8).map(|_| exchange(&w, &w.a, &w.rp, by_refresh(&r0)))).await;
    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.code, Code::InvalidGrant);
        }
    }
    if grace == "0" {
        assert_eq!(ok.len(), 1, "exactly one rotation wins");
        let next = ok[0].refresh_token.as_ref().unwrap();
        let after = exchange(&w, &w.a, &w.rp, by_refresh(next)).await;
        assert_eq!(after.unwrap_err().code, Code::InvalidGrant, "family ended");
    } else {
        assert!(
            !ok.is_empty() && ok.len() <= 2,
            "one rotation and at most one retry"
        );
        let mut live_refresh = 0;
        let mut live_access = 0;
        for t in &ok {
            live_refresh += usize::from(own_active(&w, t.refresh_token.as_ref().unwrap()).await);
            live_access += usize::from(own_active(&w, &t.access_token).await);
        }
        assert!(
            live_refresh <= 1,
            "{live_refresh} live refresh tokens: the family forked"
        );
        assert!(live_access <= 1, "{live_access} live access tokens");
    }
}

async fn racing_rotations_with_grace(store: Store) {
    racing_rotations(store, "10").await;
}
both_backends!(racing_rotations_with_grace);

async fn racing_rotations_without_grace(store: Store) {
    racing_rotations(store, "0").await;
}
both_backends!(racing_rotations_without_grace);

/// A used refresh token presented five more times within the grace window (the default 2 s):
/// the first replay is the one grace retry and replaces the first answer's tokens; the second
/// is reuse and ends the family (audited); later ones find it dead. At no point are two
/// refresh tokens of the family live.
async fn grace_retry_is_answered_once_and_never_forks(store: Store) {
    let w = world(store).await;
    let c = code(&w, &[]).await.unwrap();
    let r0 = exchange(&w, &w.a, &w.rp, by_code(&c))
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let first = exchange(&w, &w.a, &w.rp, by_refresh(&r0)).await.unwrap();
    let mut handed_out = vec![first];
    for replay in 1..=5 {
        w.app.clock.advance(if replay == 1 { 1 } else { 0 });
        let answer = exchange(&w, &w.a, &w.rp, by_refresh(&r0)).await;
        match replay {
            1 => handed_out.push(answer.expect("the first replay is the grace retry")),
            _ => assert_eq!(
                answer.unwrap_err().code,
                Code::InvalidGrant,
                "replay {replay}"
            ),
        }
        let mut live = Vec::new();
        for t in &handed_out {
            live.push(own_active(&w, t.refresh_token.as_ref().unwrap()).await);
        }
        let access: Vec<bool> =
            join_all(handed_out.iter().map(|t| own_active(&w, &t.access_token))).await;
        match replay {
            // The retry's tokens replaced the first answer's.
            1 => {
                assert_eq!(live, [false, true], "after the retry");
                assert_eq!(access, [false, true], "after the retry");
            }
            // The second retry is reuse: the family is gone.
            _ => {
                assert_eq!(live, [false, false], "after replay {replay}");
                assert_eq!(access, [false, false], "after replay {replay}");
            }
        }
    }
    let events = opentrusty::service::audit::list(&w.app, Some(&w.a), 20)
        .await
        .unwrap();
    let reused = events
        .iter()
        .filter(|e| e.event_type == "oauth.refresh_token_reused")
        .count();
    assert_eq!(reused, 1, "the second retry is audited as reuse, once");
}
both_backends!(grace_retry_is_answered_once_and_never_forks);

/// The SQLite writer never checkpoints inside a commit; the background checkpointer copies the
/// WAL back into the database file within a few hundred milliseconds of the writes.
#[tokio::test]
async fn sqlite_wal_is_copied_back_in_the_background() {
    let dir = crate::common::tempdir();
    let w = world(stores::sqlite(dir.path()).await).await;
    let db = dir.path().join("suite.db");
    let size = || std::fs::metadata(&db).unwrap().len();
    let before = size();
    let now = w.app.clock.now();
    for _ in 0..20 {
        let writes: Vec<_> = (0..32)
            .map(|_| {
                let (_, row) = service_token(&w.svc.0.client_id, now);
                w.app.writes.write(WriteSet::new(&w.a, now).access(row))
            })
            .collect();
        for r in join_all(writes).await {
            r.unwrap();
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while size() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file did not grow: the WAL was not checkpointed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Rotated tokens do not carry the code's hash; a replay of the code still ends them, through
/// the family of the tokens the code itself produced.
async fn replay_after_rotation_ends_the_rotated_tokens(store: Store) {
    let w = world(store).await;
    let c = code(&w, &[]).await.unwrap();
    let first = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap();
    let rotated = exchange(
        &w,
        &w.a,
        &w.rp,
        by_refresh(first.refresh_token.as_ref().unwrap()),
    )
    .await
    .unwrap();
    assert!(
        userinfo::userinfo(&w.app, &w.a, &rotated.access_token)
            .await
            .is_ok()
    );
    let replay = exchange(&w, &w.a, &w.rp, by_code(&c)).await.unwrap_err();
    assert_eq!(replay.code, Code::InvalidGrant);
    assert!(
        userinfo::userinfo(&w.app, &w.a, &rotated.access_token)
            .await
            .is_err(),
        "the rotated access token must be revoked"
    );
    let next = exchange(
        &w,
        &w.a,
        &w.rp,
        by_refresh(rotated.refresh_token.as_ref().unwrap()),
    );
    assert_eq!(next.await.unwrap_err().code, Code::InvalidGrant);
}
both_backends!(replay_after_rotation_ends_the_rotated_tokens);
