//! Decoding an original into pixels a processor can work on, safely.
//!
//! Order matters: sniff the type, read width and height from the header and refuse
//! more than `Limits::max_pixels` *before* anything is allocated for pixels, give the
//! decoder its own allocation limit as a second fence, then decode, apply EXIF
//! orientation and normalise to 8-bit RGB or RGBA (16-bit, greyscale, palette and CMYK
//! sources all end there). Animated GIF and WebP decode to their first frame here;
//! [`animation`] gives every frame to the processors whose output can move.
//!
//! A processor that makes only smaller outputs says how large the pixels must stay
//! and how close to that a decode may shrink ([`decode_image_for`], [`ShrinkOnLoad`]);
//! a JPEG may then be decoded at a reduced scale through libjpeg-turbo ([`libjpeg`]),
//! in bands on several threads when it has restart markers ([`restart_bands`]), or
//! without its luma's AC scans when it is progressive and 1/8 will do ([`progressive_dc`]).
//! A processor whose output can be built from rows as they come (the webp one)
//! reads a JPEG's full-size rows a batch at a time instead ([`read_jpeg_rows`]),
//! so that the whole image's pixels are never held. Every other case takes the full decode through the `image` crate, here.
//!
//! Pixels tagged with an ICC profile other than sRGB are converted to sRGB (see
//! [`super::color`]). A CMYK JPEG that carries a CMYK profile is read as raw inks by
//! libjpeg and converted through its profile; one without a profile gets the `image`
//! crate's plain 1 - ink conversion.

pub(crate) mod animation;
mod libjpeg;
mod progressive_dc;
mod restart_bands;
mod split_scan;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use split_scan::assert_parts_agree;

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use super::color::convert_to_srgb;
use super::{Limits, MediaKind, ProcessError, probe_dimensions};
pub(crate) use libjpeg::RgbRows;
use libjpeg::{decode_jpeg_narrowed, decode_jpeg_with_libjpeg, read_upright_srgb_rows};

/// Bytes per pixel of the widest layout a decoder may produce (RGBA, 16 bits a channel),
/// so `max_pixels * this` bounds the decoder's allocation for any image we accept.
const WIDEST_PIXEL: u64 = 8;

/// Refuses a width x height over the pixel limit.
pub(crate) fn check_pixels(width: u32, height: u32, limits: &Limits) -> Result<(), ProcessError> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ProcessError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    Ok(())
}

/// An original's pixels, possibly decoded at a reduced scale, with the original's own
/// (oriented) size.
pub(crate) struct Decoded {
    pub image: DynamicImage,
    pub width: u32,
    pub height: u32,
    /// The part of `image` that shows the whole original (see [`Region`]).
    pub region: Region,
}

/// A rectangle of an image in its own pixel coordinates, fractional. A reduced decode
/// rounds each side up: a 4243-pixel side at 1/4 is 1060.75 pixels, decoded as 1061,
/// the last of them standing for 3 original pixels. Resampling from the exact region
/// keeps the output on the original's pixel grid; resampling from all 1061 would
/// shift and stretch it by a fraction of a pixel, which shows on fine detail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Region {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Region {
    pub fn whole(image: &DynamicImage) -> Region {
        Region {
            left: 0.0,
            top: 0.0,
            width: f64::from(image.width()),
            height: f64::from(image.height()),
        }
    }
}

/// Decodes an image original to oriented 8-bit RGB (`ImageRgb8`) or RGBA (`ImageRgba8`).
pub(crate) fn decode_image(input: &[u8], limits: &Limits) -> Result<DynamicImage, ProcessError> {
    let kind = checked_image_kind(input, limits)?;
    if kind == MediaKind::Jpeg
        && let Some(decoded) = decode_jpeg_with_libjpeg(input, 1, &|width, height| (width, height))
    {
        return Ok(decoded.image);
    }
    decode_full(kind, input, limits)
}

/// How close to the outputs' size a JPEG may be shrunk while it is decoded. The
/// DCT reduction is close to a box filter: straight down to the output size it
/// aliases fine detail a little, and saves most of the decoding work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShrinkOnLoad {
    /// No further than twice the outputs' size, so the final Lanczos3 has real
    /// filtering to do (as libvips shrinks on load): the variants, made once per
    /// file and kept.
    KeepMargin,
    /// No further than the outputs' size (as thumbor and imgproxy shrink on load):
    /// transforms, made on request while a page waits, where the decode is most of
    /// the cost (BENCHMARKS.md "Delivery" measures both).
    ToOutputSize,
}

