//! The enrolment QR code, rendered on the server as inline SVG (`fast_qr`, feature `svg`):
//! no image request, no `data:` URL, nothing for the CSP to allow. The markup is the crate's
//! own (built from numbers and fixed strings, never from the URI text), so it is safe to embed.

use fast_qr::ECL;
use fast_qr::convert::svg::SvgBuilder;
use fast_qr::convert::{Builder, Shape};
use fast_qr::qr::QRBuilder;

/// The `<svg>` element for `text`, labelled for screen readers; `None` when the text does not
/// fit a QR code (the page still shows the secret as text).
pub fn svg(text: &str) -> Option<String> {
    // Medium error correction: the URI of a 160-bit secret fits comfortably and a phone
    // camera reads it from a slightly blurry screen.
    let code = QRBuilder::new(text).ecl(ECL::M).build().ok()?;
    let raw = SvgBuilder::default()
        .shape(Shape::Square)
        .margin(4)
        .to_str(&code);
    let body = strip_prolog(&raw);
    let rest = body.strip_prefix("<svg ")?;
    Some(format!(
        "<svg class=\"qr\" role=\"img\" aria-label=\"QR code for your authenticator app\" {rest}"
    ))
}

/// Drops an XML declaration or doctype before the root element: HTML does not allow them
/// inside a page (fast_qr emits none today; another version might).
fn strip_prolog(svg: &str) -> &str {
    let mut s = svg.trim_start();
    while s.starts_with("<?") || s.starts_with("<!") {
        match s.find('>') {
            Some(end) => s = s[end + 1..].trim_start(),
            None => return "",
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_inline_svg_without_prolog() {
        let uri = "otpauth://totp/Acme:alice%40example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Acme";
        let svg = svg(uri).unwrap();
        assert!(svg.starts_with("<svg class=\"qr\" role=\"img\""), "{svg}");
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml") && !svg.contains("data:") && !svg.contains("style="));
        assert!(svg.len() < 64 * 1024, "{}", svg.len());
        assert_eq!(
            strip_prolog("<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg/>"),
            "<svg/>"
        );
        assert_eq!(strip_prolog("<?xml"), "");
        assert!(super::svg(&"x".repeat(10_000)).is_none());
    }
}
