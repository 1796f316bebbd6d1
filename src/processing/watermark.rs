//! The `watermark` processor: a line of text drawn over the whole image, which keeps
//! its size (and loses its EXIF, like every output).
//!
//! The text is set in the font Kiln ships (see `text.rs`), rasterised into one coverage
//! mask and composited here in straight alpha, so text over a transparent area of a
//! PNG stays readable (it raises the alpha there).
//!
//! Geometry, all relative to the image as a person sees it (after EXIF orientation):
//! - font size: `font_size` pixels per em, or 4% of the shorter side (at least 12 px);
//!   the text is made smaller, never clipped, when it would not fit between the margins;
//! - margin: 2% of the shorter side from the edges the position names;
//! - the text is white at `opacity` over a black shadow at 0.6 x `opacity`, offset
//!   down-right by 1 px (2 px from 24 px up), so it reads on light and dark images.

use image::DynamicImage;

use super::decode::decode_image;
use super::encode::{default_format, encode};
use super::options::{Position, WatermarkOptions};
use super::text::{Line, Mask, font};
use super::{Limits, ProcessError, Processed, SourceFacts};

/// Default font size and margin, as fractions of the image's shorter side.
const DEFAULT_SIZE: f32 = 0.04;
const MIN_DEFAULT_SIZE: f32 = 12.0;
const MARGIN: f32 = 0.02;
/// The shadow's opacity relative to the text's.
const SHADOW_OPACITY: f32 = 0.6;
/// Room kept for the shadow's offset when fitting the text.
const MAX_SHADOW_OFFSET: u32 = 2;

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];

