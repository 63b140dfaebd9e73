//! The user's own profile claims (OpenID Connect Core §5.1): given and family name, display
//! name, nickname, locale and zoneinfo. The claim rules are the operators' (`check_claim`),
//! plus the shapes of `locale` (a BCP 47 language tag, RFC 5646) and `zoneinfo` (an IANA time
//! zone name); only fields that differ from the stored ones are written (and named in the
//! audit event). Email and `email_verified` are not the user's to set here.

use super::own;
use crate::app::App;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;
use crate::service::admin::{self, ProfilePatch, check_claim};
use crate::service::{Context, Error, Result};

/// The longest `locale` accepted: RFC 5646 §4.4.1 asks every implementation to handle tags
/// of up to 35 characters, and no real one is longer.
pub const LOCALE_MAX: usize = 35;
/// The longest `zoneinfo` accepted (the longest IANA name, America/Argentina/ComodRivadavia,
/// has 32 characters).
pub const ZONEINFO_MAX: usize = 64;

/// The profile form as typed (every field; an empty one clears the claim).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileInput {
    pub given_name: String,
    pub family_name: String,
    pub name: String,
    pub nickname: String,
    pub locale: String,
    pub zoneinfo: String,
}

impl ProfileInput {
    /// The form as the stored profile fills it.
    pub fn of(user: &User) -> ProfileInput {
        let p = &user.profile;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        ProfileInput {
            given_name: s(&p.given_name),
            family_name: s(&p.family_name),
            name: s(&p.name),
            nickname: s(&p.nickname),
            locale: s(&p.locale),
            zoneinfo: s(&p.zoneinfo),
        }
    }
}

/// A BCP 47-ish language tag: a 2 or 3 letter language (ISO 639, RFC 5646 §2.2.1), then subtags of 1 to 8 letters or
/// digits separated by `-` (OIDC Core §5.1 also allows `_`, as in `en_US`).
fn locale_ok(v: &str) -> bool {
    let mut parts = v.split(['-', '_']);
    let lang_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()));
    lang_ok
        && v.len() <= LOCALE_MAX
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// An IANA-ish time zone name: `/`-separated parts of letters, digits, `_`, `+` and `-`,
/// starting with a letter (`Europe/Paris`, `America/Argentina/Buenos_Aires`, `Etc/GMT+5`, `UTC`).
fn zoneinfo_ok(v: &str) -> bool {
    v.len() <= ZONEINFO_MAX
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && v.split('/').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-'))
        })
}

/// The rules of one field (422 naming it): the operators' claim rules, then the shapes.
fn check(field: &str, value: &str) -> Result<()> {
    check_claim(field, value)?;
    let v = value.trim();
    if v.is_empty() {
        return Ok(());
    }
    match field {
        "locale" if !locale_ok(v) => Err(Error::Invalid(format!(
            "locale must be a language tag such as en, en-GB or pt-BR (at most {LOCALE_MAX} characters)"
        ))),
        "zoneinfo" if !zoneinfo_ok(v) => Err(Error::Invalid(format!(
            "zoneinfo must be a time zone name such as Europe/Paris or America/New_York (at most {ZONEINFO_MAX} characters)"
        ))),
        _ => Ok(()),
    }
}

/// Saves the fields of `input` that differ from the stored profile; returns their names
/// (empty: nothing changed, nothing written). A field the user left as it was is not checked
/// again (an operator may have stored a value these shapes would refuse).
pub async fn update(
    app: &App,
    tenant: &Tenant,
    user: &User,
    input: &ProfileInput,
    ctx: &Context,
) -> Result<Vec<&'static str>> {
    let stored = ProfileInput::of(user);
    let mut patch = ProfilePatch::default();
    let mut changed = Vec::new();
    let fields = [
        (
            "given_name",
            &input.given_name,
            &stored.given_name,
            &mut patch.given_name,
        ),
        (
            "family_name",
            &input.family_name,
            &stored.family_name,
            &mut patch.family_name,
        ),
        ("name", &input.name, &stored.name, &mut patch.name),
        (
            "nickname",
            &input.nickname,
            &stored.nickname,
            &mut patch.nickname,
        ),
        ("locale", &input.locale, &stored.locale, &mut patch.locale),
        (
            "zoneinfo",
            &input.zoneinfo,
            &stored.zoneinfo,
            &mut patch.zoneinfo,
        ),
    ];
    for (field, new, old, slot) in fields {
        if new.trim() == old.as_str() {
            continue;
        }
        check(field, new)?;
        *slot = Some(new.trim().to_owned());
        changed.push(field);
    }
    if changed.is_empty() {
        return Ok(changed);
    }
    admin::user_update_id(app, tenant, user.id, patch, &own(ctx, user)).await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_and_zoneinfo_shapes() {
        for ok in [
            "en",
            "en-GB",
            "pt_BR",
            "zh-Hant-TW",
            "de-CH-1996",
            "sr-Latn",
        ] {
            assert!(locale_ok(ok), "{ok}");
        }
        for bad in [
            "e",
            "english-language",
            "en-",
            "-en",
            "en--GB",
            "1en",
            "en GB",
            "en-ÄÖ",
            &"en-abc".repeat(7),
        ] {
            assert!(!locale_ok(bad), "{bad}");
        }
        for ok in [
            "UTC",
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "America/Port-au-Prince",
        ] {
            assert!(zoneinfo_ok(ok), "{ok}");
        }
        for bad in [
            "/Europe",
            "Europe/",
            "Europe//Paris",
            "5/Paris",
            "Europe/Paris Time",
            "../etc",
            &"A".repeat(65),
        ] {
            assert!(!zoneinfo_ok(bad), "{bad}");
        }
        assert!(check("locale", " ").is_ok(), "empty clears");
        assert!(
            matches!(check("zoneinfo", "x y"), Err(Error::Invalid(m)) if m.starts_with("zoneinfo"))
        );
        assert!(
            matches!(check("name", "a\u{0}b"), Err(Error::Invalid(m)) if m.starts_with("name"))
        );
    }
}
