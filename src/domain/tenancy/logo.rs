//! Vendor logos: what an upload must be before it is stored and served.
//!
//! The logo is served from the vendor's own portal domain and shown in emails, so it must
//! never carry active content. PNG is recognised by its signature and `IHDR` chunk, JPEG by
//! decoding its header (start of image, then segments up to a valid start-of-frame with
//! non-zero dimensions), never by three magic bytes (the client's content type is not
//! trusted, but a mismatch is refused). SVG is parsed and
//! rebuilt from a whitelist of drawing elements and presentation attributes: scripts,
//! `foreignObject`, styles sheets, event handlers, external references, DOCTYPEs, entities
//! and processing instructions never reach the stored document.

use std::fmt::Write as _;

use quick_xml::XmlVersion;
use quick_xml::escape::escape;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::error::{AppError, AppResult};

/// Largest logo accepted: 512 KiB.
pub const MAX_BYTES: usize = 512 * 1024;

/// The request field errors name.
const FIELD: &str = "logo";
/// The answer to anything that is not a usable image.
const NOT_AN_IMAGE: &str = "the logo must be a PNG, JPEG or SVG image";

/// `image/png`.
pub const PNG: &str = "image/png";
/// `image/jpeg`.
pub const JPEG: &str = "image/jpeg";
/// `image/svg+xml`.
pub const SVG: &str = "image/svg+xml";

/// A checked logo, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// [`PNG`], [`JPEG`] or [`SVG`].
    pub content_type: &'static str,
    /// The bytes to store: the upload itself for PNG and JPEG, the rebuilt document for SVG.
    pub bytes: Vec<u8>,
}

/// Checks an upload. `declared` is the content type the client sent, if any (`None` or a
/// generic type such as `application/octet-stream` leaves the decision to the bytes).
/// Too large, unrecognised, or declared as another image type → 422 on field `logo`.
pub fn validate(declared: Option<&str>, body: &[u8]) -> AppResult<Logo> {
    if body.len() > MAX_BYTES {
        return Err(AppError::invalid(FIELD, "the logo is larger than 512 KiB"));
    }
    let declared = declared
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|ct| !ct.is_empty() && ct != "application/octet-stream");
    let declared = match declared.as_deref() {
        None => None,
        Some(PNG) => Some(PNG),
        Some(JPEG | "image/jpg" | "image/pjpeg") => Some(JPEG),
        Some(SVG) => Some(SVG),
        Some(_) => return Err(AppError::invalid(FIELD, NOT_AN_IMAGE)),
    };
    let logo = if is_png(body) {
        Logo {
            content_type: PNG,
            bytes: body.to_vec(),
        }
    } else if is_jpeg(body) {
        Logo {
            content_type: JPEG,
            bytes: body.to_vec(),
        }
    } else {
        let text = std::str::from_utf8(body).map_err(|_| AppError::invalid(FIELD, NOT_AN_IMAGE))?;
        Logo {
            content_type: SVG,
            bytes: sanitize_svg(text)?.into_bytes(),
        }
    };
    if let Some(declared) = declared
        && declared != logo.content_type
    {
        return Err(AppError::invalid(
            FIELD,
            format!(
                "the file is {} but was sent as {declared}",
                logo.content_type
            ),
        ));
    }
    Ok(logo)
}

/// PNG signature followed by the mandatory `IHDR` chunk.
fn is_png(b: &[u8]) -> bool {
    b.len() > 24 && b.starts_with(b"\x89PNG\r\n\x1a\n") && &b[12..16] == b"IHDR"
}

/// A JPEG whose header decodes: start of image, then well-formed segments up to a
/// start-of-frame naming its precision, non-zero dimensions and 1 to 4 components.
fn is_jpeg(b: &[u8]) -> bool {
    jpeg_dimensions(b).is_some()
}

