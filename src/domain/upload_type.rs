use crate::processing::MediaKind;

/// What an upload is, from its first bytes (never from what the client says):
/// an image or PDF Kiln processes, or one of the operator's
/// `ALLOWED_EXTRA_TYPES`, which is stored with no jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadType {
    /// An image or PDF Kiln processes; `None` for an allowed extra type.
    pub media: Option<MediaKind>,
    pub content_type: String,
    pub extension: String,
}

impl UploadType {
    /// Identifies the bytes as a processable kind, or as one of `extra_allowed`.
    pub fn of(head: &[u8], extra_allowed: &[String]) -> Option<Self> {
        if let Some(kind) = MediaKind::sniff(head) {
            return Some(Self {
                media: Some(kind),
                content_type: kind.content_type().into(),
                extension: kind.extension().into(),
            });
        }
        let other = infer::get(head)?;
        extra_allowed
            .iter()
            .any(|allowed| allowed == other.mime_type())
            .then(|| Self {
                media: None,
                content_type: other.mime_type().into(),
                extension: other.extension().into(),
            })
    }

    /// How a sentence names it: "a PNG image", or its MIME type.
    pub fn describe(&self) -> &str {
        match self.media {
            Some(media) => media.description(),
            None => &self.content_type,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_types_are_recognised_only_when_allowed() {
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00";
        assert_eq!(UploadType::of(zip, &[]), None);
        let allowed = UploadType::of(zip, &["application/zip".to_string()]).unwrap();
        assert_eq!((allowed.media, allowed.extension.as_str()), (None, "zip"));
        let png = UploadType::of(b"\x89PNG\r\n\x1a\n0000", &[]).unwrap();
        assert_eq!(png.media, Some(MediaKind::Png));
    }
}
