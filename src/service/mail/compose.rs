//! One layout for every transactional message: a plain-text part and an HTML part with the
//! same words, the tenant's display name, one lead paragraph, one action (a button in HTML,
//! the bare link in text) and a closing note.

use askama::Template;

use super::Mail;
use crate::domain::tenant::Tenant;
use crate::domain::user::Email;
use crate::service::{Error, Result};

/// What a message says; [`compose`] renders it.
pub struct Letter<'a> {
    pub kind: &'static str,
    pub to: &'a Email,
    pub subject: String,
    /// The first paragraph: why this message came.
    pub lead: String,
    /// The action's label, e.g. "Choose a new password".
    pub action: &'a str,
    /// The absolute link the action opens (the tenant's issuer URL and a path).
    pub link: &'a str,
    /// The closing paragraph: how long the link works, what to do if this was not you.
    pub note: String,
}

#[derive(Template)]
#[template(path = "mail/letter.txt")]
struct Text<'a> {
    tenant: &'a str,
    lead: &'a str,
    action: &'a str,
    link: &'a str,
    note: &'a str,
}

#[derive(Template)]
#[template(path = "mail/letter.html")]
struct Html<'a> {
    subject: &'a str,
    tenant: &'a str,
    lead: &'a str,
    action: &'a str,
    link: &'a str,
    note: &'a str,
}

/// A header value on one line: line breaks and other control characters become spaces, so
/// nothing a tenant named can add a header.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Renders `letter` for `tenant` as a [`Mail`].
pub fn compose(tenant: &Tenant, letter: &Letter<'_>) -> Result<Mail> {
    render(&tenant.display_name, letter)
}

fn render(tenant: &str, letter: &Letter<'_>) -> Result<Mail> {
    let fail = |e: askama::Error| Error::Internal(format!("mail template: {e}"));
    let subject = one_line(&letter.subject);
    let text = Text {
        tenant,
        lead: &letter.lead,
        action: letter.action,
        link: letter.link,
        note: &letter.note,
    }
    .render()
    .map_err(fail)?;
    let html = Html {
        subject: &subject,
        tenant,
        lead: &letter.lead,
        action: letter.action,
        link: letter.link,
        note: &letter.note,
    }
    .render()
    .map_err(fail)?;
    Ok(Mail {
        kind: letter.kind,
        to: letter.to.as_str().to_owned(),
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_carry_the_words_and_the_link() {
        let to = Email::parse("Ann@Example.com").unwrap();
        let m = render(
            "Acme <Corp>",
            &Letter {
                kind: "password_reset",
                to: &to,
                subject: "Reset your password\r\nBcc: x@evil.example".into(),
                lead: "Someone asked to reset the password of ann@example.com.".into(),
                action: "Choose a new password",
                link: "https://id.example.com/t/acme/password/reset/abc?x=1&y=2",
                note: "The link works for 30 minutes.".into(),
            },
        )
        .unwrap();
        assert_eq!(m.to, "ann@example.com");
        assert!(
            !m.subject.contains('\n') && !m.subject.contains('\r'),
            "{}",
            m.subject
        );
        assert!(m.text.contains("Acme <Corp>"), "{}", m.text);
        assert!(
            m.text
                .contains("https://id.example.com/t/acme/password/reset/abc?x=1&y=2")
        );
        assert!(m.text.contains("The link works for 30 minutes."));
        // HTML escapes what the tenant named and the link's ampersands.
        assert!(
            m.html.contains("Acme &#60;Corp&#62;") || m.html.contains("Acme &lt;Corp&gt;"),
            "{}",
            m.html
        );
        assert!(
            m.html
                .contains("href=\"https://id.example.com/t/acme/password/reset/abc?x=1&#38;y=2\"")
                || m.html.contains(
                    "href=\"https://id.example.com/t/acme/password/reset/abc?x=1&amp;y=2\""
                ),
            "{}",
            m.html
        );
        assert!(m.html.contains("Choose a new password"));
    }
}