/// Width and height from a JPEG's start-of-frame segment, walking the segments before it.
/// `None` when the header does not decode (a file that only starts like a JPEG).
pub fn jpeg_dimensions(b: &[u8]) -> Option<(u16, u16)> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while *b.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *b.get(i)?;
        i += 1;
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            // End of image or start of scan before any frame header: not a picture.
            0x00 | 0xD8 | 0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
        if len < 2 || i + len > b.len() {
            return None;
        }
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let seg = &b[i + 2..i + len];
            let (&precision, rest) = seg.split_first()?;
            let height = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
            let width = u16::from_be_bytes([*rest.get(2)?, *rest.get(3)?]);
            let components = usize::from(*rest.get(4)?);
            let sound = matches!(precision, 8 | 12 | 16)
                && width > 0
                && height > 0
                && (1..=4).contains(&components)
                && len == 8 + 3 * components;
            return sound.then_some((width, height));
        }
        i += len;
    }
}

/// Elements kept; anything else is dropped together with everything inside it.
const ELEMENTS: &[&str] = &[
    "svg",
    "g",
    "path",
    "rect",
    "circle",
    "ellipse",
    "line",
    "polyline",
    "polygon",
    "text",
    "tspan",
    "defs",
    "linearGradient",
    "radialGradient",
    "stop",
    "clipPath",
    "mask",
    "symbol",
    "use",
    "title",
    "desc",
];

/// Geometry and presentation attributes kept (values are checked too).
const ATTRIBUTES: &[&str] = &[
    "id",
    "class",
    "viewBox",
    "preserveAspectRatio",
    "version",
    "width",
    "height",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "rx",
    "ry",
    "fx",
    "fy",
    "fr",
    "dx",
    "dy",
    "d",
    "points",
    "pathLength",
    "transform",
    "offset",
    "gradientUnits",
    "gradientTransform",
    "spreadMethod",
    "clipPathUnits",
    "maskUnits",
    "maskContentUnits",
    "textLength",
    "lengthAdjust",
    "rotate",
    "role",
    "aria-label",
    "aria-hidden",
    "xml:space",
    "xml:lang",
    "lang",
    "style",
];

/// Presentation properties, allowed as attributes and inside `style`.
const PROPERTIES: &[&str] = &[
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "stroke-opacity",
    "opacity",
    "clip-path",
    "clip-rule",
    "mask",
    "color",
    "display",
    "visibility",
    "stop-color",
    "stop-opacity",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "font-variant",
    "font-stretch",
    "text-anchor",
    "text-decoration",
    "dominant-baseline",
    "alignment-baseline",
    "baseline-shift",
    "letter-spacing",
    "word-spacing",
    "writing-mode",
    "direction",
    "shape-rendering",
    "text-rendering",
    "color-interpolation",
    "vector-effect",
    "paint-order",
    "mix-blend-mode",
    "isolation",
    "transform-origin",
];

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
/// Deepest nesting kept; deeper documents are refused rather than walked.
const MAX_DEPTH: usize = 64;

