//! Encoding pixels into an [`Output`]: JPEG (at a quality, 4:2:0 with box-averaged
//! chroma, alpha flattened onto white), PNG (alpha kept) and WebP (libwebp, lossy at a
//! quality or lossless, alpha kept), AVIF (rav1e through ravif, alpha kept), and
//! for transforms GIF (the `image` crate's encoder, each frame quantised to 256
//! colours).
//!
//! JPEG goes through `jpeg-encoder` (AVX2 colour conversion and DCT when the CPU has
//! them): several times faster than the `image` crate's encoder at the same quality.
//!
//! Every WebP goes through libwebp (a still one through its own API, [`super::libwebp`];
//! an animation through the `webp` crate's): the `image` crate's own WebP encoder is
//! lossless-only, several times larger than lossy on photos.
//!
//! Outputs are written from pixels alone, so no EXIF, XMP, GPS or ICC data from the
//! original can reach them.

use image::codecs::png::PngEncoder;
use std::borrow::Cow;

use image::{DynamicImage, ImageEncoder, RgbImage, RgbaImage};

use super::options::OutputFormat;
use super::{MediaKind, Output, ProcessError};

impl OutputFormat {
    /// The MIME type of an output in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Avif => "image/avif",
            other => other.uploaded_kind().content_type(),
        }
    }

    /// The extension of an output's object key.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Avif => "avif",
            other => other.uploaded_kind().extension(),
        }
    }

    /// The kind of upload of the same format (AVIF is made, never taken in).
    fn uploaded_kind(self) -> MediaKind {
        match self {
            OutputFormat::Jpeg | OutputFormat::Avif => MediaKind::Jpeg,
            OutputFormat::Png => MediaKind::Png,
            OutputFormat::Webp => MediaKind::Webp,
            OutputFormat::Gif => MediaKind::Gif,
        }
    }
}

/// The format an image processor writes when the client names none: PNG when the
/// source has an alpha channel (so transparency survives), JPEG otherwise.
pub(crate) fn default_format(source: &DynamicImage) -> OutputFormat {
    if source.color().has_alpha() {
        OutputFormat::Png
    } else {
        OutputFormat::Jpeg
    }
}

/// How libwebp compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebpCompression {
    /// VP8 at a quality from 1 to 100 (alpha, if any, is kept losslessly).
    Lossy {
        quality: u8,
    },
    Lossless,
}

/// libwebp refuses a side longer than this (`WEBP_MAX_DIMENSION`).
const WEBP_MAX_SIDE: u32 = 16_383;

/// Encodes 8-bit RGB or RGBA pixels as the variant `variant`. `quality` (1-100) applies
/// to JPEG and (lossy) WebP.
pub(crate) fn encode(
    variant: &str,
    image: &DynamicImage,
    format: OutputFormat,
    quality: u8,
) -> Result<Output, ProcessError> {
    let mut bytes = Vec::new();
    let (width, height) = (image.width(), image.height());
    let result = match format {
        OutputFormat::Jpeg => {
            encode_jpeg(&mut bytes, image, quality)?;
            Ok(())
        }
        OutputFormat::Png => {
            let image = to_rgb_or_rgba(image);
            PngEncoder::new(&mut bytes).write_image(
                image.as_bytes(),
                width,
                height,
                image.color().into(),
            )
        }
        OutputFormat::Webp => {
            return encode_webp(
                variant,
                Cow::Borrowed(image),
                WebpCompression::Lossy { quality },
            );
        }
        OutputFormat::Avif => return encode_avif(variant, image, quality),
        OutputFormat::Gif => {
            let frame = AnimationFrame {
                image: image.to_rgba8(),
                delay_ms: 0,
            };
            return encode_gif(variant, vec![frame]);
        }
    };
    result.map_err(|e| ProcessError::Encode(e.to_string()))?;
    Ok(output(variant, bytes, format, width, height))
}

/// JPEG's sides are 16-bit.
const JPEG_MAX_SIDE: u32 = u16::MAX as u32;

/// Baseline JPEG, 4:2:0 below quality 90 and 4:4:4 from 90 up (as libjpeg's
/// cjpeg and libvips do), chroma box-averaged rather than point-sampled.
fn encode_jpeg(bytes: &mut Vec<u8>, image: &DynamicImage, quality: u8) -> Result<(), ProcessError> {
    let (width, height) = (image.width(), image.height());
    let too_large = || {
        ProcessError::Encode(format!(
            "JPEG cannot hold an image of {width}x{height} pixels; its sides are at most {JPEG_MAX_SIDE}"
        ))
    };
    let side = |s: u32| u16::try_from(s).map_err(|_| too_large());
    let (w, h) = (side(width)?, side(height)?);
    let rgb = flatten_on_white(image);
    let mut encoder = jpeg_encoder::Encoder::new(bytes, quality.clamp(1, 100));
    encoder.set_chroma_subsampling_method(jpeg_encoder::ChromaSubsamplingMethod::Average);
    kiln_kernels::encode_jpeg(encoder, rgb.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| ProcessError::Encode(format!("JPEG: {e}")))
}

