//! CPU cost of a second-factor check against the password it follows (issue 12): a TOTP
//! verification as the login does it (open the sealed seed with the key-encryption key, then
//! up to three HMAC-SHA-1 codes compared in constant time), and one Argon2id verification with
//! the default parameters. Prints µs per operation and what the TOTP step costs a password +
//! TOTP login relative to the password alone (the goal: login throughput ≥ 90 % of the raw
//! Argon2id rate, and ≤ 100 µs per TOTP check), and a WebAuthn assertion verification next to
//! the bare ES256 signature check at its fastest on this machine (the floor of any assertion
//! verification). Single thread, in process: CPU, no I/O.
//!
//! Usage: cargo run --release --example factors-bench [-- ITERATIONS]

use std::time::Instant;

use opentrusty::config::KeyEncryptionKey;
use opentrusty::protocol::totp;
use opentrusty::service::kek::Kek;
use opentrusty::service::password::{Hasher, Verified};

fn per_op(label: &str, n: u32, mut f: impl FnMut(u32)) -> f64 {
    // Warm up caches and the allocator before timing.
    for i in 0..n.min(100) {
        f(i);
    }
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!("{label:<58} {us:>10.2} µs/op  ({n} ops)");
    us
}

/// One WebAuthn assertion verification as the passkey sign-in does it, on the captured
/// ceremony; returns µs per verification.
fn webauthn(n: u32) -> f64 {
    use webauthn_rs::prelude::{
        DiscoverableAuthentication, Passkey, PublicKeyCredential, Url, WebauthnBuilder,
    };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/webauthn_assertion.json"
    );
    let text = std::fs::read_to_string(path).expect("the captured WebAuthn ceremony");
    let fx: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    let origin = Url::parse(fx["origin"].as_str().expect("origin")).expect("origin URL");
    let rp_id = origin.domain().expect("a domain").to_owned();
    let rp = WebauthnBuilder::new(&rp_id, &origin)
        .expect("relying party")
        .build()
        .expect("relying party");
    let state: DiscoverableAuthentication =
        serde_json::from_value(fx["state"].clone()).expect("state");
    let answer: PublicKeyCredential =
        serde_json::from_value(fx["response"].clone()).expect("answer");
    let passkey: Passkey = serde_json::from_value(fx["credential"].clone()).expect("credential");
    per_op("WebAuthn assertion verify (ES256, discoverable)", n, |_| {
        let who = rp
            .identify_discoverable_authentication(&answer)
            .expect("user handle");
        std::hint::black_box(who);
        let r = rp
            .finish_discoverable_authentication_v2(&answer, state.clone(), &passkey)
            .expect("the captured assertion verifies");
        std::hint::black_box(r);
    })
}

/// One bare ES256 signature check (ECDSA P-256 + SHA-256, the algorithm of every passkey the
/// tests meet) with aws-lc-rs's assembly: no WebAuthn library does less per assertion, so this
/// is the floor of an assertion verification on this machine. (webauthn-rs verifies with
/// RustCrypto's p256, which offers no faster backend.)
fn es256_floor(n: u32) -> f64 {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
        UnparsedPublicKey,
    };
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
        .expect("key pair");
    // What an authenticator signs: 37 bytes of authenticator data and a 32-byte hash.
    let signed = [7u8; 69];
    let signature = pair.sign(&rng, &signed).expect("signature");
    let public = pair.public_key().as_ref().to_vec();
    per_op(
        "ES256 signature check alone (aws-lc-rs, assembly)",
        n,
        |_| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public)
                .verify(&signed, signature.as_ref())
                .expect("the signature verifies");
        },
    )
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let kek = Kek::new(&KeyEncryptionKey([7u8; 32])).expect("a key-encryption key");
    let seed = [42u8; totp::SECRET_LEN];
    let aad = "mfa_factor:0190f000-0000-7000-8000-000000000000";
    let sealed = kek.seal(&seed, aad).expect("seal");
    let now = 1_800_000_000i64;
    let good = totp::code(&seed, totp::step(now));
    // The worst case for a valid code: the window's last step matches.
    let late = totp::code(&seed, totp::step(now) + 1);
    let wrong = if good == "000000" { "111111" } else { "000000" }.to_owned();

    println!("second-factor CPU per check (single thread, release build)");
    per_op("KEK open of the sealed seed (AES-256-GCM)", n, |_| {
        std::hint::black_box(kek.open(&sealed, aad).expect("open"));
    });
    per_op("TOTP verify, code of the current step", n, |_| {
        std::hint::black_box(totp::verify(&seed, &good, now, None));
    });
    per_op("TOTP verify, wrong code (all 3 steps computed)", n, |_| {
        std::hint::black_box(totp::verify(&seed, &wrong, now, None));
    });
    let check = per_op(
        "TOTP check as at login (open + verify, last step)",
        n,
        |_| {
            let s = kek.open(&sealed, aad).expect("open");
            std::hint::black_box(totp::verify(&s, &late, now, None));
        },
    );

    let assertion = webauthn(n.min(5_000));
    let floor = es256_floor(n.min(5_000));
    println!(
        "WebAuthn assertion verification: {assertion:.1} µs ({} the 100 µs goal); \
         the bare signature check's floor here: {floor:.1} µs",
        if assertion <= 100.0 { "within" } else { "over" }
    );

    // Argon2id with the daemon's default parameters (as configured without any variable),
    // through the daemon's own hasher, one verification at a time.
    let env: std::collections::BTreeMap<String, String> = [(
        "OPENTRUSTY_PUBLIC_URL".to_owned(),
        "https://id.example.test".to_owned(),
    )]
    .into();
    let id = opentrusty::config::Config::from_vars(&env)
        .expect("the default configuration")
        .identity;
    let hasher = Hasher::new(&id).expect("hasher");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let password = "correct horse battery staple".to_owned();
    let hash = rt.block_on(hasher.hash(password.clone())).expect("hash");
    let label = format!(
        "Argon2id verify (m={} KiB, t={}, p={})",
        id.argon2_memory_kib, id.argon2_iterations, id.argon2_parallelism
    );
    let pwd = per_op(&label, 20, |_| {
        let v = rt.block_on(hasher.verify(password.clone(), Some(hash.clone())));
        assert!(matches!(v, Ok(Verified::Yes { .. })));
    });
    println!(
        "password + TOTP login CPU vs password alone: {:.4} % of the raw Argon2id rate",
        100.0 * pwd / (pwd + check)
    );
}
