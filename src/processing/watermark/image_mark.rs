//! An image watermark: another image (a logo, a signature) scaled relative to the
//! image it marks and painted with its own alpha, so a PNG with transparency shows
//! only its shape.
//!
//! - size: `scale` x the image's width (default 0.25), never wider or taller than
//!   the room between the margins, and never enlarged beyond the mark's own pixels:
//!   an enlarged logo only turns blurry, so a small mark on a large image stays at
//!   its own size (upload a larger mark for a larger watermark);
//! - the mark is decoded with every check an original gets (pixel limit before any
//!   allocation, EXIF orientation, first frame) and resampled with Lanczos3 in
//!   premultiplied alpha, so its transparent edges do not bleed dark fringes;
//! - no shadow: a mark's own design decides how it reads.
//!
//! Any fault of the mark is a [`ProcessError::WatermarkImage`], said apart from the
//! same fault in the original.

use fast_image_resize::Resizer;

use super::super::decode::{Region, decode_image};
use super::super::options::{Fit, Position};
use super::super::resize::{plan, resample};
use super::super::{Limits, ProcessError};
use super::Canvas;

pub(super) fn draw(
    canvas: &mut Canvas<'_>,
    bytes: &[u8],
    scale: f32,
    position: Position,
    opacity: f32,
    limits: &Limits,
) -> Result<(), ProcessError> {
    let unusable = |err| ProcessError::WatermarkImage(Box::new(err));
    let mark = decode_image(bytes, limits).map_err(unusable)?;
    let margin = canvas.margin();
    let room_width = (canvas.width as f32 - 2.0 * margin).max(1.0);
    let room_height = (canvas.height as f32 - 2.0 * margin).max(1.0);
    let wanted_width = (canvas.width as f32 * scale).round().clamp(1.0, room_width);
    // Contain in (wanted width x room height): aspect kept, never enlarged. Both
    // sides are at least 1 and at most the canvas's u32 sides, so the casts are exact.
    let size = plan(
        mark.width(),
        mark.height(),
        Some(wanted_width as u32),
        Some(room_height as u32),
        Fit::Contain,
    );
    let mark = resample(&mut Resizer::new(), &mark, Region::whole(&mark), size)
        .map_err(unusable)?
        .into_owned()
        .into_rgba8();
    let at = canvas.place(mark.width(), mark.height(), position);
    canvas.paint(at, mark.dimensions(), |x, y| {
        let [r, g, b, a] = mark.get_pixel(x, y).0;
        ([r, g, b], f32::from(a) / 255.0 * opacity)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::{decode_output, fixture, only_output};
    use super::super::super::{ProcessError, Processed};
    use super::super::test_helpers::{changed_box, png_of, source, watermark_with};
    use super::*;
    use image::{DynamicImage, Rgba, RgbaImage};
    use serde_json::{Value, json};

    const MAGENTA: [u8; 3] = [255, 0, 255];

    /// An opaque magenta mark of this size, as a PNG (no such colour is in photo.jpg).
    fn solid_mark(width: u32, height: u32) -> Vec<u8> {
        png_of(DynamicImage::ImageRgba8(RgbaImage::from_pixel(
            width,
            height,
            Rgba([255, 0, 255, 255]),
        )))
    }

    /// photo.jpg (1200x800; margin 16 px) marked as PNG, so pixels compare exactly.
    fn mark_photo(mark: &[u8], options: Value) -> RgbaImage {
        let mut options = options;
        options["image"] = json!("mark");
        options["format"] = json!("png");
        let processed: Processed = watermark_with("photo.jpg", mark, options).unwrap();
        decode_output(only_output(&processed)).to_rgba8()
    }

    fn blended(mark: [u8; 3], below: [u8; 4], alpha: f32) -> [u8; 3] {
        [0, 1, 2].map(|c| {
            (f32::from(mark[c]) * alpha + f32::from(below[c]) * (1.0 - alpha)).round() as u8
        })
    }

    fn near(actual: [u8; 4], expected: [u8; 3]) -> bool {
        actual.iter().zip(expected).all(|(a, e)| a.abs_diff(e) <= 1)
    }

    #[test]
    fn each_of_the_nine_positions_puts_the_mark_exactly_at_its_anchor() {
        let before = source("photo.jpg");
        let mark = solid_mark(100, 50);
        for position in Position::ALL {
            let name = position.name();
            let after = mark_photo(&mark, json!({"position": name, "opacity": 1}));
            let (across, down) = super::super::alignment(position);
            // Between the 16 px margins: 1200 - 32 - 100 = 1068 across, 800 - 32 - 50 = 718 down.
            let left = (16.0 + 1068.0 * across).round() as u32;
            let top = (16.0 + 718.0 * down).round() as u32;
            assert_eq!(
                changed_box(&before, &after),
                Some((left, top, left + 99, top + 49)),
                "{name}"
            );
            assert_eq!(&after.get_pixel(left + 50, top + 25).0[..3], MAGENTA);
        }
    }

    #[test]
    fn opacity_multiplies_the_mark_and_its_own_alpha_is_kept() {
        // logo.png: 160x80, a transparent 8 px border, opaque magenta on the left,
        // green at alpha 128 on the right. Smaller than a quarter of 1200, so it keeps
        // its size: at the bottom-right it spans (1024, 704)..=(1183, 783).
        let before = source("photo.jpg");
        let logo = fixture("logo.png");
        for opacity in [1.0f32, 0.5] {
            let after = mark_photo(&logo, json!({ "opacity": opacity }));
            let (x0, y0, x1, y1) = changed_box(&before, &after).unwrap();
            assert_eq!((x0, y0, x1, y1), (1032, 712, 1175, 775), "{opacity}");
            let opaque = (1050, 740);
            assert!(
                near(
                    after.get_pixel(opaque.0, opaque.1).0,
                    blended(MAGENTA, before.get_pixel(opaque.0, opaque.1).0, opacity)
                ),
                "{opacity}: {:?}",
                after.get_pixel(opaque.0, opaque.1)
            );
            let translucent = (1150, 740);
            assert!(
                near(
                    after.get_pixel(translucent.0, translucent.1).0,
                    blended(
                        [0, 255, 0],
                        before.get_pixel(translucent.0, translucent.1).0,
                        128.0 / 255.0 * opacity
                    )
                ),
                "{opacity}: {:?}",
                after.get_pixel(translucent.0, translucent.1)
            );
        }
        let untouched = mark_photo(&logo, json!({ "opacity": 0 }));
        assert!(changed_box(&before, &untouched).is_none());
    }

    #[test]
    fn a_mark_wider_than_its_share_is_scaled_down_to_it() {
        let before = source("photo.jpg");
        let huge = solid_mark(2400, 1200);
        // Default scale: a quarter of 1200 wide, the aspect kept.
        let after = mark_photo(&huge, json!({ "opacity": 1 }));
        assert_eq!(
            changed_box(&before, &after),
            Some((884, 634, 1183, 783)),
            "300x150 at the bottom-right"
        );
        assert!(near(after.get_pixel(1000, 700).0, MAGENTA));
        // The whole width at most fills the room between the margins, and a tall
        // mark is held to the room's height.
        let after = mark_photo(&huge, json!({ "scale": 1.0, "position": "top-left" }));
        assert_eq!(changed_box(&before, &after), Some((16, 16, 1183, 599)));
        let tall = solid_mark(100, 4000);
        let after = mark_photo(&tall, json!({ "position": "top-left" }));
        assert_eq!(
            changed_box(&before, &after),
            Some((16, 16, 34, 783)),
            "19x768"
        );
    }

    #[test]
    fn a_small_mark_is_never_enlarged() {
        let before = source("photo.jpg");
        let after = mark_photo(&solid_mark(40, 20), json!({ "scale": 1.0 }));
        assert_eq!(changed_box(&before, &after), Some((1144, 764, 1183, 783)));
    }

    #[test]
    fn a_transparent_mark_leaves_a_transparent_area_transparent_around_its_shape() {
        let before = source("alpha.png");
        let logo = fixture("logo.png");
        let options = json!({"image": "logo", "scale": 0.5});
        let processed = watermark_with("alpha.png", &logo, options).unwrap();
        let after = decode_output(only_output(&processed)).to_rgba8();
        // 400x300, margin 6: the logo's 160x80 box spans (234, 214)..=(393, 293).
        assert_eq!(changed_box(&before, &after), Some((242, 222, 385, 285)));
        assert_eq!(after.get_pixel(236, 216).0[3], 0, "the logo's border");
        assert_eq!(
            after.get_pixel(250, 250).0,
            [255, 0, 255, 128],
            "half-opaque magenta"
        );
    }

    #[test]
    fn a_bomb_or_a_pdf_as_the_mark_is_refused_and_named_as_the_watermark() {
        for (mark, fault) in [("bomb.png", "pixels"), ("two-pages.pdf", "not an image")] {
            let err =
                watermark_with("photo.jpg", &fixture(mark), json!({"image": "mark"})).unwrap_err();
            assert!(matches!(err, ProcessError::WatermarkImage(_)), "{err:?}");
            assert_eq!(err.code(), "invalid_watermark_image");
            let message = err.to_string();
            assert!(
                message.starts_with("the watermark image cannot be used")
                    && message.contains(fault),
                "{message}"
            );
        }
    }
}
