//! The `watermark` processor: a line of text ([`text_mark`]) or another image
//! ([`image_mark`]) drawn over the whole image, which keeps its size (and loses its
//! EXIF, like every output).
//!
//! Geometry, all relative to the image as a person sees it (after EXIF orientation):
//! - position: one of nine anchors; the mark sits a margin in from the edges the
//!   anchor names and centred between the others;
//! - margin: 2% of the shorter side;
//! - opacity: from 0 to 1, multiplied into every pixel of the mark (into an image
//!   mark's own alpha, so a transparent logo stays transparent around its shape).
//!
//! Marks are composited source-over in straight alpha, so a mark over a transparent
//! area of a PNG stays visible (it raises the alpha there).

mod image_mark;
mod options;
mod text_mark;

use image::DynamicImage;

use super::decode::decode_image;
use super::encode::{default_format, encode};
use super::options::Position;
use super::{Limits, ProcessError, Processed, SourceFacts};

pub(crate) use options::{DEFAULT_FONT_SIZE, Mark, WatermarkOptions};
pub use options::{MAX_FONT_SIZE, MAX_WATERMARK_CHARS};

/// The margin, as a fraction of the image's shorter side.
const MARGIN: f32 = 0.02;

/// Draws the mark `options` describe on `input`. `mark` is the image of an image
/// watermark, read by nothing else.
pub(crate) fn run(
    variant: &str,
    options: &WatermarkOptions,
    input: &[u8],
    mark: Option<&[u8]>,
    limits: &Limits,
) -> Result<Processed, ProcessError> {
    let mut image = decode_image(input, limits)?;
    let (width, height) = (image.width(), image.height());
    let format = options.format.unwrap_or_else(|| default_format(&image));
    let (pixels, channels) = match &mut image {
        DynamicImage::ImageRgb8(rgb) => (&mut **rgb, 3),
        DynamicImage::ImageRgba8(rgba) => (&mut **rgba, 4),
        // decode_image yields only the two above.
        other => {
            return Err(ProcessError::Unsupported(format!(
                "cannot draw on {:?} pixels",
                other.color()
            )));
        }
    };
    let mut canvas = Canvas {
        pixels,
        channels,
        width,
        height,
    };
    let (position, opacity) = (options.position, options.opacity);
    match &options.mark {
        Mark::Text { text, font_size } => {
            text_mark::draw(&mut canvas, text, *font_size, position, opacity)?;
        }
        Mark::Image { scale, .. } => {
            let bytes = mark.ok_or_else(|| {
                ProcessError::InvalidOptions(
                    "the watermark names an image, but its file was not supplied".into(),
                )
            })?;
            image_mark::draw(&mut canvas, bytes, *scale, position, opacity, limits)?;
        }
    }
    Ok(Processed {
        outputs: vec![encode(variant, &image, format, options.quality)?],
        source: SourceFacts::image(width, height),
    })
}

/// 8-bit RGB or RGBA pixels, row-major, to draw on.
struct Canvas<'a> {
    pixels: &'a mut [u8],
    channels: usize,
    width: u32,
    height: u32,
}

