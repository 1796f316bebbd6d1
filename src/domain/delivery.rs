//! How a stored original or variant is handed to a browser: the one place that
//! decides the headers of every response carrying its bytes (API.md
//! "Delivery"), whichever route or backend serves them.
//!
//! - `X-Content-Type-Options: nosniff`: the type Kiln sniffed is the type; a
//!   browser does not guess another from the bytes.
//! - `Content-Security-Policy: default-src 'none'; sandbox`: should a browser
//!   render the bytes as a document anyway, it runs no script, loads nothing and
//!   gets an origin of its own, not Kiln's.
//! - `Content-Disposition`: `inline` only for the raster image types browsers
//!   show as images (JPEG, PNG, WebP, AVIF, GIF); `attachment` for every other
//!   type (PDFs, `ALLOWED_EXTRA_TYPES`), so a browser saves the file instead of
//!   opening it. Either way with the file's stored name as RFC 6266
//!   `filename*`, and a plain-ASCII `filename` before it for older clients.
//!
//! Who sends them: Kiln's own `/objects/...` route (the local backend) sends all
//! of them. S3 serves its presigned links itself and can send only the type and
//! the disposition, which the link carries as signed `response-content-type`
//! and `response-content-disposition` overrides; its bytes come from the S3
//! origin, never Kiln's.
//!
//! Caching: a delivery may name its bytes' version (their SHA-256), which is
//! their strong [`etag`]; [`none_match`] decides a 304 and [`ByteRange`] which
//! part of the bytes a `Range` header asks for (206, or 416).
//!
//! [`executes_in_browsers`] names the types no header makes safe to accept as
//! `ALLOWED_EXTRA_TYPES`.

/// `X-Content-Type-Options` of every delivery.
pub const NOSNIFF: &str = "nosniff";
/// `Content-Security-Policy` of every delivery.
pub const SANDBOX_POLICY: &str = "default-src 'none'; sandbox";

/// Content types a browser shows inline as an image.
const INLINE_TYPES: [&str; 5] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/avif",
    "image/gif",
];

/// What a download is: its content type, the name a browser saves it under,
/// and, when Kiln knows it, the SHA-256 of its bytes (its version).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Delivery {
    content_type: String,
    filename: String,
    version: Option<String>,
}

impl Delivery {
    pub fn new(content_type: impl Into<String>, filename: impl Into<String>) -> Self {
        Self {
            content_type: content_type.into(),
            filename: filename.into(),
            version: None,
        }
    }

    /// The same download, of the bytes whose SHA-256 (hex) is `sha256`: its
    /// responses carry that as their `ETag`, and a link to other bytes is
    /// another link, so a browser may keep what one link gave.
    pub fn of_version(mut self, sha256: Option<String>) -> Self {
        self.version = sha256.filter(|hash| !hash.is_empty());
        self
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The `ETag` of the bytes, when their version is known.
    pub fn etag(&self) -> Option<String> {
        self.version.as_deref().map(etag)
    }

    /// A variant of the file named `file_name`, stored under `storage_key`:
    /// named after the file, the variant and the key's extension, so
    /// `cat.png`'s `thumbnail` stored as `.../thumbnail.webp` is
    /// `cat-thumbnail.webp`.
    pub fn variant(file_name: &str, variant: &str, content_type: &str, storage_key: &str) -> Self {
        let stem = match file_name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => file_name,
        };
        let filename = match storage_key.rsplit_once('.') {
            Some((_, extension)) if !extension.contains('/') => {
                format!("{stem}-{variant}.{extension}")
            }
            _ => format!("{stem}-{variant}"),
        };
        Self::new(content_type, filename)
    }

    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// Whether a browser may show the bytes in place (an image), rather than
    /// save them.
    pub fn is_inline(&self) -> bool {
        let essence = self.content_type.split(';').next().unwrap_or_default();
        INLINE_TYPES
            .iter()
            .any(|inline| essence.trim().eq_ignore_ascii_case(inline))
    }

