//! File names as Kiln keeps and searches them. A client's file name is
//! metadata only (object keys are made from ids), so it is cleaned of what
//! could mislead a person reading a listing.

use super::text::is_invisible_format;

/// Longest name search; a longer one is cut.
pub const MAX_NAME_SEARCH: usize = 200;

/// Keeps a client's file name as harmless metadata: the last path segment,
/// without control characters, bidirectional controls or zero-width characters
/// (which could make it show another extension in listings), at most 255
/// characters; `upload.{extension}` when nothing is left.
pub fn sanitize_filename(raw: Option<&str>, extension: &str) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|&c| kept_in_names(c))
        .take(255)
        .collect::<String>();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        format!("upload.{extension}")
    } else {
        base.to_string()
    }
}

/// Whether a file name keeps `c`: no control characters (a NUL among them,
/// which PostgreSQL's text refuses), bidirectional controls or zero-width ones.
fn kept_in_names(c: char) -> bool {
    !c.is_control() && !is_invisible_format(c)
}

/// A name search as a query string gives it (`?q=`): without the characters no
/// kept name has (so a name searched for as it was uploaded is found), trimmed
/// and at most [`MAX_NAME_SEARCH`] characters; `None` when empty.
pub fn name_search(q: Option<&str>) -> Option<String> {
    let q: String = q?.chars().filter(|&c| kept_in_names(c)).collect();
    let q = q.trim();
    (!q.is_empty()).then(|| q.chars().take(MAX_NAME_SEARCH).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_their_last_segment_and_printable_characters() {
        assert_eq!(sanitize_filename(Some("../../etc/passwd"), "png"), "passwd");
        assert_eq!(
            sanitize_filename(Some("C:\\photos\\cat\u{7}.jpg"), "jpg"),
            "cat.jpg"
        );
        assert_eq!(sanitize_filename(Some("  "), "pdf"), "upload.pdf");
        assert_eq!(sanitize_filename(None, "gif"), "upload.gif");
    }

    #[test]
    fn file_names_lose_the_characters_that_would_spoof_their_extension() {
        assert_eq!(
            sanitize_filename(Some("invoice\u{202E}fdp.exe"), "pdf"),
            "invoicefdp.exe"
        );
        assert_eq!(
            sanitize_filename(Some("\u{2067}cat\u{200B}.jpg\u{2069}"), "jpg"),
            "cat.jpg"
        );
        assert_eq!(
            sanitize_filename(Some("\u{202E}\u{200D}"), "png"),
            "upload.png"
        );
    }

    #[test]
    fn a_name_search_is_cleaned_as_names_are_trimmed_and_cut() {
        assert_eq!(name_search(None), None);
        assert_eq!(
            name_search(Some(" ca\0t\u{7}\u{200B}.jpg")).as_deref(),
            Some(sanitize_filename(Some("ca\0t\u{7}\u{200B}.jpg"), "jpg").as_str())
        );
        assert_eq!(name_search(Some("\0 \u{202E}")), None);
        assert_eq!(name_search(Some("  ")), None);
        assert_eq!(name_search(Some(" cat ")).as_deref(), Some("cat"));
        assert_eq!(
            name_search(Some(&"é".repeat(300))).unwrap().chars().count(),
            200
        );
    }
}