/// Encodes pixels as a still WebP with libwebp ([`super::libwebp`]). Pixels handed
/// over (`Cow::Owned`) are freed before the encoding proper, which halves the peak
/// memory of a large lossy WebP.
pub(crate) fn encode_webp(
    variant: &str,
    image: Cow<'_, DynamicImage>,
    compression: WebpCompression,
) -> Result<Output, ProcessError> {
    let (width, height) = (image.width(), image.height());
    check_webp_size(width, height)?;
    let pixels = match image {
        Cow::Borrowed(image) => to_rgb_or_rgba(image),
        Cow::Owned(image) => match to_rgb_or_rgba(&image) {
            Cow::Owned(converted) => Cow::Owned(converted),
            Cow::Borrowed(_) => Cow::Owned(image),
        },
    };
    let encoded = super::libwebp::encode(pixels, compression)?;
    Ok(output(variant, encoded, OutputFormat::Webp, width, height))
}

/// Refuses a size WebP cannot hold.
fn check_webp_size(width: u32, height: u32) -> Result<(), ProcessError> {
    if width > WEBP_MAX_SIDE || height > WEBP_MAX_SIDE {
        return Err(ProcessError::Encode(format!(
            "WebP cannot hold an image of {width}x{height} pixels; its sides are at most {WEBP_MAX_SIDE}"
        )));
    }
    Ok(())
}

/// A lossy still WebP built from RGB rows as they are decoded, so the whole
/// image's RGB is never held ([`super::libwebp::RowsPicture`]).
pub(crate) struct LossyWebpFromRows {
    picture: super::libwebp::RowsPicture,
    width: u32,
    height: u32,
}

impl LossyWebpFromRows {
    pub(crate) fn new(width: u32, height: u32) -> Result<Self, ProcessError> {
        check_webp_size(width, height)?;
        Ok(LossyWebpFromRows {
            picture: super::libwebp::RowsPicture::new(width, height)?,
            width,
            height,
        })
    }

    /// The next packed RGB rows, top to bottom; an even number of them in every
    /// batch but the last.
    pub(crate) fn push_rgb_rows(&mut self, rgb: &[u8]) -> Result<(), ProcessError> {
        self.picture.push_rgb_rows(rgb)
    }

    /// The output, once every row was pushed.
    pub(crate) fn finish(self, variant: &str, quality: u8) -> Result<Output, ProcessError> {
        let encoded = self.picture.encode(quality)?;
        Ok(output(
            variant,
            encoded,
            OutputFormat::Webp,
            self.width,
            self.height,
        ))
    }
}

/// One frame of an animation to encode: its pixels and how long it is shown.
pub(crate) struct AnimationFrame {
    pub image: RgbaImage,
    pub delay_ms: u32,
}

/// Encodes frames of one size as an animated WebP that loops forever, with
/// libwebp's animation encoder (which stores only what changes between frames).
pub(crate) fn encode_animated_webp(
    variant: &str,
    frames: &[AnimationFrame],
    compression: WebpCompression,
) -> Result<Output, ProcessError> {
    let first = frames
        .first()
        .ok_or_else(|| ProcessError::Encode("an animation needs a frame".into()))?;
    let (width, height) = first.image.dimensions();
    check_webp_size(width, height)?;
    let mut config = ::webp::WebPConfig::new()
        .map_err(|()| ProcessError::Encode("libwebp cannot be configured".into()))?;
    match compression {
        WebpCompression::Lossy { quality } => {
            config.lossless = 0;
            config.quality = f32::from(quality.clamp(1, 100));
        }
        WebpCompression::Lossless => config.lossless = 1,
    }
    let mut encoder = ::webp::AnimEncoder::new(width, height, &config);
    encoder.set_loop_count(0);
    let mut timestamp_ms: i32 = 0;
    for frame in frames {
        if frame.image.dimensions() != (width, height) {
            return Err(ProcessError::Encode("the frames differ in size".into()));
        }
        encoder.add_frame(::webp::AnimFrame::from_rgba(
            frame.image.as_raw(),
            width,
            height,
            timestamp_ms,
        ));
        let delay = i32::try_from(frame.delay_ms).unwrap_or(i32::MAX);
        timestamp_ms = timestamp_ms.saturating_add(delay);
    }
    let encoded = encoder
        .try_encode()
        .map_err(|e| ProcessError::Encode(format!("libwebp animation: {e:?}")))?;
    Ok(output(
        variant,
        encoded.to_vec(),
        OutputFormat::Webp,
        width,
        height,
    ))
}