impl ShrinkOnLoad {
    /// How many times the outputs' size the reduced decode keeps at least.
    fn margin(self) -> u32 {
        match self {
            ShrinkOnLoad::KeepMargin => 2,
            ShrinkOnLoad::ToOutputSize => 1,
        }
    }
}

/// Decodes an original for outputs that need at most `needed(width, height)` pixels
/// of it, given its oriented size: the result is at least that large on both sides
/// (or the full image, if smaller), and a JPEG is shrunk on load as `shrink` allows.
pub(crate) fn decode_image_for(
    input: &[u8],
    limits: &Limits,
    shrink: ShrinkOnLoad,
    needed: impl Fn(u32, u32) -> (u32, u32),
) -> Result<Decoded, ProcessError> {
    decode_for(input, limits, shrink, needed, false)
}

/// [`decode_image_for`], for outputs that each show the whole image (no crop), the
/// largest of them `needed`: a JPEG that must be decoded at full size is narrowed
/// to that width while it is read ([`libjpeg::decode_jpeg_narrowed`]), so its
/// full-size pixels are never held at once. The result is then exactly `needed`
/// wide (as oriented) and the original's full height.
pub(crate) fn decode_image_narrowed_for(
    input: &[u8],
    limits: &Limits,
    shrink: ShrinkOnLoad,
    needed: impl Fn(u32, u32) -> (u32, u32),
) -> Result<Decoded, ProcessError> {
    decode_for(input, limits, shrink, needed, true)
}

fn decode_for(
    input: &[u8],
    limits: &Limits,
    shrink: ShrinkOnLoad,
    needed: impl Fn(u32, u32) -> (u32, u32),
    narrow: bool,
) -> Result<Decoded, ProcessError> {
    let kind = checked_image_kind(input, limits)?;
    if kind == MediaKind::Jpeg {
        let decoded = decode_jpeg_with_libjpeg(input, shrink.margin(), &needed).or_else(|| {
            narrow
                .then(|| decode_jpeg_narrowed(input, &needed))
                .flatten()
        });
        if let Some(decoded) = decoded {
            return Ok(decoded);
        }
    }
    let image = decode_full(kind, input, limits)?;
    Ok(Decoded {
        width: image.width(),
        height: image.height(),
        region: Region::whole(&image),
        image,
    })
}

/// An original that is a plain 8-bit JPEG needing no turning, decoded at full size
/// and handed to `each` as sRGB rows, `batch_rows` at a time (fewer in the last
/// batch), top to bottom; returns its width and height. `Ok(None)` when the original
/// is not such a JPEG or libjpeg cannot read it: the caller then takes
/// [`decode_image_for`], which gives the authoritative error for a damaged file,
/// and drops whatever it built from rows already handed over. The limits and
/// completeness checks come first, as for every decode.
pub(crate) fn read_jpeg_rows(
    input: &[u8],
    limits: &Limits,
    batch_rows: usize,
    each: impl FnMut(RgbRows<'_>) -> Result<(), ProcessError>,
) -> Result<Option<(u32, u32)>, ProcessError> {
    match checked_image_kind(input, limits)? {
        MediaKind::Jpeg => read_upright_srgb_rows(input, batch_rows, each),
        _ => Ok(None),
    }
}

/// Sniffs an original and, from its header alone, refuses a file that is no image
/// Kiln reads, has more pixels than allowed, or (a JPEG) ends early.
fn checked_image_kind(input: &[u8], limits: &Limits) -> Result<MediaKind, ProcessError> {
    let kind = MediaKind::sniff(input)
        .filter(|kind| kind.is_image())
        .ok_or_else(|| {
            ProcessError::Unsupported("the file is not an image Kiln can read".into())
        })?;
    let (width, height) = probe_dimensions(input)
        .ok_or_else(|| ProcessError::Corrupt("the image header is missing or unreadable".into()))?;
    check_pixels(width, height, limits)?;
    match kind {
        MediaKind::Jpeg => check_jpeg_is_complete(input)?,
        MediaKind::Webp => check_webp_chunks_fit(input)?,
        _ => {}
    }
    Ok(kind)
}

/// The full-size decode through the `image` crate, for every format.
fn decode_full(
    kind: MediaKind,
    input: &[u8],
    limits: &Limits,
) -> Result<DynamicImage, ProcessError> {
    let format = kind.image_format().ok_or_else(|| {
        ProcessError::Unsupported(format!("{} is not an image", kind.description()))
    })?;
    let mut reader = ImageReader::with_format(Cursor::new(input), format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(WIDEST_PIXEL));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(from_image_error)?;

    // The decoder's own header parse is the authority (the probe and the decoder could
    // disagree on a malformed file); check again before the pixels are read.
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    // A damaged EXIF block loses only the orientation, not the whole image; a damaged
    // ICC profile only the colour conversion.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();

    let mut image = to_8_bit(DynamicImage::from_decoder(decoder).map_err(from_image_error)?);
    if let Some(icc) = icc {
        convert_to_srgb(&mut image, &icc);
    }
    image.apply_orientation(orientation);
    Ok(image)
}

fn to_8_bit(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => image,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    }
}