impl Canvas<'_> {
    /// The margin kept between a mark and the edges its position names, in pixels.
    fn margin(&self) -> f32 {
        (self.width.min(self.height) as f32 * MARGIN).round()
    }

    /// The top-left corner of a `box_width` x `box_height` mark at `position`.
    fn place(&self, box_width: u32, box_height: u32, position: Position) -> (i64, i64) {
        let margin = self.margin();
        let (across, down) = alignment(position);
        let free_width = self.width as f32 - 2.0 * margin - box_width as f32;
        let free_height = self.height as f32 - 2.0 * margin - box_height as f32;
        (
            (margin + free_width * across).round() as i64,
            (margin + free_height * down).round() as i64,
        )
    }

    /// Paints a `width` x `height` patch with its top-left at (`left`, `top`):
    /// `source(x, y)` is the colour and alpha (0 to 1) of the patch's pixel (x, y).
    /// What falls outside the canvas is dropped.
    fn paint(
        &mut self,
        (left, top): (i64, i64),
        (width, height): (u32, u32),
        source: impl Fn(u32, u32) -> ([u8; 3], f32),
    ) {
        let (canvas_width, canvas_height) = (i64::from(self.width), i64::from(self.height));
        for py in 0..height {
            let y = top + i64::from(py);
            if !(0..canvas_height).contains(&y) {
                continue;
            }
            for px in 0..width {
                let x = left + i64::from(px);
                if !(0..canvas_width).contains(&x) {
                    continue;
                }
                let (colour, alpha) = source(px, py);
                if alpha <= 0.0 {
                    continue;
                }
                // Both coordinates are inside the canvas (checked above).
                let at = (y * canvas_width + x) as usize * self.channels;
                blend(&mut self.pixels[at..at + self.channels], colour, alpha);
            }
        }
    }
}

/// Where a mark sits between the margins: 0 at the left/top, 1 at the right/bottom.
fn alignment(position: Position) -> (f32, f32) {
    match position {
        Position::TopLeft => (0.0, 0.0),
        Position::Top => (0.5, 0.0),
        Position::TopRight => (1.0, 0.0),
        Position::Left => (0.0, 0.5),
        Position::Center => (0.5, 0.5),
        Position::Right => (1.0, 0.5),
        Position::BottomLeft => (0.0, 1.0),
        Position::Bottom => (0.5, 1.0),
        Position::BottomRight => (1.0, 1.0),
    }
}

/// Source-over in straight (not premultiplied) alpha: `colour` at `alpha` (0 to 1) over
/// an RGB pixel, or over an RGBA pixel whose own alpha it also raises.
fn blend(pixel: &mut [u8], colour: [u8; 3], alpha: f32) {
    let below = if pixel.len() == 4 {
        f32::from(pixel[3]) / 255.0
    } else {
        1.0
    };
    // alpha > 0, so out > 0.
    let out = alpha + below * (1.0 - alpha);
    for (channel, &c) in pixel.iter_mut().zip(&colour) {
        let mixed = (f32::from(c) * alpha + f32::from(*channel) * below * (1.0 - alpha)) / out;
        *channel = to_u8(mixed);
    }
    if let Some(a) = pixel.get_mut(3) {
        *a = to_u8(out * 255.0);
    }
}

fn to_u8(value: f32) -> u8 {
    // Clamped to 0..=255 first, so the cast is exact.
    value.round().clamp(0.0, 255.0) as u8
}

/// What the tests of both marks share: running the processor on fixtures and
/// finding what it changed.
#[cfg(test)]
mod test_helpers {
    use image::{DynamicImage, ImageFormat, RgbaImage};
    use serde_json::Value;

    use super::super::decode::decode_image;
    use super::super::test_support::fixture;
    use super::super::{Inputs, Limits, ProcessError, Processed, run};

    pub fn watermark_bytes(input: &[u8], options: Value) -> Result<Processed, ProcessError> {
        run("watermark", "marked", &options, input, &Limits::default())
    }

    pub fn watermark(name: &str, options: Value) -> Result<Processed, ProcessError> {
        watermark_bytes(&fixture(name), options)
    }

    /// Marks the fixture `name` with the image `mark`.
    pub fn watermark_with(
        name: &str,
        mark: &[u8],
        options: Value,
    ) -> Result<Processed, ProcessError> {
        let original = fixture(name);
        let inputs = Inputs {
            original: &original,
            watermark: Some(mark),
        };
        run("watermark", "marked", &options, inputs, &Limits::default())
    }

    /// The source's pixels as the processor sees them (decoded and oriented).
    pub fn source(name: &str) -> RgbaImage {
        decode_image(&fixture(name), &Limits::default())
            .unwrap()
            .to_rgba8()
    }