pub(crate) fn run(
    variant: &str,
    options: &WatermarkOptions,
    input: &[u8],
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
    draw_watermark(&mut canvas, options)?;
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

fn draw_watermark(canvas: &mut Canvas<'_>, options: &WatermarkOptions) -> Result<(), ProcessError> {
    if options.opacity <= 0.0 {
        return Ok(());
    }
    let font = font()?;
    let (width, height) = (canvas.width as f32, canvas.height as f32);
    let shorter = width.min(height);
    let margin = (shorter * MARGIN).round();
    let wanted = options.font_size.map_or_else(
        || (shorter * DEFAULT_SIZE).round().max(MIN_DEFAULT_SIZE),
        |size| size as f32,
    );
    let room_width = (width - 2.0 * margin - MAX_SHADOW_OFFSET as f32).max(1.0);
    let room_height = (height - 2.0 * margin - MAX_SHADOW_OFFSET as f32).max(1.0);

    // Lay out (cheap: outlines and bounds, no pixels), shrink to fit, then rasterise,
    // so the mask is never much larger than the image whatever the size asked.
    let Some(mut line) = Line::lay_out(font, &options.text, wanted) else {
        return Ok(()); // no ink: options parsing refuses such text (has_ink)
    };
    let shrink = (room_width / line.width()).min(room_height / line.height());
    if shrink < 1.0 {
        match Line::lay_out(font, &options.text, wanted * shrink) {
            Some(smaller) => line = smaller,
            None => return Ok(()),
        }
    }
    let mask = line.rasterise();
    let shadow_offset = if line.size >= 24.0 { 2 } else { 1 };

    let (across, down) = alignment(options.position);
    let box_width = (mask.width + shadow_offset) as f32;
    let box_height = (mask.height + shadow_offset) as f32;
    let left = (margin + (width - 2.0 * margin - box_width) * across).round() as i64;
    let top = (margin + (height - 2.0 * margin - box_height) * down).round() as i64;
    let offset = i64::from(shadow_offset);
    let shadow_opacity = options.opacity * SHADOW_OPACITY;
    canvas.composite(&mask, left + offset, top + offset, BLACK, shadow_opacity);
    canvas.composite(&mask, left, top, WHITE, options.opacity);
    Ok(())
}

/// Where the text box sits between the margins: 0 at the left/top, 1 at the right/bottom.
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

impl Canvas<'_> {
    /// Paints `colour` through `mask` at `opacity`, the mask's top-left at (`left`,
    /// `top`); what falls outside the canvas is dropped.
    fn composite(&mut self, mask: &Mask, left: i64, top: i64, colour: [u8; 3], opacity: f32) {
        let (width, height) = (i64::from(self.width), i64::from(self.height));
        for my in 0..i64::from(mask.height) {
            let y = top + my;
            if !(0..height).contains(&y) {
                continue;
            }
            for mx in 0..i64::from(mask.width) {
                let x = left + mx;
                if !(0..width).contains(&x) {
                    continue;
                }
                // Both indices are non-negative and inside their buffers (checked above).
                let coverage = mask.coverage[(my * i64::from(mask.width) + mx) as usize];
                let alpha = coverage * opacity;
                if alpha <= 0.0 {
                    continue;
                }
                let at = (y * width + x) as usize * self.channels;
                blend(&mut self.pixels[at..at + self.channels], colour, alpha);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::super::decode::decode_image;
    use super::super::test_support::{close, decode_output, fixture, only_output};
    use super::super::{Limits, ProcessError, Processed, run as run_processor, validate};
    use super::*;
    use image::{GenericImageView, ImageFormat, RgbImage, RgbaImage};
    use serde_json::{Value, json};

    fn watermark_bytes(input: &[u8], options: Value) -> Result<Processed, ProcessError> {
        run_processor("watermark", "marked", &options, input, &Limits::default())
    }

    fn watermark(name: &str, options: Value) -> Result<Processed, ProcessError> {
        watermark_bytes(&fixture(name), options)
    }

    /// The source's pixels as the processor sees them (decoded and oriented).
    fn source(name: &str) -> RgbaImage {
        decode_image(&fixture(name), &Limits::default())
            .unwrap()
            .to_rgba8()
    }

    /// The smallest box (inclusive corners) around every pixel that differs.
    fn changed_box(before: &RgbaImage, after: &RgbaImage) -> Option<(u32, u32, u32, u32)> {
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

    fn png_of(image: DynamicImage) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, ImageFormat::Png).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn the_output_is_the_whole_image_at_its_size_in_the_source_format_family() {
        let processed = watermark("photo.jpg", json!({"text": "Kiln"})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.variant, "marked");
        assert_eq!((out.content_type, out.extension), ("image/jpeg", "jpg"));
        assert_eq!(decode_output(out).dimensions(), (1200, 800));
        assert_eq!(
            (processed.source.width, processed.source.height),
            (Some(1200), Some(800))
        );

        let processed = watermark("alpha.png", json!({"text": "Kiln"})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.content_type, "image/png");
        let img = decode_output(out);
        assert!(img.color().has_alpha());
        assert_eq!(img.dimensions(), (400, 300));

        let processed = watermark("photo.jpg", json!({"text": "Kiln", "format": "webp"})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.content_type, "image/webp");
        assert_eq!(decode_output(out).dimensions(), (1200, 800));
    }

    #[test]
    fn the_default_bottom_right_mark_changes_that_corner_and_not_the_opposite_one() {
        let before = DynamicImage::ImageRgba8(source("photo.jpg")).to_rgb8();
        let processed = watermark("photo.jpg", json!({"text": "© Kiln"})).unwrap();
        let after = decode_output(only_output(&processed)).to_rgb8();
        let differs = |x0: u32, y0: u32, x1: u32, y1: u32| {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| !close(after.get_pixel(x, y).0, before.get_pixel(x, y).0, 40))
                .count()
        };
        // Margin 16 px, text 32 px per em: the mark lies in the bottom-right 200x60.
        assert!(differs(1000, 740, 1184, 784) > 100, "no mark bottom-right");
        // JPEG re-encoding moves every pixel a little, but nothing like the text does.
        assert_eq!(differs(0, 0, 600, 400), 0, "the top-left changed");
        assert_eq!(differs(0, 400, 600, 800), 0, "the bottom-left changed");
        assert_eq!(differs(600, 0, 1200, 400), 0, "the top-right changed");
    }

    #[test]
    fn each_of_the_nine_positions_puts_the_text_at_its_anchor_inside_the_margin() {
        let before = source("photo.jpg");
        let (width, height) = before.dimensions();
        let margin = 16; // 2% of 800
        for position in Position::ALL {
            let options = json!({"text": "Kiln", "position": position.name(), "format": "png"});
            let processed = watermark("photo.jpg", options).unwrap();
            let after = decode_output(only_output(&processed)).to_rgba8();
            let (x0, y0, x1, y1) = changed_box(&before, &after)
                .unwrap_or_else(|| panic!("{}: nothing drawn", position.name()));
            let name = position.name();
            assert!(
                x0 >= margin && y0 >= margin,
                "{name}: {x0},{y0} in the margin"
            );
            assert!(
                x1 < width - margin && y1 < height - margin,
                "{name}: {x1},{y1} in the margin"
            );
            let (across, down) = alignment(position);
            let check = |low: u32, high: u32, side: u32, at: f32, axis: &str| {
                let wanted = match at {
                    0.0 => low <= margin + 2,
                    1.0 => high + 1 >= side - margin - 2,
                    _ => (i64::from(low + high) - i64::from(side)).abs() <= 4,
                };
                assert!(wanted, "{name}: {axis} spans {low}..={high} of {side}");
            };
            check(x0, x1, width, across, "x");
            check(y0, y1, height, down, "y");
        }
    }

    #[test]
    fn opacity_zero_leaves_the_image_unchanged() {
        let processed = watermark(
            "photo.jpg",
            json!({"text": "Kiln", "opacity": 0, "format": "png"}),
        )
        .unwrap();
        let after = decode_output(only_output(&processed)).to_rgba8();
        assert!(changed_box(&source("photo.jpg"), &after).is_none());
    }

    #[test]
    fn more_opacity_changes_the_pixels_more() {
        let before = source("photo.jpg");
        let total_change = |opacity: f32| -> u64 {
            let options = json!({"text": "Kiln", "opacity": opacity, "format": "png"});
            let processed = watermark("photo.jpg", options).unwrap();
            let after = decode_output(only_output(&processed)).to_rgba8();
            after
                .as_raw()
                .iter()
                .zip(before.as_raw())
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum()
        };
        let (faint, half, full) = (total_change(0.1), total_change(0.5), total_change(1.0));
        assert!(
            0 < faint && faint < half && half < full,
            "{faint} {half} {full}"
        );
    }

    #[test]
    fn the_mark_reads_on_white_and_on_black() {
        for (background, expect_darker) in [([255u8; 3], true), ([0u8; 3], false)] {
            let plain = RgbImage::from_pixel(400, 300, image::Rgb(background));
            let input = png_of(DynamicImage::ImageRgb8(plain.clone()));
            let options = json!({"text": "Kiln", "position": "center", "format": "png"});
            let processed = watermark_bytes(&input, options).unwrap();
            let after = decode_output(only_output(&processed)).to_rgb8();
            // Text at 50%: white shows on black; the shadow at 30% shows on white.
            let strongest = after
                .pixels()
                .map(|p| p.0[0].abs_diff(background[0]))
                .max()
                .unwrap();
            assert!(
                strongest >= 60,
                "{background:?}: at most {strongest} of change"
            );
            let moved_the_right_way = after.pixels().any(|p| {
                if expect_darker {
                    p.0[0] < 200
                } else {
                    p.0[0] > 100
                }
            });
            assert!(moved_the_right_way, "{background:?}");
        }
    }

    #[test]
    fn text_on_a_transparent_area_becomes_visible_there() {
        let before = source("alpha.png");
        let processed = watermark("alpha.png", json!({"text": "Kiln"})).unwrap();
        let after = decode_output(only_output(&processed)).to_rgba8();
        let (x0, y0, ..) = changed_box(&before, &after).unwrap();
        assert!(
            x0 > 200 && y0 > 150,
            "bottom-right, over the transparent half"
        );
        let most_opaque = after.pixels().map(|p| p.0[3]).filter(|&a| a < 255).max();
        assert!(most_opaque.is_some_and(|a| a >= 100), "{most_opaque:?}");
        assert_eq!(
            after.get_pixel(300, 10).0[3],
            0,
            "elsewhere still transparent"
        );
    }

    #[test]
    fn the_default_size_follows_the_image_and_font_size_overrides_it() {
        let before = source("photo.jpg");
        let text_height = |options: Value| {
            let processed = watermark("photo.jpg", options).unwrap();
            let after = decode_output(only_output(&processed)).to_rgba8();
            let (_, y0, _, y1) = changed_box(&before, &after).unwrap();
            y1 - y0 + 1
        };
        // "Kiln" has no descender: its ink is about 0.75 em tall, plus the shadow.
        let default = text_height(json!({"text": "Kiln", "format": "png"}));
        assert!(
            (20..=30).contains(&default),
            "32 px per em: {default} px tall"
        );
        let large = text_height(json!({"text": "Kiln", "font_size": 100, "format": "png"}));
        assert!((70..=82).contains(&large), "100 px per em: {large} px tall");
    }

    #[test]
    fn text_too_long_for_the_image_is_made_smaller_not_clipped() {
        let before = source("small.jpg");
        let text = "W".repeat(200);
        let options = json!({"text": text, "font_size": 200, "format": "png", "position": "left"});
        let processed = watermark("small.jpg", options).unwrap();
        let after = decode_output(only_output(&processed)).to_rgba8();
        let (x0, _, x1, _) = changed_box(&before, &after).unwrap();
        // Margin 4 px on a 300 px side.
        assert!(x0 >= 4 && x1 <= 295, "{x0}..={x1}");
        assert!(x1 - x0 > 250, "the line spans the width: {x0}..={x1}");
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
    fn bad_text_position_opacity_and_size_are_invalid_options() {
        let too_long = "x".repeat(201);
        let cases = [
            (json!({}), "needs `text`"),
            (json!({"text": ""}), "blank"),
            (json!({"text": "   "}), "blank"),
            (json!({"text": "\u{200B}\u{200B}"}), "nothing visible"),
            (json!({"text": 42}), "text"),
            (json!({"text": too_long}), "has 201"),
            (json!({"text": "two\nlines"}), "line breaks"),
            (json!({"text": "日本"}), "cannot draw: 日本"),
            (
                json!({"text": "Kiln", "position": "middle"}),
                "bottom-right",
            ),
            (json!({"text": "Kiln", "opacity": 1.01}), "opacity"),
            (json!({"text": "Kiln", "opacity": -0.1}), "opacity"),
            (json!({"text": "Kiln", "opacity": "0.5"}), "opacity"),
            (json!({"text": "Kiln", "font_size": 0}), "font_size"),
            (json!({"text": "Kiln", "font_size": 1001}), "font_size"),
            (json!({"text": "Kiln", "quality": 0}), "quality"),
            (json!({"text": "Kiln", "size": 10}), "unknown option `size`"),
        ];
        for (options, mentions) in cases {
            match validate("watermark", &options) {
                Err(err @ ProcessError::InvalidOptions(_)) => assert!(
                    err.to_string().contains(mentions),
                    "{options}: `{err}` should mention `{mentions}`"
                ),
                other => panic!("{options}: expected InvalidOptions, got {other:?}"),
            }
        }
        // The limit counts characters, not bytes.
        assert!(validate("watermark", &json!({"text": "é".repeat(200)})).is_ok());
        assert!(validate("watermark", &json!({"text": "Kiln", "opacity": 1})).is_ok());
    }

    #[test]
    fn a_bomb_is_refused_before_anything_is_drawn() {
        let err = watermark("bomb.png", json!({"text": "Kiln"})).unwrap_err();
        assert!(matches!(err, ProcessError::TooManyPixels { .. }), "{err:?}");
    }
}
