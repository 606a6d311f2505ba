//! Brand colours and WCAG 2.1 contrast: the one place that decides which text colour goes
//! on a brand-coloured background (portal buttons, emails, embeds) and whether the brand
//! colour itself is readable as text or as a control on the page background.
//!
//! Contrast follows WCAG 2.1 exactly: relative luminance of sRGB colours, ratio
//! `(L1 + 0.05) / (L2 + 0.05)`. AA asks 4.5:1 for normal text and 3:1 for large text
//! (18 pt, or 14 pt bold) and for user-interface components and graphics.

/// The colour a brand falls back to when the stored one is not `#rrggbb`.
pub const DEFAULT_BRAND: &str = "#4f46e5";
/// White text, for dark brand colours.
pub const LIGHT_TEXT: &str = "#ffffff";
/// Near-black text, for light brand colours (the page's own text colour).
pub const DARK_TEXT: &str = "#1d2330";
/// The page background the portal shows brand-coloured links and text on.
pub const PAGE_BACKGROUND: &str = "#f6f7f9";
/// The card (surface) background most portal links sit on.
pub const SURFACE_BACKGROUND: &str = "#ffffff";

/// WCAG 2.1 AA for normal text.
pub const AA_TEXT: f64 = 4.5;
/// WCAG 2.1 AA for large text and for user-interface components and graphics.
pub const AA_LARGE: f64 = 3.0;

/// `#rrggbb` → its three channels; `None` for anything else.
pub fn parse_hex(s: &str) -> Option<[u8; 3]> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let ch = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([ch(0)?, ch(2)?, ch(4)?])
}

/// The colour itself when it is `#rrggbb`, else [`DEFAULT_BRAND`]: what pages and emails
/// may put into a style.
pub fn brand_or_default(s: &str) -> &str {
    if parse_hex(s).is_some() {
        s
    } else {
        DEFAULT_BRAND
    }
}

/// WCAG 2.1 relative luminance of an sRGB colour (0 black .. 1 white).
pub fn relative_luminance(rgb: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let s = f64::from(c) / 255.0;
        if s <= 0.040_45 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
}

/// WCAG 2.1 contrast ratio of two colours (1.0 .. 21.0), whichever is lighter.
pub fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (relative_luminance(a), relative_luminance(b));
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// The contrast of two `#rrggbb` colours; `None` when either is not one.
pub fn contrast_of(a: &str, b: &str) -> Option<f64> {
    Some(contrast_ratio(parse_hex(a)?, parse_hex(b)?))
}

/// The text colour for a `background` (`#rrggbb`): white when white passes AA for normal
/// text (4.5:1), else near-black when that does; when neither does (mid-tones such as
/// `#808080`), whichever contrasts more. An invalid colour is read as [`DEFAULT_BRAND`].
pub fn text_on(background: &str) -> &'static str {
    let bg = parse_hex(background)
        .or_else(|| parse_hex(DEFAULT_BRAND))
        .unwrap_or([0, 0, 0]);
    let white = contrast_ratio(bg, [255, 255, 255]);
    let dark = parse_hex(DARK_TEXT).map_or(0.0, |d| contrast_ratio(bg, d));
    if white >= AA_TEXT || white >= dark {
        LIGHT_TEXT
    } else {
        DARK_TEXT
    }
}

/// The brand colour as link and text colour on the portal's backgrounds: itself when it
/// reads (4.5:1 on both [`PAGE_BACKGROUND`] and [`SURFACE_BACKGROUND`]), else the lightest
/// darker shade of it (its channels scaled down in 5 % steps, so the hue stays) that does.
pub fn ink_on_page(brand: &str) -> String {
    let base = parse_hex(brand_or_default(brand)).unwrap_or([0, 0, 0]);
    let backgrounds: Vec<[u8; 3]> = [PAGE_BACKGROUND, SURFACE_BACKGROUND]
        .iter()
        .filter_map(|b| parse_hex(b))
        .collect();
    for step in 0..=20u8 {
        let k = f64::from(20 - step) / 20.0;
        // Rounded and clamped to 0..=255, so the cast cannot truncate.
        let shade = base.map(|c| (f64::from(c) * k).round().clamp(0.0, 255.0) as u8);
        if backgrounds
            .iter()
            .all(|b| contrast_ratio(shade, *b) >= AA_TEXT)
        {
            return format!("#{:02x}{:02x}{:02x}", shade[0], shade[1], shade[2]);
        }
    }
    "#000000".to_owned()
}