    /// The `Content-Disposition` value (plain ASCII, so any header carries it).
    pub fn content_disposition(&self) -> String {
        let kind = match self.is_inline() {
            true => "inline",
            false => "attachment",
        };
        if self.filename.is_empty() {
            return kind.to_string();
        }
        format!(
            "{kind}; filename=\"{}\"; filename*=UTF-8''{}",
            ascii_fallback(&self.filename),
            percent_encode(&self.filename),
        )
    }

    /// Every header of a response that carries the bytes.
    pub fn headers(&self) -> [(&'static str, String); 4] {
        [
            ("content-type", self.content_type.clone()),
            ("content-disposition", self.content_disposition()),
            ("x-content-type-options", NOSNIFF.to_string()),
            ("content-security-policy", SANDBOX_POLICY.to_string()),
        ]
    }
}

/// `filename` for clients that read only the plain `filename` parameter: every
/// character that is not printable ASCII, and the quote, backslash and percent
/// sign (which some clients unescape), becomes `_`.
fn ascii_fallback(filename: &str) -> String {
    filename
        .chars()
        .map(|c| match c {
            '"' | '\\' | '%' => '_',
            ' '..='~' => c,
            _ => '_',
        })
        .collect()
}

/// RFC 8187 `value-chars`: every byte of the UTF-8 that is not an `attr-char`
/// as `%XX`.
fn percent_encode(filename: &str) -> String {
    let mut encoded = String::with_capacity(filename.len());
    for byte in filename.bytes() {
        let attr_char = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Whether browsers run `content_type` as a page or a script: HTML, XHTML,
/// XML (any `+xml`, SVG among them), XSL and JavaScript. Such bytes would run
/// with the rights of whichever origin serves them, so Kiln does not accept
/// them as `ALLOWED_EXTRA_TYPES`.
pub fn executes_in_browsers(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((_, subtype)) = essence.split_once('/') else {
        return false;
    };
    let script = subtype.strip_prefix("x-").unwrap_or(subtype);
    matches!(subtype, "html" | "xhtml" | "xml" | "xsl" | "xslt" | "svg")
        || subtype.ends_with("+xml")
        || script.starts_with("javascript")
        || matches!(script, "ecmascript" | "jscript" | "livescript")
}

/// The strong `ETag` of bytes whose SHA-256 (hex) is `sha256`: equal tags
/// mean equal bytes, so a cached copy stays good whichever link fetched it.
pub fn etag(sha256: &str) -> String {
    format!("\"{sha256}\"")
}

/// Whether an `If-None-Match` header names `etag`, or `*`: the client already
/// holds these bytes, and gets a 304 for them. A weak tag compares by its
/// value (RFC 9110's weak comparison, which this header calls for).
pub fn none_match(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// Which bytes of an object a `Range` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteRange {
    /// No range, a unit other than bytes, or several ranges: the whole object
    /// (Kiln serves one range at a time, never a multipart body).
    Whole,
    /// The bytes from `start` to `end`, both included.
    Part { start: u64, end: u64 },
    /// A byte range that no byte of the object satisfies: 416.
    Unsatisfiable,
}

impl ByteRange {
    /// Reads a `Range` header against an object of `size` bytes.
    pub fn of(range: Option<&str>, size: u64) -> Self {
        let Some(range) = range.filter(|value| value.starts_with("bytes=")) else {
            return Self::Whole;
        };
        let ranges = http_range_header::parse_range_header(range).and_then(|r| r.validate(size));
        match ranges.as_deref() {
            Ok([only]) => Self::Part {
                start: *only.start(),
                end: *only.end(),
            },
            Ok(_) => Self::Whole,
            Err(_) => Self::Unsatisfiable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_image_types_browsers_show_as_images_are_inline() {
        for inline in [
            "image/jpeg",
            "image/png",
            "image/webp",
            "image/avif",
            "image/gif",
        ] {
            assert!(Delivery::new(inline, "a").is_inline(), "{inline}");
        }
        for attachment in [
            "application/pdf",
            "image/tiff",
            "image/bmp",
            "image/svg+xml",
            "application/zip",
            "text/html",
            "",
        ] {
            assert!(!Delivery::new(attachment, "a").is_inline(), "{attachment}");
        }
    }

    #[test]
    fn the_disposition_names_the_file_in_plain_ascii_and_in_utf_8() {
        assert_eq!(
            Delivery::new("application/pdf", "report.pdf").content_disposition(),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            Delivery::new("image/png", "Café \"1\" 100%.png").content_disposition(),
            "inline; filename=\"Caf_ _1_ 100_.png\"; filename*=UTF-8''Caf%C3%A9%20%221%22%20100%25.png"
        );
        assert_eq!(
            Delivery::new("image/png", "").content_disposition(),
            "inline"
        );
    }

    #[test]
    fn every_delivery_forbids_sniffing_and_sandboxes_what_renders() {
        let headers = Delivery::new("application/zip", "a.zip").headers();
        assert!(headers.contains(&("x-content-type-options", "nosniff".into())));
        assert!(headers.contains(&(
            "content-security-policy",
            "default-src 'none'; sandbox".into()
        )));
        assert!(headers.contains(&("content-type", "application/zip".into())));
        for (name, value) in headers {
            assert!(value.bytes().all(|b| (b' '..=b'~').contains(&b)), "{name}");
        }
    }

    #[test]
    fn a_variant_is_named_after_its_file_and_its_own_type() {
        let variant = |file, key| {
            Delivery::variant(file, "thumbnail", "image/webp", key)
                .filename()
                .to_string()
        };
        assert_eq!(
            variant("cat.png", "u/f/thumbnail.webp"),
            "cat-thumbnail.webp"
        );
        assert_eq!(
            variant("archive.tar.gz", "u/f/thumbnail.webp"),
            "archive.tar-thumbnail.webp"
        );
        assert_eq!(
            variant("README", "u/f/thumbnail.webp"),
            "README-thumbnail.webp"
        );
        assert_eq!(variant(".hidden", "u/f/thumbnail"), ".hidden-thumbnail");
    }

    #[test]
    fn types_browsers_run_are_recognised_whatever_their_spelling() {
        for runs in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "application/xhtml+xml",
            "text/xml",
            "application/xml",
            "image/svg+xml",
            "application/rss+xml",
            "text/xsl",
            "text/javascript",
            "application/javascript",
            "application/x-javascript",
            "text/javascript1.5",
            "application/ecmascript",
            "text/jscript",
        ] {
            assert!(executes_in_browsers(runs), "{runs}");
        }
        for inert in [
            "application/zip",
            "application/pdf",
            "text/plain",
            "text/x-shellscript",
            "application/json",
            "video/mp4",
        ] {
            assert!(!executes_in_browsers(inert), "{inert}");
        }
    }

    #[test]
    fn if_none_match_matches_the_tag_in_a_list_weakly_or_as_a_star() {
        let tag = etag("ab12");
        assert_eq!(tag, "\"ab12\"");
        assert!(none_match("\"ab12\"", &tag));
        assert!(none_match("\"zz\", W/\"ab12\"", &tag));
        assert!(none_match("*", &tag));
        assert!(!none_match("\"ab1\"", &tag));
        assert!(!none_match("ab12", &tag));
    }

    #[test]
    fn a_range_header_picks_one_part_or_the_whole_object_or_nothing() {
        let part = |start, end| ByteRange::Part { start, end };
        assert_eq!(ByteRange::of(None, 1000), ByteRange::Whole);
        assert_eq!(ByteRange::of(Some("bytes=0-99"), 1000), part(0, 99));
        assert_eq!(ByteRange::of(Some("bytes=900-"), 1000), part(900, 999));
        assert_eq!(ByteRange::of(Some("bytes=-10"), 1000), part(990, 999));
        assert_eq!(ByteRange::of(Some("bytes=990-5000"), 1000), part(990, 999));
        assert_eq!(ByteRange::of(Some("items=0-1"), 1000), ByteRange::Whole);
        assert_eq!(ByteRange::of(Some("bytes=0-1,5-6"), 1000), ByteRange::Whole);
        assert_eq!(
            ByteRange::of(Some("bytes=1000-"), 1000),
            ByteRange::Unsatisfiable
        );
        assert_eq!(
            ByteRange::of(Some("bytes=9-2"), 1000),
            ByteRange::Unsatisfiable
        );
    }
}
