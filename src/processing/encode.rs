//! Encoding pixels into an [`Output`]: JPEG (at a quality, alpha flattened onto white),
//! PNG (alpha kept) and WebP (lossless via the `image` crate for now; lossy libwebp
//! comes with the webp processor).
//!
//! Outputs are written from pixels alone, so no EXIF, XMP, GPS or ICC data from the
//! original can reach them.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use std::borrow::Cow;

use image::{DynamicImage, ImageEncoder, RgbImage, RgbaImage};

use super::options::OutputFormat;
use super::{MediaKind, Output, ProcessError};

impl OutputFormat {
    pub(crate) fn media_kind(self) -> MediaKind {
        match self {
            OutputFormat::Jpeg => MediaKind::Jpeg,
            OutputFormat::Png => MediaKind::Png,
            OutputFormat::Webp => MediaKind::Webp,
        }
    }
}

/// Encodes 8-bit RGB or RGBA pixels as the variant `variant`. `quality` (1-100) applies
/// to JPEG only.
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
            let rgb = flatten_on_white(image);
            JpegEncoder::new_with_quality(&mut bytes, quality.clamp(1, 100)).write_image(
                rgb.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgb8,
            )
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
            let image = to_rgb_or_rgba(image);
            WebPEncoder::new_lossless(&mut bytes).write_image(
                image.as_bytes(),
                width,
                height,
                image.color().into(),
            )
        }
    };
    result.map_err(|e| ProcessError::Encode(e.to_string()))?;
    let kind = format.media_kind();
    Ok(Output {
        variant: variant.to_owned(),
        bytes,
        content_type: kind.content_type(),
        extension: kind.extension(),
        width,
        height,
    })
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
        let small = encode("t", &noisy, OutputFormat::Jpeg, 30).unwrap();
        let large = encode("t", &noisy, OutputFormat::Jpeg, 95).unwrap();
        assert!(small.bytes.len() < large.bytes.len());
    }
}
