//! Stores and in-process apps on either backend, for suites written once and run on both.

use opentrusty::app::{App, AppState};
use opentrusty::clock::Clock;
use opentrusty::config::{Config, DatabaseUrl};
use opentrusty::store::Store;

pub async fn sqlite(dir: &std::path::Path) -> Store {
    let store = Store::connect(&DatabaseUrl::Sqlite(dir.join("suite.db")), 4)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

pub async fn postgres(test: &str) -> Option<Store> {
    let url = super::pg::fresh_database(test).await?;
    let store = Store::connect(&DatabaseUrl::Postgres(url.parse().unwrap()), 4)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

/// A test configuration: cheap Argon2id (the parameters are not under test here), a fixed
/// clock, and `extra` variables on top.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut env: std::collections::BTreeMap<String, String> = [
        ("OPENTRUSTY_PUBLIC_URL", "https://id.example.test"),
        ("OPENTRUSTY_ARGON2_MEMORY_KIB", "8192"),
        ("OPENTRUSTY_ARGON2_ITERATIONS", "1"),
        ("OPENTRUSTY_LOGIN_RATE_PER_IP", "100000"),
        ("OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT", "100000"),
        ("OPENTRUSTY_API_AUTH_FAILURES_PER_IP", "100000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    Config::from_vars(&env).unwrap()
}

pub const T0: i64 = 1_800_000_000;

pub fn app(store: Store, extra: &[(&str, &str)]) -> AppState {
    App::new(config(extra), store, Clock::fixed(T0), None).unwrap()
}

/// Declares an async suite case `$name(store)` for both backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let dir = $crate::common::tempdir();
                super::$name($crate::common::stores::sqlite(dir.path()).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(store) = $crate::common::stores::postgres(stringify!($name)).await {
                    super::$name(store).await;
                }
            }
        }
    };
}
