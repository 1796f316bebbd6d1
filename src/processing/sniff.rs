//! What a file is, from its first bytes: [`MediaKind::sniff`] (magic numbers, never the
//! client's name or content type) and [`probe_dimensions`] (width and height from the
//! image header, without decoding pixels).
//!
//! The magic numbers are checked by hand: seven formats do not justify a dependency.

/// The types Kiln accepts and processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,
    Tiff,
    Pdf,
}

impl MediaKind {
    pub const ALL: [MediaKind; 7] = [
        MediaKind::Jpeg,
        MediaKind::Png,
        MediaKind::Gif,
        MediaKind::Webp,
        MediaKind::Bmp,
        MediaKind::Tiff,
        MediaKind::Pdf,
    ];

    /// How many leading bytes [`MediaKind::sniff`] may look at.
    pub const SNIFF_LEN: usize = 64;

    /// Identifies a file from its first bytes (at most [`Self::SNIFF_LEN`] are read).
    /// `None` for anything else, including an empty or too-short prefix.
    pub fn sniff(prefix: &[u8]) -> Option<MediaKind> {
        let p = &prefix[..prefix.len().min(Self::SNIFF_LEN)];
        if p.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(MediaKind::Jpeg)
        } else if p.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(MediaKind::Png)
        } else if p.starts_with(b"GIF87a") || p.starts_with(b"GIF89a") {
            Some(MediaKind::Gif)
        } else if p.len() >= 12 && p.starts_with(b"RIFF") && &p[8..12] == b"WEBP" {
            Some(MediaKind::Webp)
        } else if is_bmp(p) {
            Some(MediaKind::Bmp)
        } else if p.starts_with(b"II*\0") || p.starts_with(b"MM\0*") {
            Some(MediaKind::Tiff)
        } else if p.starts_with(b"%PDF-") {
            Some(MediaKind::Pdf)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "jpg",
            MediaKind::Png => "png",
            MediaKind::Gif => "gif",
            MediaKind::Webp => "webp",
            MediaKind::Bmp => "bmp",
            MediaKind::Tiff => "tiff",
            MediaKind::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Png => "image/png",
            MediaKind::Gif => "image/gif",
            MediaKind::Webp => "image/webp",
            MediaKind::Bmp => "image/bmp",
            MediaKind::Tiff => "image/tiff",
            MediaKind::Pdf => "application/pdf",
        }
    }

    /// The kind Kiln recorded for a stored file, from the extension it gave it
    /// ([`extension`](Self::extension); also "jpeg" and "tif", any case). Never use it
    /// on a client's file name: types come from [`MediaKind::sniff`].
    pub fn from_extension(extension: &str) -> Option<MediaKind> {
        let extension = extension.to_ascii_lowercase();
        match extension.as_str() {
            "jpeg" => Some(MediaKind::Jpeg),
            "tif" => Some(MediaKind::Tiff),
            other => Self::ALL.into_iter().find(|kind| kind.extension() == other),
        }
    }

    pub fn is_image(self) -> bool {
        self != MediaKind::Pdf
    }

    /// "a JPEG image", "a PDF": for messages.
    pub fn description(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "a JPEG image",
            MediaKind::Png => "a PNG image",
            MediaKind::Gif => "a GIF image",
            MediaKind::Webp => "a WebP image",
            MediaKind::Bmp => "a BMP image",
            MediaKind::Tiff => "a TIFF image",
            MediaKind::Pdf => "a PDF",
        }
    }

    /// The `image` crate's name for this format; `None` for PDF.
    pub(crate) fn image_format(self) -> Option<image::ImageFormat> {
        Some(match self {
            MediaKind::Jpeg => image::ImageFormat::Jpeg,
            MediaKind::Png => image::ImageFormat::Png,
            MediaKind::Gif => image::ImageFormat::Gif,
            MediaKind::Webp => image::ImageFormat::WebP,
            MediaKind::Bmp => image::ImageFormat::Bmp,
            MediaKind::Tiff => image::ImageFormat::Tiff,
            MediaKind::Pdf => return None,
        })
    }
}