/// The JPEG decoder is lenient: it fills a truncated file's missing rows with grey and
/// reports success. A complete baseline or progressive JPEG has an EOI marker after its
/// first scan, so we require one (cameras may append trailers after it; that is fine).
fn check_jpeg_is_complete(input: &[u8]) -> Result<(), ProcessError> {
    let truncated = || ProcessError::Corrupt("the JPEG data ends before the image does".into());
    let mut pos = 2; // after SOI
    loop {
        // Markers are 0xFF, optional 0xFF fill bytes, then the marker code. Stray bytes
        // before a marker are skipped, as libjpeg does (with a warning).
        pos += input
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
            .ok_or_else(truncated)?;
        while input.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *input.get(pos).ok_or_else(truncated)?;
        pos += 1;
        match marker {
            0xD9 => {
                return Err(ProcessError::Corrupt(
                    "the JPEG ends before any image data".into(),
                ));
            }
            0x01 | 0xD0..=0xD7 => continue, // no length field
            _ => {}
        }
        let length = match (input.get(pos), input.get(pos + 1)) {
            (Some(&hi), Some(&lo)) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => return Err(truncated()),
        };
        pos += length;
        if marker == 0xDA {
            // Start of scan: entropy-coded data follows, where 0xFF is always stuffed
            // (0xFF00) or a restart marker, so an 0xFFD9 here is the real end.
            let rest = input.get(pos..).ok_or_else(truncated)?;
            return if rest.windows(2).rev().any(|w| w == [0xFF, 0xD9]) {
                Ok(())
            } else {
                Err(truncated())
            };
        }
    }
}

/// The WebP decoder (image-webp) reads an extended file's ICC profile and EXIF chunks
/// whole, into a buffer of the size each chunk's header claims, before it notices the
/// file is shorter; no memory limit reaches it through the `image` crate. A 380-byte
/// file whose EXIF chunk claimed 4 GB made it allocate 4 GB, which aborts the process
/// wherever memory is limited (found by fuzzing, SECURITY.md). A chunk that claims more
/// bytes than the file has left means the file is cut short or corrupt, so such a file
/// is refused before the decoder sees it.
fn check_webp_chunks_fit(input: &[u8]) -> Result<(), ProcessError> {
    // After "RIFF", the RIFF size and "WEBP": chunks of a four-byte name, a little-endian
    // u32 size and the data, padded to an even length (nested chunks lie inside them).
    let mut pos = 12;
    while let Some(header) = input.get(pos..pos + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        // The header is there, so this cannot underflow.
        let left = input.len() - pos - 8;
        if size > left {
            return Err(ProcessError::Corrupt(
                "the WebP data ends before its chunks do".into(),
            ));
        }
        pos += 8 + size + (size & 1);
    }
    Ok(())
}

