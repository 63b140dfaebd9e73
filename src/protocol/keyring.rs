//! Signing-key lifecycle rules (pure): which key signs, which keys are published, when to
//! rotate, and when a retired key may go. A key of generation `g` signs from its
//! `activates_at` until generation `g+1` activates; it stays in the JWKS until every token it
//! could have signed has expired; the next key is in the JWKS before it signs anything.

use crate::clock::UnixTime;
use crate::domain::client::SigningAlg;

/// No token we sign lives longer than this (client id_token lifetimes are capped to it), so a
/// retired key is published this long after its successor took over.
pub const MAX_SIGNED_LIFETIME: i64 = 24 * 3600;
/// How long a new key is published before it signs: longer than any node's key cache and
/// than relying parties' usual JWKS cache.
pub const PUBLISH_LEAD: i64 = 3600;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMeta {
    pub kid: String,
    pub alg: SigningAlg,
    pub generation: i64,
    pub activates_at: UnixTime,
}

/// The key that signs for `alg` now: the newest generation already activated.
pub fn active(keys: &[KeyMeta], alg: SigningAlg, now: UnixTime) -> Option<&KeyMeta> {
    keys.iter()
        .filter(|k| k.alg == alg && k.activates_at <= now)
        .max_by_key(|k| k.generation)
}

/// When `key` stopped signing: the activation of the first later generation that has
/// activated. `None` while it is active or pending.
fn retired_at(keys: &[KeyMeta], key: &KeyMeta, now: UnixTime) -> Option<UnixTime> {
    keys.iter()
        .filter(|k| k.alg == key.alg && k.generation > key.generation && k.activates_at <= now)
        .map(|k| k.activates_at.max(key.activates_at))
        .min()
}

/// Whether `key` belongs in the JWKS at `now`: pending, active, or retired less than
/// [`MAX_SIGNED_LIFETIME`] ago.
pub fn is_published(keys: &[KeyMeta], key: &KeyMeta, now: UnixTime) -> bool {
    match retired_at(keys, key, now) {
        None => true,
        Some(t) => now < t + MAX_SIGNED_LIFETIME,
    }
}

/// Keys no longer published: safe to delete.
pub fn expired(keys: &[KeyMeta], now: UnixTime) -> Vec<&KeyMeta> {
    keys.iter()
        .filter(|k| !is_published(keys, k, now))
        .collect()
}

/// Whether `alg` needs a next key: it has none pending and its active key is older than the
/// rotation period minus the publication lead. With no key at all, the caller creates one
/// active at once (nothing can have cached a JWKS without it).
pub fn rotation_due(keys: &[KeyMeta], alg: SigningAlg, now: UnixTime, period: i64) -> bool {
    let pending = keys.iter().any(|k| k.alg == alg && k.activates_at > now);
    match active(keys, alg, now) {
        Some(a) if !pending => now >= a.activates_at + period - PUBLISH_LEAD,
        _ => false,
    }
}

/// The generation number of the next key of `alg` (a unique column: of two nodes inserting
/// the same generation, one wins and the other re-reads).
pub fn next_generation(keys: &[KeyMeta], alg: SigningAlg) -> i64 {
    keys.iter()
        .filter(|k| k.alg == alg)
        .map(|k| k.generation)
        .max()
        .unwrap_or(0)
        + 1
}

/// The earliest future moment the key set changes (a pending key activates or a retired key
/// drops out), so caches know when to reload.
pub fn next_change(keys: &[KeyMeta], now: UnixTime) -> Option<UnixTime> {
    let activations = keys.iter().map(|k| k.activates_at);
    let drops = keys
        .iter()
        .filter_map(|k| retired_at(keys, k, UnixTime::MAX).map(|t| t + MAX_SIGNED_LIFETIME));
    activations.chain(drops).filter(|t| *t > now).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(g: i64, at: UnixTime) -> KeyMeta {
        KeyMeta {
            kid: format!("k{g}"),
            alg: SigningAlg::RS256,
            generation: g,
            activates_at: at,
        }
    }

    const DAY: i64 = 86400;

    #[test]
    fn next_key_is_published_before_it_signs() {
        let keys = vec![key(1, 0), key(2, 100 * DAY)];
        let now = 100 * DAY - 10;
        assert_eq!(active(&keys, SigningAlg::RS256, now).unwrap().kid, "k1");
        assert!(is_published(&keys, &keys[1], now));
        assert_eq!(
            active(&keys, SigningAlg::RS256, 100 * DAY).unwrap().kid,
            "k2"
        );
        assert_eq!(next_change(&keys, now), Some(100 * DAY));
    }

    #[test]
    fn retired_key_stays_until_its_tokens_expired() {
        let keys = vec![key(1, 0), key(2, 100 * DAY)];
        let switch = 100 * DAY;
        assert!(is_published(
            &keys,
            &keys[0],
            switch + MAX_SIGNED_LIFETIME - 1
        ));
        assert!(!is_published(&keys, &keys[0], switch + MAX_SIGNED_LIFETIME));
        assert_eq!(expired(&keys, switch + MAX_SIGNED_LIFETIME)[0].kid, "k1");
        assert!(expired(&keys, switch).is_empty());
    }

    #[test]
    fn rotation_schedule() {
        let period = 90 * DAY;
        let keys = vec![key(1, 0)];
        assert!(!rotation_due(
            &keys,
            SigningAlg::RS256,
            period - PUBLISH_LEAD - 1,
            period
        ));
        assert!(rotation_due(
            &keys,
            SigningAlg::RS256,
            period - PUBLISH_LEAD,
            period
        ));
        let keys = vec![key(1, 0), key(2, period)];
        assert!(!rotation_due(&keys, SigningAlg::RS256, period - 5, period));
        assert_eq!(next_generation(&keys, SigningAlg::RS256), 3);
        assert_eq!(next_generation(&keys, SigningAlg::ES256), 1);
        assert!(!rotation_due(&[], SigningAlg::RS256, 0, period));
    }
}
