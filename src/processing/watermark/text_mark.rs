//! A text watermark: one line set in the font Kiln ships (see `processing/text.rs`),
//! rasterised into one coverage mask and painted twice, as a shadow and as the text.
//!
//! - font size: `font_size` pixels per em, or 4% of the image's shorter side (at
//!   least 12 px); the text is made smaller, never clipped, when it would not fit
//!   between the margins;
//! - the text is white at `opacity` over a black shadow at 0.6 x `opacity`, offset
//!   down-right by 1 px (2 px from 24 px up), so it reads on light and dark images.

use super::super::ProcessError;
use super::super::options::Position;
use super::super::text::{Line, font};
use super::Canvas;
use super::options::{DEFAULT_FONT_SIZE, MIN_DEFAULT_FONT_SIZE};

/// The shadow's opacity relative to the text's.
const SHADOW_OPACITY: f32 = 0.6;
/// Room kept for the shadow's offset when fitting the text.
const MAX_SHADOW_OFFSET: u32 = 2;

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];

pub(super) fn draw(
    canvas: &mut Canvas<'_>,
    text: &str,
    font_size: Option<u32>,
    position: Position,
    opacity: f32,
) -> Result<(), ProcessError> {
    if opacity <= 0.0 {
        return Ok(());
    }
    let font = font()?;
    let (width, height) = (canvas.width as f32, canvas.height as f32);
    let margin = canvas.margin();
    let wanted = font_size.map_or_else(
        || {
            (width.min(height) * DEFAULT_FONT_SIZE)
                .round()
                .max(MIN_DEFAULT_FONT_SIZE)
        },
        |size| size as f32,
    );
    let room_width = (width - 2.0 * margin - MAX_SHADOW_OFFSET as f32).max(1.0);
    let room_height = (height - 2.0 * margin - MAX_SHADOW_OFFSET as f32).max(1.0);

    // Lay out (cheap: outlines and bounds, no pixels), shrink to fit, then rasterise,
    // so the mask is never much larger than the image whatever the size asked.
    let Some(mut line) = Line::lay_out(font, text, wanted) else {
        return Ok(()); // no ink: options parsing refuses such text (has_ink)
    };
    let shrink = (room_width / line.width()).min(room_height / line.height());
    if shrink < 1.0 {
        match Line::lay_out(font, text, wanted * shrink) {
            Some(smaller) => line = smaller,
            None => return Ok(()),
        }
    }
    let mask = line.rasterise();
    let shadow_offset = if line.size >= 24.0 { 2 } else { 1 };

    let (left, top) = canvas.place(
        mask.width + shadow_offset,
        mask.height + shadow_offset,
        position,
    );
    let offset = i64::from(shadow_offset);
    let size = (mask.width, mask.height);
    let coverage = |x: u32, y: u32| mask.coverage[y as usize * mask.width as usize + x as usize];
    let shadow_opacity = opacity * SHADOW_OPACITY;
    canvas.paint((left + offset, top + offset), size, |x, y| {
        (BLACK, coverage(x, y) * shadow_opacity)
    });
    canvas.paint((left, top), size, |x, y| (WHITE, coverage(x, y) * opacity));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::{close, decode_output, only_output};
    use super::super::super::{ProcessError, validate};
    use super::super::alignment;
    use super::super::test_helpers::{changed_box, png_of, source, watermark, watermark_bytes};
    use super::*;
    use image::{DynamicImage, RgbImage};
    use serde_json::{Value, json};

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
}
