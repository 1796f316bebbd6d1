//! Names people read in listings, pages and mail (file names, display names)
//! must show what they are. Two kinds of characters make a name lie while
//! being invisible themselves: bidirectional controls, which reorder what
//! follows them (`invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`), and
//! zero-width characters, which make two different names look the same.
//! Kiln drops both from the names it stores.

/// Whether `c` is a bidirectional control (embeddings, overrides, isolates,
/// direction marks) or a zero-width character.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        // Arabic letter mark.
        '\u{061C}'
        // Mongolian vowel separator (zero width since Unicode 6.3).
        | '\u{180E}'
        // Zero width space, non-joiner and joiner; left-to-right and right-to-left marks.
        | '\u{200B}'..='\u{200F}'
        // Embeddings, pop, and overrides.
        | '\u{202A}'..='\u{202E}'
        // Word joiner and the invisible operators.
        | '\u{2060}'..='\u{2064}'
        // Isolates and their pop.
        | '\u{2066}'..='\u{2069}'
        // Zero width no-break space (a byte order mark).
        | '\u{FEFF}'
    )
}

/// `text` without the characters [`is_invisible_format`] finds.
pub fn without_invisible_format(text: &str) -> String {
    text.chars().filter(|&c| !is_invisible_format(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidirectional_controls_and_zero_width_characters_are_dropped() {
        assert_eq!(
            without_invisible_format("invoice\u{202E}fdp.exe"),
            "invoicefdp.exe"
        );
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            assert!(is_invisible_format(c), "{:04X}", c as u32);
        }
        assert_eq!(
            without_invisible_format("\u{FEFF}pay\u{200B}pal\u{200D}\u{2060}.pdf\u{200E}"),
            "paypal.pdf"
        );
    }

    #[test]
    fn visible_text_in_any_script_is_kept() {
        for text in [
            "photo.jpg",
            "Ünïcödé ✓.png",
            "صورة.jpg",
            "写真 2024.jpeg",
            "a b-c_d",
        ] {
            assert_eq!(without_invisible_format(text), text);
        }
    }
}