/// How readable a brand colour is where it is the foreground: links and figures on the
/// page, and controls (focus rings, tab underlines, chart bars).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrandReadability {
    /// At least 4.5:1 on the page: fine for links and small text.
    Fine,
    /// 3:1 up to 4.5:1: fine for large text and controls, too faint for links and small
    /// text (WCAG AA 1.4.3).
    LargeTextOnly,
    /// Under 3:1: too faint even for large text and controls (WCAG AA 1.4.3 and 1.4.11).
    TooLight,
}

/// The readability of `brand` as a foreground, judged on the lighter of the portal's
/// backgrounds it is used on ([`PAGE_BACKGROUND`] and [`SURFACE_BACKGROUND`]: the worse
/// case decides), with the ratio found.
pub fn brand_readability(brand: &str) -> (BrandReadability, f64) {
    let ratio = [PAGE_BACKGROUND, SURFACE_BACKGROUND]
        .iter()
        .filter_map(|bg| contrast_of(brand, bg))
        .fold(f64::INFINITY, f64::min);
    let ratio = if ratio.is_finite() { ratio } else { 1.0 };
    let level = if ratio >= AA_TEXT {
        BrandReadability::Fine
    } else if ratio >= AA_LARGE {
        BrandReadability::LargeTextOnly
    } else {
        BrandReadability::TooLight
    };
    (level, ratio)
}

/// A contrast ratio as people read it: `2.9:1` (rounded down to one decimal, so a ratio
/// shown as 4.5:1 really passes 4.5:1).
pub fn ratio_label(ratio: f64) -> String {
    format!("{:.1}:1", (ratio * 10.0).floor() / 10.0)
}