/// Turns the `image` crate's error into a reason a person can act on.
pub(crate) fn from_image_error(err: ImageError) -> ProcessError {
    match err {
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ProcessError::Corrupt("the data ends before the image does".into())
        }
        ImageError::IoError(e) => ProcessError::Corrupt(e.to_string()),
        ImageError::Decoding(e) => ProcessError::Corrupt(e.to_string()),
        ImageError::Limits(e) => ProcessError::Unsupported(format!(
            "decoding the image needs more memory than Kiln allows ({e})"
        )),
        ImageError::Unsupported(e) => ProcessError::Unsupported(e.to_string()),
        ImageError::Parameter(e) => ProcessError::Corrupt(e.to_string()),
        ImageError::Encoding(e) => ProcessError::Encode(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_pixel, close, fixture, rgb};
    use super::*;
    use image::GenericImageView;

    pub(super) fn decode(name: &str) -> Result<DynamicImage, ProcessError> {
        decode_image(&fixture(name), &Limits::default())
    }

    #[test]
    fn exif_orientation_6_turns_a_landscape_photo_into_a_portrait_with_the_marker_top_right() {
        let img = decode("orientation6.jpg").unwrap();
        assert_eq!(img.dimensions(), (800, 1200));
        // The red block was stored top-left; rotated 90 degrees clockwise it is top-right.
        assert_pixel(&img, (790, 10), [255, 0, 0], 40);
        assert!(!close(rgb(&img, 10, 10), [255, 0, 0], 40));
    }

    #[test]
    fn a_cmyk_jpeg_decodes_to_the_right_rgb_colours() {
        let img = decode("cmyk.jpg").unwrap();
        assert!(matches!(img, DynamicImage::ImageRgb8(_)));
        assert_pixel(&img, (40, 120), [0, 255, 255], 30);
        assert_pixel(&img, (280, 120), [255, 0, 255], 30);
    }

    #[test]
    fn a_16_bit_png_decodes_to_8_bit_with_the_same_colours() {
        let img = decode("deep16.png").unwrap();
        assert!(matches!(img, DynamicImage::ImageRgb8(_)));
        assert_eq!(rgb(&img, 10, 10), [255, 0, 0]);
        assert_eq!(rgb(&img, 300, 10), [0, 128, 255]);
    }

    #[test]
    fn an_animated_gif_or_webp_decodes_to_its_first_frame() {
        for name in ["animated.gif", "animated.webp"] {
            let img = decode(name).unwrap();
            assert_eq!(img.dimensions(), (200, 150), "{name}");
            assert_pixel(&img, (100, 75), [255, 0, 0], 0);
        }
    }

    #[test]
    fn a_png_with_alpha_stays_rgba() {
        let img = decode("alpha.png").unwrap();
        assert!(matches!(img, DynamicImage::ImageRgba8(_)));
        assert_eq!(img.get_pixel(350, 150).0[3], 0);
        assert_eq!(img.get_pixel(50, 150).0[3], 255);
    }

    #[test]
    fn a_truncated_jpeg_is_corrupt_with_a_reason() {
        let err = decode("truncated.jpg").unwrap_err();
        assert!(matches!(err, ProcessError::Corrupt(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the file is truncated or corrupt: the JPEG data ends before the image does"
        );
    }

    #[test]
    fn a_jpeg_cut_inside_its_header_is_corrupt() {
        let whole = fixture("photo.jpg");
        for len in [3, 4, 20, 200] {
            let err = decode_image(&whole[..len], &Limits::default()).unwrap_err();
            assert!(
                matches!(err, ProcessError::Corrupt(_)),
                "{len} bytes: {err:?}"
            );
        }
    }

    #[test]
    fn a_webp_chunk_that_claims_more_bytes_than_the_file_has_is_refused_before_decoding() {
        // Its EXIF chunk claims 4 GB: the decoder would allocate that much to read it.
        let bomb = fixture("fuzz/process-webp-exif-chunk-claims-4-gb.webp");
        for result in [
            decode_image(&bomb, &Limits::default()).map(|_| ()),
            decode_image_for(
                &bomb,
                &Limits::default(),
                ShrinkOnLoad::ToOutputSize,
                |_, _| (1, 1),
            )
            .map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert_eq!(
                err.to_string(),
                "the file is truncated or corrupt: the WebP data ends before its chunks do"
            );
        }
        // A whole extended file (its frames are chunks inside chunks) still decodes.
        assert!(decode("animated.webp").is_ok());
        let whole = fixture("animated.webp");
        let err = decode_image(&whole[..whole.len() - 1], &Limits::default()).unwrap_err();
        assert!(matches!(err, ProcessError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn a_png_cut_short_is_corrupt() {
        let whole = fixture("alpha.png");
        let err = decode_image(&whole[..whole.len() / 2], &Limits::default()).unwrap_err();
        assert!(matches!(err, ProcessError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn a_png_claiming_20000_by_20000_is_refused_from_its_header() {
        let err = decode("bomb.png").unwrap_err();
        assert!(
            matches!(
                err,
                ProcessError::TooManyPixels {
                    width: 20000,
                    height: 20000,
                    max: 50_000_000
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("20000x20000"), "{err}");
    }

    #[test]
    fn the_pixel_limit_is_the_configured_one() {
        let tight = Limits {
            max_pixels: 1000,
            ..Limits::default()
        };
        let err = decode_image(&fixture("small.jpg"), &tight).unwrap_err();
        assert!(
            matches!(
                err,
                ProcessError::TooManyPixels {
                    width: 300,
                    height: 200,
                    max: 1000
                }
            ),
            "{err:?}"
        );
        assert!(
            decode_image(
                &fixture("small.jpg"),
                &Limits {
                    max_pixels: 60_000,
                    ..Limits::default()
                }
            )
            .is_ok()
        );
    }
}