/// rav1e's speed preset (0 slowest, 10 fastest). 9 makes a 512-pixel AVIF in
/// tens of milliseconds; 8 and below took three times longer for no smaller a
/// file, and 10 saves little time for files half as large again (BENCHMARKS.md,
/// "AVIF").
const AVIF_SPEED: u8 = 9;

/// Encodes 8-bit RGB or RGBA pixels as an AVIF (alpha kept) at `quality`: 8-bit
/// AV1, on this thread alone (every caller already runs one image per core).
/// ravif's defaults, 10-bit and its own thread pool, together cost more than
/// twice the CPU for a 512-pixel transform (BENCHMARKS.md "AVIF").
fn encode_avif(variant: &str, image: &DynamicImage, quality: u8) -> Result<Output, ProcessError> {
    let (width, height) = (image.width(), image.height());
    let rgba = image.to_rgba8();
    let pixels: Vec<ravif::RGBA8> = rgba
        .pixels()
        .map(|px| ravif::RGBA8::new(px[0], px[1], px[2], px[3]))
        .collect();
    let encoded = ravif::Encoder::new()
        .with_quality(f32::from(quality.clamp(1, 100)))
        .with_speed(AVIF_SPEED)
        .with_bit_depth(ravif::BitDepth::Eight)
        .with_num_threads(Some(1))
        .encode_rgba(ravif::Img::new(
            pixels.as_slice(),
            width as usize,
            height as usize,
        ))
        .map_err(|e| ProcessError::Encode(format!("AVIF: {e}")))?;
    Ok(output(
        variant,
        encoded.avif_file,
        OutputFormat::Avif,
        width,
        height,
    ))
}

/// How hard the GIF encoder's colour quantiser works (1 best, 30 fastest): 10
/// is a tenth of the time of the best for a difference few can see.
const GIF_QUANTISER_SPEED: i32 = 10;

/// Encodes one frame as a still GIF, or several of one size as a GIF that
/// loops forever, each quantised to its own 256 colours (fully transparent
/// pixels stay transparent).
pub(crate) fn encode_gif(
    variant: &str,
    frames: Vec<AnimationFrame>,
) -> Result<Output, ProcessError> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let first = frames
        .first()
        .ok_or_else(|| ProcessError::Encode("a GIF needs a frame".into()))?;
    let (width, height) = first.image.dimensions();
    if width > GIF_MAX_SIDE || height > GIF_MAX_SIDE {
        return Err(ProcessError::Encode(format!(
            "GIF cannot hold an image of {width}x{height} pixels; its sides are at most {GIF_MAX_SIDE}"
        )));
    }
    let gif_error = |e: image::ImageError| ProcessError::Encode(format!("GIF: {e}"));
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, GIF_QUANTISER_SPEED);
        if frames.len() > 1 {
            encoder.set_repeat(Repeat::Infinite).map_err(gif_error)?;
        }
        for frame in frames {
            if frame.image.dimensions() != (width, height) {
                return Err(ProcessError::Encode("the frames differ in size".into()));
            }
            let delay = image::Delay::from_numer_denom_ms(frame.delay_ms, 1);
            encoder
                .encode_frame(image::Frame::from_parts(frame.image, 0, 0, delay))
                .map_err(gif_error)?;
        }
    }
    Ok(output(variant, bytes, OutputFormat::Gif, width, height))
}

/// GIF's sides are 16-bit.
const GIF_MAX_SIDE: u32 = u16::MAX as u32;

fn output(variant: &str, bytes: Vec<u8>, format: OutputFormat, width: u32, height: u32) -> Output {
    Output {
        variant: variant.to_owned(),
        bytes,
        format,
        width,
        height,
    }
}

/// JPEG has no alpha: composite over white, as a browser shows a transparent image on
/// a page.
fn flatten_on_white(image: &DynamicImage) -> Cow<'_, RgbImage> {
    match image {
        DynamicImage::ImageRgb8(rgb) => Cow::Borrowed(rgb),
        DynamicImage::ImageRgba8(rgba) => Cow::Owned(flatten_rgba(rgba)),
        other if other.color().has_alpha() => Cow::Owned(flatten_rgba(&other.to_rgba8())),
        other => Cow::Owned(other.to_rgb8()),
    }
}