/// The settings warning for a brand colour, `None` when it reads well as text on the
/// page. Says which WCAG AA threshold it misses and what still works.
pub fn readability_warning(brand: &str) -> Option<String> {
    let (level, ratio) = brand_readability(brand);
    let r = ratio_label(ratio);
    match level {
        BrandReadability::Fine => None,
        BrandReadability::LargeTextOnly => Some(format!(
            "This colour is light against the page background ({r}): fine for buttons, large \
             headings and outlines (WCAG AA asks 3:1), but too faint for links and small text \
             (WCAG AA asks 4.5:1), so the portal writes links in a darker shade of it, {}.",
            ink_on_page(brand)
        )),
        BrandReadability::TooLight => Some(format!(
            "This colour is too light against the page background ({r}): links and small text \
             need 4.5:1 (WCAG AA), so the portal writes links in a darker shade of it, {}; \
             focus outlines, tab underlines and chart bars in it stay hard to see (WCAG AA \
             asks 3:1 for large text and controls). A darker brand colour reads better.",
            ink_on_page(brand)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.01
    }

    #[test]
    fn known_ratios() {
        // Black on white is the maximum, a colour on itself the minimum.
        assert!(close(contrast_of("#000000", "#ffffff").unwrap(), 21.0));
        assert!(close(contrast_of("#ffffff", "#ffffff").unwrap(), 1.0));
        // Published reference values (WebAIM contrast checker).
        assert!(close(contrast_of("#777777", "#ffffff").unwrap(), 4.48));
        assert!(close(contrast_of("#767676", "#ffffff").unwrap(), 4.54));
        assert!(close(contrast_of("#4f46e5", "#ffffff").unwrap(), 6.29));
        assert!(close(contrast_of("#ffff00", "#ffffff").unwrap(), 1.07));
        // Order does not matter.
        assert_eq!(
            contrast_of("#123456", "#abcdef"),
            contrast_of("#abcdef", "#123456")
        );
    }

    #[test]
    fn luminance_matches_the_formula() {
        assert!(close(relative_luminance([255, 255, 255]), 1.0));
        assert!(close(relative_luminance([0, 0, 0]), 0.0));
        assert!(close(relative_luminance([255, 0, 0]), 0.2126));
    }

    #[test]
    fn text_colour_is_the_readable_one() {
        for dark in ["#4f46e5", "#000000", "#1d4ed8", "#b91c1c", "#767676"] {
            assert_eq!(text_on(dark), LIGHT_TEXT, "{dark}");
            assert!(contrast_of(dark, LIGHT_TEXT).unwrap() >= AA_TEXT);
        }
        for light in ["#ffffff", "#ffff00", "#fde68a", "#a5f3fc", "#f59e0b"] {
            assert_eq!(text_on(light), DARK_TEXT, "{light}");
            assert!(contrast_of(light, DARK_TEXT).unwrap() >= AA_TEXT, "{light}");
        }
        // Mid-tones where neither passes 4.5:1: the one that contrasts more.
        assert_eq!(text_on("#777777"), LIGHT_TEXT); // 4.48 against 3.51
        assert_eq!(text_on("#808080"), DARK_TEXT); // 3.95 against 3.98
        // Not a colour: read as the default brand, which takes white.
        assert_eq!(text_on("red"), LIGHT_TEXT);
    }

    #[test]
    fn readability_levels_and_warnings() {
        assert_eq!(brand_readability("#4f46e5").0, BrandReadability::Fine);
        assert_eq!(readability_warning("#4f46e5"), None);
        // #f59e0b (amber) is 2.1:1 on white, 2.0:1 on the page: too light even for controls.
        assert_eq!(brand_readability("#f59e0b").0, BrandReadability::TooLight);
        let w = readability_warning("#f59e0b").unwrap();
        assert!(
            w.contains("3:1") && w.contains("4.5:1") && w.contains("2.0:1"),
            "{w}"
        );
        // #e11d48 is 4.7:1 on white but 4.3:1 on the page background: large text only.
        let (level, ratio) = brand_readability("#e11d48");
        assert_eq!(level, BrandReadability::LargeTextOnly, "{ratio}");
        assert!(
            readability_warning("#e11d48")
                .unwrap()
                .contains("links and small text")
        );
    }

    #[test]
    fn links_get_a_darker_shade_only_when_needed() {
        assert_eq!(ink_on_page("#4f46e5"), "#4f46e5");
        for light in ["#fde68a", "#ffff00", "#e11d48", "#ffffff", "#f59e0b"] {
            let ink = ink_on_page(light);
            assert_ne!(ink, light);
            for bg in [PAGE_BACKGROUND, SURFACE_BACKGROUND] {
                assert!(
                    contrast_of(&ink, bg).unwrap() >= AA_TEXT,
                    "{light} → {ink} on {bg}"
                );
            }
        }
        // Same hue: each channel scaled by one factor (#e11d48 keeps its red).
        let [r, g, b] = parse_hex(&ink_on_page("#e11d48")).unwrap();
        assert!(r > g && r > b);
    }

    #[test]
    fn hex_parsing_and_labels() {
        assert_eq!(parse_hex("#0a0B0c"), Some([10, 11, 12]));
        for bad in ["", "#fff", "0a0b0c", "#0a0b0g", "#0a0b0c0"] {
            assert_eq!(parse_hex(bad), None, "{bad}");
        }
        assert_eq!(brand_or_default("nope"), DEFAULT_BRAND);
        assert_eq!(ratio_label(4.499), "4.4:1");
        assert_eq!(ratio_label(21.0), "21.0:1");
    }
}
