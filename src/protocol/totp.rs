//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30 s
//! steps, one step of clock drift either way. Pure functions of the secret and `now`; the
//! caller stores the last accepted step so that a code is accepted once (RFC 6238 §5.2: "the
//! verifier MUST NOT accept the second attempt of the OTP after the successful validation").
//! HMAC from aws-lc-rs, the one crypto library of the project.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

/// Digits of a code (RFC 6238's default, and what every authenticator app shows).
pub const DIGITS: usize = 6;
/// Seconds per time step (RFC 6238 §5.2 recommends 30).
pub const STEP: i64 = 30;
/// Steps of drift accepted before and after the current one (RFC 6238 §5.2: at most one
/// backward step is recommended; one forward covers a fast phone clock).
pub const WINDOW: i64 = 1;
/// Secret length in bytes: 160 bits, RFC 4226 §4's recommendation (R6).
pub const SECRET_LEN: usize = 20;

/// The time step of `now` (Unix seconds), T = floor(now / X) with T0 = 0 (RFC 6238 §4.2).
pub fn step(now: i64) -> i64 {
    now.div_euclid(STEP)
}

/// HOTP(K, C) truncated to `digits` decimal digits (RFC 4226 §5.3, dynamic truncation).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    bin % 10u32.pow(digits)
}

/// The 6-digit code of `step`, zero-padded as authenticator apps show it.
pub fn code(secret: &[u8], step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!(
        "{:0width$}",
        hotp(secret, counter, DIGITS as u32),
        width = DIGITS
    )
}

/// Checks `presented` against the steps around `now`. Returns the step it matched, which the
/// caller stores; a step at or before `last_used` never matches again (replay within the
/// window), so a code is accepted once. Anything but exactly six ASCII digits is refused
/// before any HMAC is computed; every candidate step is compared in constant time.
pub fn verify(secret: &[u8], presented: &str, now: i64, last_used: Option<i64>) -> Option<i64> {
    let presented = presented.trim();
    if presented.len() != DIGITS || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step(now);
    let mut matched = None;
    for s in (current - WINDOW)..=(current + WINDOW) {
        if s < 0 || last_used.is_some_and(|last| s <= last) {
            continue;
        }
        let ok: bool = code(secret, s)
            .as_bytes()
            .ct_eq(presented.as_bytes())
            .into();
        if ok && matched.is_none() {
            matched = Some(s);
        }
    }
    matched
}

/// RFC 4648 base32 without padding: how authenticator apps take a secret typed by hand or
/// read from an `otpauth://` URI.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The key URI authenticator apps scan (Google Authenticator's "Key Uri Format", which every
/// app follows): `otpauth://totp/{issuer}:{account}?secret=..&issuer=..&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label: String =
        url::form_urlencoded::byte_serialize(format!("{issuer}:{account}").as_bytes())
            .collect::<String>()
            // The label is a path segment: spaces are %20 there, not `+`.
            .replace('+', "%20");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("secret", &base32(secret))
        .append_pair("issuer", issuer)
        .append_pair("algorithm", "SHA1")
        .append_pair("digits", &DIGITS.to_string())
        .append_pair("period", &STEP.to_string())
        .finish();
    format!("otpauth://totp/{label}?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 seed (20 bytes of ASCII "1234567890" repeated).
    const SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_sha1_vectors() {
        // Appendix B, 8 digits: (time, TOTP).
        for (t, want) in [
            (59i64, 94_287_082u32),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(SEED, step(t) as u64, 8), want, "T = {t}");
            // Six digits are the low six of the same truncation.
            assert_eq!(code(SEED, step(t)), format!("{:06}", want % 1_000_000));
        }
    }

    #[test]
    fn rfc_4226_hotp_vectors() {
        // RFC 4226 Appendix D, counters 0..9.
        let want = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (c, w) in want.iter().enumerate() {
            assert_eq!(hotp(SEED, c as u64, 6), *w, "counter {c}");
        }
    }

    #[test]
    fn window_edges_and_replay() {
        let now = 1_111_111_111; // step 37037037, 1 s into it
        let s = step(now);
        // The current step and one either side are accepted, two away are not.
        for (d, ok) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let c = code(SEED, s + d);
            assert_eq!(
                verify(SEED, &c, now, None),
                ok.then_some(s + d),
                "drift {d}"
            );
        }
        // The last second of a step and the first of the next see different windows.
        let edge = (s + 1) * STEP - 1;
        let old = code(SEED, s - 1);
        assert_eq!(verify(SEED, &old, edge, None), Some(s - 1));
        assert_eq!(verify(SEED, &old, edge + 1, None), None);
        // Accepted once: the same code, or an older one, after its step was used, fails.
        let c = code(SEED, s);
        assert_eq!(verify(SEED, &c, now, Some(s)), None);
        assert_eq!(verify(SEED, &code(SEED, s - 1), now, Some(s)), None);
        // A later step is still accepted after an earlier one was used.
        assert_eq!(verify(SEED, &code(SEED, s + 1), now, Some(s)), Some(s + 1));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let now = 59;
        let good = code(SEED, step(now));
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "１２３４５６",
            &format!("{good}0"),
        ] {
            assert_eq!(verify(SEED, bad, now, None), None, "{bad:?}");
        }
        // Surrounding spaces (pasted codes) are fine.
        assert_eq!(
            verify(SEED, &format!(" {good} "), now, None),
            Some(step(now))
        );
    }

    #[test]
    fn base32_matches_rfc_4648() {
        // RFC 4648 §10 vectors, without padding.
        for (input, want) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base32(SEED), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn key_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("ACME Corp", "alice@example.com", SEED);
        assert_eq!(
            uri,
            "otpauth://totp/ACME%20Corp%3Aalice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME+Corp&algorithm=SHA1&digits=6&period=30"
        );
    }
}
