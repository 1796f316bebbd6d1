//! The tus 1.0.0 protocol's rules, apart from any I/O: the headers
//! `/api/uploads` reads and what they may say (`Upload-Metadata`,
//! `Upload-Checksum`, `Upload-Offset`), and what it advertises.
//!
//! Only what Kiln supports is accepted: the extensions creation,
//! creation-with-upload, termination, expiration and checksum (sha1, sha256).
//! A header that says anything else is refused with the reason, so a client
//! learns what to send instead of having its bytes ignored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The protocol version spoken (`Tus-Resumable`, `Tus-Version`).
pub const VERSION: &str = "1.0.0";

/// `Tus-Extension`.
pub const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";

/// `Tus-Checksum-Algorithm`.
pub const CHECKSUM_ALGORITHMS: &str = "sha1,sha256";

/// The content type of a PATCH body (and of a creation-with-upload POST's).
pub const CHUNK_CONTENT_TYPE: &str = "application/offset+octet-stream";

/// Why a header is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TusError {
    #[error("Upload-Metadata must be comma-separated pairs of a key and a base64 value: {0}")]
    Metadata(String),
    #[error("Upload-Checksum must be an algorithm (sha1 or sha256) and a base64 digest: {0}")]
    Checksum(String),
}

/// What an upload's `Upload-Metadata` tells Kiln; other keys are kept by the
/// client only and ignored here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadMetadata {
    /// The file's name, as `/api/upload`'s file field would give it.
    pub filename: Option<String>,
    /// As `/api/upload`'s `processors` field.
    pub processors: Option<String>,
    /// As `/api/upload`'s `options` field.
    pub options: Option<String>,
}

impl UploadMetadata {
    /// Reads `Upload-Metadata`: `key base64,key base64,key`. Keys are unique
    /// and hold no spaces or commas; a value may be absent (an empty one);
    /// every value Kiln reads must be UTF-8.
    pub fn parse(header: &str) -> Result<Self, TusError> {
        let mut metadata = Self::default();
        let mut seen = Vec::new();
        for pair in header
            .split(',')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
        {
            let mut parts = pair.split(' ');
            let key = parts.next().unwrap_or_default();
            let encoded = parts.next().unwrap_or_default();
            if key.is_empty() || parts.next().is_some() {
                return Err(TusError::Metadata(format!("{pair:?} is not `key value`")));
            }
            if seen.contains(&key) {
                return Err(TusError::Metadata(format!("{key:?} is given twice")));
            }
            seen.push(key);
            let field = match key {
                "filename" | "name" => &mut metadata.filename,
                "processors" => &mut metadata.processors,
                "options" => &mut metadata.options,
                _ => continue,
            };
            let bytes = STANDARD
                .decode(encoded)
                .map_err(|_| TusError::Metadata(format!("the value of {key:?} is not base64")))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| TusError::Metadata(format!("the value of {key:?} is not UTF-8")))?;
            // `filename` and `name` (tus-js-client's default) mean the same.
            if field.is_none() {
                *field = Some(text);
            }
        }
        Ok(metadata)
    }
}

/// A digest algorithm `Upload-Checksum` may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha1,
    Sha256,
}

/// A chunk's `Upload-Checksum`: the digest its bytes must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub digest: Vec<u8>,
}

impl Checksum {
    pub fn parse(header: &str) -> Result<Self, TusError> {
        let (name, encoded) = header
            .trim()
            .split_once(' ')
            .ok_or_else(|| TusError::Checksum(format!("{header:?} has no digest")))?;
        let (algorithm, length) = match name {
            "sha1" => (ChecksumAlgorithm::Sha1, 20),
            "sha256" => (ChecksumAlgorithm::Sha256, 32),
            other => return Err(TusError::Checksum(format!("{other:?} is not supported"))),
        };
        let digest = STANDARD
            .decode(encoded.trim())
            .map_err(|_| TusError::Checksum("the digest is not base64".into()))?;
        if digest.len() != length {
            return Err(TusError::Checksum(format!(
                "a {name} digest has {length} bytes, not {}",
                digest.len()
            )));
        }
        Ok(Self { algorithm, digest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    #[test]
    fn metadata_gives_the_file_name_processors_and_options() {
        let header = format!(
            "filename {},processors {},filetype {},options {}, empty",
            b64("Café.jpg"),
            b64("thumbnail,webp"),
            b64("image/jpeg"),
            b64(r#"{"webp":{"quality":70}}"#)
        );
        assert_eq!(
            UploadMetadata::parse(&header).unwrap(),
            UploadMetadata {
                filename: Some("Café.jpg".into()),
                processors: Some("thumbnail,webp".into()),
                options: Some(r#"{"webp":{"quality":70}}"#.into()),
            }
        );
        let named = format!("name {}", b64("a.png"));
        assert_eq!(
            UploadMetadata::parse(&named).unwrap().filename.as_deref(),
            Some("a.png")
        );
        assert_eq!(
            UploadMetadata::parse("").unwrap(),
            UploadMetadata::default()
        );
    }

    #[test]
    fn malformed_metadata_is_refused_with_the_reason() {
        for (header, reason) in [
            ("filename !!!", "not base64"),
            ("filename a b c", "is not `key value`"),
            (&format!("filename {0},filename {0}", b64("x")), "twice"),
            (
                &format!("filename {}", STANDARD.encode([0xff, 0xfe])),
                "UTF-8",
            ),
        ] {
            let err = UploadMetadata::parse(header).unwrap_err().to_string();
            assert!(err.contains(reason), "{header}: {err}");
        }
    }

    #[test]
    fn a_checksum_names_a_supported_algorithm_and_a_digest_of_its_length() {
        let sha1 = STANDARD.encode([7u8; 20]);
        assert_eq!(
            Checksum::parse(&format!("sha1 {sha1}")).unwrap(),
            Checksum {
                algorithm: ChecksumAlgorithm::Sha1,
                digest: vec![7; 20]
            }
        );
        let sha256 = STANDARD.encode([1u8; 32]);
        assert_eq!(
            Checksum::parse(&format!("sha256 {sha256}"))
                .unwrap()
                .algorithm,
            ChecksumAlgorithm::Sha256
        );
        for bad in ["md5 AAAA", "sha1", &format!("sha256 {sha1}"), "sha1 ***"] {
            assert!(Checksum::parse(bad).is_err(), "{bad}");
        }
    }
}