fn flatten_rgba(rgba: &RgbaImage) -> RgbImage {
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = px.0;
        let a = u16::from(a);
        // (c*a + 255*(255-a)) / 255 is at most 255, so the cast keeps every value.
        let over_white = |c: u8| ((u16::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        out.0 = [over_white(r), over_white(g), over_white(b)];
    }
    rgb
}

fn to_rgb_or_rgba(image: &DynamicImage) -> Cow<'_, DynamicImage> {
    match image {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => Cow::Borrowed(image),
        other if other.color().has_alpha() => {
            Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8()))
        }
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::decode_output;
    use super::*;
    use image::Rgba;

    fn half_transparent() -> DynamicImage {
        DynamicImage::ImageRgba8(RgbaImage::from_pixel(4, 2, Rgba([0, 0, 0, 128])))
    }

    #[test]
    fn jpeg_flattens_transparency_onto_white() {
        let out = encode("t", &half_transparent(), OutputFormat::Jpeg, 100).unwrap();
        let px = decode_output(&out).to_rgb8().get_pixel(1, 1).0;
        assert!(px.iter().all(|&c| (120..=135).contains(&c)), "{px:?}");
    }

    #[test]
    fn png_and_webp_keep_transparency() {
        for format in [OutputFormat::Png, OutputFormat::Webp] {
            let out = encode("t", &half_transparent(), format, 85).unwrap();
            assert_eq!(
                decode_output(&out).to_rgba8().get_pixel(1, 1).0,
                [0, 0, 0, 128]
            );
        }
    }

    #[test]
    fn lower_jpeg_quality_makes_smaller_files() {
        let noisy = DynamicImage::ImageRgb8(RgbImage::from_fn(64, 64, |x, y| {
            image::Rgb([
                (x * 37 % 256) as u8,
                (y * 91 % 256) as u8,
                ((x ^ y) * 13 % 256) as u8,
            ])
        }));
        for format in [OutputFormat::Jpeg, OutputFormat::Webp] {
            let small = encode("t", &noisy, format, 30).unwrap();
            let large = encode("t", &noisy, format, 95).unwrap();
            assert!(small.bytes.len() < large.bytes.len(), "{format:?}");
        }
    }

    #[test]
    fn lossless_webp_gives_back_the_exact_pixels() {
        // Alpha never 0: libwebp may drop the colour of invisible pixels (as cwebp does).
        let pixels = RgbaImage::from_fn(32, 16, |x, y| {
            let (x, y) = (x as u8, y as u8);
            Rgba([x * 8, y * 16, (x + y) * 5, 10 + x * 7])
        });
        let image = DynamicImage::ImageRgba8(pixels.clone());
        let out = encode_webp("t", Cow::Borrowed(&image), WebpCompression::Lossless).unwrap();
        assert_eq!(out.content_type(), "image/webp");
        assert!(decode_output(&out).to_rgba8() == pixels, "pixels changed");
    }

    /// The width and height an AVIF's `ispe` box declares.
    fn avif_size(bytes: &[u8]) -> (u32, u32) {
        let at = bytes
            .windows(4)
            .position(|w| w == b"ispe")
            .expect("an ispe box");
        let word = |from: usize| u32::from_be_bytes(bytes[from..from + 4].try_into().unwrap());
        // The box type, then version and flags, then width and height.
        (word(at + 8), word(at + 12))
    }

    #[test]
    fn avif_is_an_avif_file_of_the_size_and_smaller_at_lower_quality() {
        let photo = DynamicImage::ImageRgb8(RgbImage::from_fn(96, 64, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8])
        }));
        let out = encode("t", &photo, OutputFormat::Avif, 80).unwrap();
        assert_eq!(
            (out.content_type(), out.extension()),
            ("image/avif", "avif")
        );
        assert_eq!(&out.bytes[4..12], b"ftypavif", "an AVIF file type box");
        assert_eq!(avif_size(&out.bytes), (96, 64));
        assert_eq!((out.width, out.height), (96, 64));
        let small = encode("t", &photo, OutputFormat::Avif, 20).unwrap();
        assert!(small.bytes.len() < out.bytes.len());
        let transparent = encode("t", &half_transparent(), OutputFormat::Avif, 80).unwrap();
        assert!(
            transparent.bytes.windows(4).any(|w| w == b"auxC"),
            "the alpha plane is an auxiliary image"
        );
        assert!(
            !out.bytes.windows(4).any(|w| w == b"auxC"),
            "no alpha, no plane"
        );
    }

    #[test]
    fn a_webp_side_longer_than_libwebp_allows_is_an_encode_error_not_a_panic() {
        let wide = DynamicImage::ImageRgb8(RgbImage::new(16_384, 1));
        let err = encode("t", &wide, OutputFormat::Webp, 80).unwrap_err();
        assert!(matches!(err, ProcessError::Encode(_)), "{err:?}");
        assert!(err.to_string().contains("16384x1"), "{err}");
    }
}