/// Rebuilds an SVG document from its safe parts. The root element must be `<svg>`;
/// malformed XML or another root is refused with the generic "not an image" error.
pub fn sanitize_svg(input: &str) -> AppResult<String> {
    let refused = || AppError::invalid(FIELD, NOT_AN_IMAGE);
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.allow_dangling_amp = false;

    let mut out = String::with_capacity(input.len());
    // Depth inside the root (0 before it); `skipping` counts the open elements of a
    // dropped subtree.
    let mut depth = 0usize;
    let mut skipping = 0usize;
    let mut root_seen = false;
    let mut root_closed = false;
    loop {
        let event = reader.read_event().map_err(|_| refused())?;
        match event {
            Event::Eof => break,
            // A second root: not a well-formed document.
            Event::Start(_) | Event::Empty(_) if root_closed => return Err(refused()),
            Event::Start(e) => {
                if skipping > 0 {
                    skipping += 1;
                    continue;
                }
                let name = e.name().as_ref().to_owned();
                if !root_seen {
                    if name != "svg" {
                        return Err(refused());
                    }
                    root_seen = true;
                }
                if !ELEMENTS.contains(&name.as_str()) {
                    skipping = 1;
                    continue;
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(refused());
                }
                write_start(&mut out, &e, depth == 1, false);
            }
            Event::Empty(e) => {
                if skipping > 0 {
                    continue;
                }
                let name = e.name().as_ref().to_owned();
                if !root_seen {
                    if name != "svg" {
                        return Err(refused());
                    }
                    root_seen = true;
                    write_start(&mut out, &e, true, true);
                    root_closed = true;
                    continue;
                }
                if ELEMENTS.contains(&name.as_str()) {
                    write_start(&mut out, &e, false, true);
                }
            }
            Event::End(e) => {
                if skipping > 0 {
                    skipping -= 1;
                    continue;
                }
                let _ = write!(out, "</{}>", e.name().as_ref());
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    root_closed = true;
                }
            }
            Event::Text(t) => {
                if skipping == 0 && depth > 0 {
                    out.push_str(&escape(t.xml_content(XmlVersion::Implicit1_0)));
                } else if !root_seen && !t.xml_content(XmlVersion::Implicit1_0).trim().is_empty() {
                    // Text before the root: not an SVG document (HTML, plain text, ...).
                    return Err(refused());
                }
            }
            Event::CData(t) => {
                if skipping == 0 && depth > 0 {
                    out.push_str(&escape(t.xml_content(XmlVersion::Implicit1_0)));
                }
            }
            Event::GeneralRef(r) => {
                if skipping > 0 || depth == 0 {
                    continue;
                }
                // Character references and the five predefined entities are kept; any
                // other entity (declared in a DOCTYPE or not) is dropped, never expanded.
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => quick_xml::escape::resolve_predefined_entity(&r).map(str::to_owned),
                    Err(_) => None,
                };
                if let Some(text) = resolved {
                    out.push_str(&escape(text.as_str()));
                }
            }
            // Declarations, DOCTYPEs (with any entity definitions), processing instructions
            // and comments are dropped.
            Event::Decl(_) | Event::DocType(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !root_seen || !root_closed {
        return Err(refused());
    }
    Ok(out)
}

/// Writes a kept element's start tag with its safe attributes.
fn write_start(out: &mut String, e: &BytesStart<'_>, root: bool, empty: bool) {
    let name = e.name();
    let name = name.as_ref();
    out.push('<');
    out.push_str(name);
    if root {
        let _ = write!(out, " xmlns=\"{SVG_NS}\" xmlns:xlink=\"{XLINK_NS}\"");
    }
    let mut seen: Vec<String> = Vec::new();
    for attr in e.attributes() {
        let Ok(attr) = attr else { continue };
        let key = attr.key.as_ref().to_owned();
        // Namespace declarations are written on the root above.
        if key == "xmlns" || key.starts_with("xmlns:") || seen.contains(&key) {
            continue;
        }
        let Ok(value) = attr.normalized_value(XmlVersion::Implicit1_0) else {
            continue;
        };
        let Some(value) = safe_attribute(name, &key, &value) else {
            continue;
        };
        let _ = write!(out, " {key}=\"{}\"", escape_attribute(&value));
        seen.push(key);
    }
    out.push_str(if empty { "/>" } else { ">" });
}

/// An attribute value as XML text. Tabs and line breaks are written as character
/// references: written raw, an XML parser would turn them into spaces (attribute-value
/// normalisation), so the sanitised file would not read back as what was checked.
fn escape_attribute(value: &str) -> String {
    escape(value)
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
}

/// The value to keep for an attribute, or `None` to drop it.
fn safe_attribute(element: &str, key: &str, value: &str) -> Option<String> {
    if key == "href" || key == "xlink:href" {
        // Only references inside the document (`<use href="#shape">`).
        let v = value.trim();
        let local = v.starts_with('#')
            && v.len() > 1
            && v[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        return (local && element == "use").then(|| v.to_owned());
    }
    if key == "style" {
        let style = safe_style(value);
        return (!style.is_empty()).then_some(style);
    }
    if !ATTRIBUTES.contains(&key) && !PROPERTIES.contains(&key) {
        return None;
    }
    safe_value(value).then(|| value.to_owned())
}

/// Whether a value carries no script, data or external reference. `url(...)` is allowed
/// only as `url(#id)`, a reference to something inside the document.
pub fn safe_value(value: &str) -> bool {
    // Compare without whitespace, control characters or escapes that could split a
    // keyword (`java\nscript:`, `u\rl(`).
    let squeezed: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    if squeezed.contains('\\')
        || squeezed.contains('<')
        || squeezed.contains("javascript:")
        || squeezed.contains("vbscript:")
        || squeezed.contains("data:")
        || squeezed.contains("expression(")
        || squeezed.contains("@import")
        || squeezed.contains("/*")
        // A bare address is no valid paint or reference, so browsers ignore it today; no
        // presentation value needs one, so none is kept (found by the SVG fuzz target).
        || squeezed.contains("//")
    {
        return false;
    }
    let mut rest = squeezed.as_str();
    while let Some(at) = rest.find("url(") {
        let after = &rest[at + 4..];
        let Some(close) = after.find(')') else {
            return false;
        };
        let target = after[..close].trim_matches(|c| c == '"' || c == '\'');
        let internal = target.starts_with('#')
            && target.len() > 1
            && target[1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !internal {
            return false;
        }
        rest = &after[close + 1..];
    }
    true
}

/// A `style` attribute reduced to presentation properties with safe values.
fn safe_style(style: &str) -> String {
    let mut kept: Vec<String> = Vec::new();
    for decl in style.split(';') {
        let Some((prop, value)) = decl.split_once(':') else {
            continue;
        };
        let prop = prop.trim().to_ascii_lowercase();
        let value = value.trim();
        if PROPERTIES.contains(&prop.as_str()) && !value.is_empty() && safe_value(value) {
            kept.push(format!("{prop}:{value}"));
        }
    }
    kept.join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header of a 3×2 baseline JPEG: SOI, APP0 (JFIF), SOF0, then SOS and EOI.
    pub const TINY_JPEG: &[u8] = &[
        0xFF, 0xD8, // SOI
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, // APP0
        0xFF, 0xC0, 0x00, 0x0B, 8, 0x00, 0x02, 0x00, 0x03, 1, 1, 0x11, 0, // SOF0 3x2, 1 comp
        0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0, // SOS
        0xFF, 0xD9, // EOI
    ];

    /// A 1×1 transparent PNG.
    pub const TINY_PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];

    fn field_of(e: AppError) -> (String, String) {
        (e.field().unwrap_or_default().to_owned(), e.public_message())
    }

    fn clean(svg: &str) -> String {
        sanitize_svg(svg).expect("accepted")
    }

    #[test]
    fn png_and_jpeg_are_recognised_by_their_bytes() {
        let png = validate(Some("image/png"), TINY_PNG).expect("png");
        assert_eq!(png.content_type, PNG);
        assert_eq!(png.bytes, TINY_PNG);
        assert_eq!(validate(None, TINY_PNG).expect("png").content_type, PNG);
        assert_eq!(
            validate(Some("application/octet-stream"), TINY_PNG)
                .expect("png")
                .content_type,
            PNG
        );
        assert_eq!(
            validate(Some("image/jpeg"), TINY_JPEG)
                .expect("jpeg")
                .content_type,
            JPEG
        );
        assert_eq!(jpeg_dimensions(TINY_JPEG), Some((3, 2)));
    }

    #[test]
    fn a_jpeg_is_its_decoded_header_not_its_first_bytes() {
        let magic_only = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
        let mut html = vec![0xFF, 0xD8, 0xFF];
        html.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let mut zero_width = TINY_JPEG.to_vec();
        zero_width[28] = 0; // width, low byte
        let mut bad_length = TINY_JPEG.to_vec();
        bad_length[23] = 0x0C; // SOF length that disagrees with its component count
        let scan_first = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9];
        for fake in [
            &magic_only[..],
            &html,
            &zero_width,
            &bad_length,
            &scan_first,
            &TINY_JPEG[..20],
        ] {
            assert_eq!(jpeg_dimensions(fake), None, "{fake:?}");
            let (field, message) = field_of(validate(Some("image/jpeg"), fake).unwrap_err());
            assert_eq!(field, "logo");
            assert_eq!(message, NOT_AN_IMAGE);
        }
    }

    #[test]
    fn a_declared_type_that_does_not_match_the_bytes_is_refused() {
        let (field, message) = field_of(validate(Some("image/jpeg"), TINY_PNG).unwrap_err());
        assert_eq!(field, "logo");
        assert!(message.contains("image/png"), "{message}");
        assert!(validate(Some("image/svg+xml"), TINY_PNG).is_err());
        assert!(
            validate(
                Some("image/png"),
                b"<svg xmlns='http://www.w3.org/2000/svg'/>"
            )
            .is_err()
        );
    }

    #[test]
    fn other_formats_and_garbage_are_refused() {
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04";
        let html = b"<!doctype html><html><body><script>alert(1)</script></body></html>";
        let cases: [(&[u8], Option<&str>); 7] = [
            (gif, Some("image/gif")),
            (gif, None),
            (html, Some("text/html")),
            (html, None),
            (b"<html><svg></svg></html>", None),
            (b"hello", None),
            (&[0xFF, 0xFE, 0x00, 0x01, 0x02], None),
        ];
        for (body, ct) in cases {
            let (field, message) = field_of(validate(ct, body).unwrap_err());
            assert_eq!(field, "logo");
            assert_eq!(message, NOT_AN_IMAGE);
        }
        assert!(validate(None, b"<svg><g></svg>").is_err(), "malformed");
        assert!(validate(None, b"<svg/><svg/>").is_err(), "two roots");
        assert!(validate(None, b"").is_err());
    }

    #[test]
    fn oversize_uploads_are_refused() {
        let mut big = TINY_PNG.to_vec();
        big.resize(MAX_BYTES + 1, 0);
        let (field, message) = field_of(validate(Some("image/png"), &big).unwrap_err());
        assert_eq!(field, "logo");
        assert!(message.contains("512 KiB"));
        let mut fits = TINY_PNG.to_vec();
        fits.resize(MAX_BYTES, 0);
        assert!(validate(Some("image/png"), &fits).is_ok());
    }

    #[test]
    fn a_plain_svg_keeps_its_drawing() {
        let svg = r##"<?xml version="1.0" encoding="UTF-8"?>
<!-- exported -->
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" width="10" height="10">
  <title>Acme &amp; Co</title>
  <defs><linearGradient id="g1"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
  <rect x="0" y="0" width="10" height="10" fill="url(#g1)" style="stroke: #000; stroke-width:1"/>
  <path d="M0 0L10 10" stroke="#123456"/>
  <text x="1" y="9" font-family="Arial">A&#x41;&lt;</text>
  <use href="#g1" xlink:href="#g1"/>
</svg>"##;
        let out = clean(svg);
        assert!(out.starts_with(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10""#
        ), "{out}");
        assert!(out.contains("<title>Acme &amp; Co</title>"), "{out}");
        assert!(out.contains(r##"fill="url(#g1)""##), "{out}");
        assert!(
            out.contains(r##"style="stroke:#000;stroke-width:1""##),
            "{out}"
        );
        assert!(
            out.contains(r##"<path d="M0 0L10 10" stroke="#123456"/>"##),
            "{out}"
        );
        assert!(out.contains(">AA&lt;</text>"), "{out}");
        assert!(
            out.contains(r##"<use href="#g1" xlink:href="#g1"/>"##),
            "{out}"
        );
        assert!(!out.contains("<?xml") && !out.contains("<!--"), "{out}");
        // The result is itself acceptable and stable.
        assert_eq!(clean(&out), out);
        let logo = validate(Some("image/svg+xml; charset=utf-8"), svg.as_bytes()).expect("svg");
        assert_eq!(logo.content_type, SVG);
        assert_eq!(logo.bytes, out.as_bytes());
    }

    #[test]
    fn scripts_and_event_handlers_are_removed() {
        let out = clean(
            r#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><script xlink:href="https://evil.test/x.js"/><g onclick="alert(3)" ONMOUSEOVER="alert(4)"><circle r="1" onerror="alert(5)"/></g><style>circle{fill:url(https://evil.test/)}</style></svg>"#,
        );
        assert_eq!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><g><circle r="1"/></g></svg>"#
        );
    }

    #[test]
    fn external_references_and_dangerous_values_are_removed() {
        let out = clean(
            r##"<svg><use href="https://evil.test/s.svg#a"/><use xlink:href="data:image/svg+xml;base64,AAAA"/><use href="#ok"/><rect fill="url(https://evil.test/p)" stroke="url( #fine )" filter="url(#f)" mask="java&#x0A;script:alert(1)" style="fill:url(http://x);stroke:red;behavior:url(x.htc)"/><a href="javascript:alert(1)"><text>click</text></a><image href="https://evil.test/track.png"/></svg>"##,
        );
        assert!(!out.contains("evil"), "{out}");
        assert!(!out.contains("data:"), "{out}");
        assert!(!out.contains("javascript"), "{out}");
        assert!(!out.contains("click"), "{out}");
        assert!(!out.contains("behavior"), "{out}");
        assert!(!out.contains("filter"), "{out}");
        assert!(out.contains(r##"<use href="#ok"/>"##), "{out}");
        assert!(out.contains(r##"stroke="url( #fine )""##), "{out}");
        assert!(out.contains(r#"style="stroke:red""#), "{out}");
    }

    #[test]
    fn doctype_entities_are_never_expanded() {
        let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE svg [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol3;&xxe;ok</text><rect id="&lol3;" width="1"/></svg>"#;
        let out = clean(billion_laughs);
        assert_eq!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><text>ok</text><rect width="1"/></svg>"#
        );
    }

    #[test]
    fn foreign_object_with_html_is_removed_with_its_content() {
        let out = clean(
            r#"<svg xmlns="http://www.w3.org/2000/svg"><foreignObject width="100" height="100"><body xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://evil.test"/><script>alert(1)</script><p>hi</p></body></foreignObject><svg:script xmlns:svg="http://www.w3.org/2000/svg">alert(2)</svg:script><?php echo 1; ?><rect width="2"/></svg>"#,
        );
        assert_eq!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><rect width="2"/></svg>"#
        );
    }

    #[test]
    fn the_root_must_be_svg() {
        for bad in [
            r#"<html xmlns="http://www.w3.org/1999/xhtml"><svg/></html>"#,
            "<svg:svg xmlns:svg=\"http://www.w3.org/2000/svg\"/>",
            "<script>alert(1)</script>",
            "text <svg/>",
            "<svg>",
        ] {
            assert!(sanitize_svg(bad).is_err(), "{bad}");
        }
        assert_eq!(
            clean("\u{feff}<svg/>"),
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"/>"#
        );
    }

    #[test]
    fn value_checks() {
        assert!(safe_value("#fff"));
        assert!(safe_value("url(#a)"));
        assert!(safe_value("url('#a') url(\"#b\")"));
        assert!(!safe_value("url(a.svg#x)"));
        assert!(!safe_value("url(#a"));
        assert!(!safe_value("JaVa\tScRiPt:alert(1)"));
        assert!(!safe_value("data:text/html,x"));
        assert!(!safe_value("u\\72l(x)"));
    }
}