/// "BM" alone is too weak (any text starting "BM..."), so also require a known DIB
/// header size at offset 14.
fn is_bmp(p: &[u8]) -> bool {
    if p.len() < 18 || !p.starts_with(b"BM") {
        return false;
    }
    let dib_header_size = u32::from_le_bytes([p[14], p[15], p[16], p[17]]);
    matches!(dib_header_size, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// Width and height read from the image header only; no pixel is decoded.
///
/// Works on a prefix (the first 64 KiB are enough for every common file; a TIFF whose
/// first directory sits at the end of the file needs the whole file). Returns the
/// *stored* dimensions, before EXIF orientation: a portrait photo from a phone often
/// stores 4032x3024 with Orientation=6 and displays as 3024x4032. [`SourceFacts`]
/// from a run carries the oriented size. `None` when the prefix is too short, the
/// header is unreadable, or the bytes are not an image Kiln accepts.
///
/// [`SourceFacts`]: super::SourceFacts
pub fn probe_dimensions(prefix: &[u8]) -> Option<(u32, u32)> {
    if !MediaKind::sniff(prefix)?.is_image() {
        return None;
    }
    let size = imagesize::blob_size(prefix).ok()?;
    let width = u32::try_from(size.width).ok()?;
    let height = u32::try_from(size.height).ok()?;
    (width > 0 && height > 0).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::fixture;
    use super::*;

    #[test]
    fn every_fixture_is_recognised_by_its_bytes_not_its_name() {
        let cases = [
            ("photo.jpg", Some(MediaKind::Jpeg)),
            ("cmyk.jpg", Some(MediaKind::Jpeg)),
            ("alpha.png", Some(MediaKind::Png)),
            ("deep16.png", Some(MediaKind::Png)),
            ("animated.gif", Some(MediaKind::Gif)),
            ("two-pages.pdf", Some(MediaKind::Pdf)),
            ("encrypted.pdf", Some(MediaKind::Pdf)),
            ("spoofed.jpg", None),
        ];
        for (name, kind) in cases {
            assert_eq!(MediaKind::sniff(&fixture(name)), kind, "{name}");
        }
    }

    #[test]
    fn short_and_hand_made_prefixes_are_recognised_or_refused() {
        assert_eq!(MediaKind::sniff(b""), None);
        assert_eq!(MediaKind::sniff(b"\xFF\xD8"), None);
        assert_eq!(
            MediaKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(MediaKind::Webp)
        );
        assert_eq!(MediaKind::sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(MediaKind::sniff(b"II*\0\x08\0\0\0"), Some(MediaKind::Tiff));
        assert_eq!(MediaKind::sniff(b"MM\0*\0\0\0\x08"), Some(MediaKind::Tiff));
        let mut bmp = b"BM\0\0\0\0\0\0\0\0\x36\0\0\0".to_vec();
        bmp.extend_from_slice(&40u32.to_le_bytes());
        assert_eq!(MediaKind::sniff(&bmp), Some(MediaKind::Bmp));
        assert_eq!(MediaKind::sniff(b"BMW owners club newsletter"), None);
        assert_eq!(MediaKind::sniff(b"<svg xmlns="), None);
    }

    #[test]
    fn names_and_content_types_match_the_kind() {
        assert_eq!(MediaKind::Jpeg.extension(), "jpg");
        assert_eq!(MediaKind::Tiff.extension(), "tiff");
        assert_eq!(MediaKind::Webp.content_type(), "image/webp");
        assert_eq!(MediaKind::Pdf.content_type(), "application/pdf");
        assert!(!MediaKind::Pdf.is_image());
        assert!(MediaKind::Bmp.is_image());
        for kind in MediaKind::ALL {
            assert_eq!(MediaKind::from_extension(kind.extension()), Some(kind));
        }
        assert_eq!(MediaKind::from_extension("JPEG"), Some(MediaKind::Jpeg));
        assert_eq!(MediaKind::from_extension("svg"), None);
    }

    #[test]
    fn dimensions_come_from_the_first_64_kib_and_ignore_exif_orientation() {
        let probe = |name: &str| {
            let bytes = fixture(name);
            probe_dimensions(&bytes[..bytes.len().min(64 * 1024)])
        };
        assert_eq!(probe("photo.jpg"), Some((1200, 800)));
        assert_eq!(probe("orientation6.jpg"), Some((1200, 800)));
        assert_eq!(probe("alpha.png"), Some((400, 300)));
        assert_eq!(probe("animated.gif"), Some((200, 150)));
        assert_eq!(probe("bomb.png"), Some((20000, 20000)));
        assert_eq!(probe("two-pages.pdf"), None);
        assert_eq!(probe("spoofed.jpg"), None);
    }

    #[test]
    fn dimensions_of_a_prefix_cut_inside_the_header_are_unknown() {
        assert_eq!(probe_dimensions(&fixture("alpha.png")[..12]), None);
    }
}
