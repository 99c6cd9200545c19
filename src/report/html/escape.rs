//! Text made safe for HTML, and SVG made fit to embed inline.

/// Escapes `&`, `<`, `>`, `"` and `'` so that `text` reads as itself in element content and
/// in a quoted attribute value.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document's text from its `<svg` element on: the XML declaration, any DOCTYPE and
/// comments before the root are dropped (they are not allowed inside HTML). `None` when
/// there is no `<svg` element.
pub fn svg_element(svg: &str) -> Option<&str> {
    let start = svg.find("<svg")?;
    let end = svg.rfind("</svg>").map(|i| i + "</svg>".len()).filter(|&e| e > start);
    // A self-closed root (`<svg …/>`) has no closing tag.
    Some(match end {
        Some(e) => &svg[start..e],
        None => svg[start..].trim_end(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc(r#"a<b & "c" 'd'>"#), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
        assert_eq!(esc("p99 ≤ 2s"), "p99 ≤ 2s");
        // Escaping is not idempotent by design: an ampersand of an entity is text too.
        assert_eq!(esc("&amp;"), "&amp;amp;");
    }

    #[test]
    fn prolog_and_doctype_are_dropped() {
        let svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x\">\n<!-- by plotters -->\n<svg width=\"10\" height=\"10\"><rect/></svg>\n";
        assert_eq!(svg_element(svg), Some("<svg width=\"10\" height=\"10\"><rect/></svg>"));
        assert_eq!(svg_element("<svg/>"), Some("<svg/>"));
        assert_eq!(svg_element("<html></html>"), None);
    }
}