    /// The smallest box (inclusive corners) around every pixel that differs.
    pub fn changed_box(before: &RgbaImage, after: &RgbaImage) -> Option<(u32, u32, u32, u32)> {
        assert_eq!(before.dimensions(), after.dimensions());
        let mut found: Option<(u32, u32, u32, u32)> = None;
        for (x, y, px) in after.enumerate_pixels() {
            if px != before.get_pixel(x, y) {
                found = Some(match found {
                    None => (x, y, x, y),
                    Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
                });
            }
        }
        found
    }

    pub fn png_of(image: DynamicImage) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, ImageFormat::Png).unwrap();
        bytes.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{close, decode_output, only_output};
    use super::test_helpers::{changed_box, source, watermark, watermark_with};
    use super::*;
    use image::GenericImageView;
    use serde_json::json;

    #[test]
    fn the_output_is_the_whole_image_at_its_size_in_the_source_format_family() {
        let processed = watermark("photo.jpg", json!({"text": "Kiln"})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.variant, "marked");
        assert_eq!((out.content_type(), out.extension()), ("image/jpeg", "jpg"));
        assert_eq!(decode_output(out).dimensions(), (1200, 800));
        assert_eq!(
            (processed.source.width, processed.source.height),
            (Some(1200), Some(800))
        );

        let processed = watermark("alpha.png", json!({"text": "Kiln"})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.content_type(), "image/png");
        let img = decode_output(out);
        assert!(img.color().has_alpha());
        assert_eq!(img.dimensions(), (400, 300));

        let processed = watermark("photo.jpg", json!({"text": "Kiln", "format": "webp"})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.content_type(), "image/webp");
        assert_eq!(decode_output(out).dimensions(), (1200, 800));
    }

    #[test]
    fn an_orientation_6_photo_is_marked_upright_and_loses_its_exif() {
        let before = source("orientation6.jpg");
        assert_eq!(before.dimensions(), (800, 1200));
        let processed =
            watermark("orientation6.jpg", json!({"text": "Kiln", "format": "png"})).unwrap();
        let out = only_output(&processed);
        let after = decode_output(out).to_rgba8();
        let (x0, y0, ..) = changed_box(&before, &after).unwrap();
        assert!(
            x0 > 600 && y0 > 1100,
            "bottom-right of the upright image: {x0},{y0}"
        );
        let processed = watermark("orientation6.jpg", json!({"text": "Kiln"})).unwrap();
        let bytes = &only_output(&processed).bytes;
        for needle in [&b"Exif"[..], b"KilnCam"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }

    #[test]
    fn an_animated_gif_is_marked_on_its_first_frame() {
        let processed = watermark("animated.gif", json!({"text": "Kiln"})).unwrap();
        let img = decode_output(only_output(&processed)).to_rgb8();
        assert_eq!(img.dimensions(), (200, 150));
        assert!(close(img.get_pixel(20, 20).0, [255, 0, 0], 12));
    }

    #[test]
    fn a_bomb_is_refused_before_anything_is_drawn() {
        let err = watermark("bomb.png", json!({"text": "Kiln"})).unwrap_err();
        assert!(matches!(err, ProcessError::TooManyPixels { .. }), "{err:?}");
        let logo = super::super::test_support::fixture("logo.png");
        let err = watermark_with("bomb.png", &logo, json!({"image": "logo"})).unwrap_err();
        assert!(matches!(err, ProcessError::TooManyPixels { .. }), "{err:?}");
    }

    #[test]
    fn an_image_watermark_without_its_image_is_refused() {
        let err = watermark("photo.jpg", json!({"image": "logo"})).unwrap_err();
        assert!(matches!(err, ProcessError::InvalidOptions(_)), "{err:?}");
        assert!(err.to_string().contains("not supplied"), "{err}");
    }
}
