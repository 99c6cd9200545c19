//! The font every plot's text is laid out with: DejaVu Sans, embedded in the binary
//! (`assets/fonts/DejaVuSans.ttf`, licence next to it), registered with plotters' `ab_glyph`
//! text renderer as `sans-serif` once per process. Nothing is looked up on the system.

use std::sync::Once;

/// The family name plots use; the embedded font is registered under it.
pub const FAMILY: &str = "sans-serif";

static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Registers the embedded font (once; later calls return at once). Call before drawing
/// any text.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // The font is part of the build and a test parses it, so this cannot fail at run
        // time unless the build itself is broken.
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded font assets/fonts/DejaVuSans.ttf does not parse"));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_is_a_truetype_font_and_registers() {
        assert!(FONT.len() > 500_000, "{} bytes", FONT.len());
        assert_eq!(&FONT[..4], &[0, 1, 0, 0], "a TrueType font starts with version 1.0");
        ensure_registered();
        ensure_registered();
        // Text can now be measured with the registered family.
        use plotters::style::IntoFont;
        let font = (FAMILY, 20).into_font();
        let (w, h) = font.box_size("rollsim").unwrap();
        assert!(w > 40 && h > 10, "{w}×{h}");
    }
}
