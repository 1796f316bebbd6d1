//! The ThumbHash of an original: about 25 bytes that a page decodes into a
//! blurred likeness of the picture (colours, layout, aspect ratio, alpha) and paints
//! while the real thumbnail loads. Made by the processors whose work already holds
//! the whole picture small (thumbnail, resize, webp, pdf_thumbnail), from those
//! pixels, so it costs one shrink of a few hundred pixels at most; the webp
//! processor, which takes a JPEG's rows as they are decoded and never holds the
//! whole picture, shrinks each batch of rows as it passes ([`ThumbHashFromRows`]).

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions as FirOptions, Resizer};
use image::{DynamicImage, RgbImage};

use super::ProcessError;
use super::decode::Region;
use super::options::Fit;
use super::resize::{Plan, plan, resample, rgb_rows_across};

/// ThumbHash encodes at most 100 pixels a side (more costs time and adds nothing).
const MAX_SIDE: u32 = 100;

/// A ThumbHash, as the `file` JSON's `thumbhash` carries it: standard base64.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ThumbHash(pub String);

impl ThumbHash {
    /// The hash of `region` of `image` (the whole picture, uncropped).
    pub(crate) fn of(
        resizer: &mut Resizer,
        image: &DynamicImage,
        region: Region,
    ) -> Result<ThumbHash, ProcessError> {
        let (width, height) = (region.width.round() as u32, region.height.round() as u32);
        let small = resample(resizer, image, region, hash_size(width, height))?;
        Ok(ThumbHash::of_small(&small))
    }

    /// The hash of a picture already at most [`MAX_SIDE`] a side.
    fn of_small(small: &DynamicImage) -> ThumbHash {
        let pixels = small.to_rgba8();
        let hash = ::thumbhash::rgba_to_thumb_hash(
            pixels.width() as usize,
            pixels.height() as usize,
            pixels.as_raw(),
        );
        use base64::Engine as _;
        ThumbHash(base64::engine::general_purpose::STANDARD.encode(hash))
    }
}

/// The size a `width` x `height` picture is hashed at: within [`MAX_SIDE`].
fn hash_size(width: u32, height: u32) -> Plan {
    plan(
        width.max(1),
        height.max(1),
        Some(MAX_SIDE),
        Some(MAX_SIDE),
        Fit::Contain,
    )
}

/// A ThumbHash made from a picture's RGB rows as a decoder gives them, for a
/// processor that never holds the whole picture (webp from a JPEG's rows). Each
/// batch is averaged across (a box filter: one addition per pixel) to twice the
/// hash's width and kept; [`ThumbHashFromRows::finish`] takes that narrow picture
/// to the hash's size with Lanczos3, as [`ThumbHash::of`] does the whole one.
pub(crate) struct ThumbHashFromRows {
    width: u32,
    height: u32,
    size: Plan,
    columns: u32,
    narrowed: Vec<u8>,
    resizer: Resizer,
}

impl ThumbHashFromRows {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        let size = hash_size(width, height);
        ThumbHashFromRows {
            width,
            height,
            size,
            columns: (size.width * 2).min(width),
            narrowed: Vec::new(),
            resizer: Resizer::new(),
        }
    }

    /// The next packed RGB rows, top to bottom.
    pub(crate) fn push_rgb_rows(&mut self, rgb: &[u8]) -> Result<(), ProcessError> {
        let across = rgb_rows_across(
            &mut self.resizer,
            rgb,
            self.width,
            self.columns,
            &FirOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Box)),
        )?;
        self.narrowed.extend_from_slice(&across);
        Ok(())
    }

    /// The hash, once every row was pushed.
    pub(crate) fn finish(mut self) -> Result<ThumbHash, ProcessError> {
        let narrowed = RgbImage::from_raw(self.columns, self.height, self.narrowed)
            .map(DynamicImage::ImageRgb8)
            .ok_or_else(|| ProcessError::Encode("a ThumbHash was missing rows".into()))?;
        let small = resample(
            &mut self.resizer,
            &narrowed,
            Region::whole(&narrowed),
            self.size,
        )?;
        Ok(ThumbHash::of_small(&small))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn decoded(hash: &ThumbHash) -> (usize, usize, Vec<u8>) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&hash.0)
            .unwrap();
        ::thumbhash::thumb_hash_to_rgba(&bytes).unwrap()
    }

    fn hash_of(image: DynamicImage) -> ThumbHash {
        let region = Region::whole(&image);
        ThumbHash::of(&mut Resizer::new(), &image, region).unwrap()
    }

    #[test]
    fn a_wide_picture_red_on_the_left_and_blue_on_the_right_is_painted_so() {
        let image = RgbImage::from_fn(640, 320, |x, _| {
            if x < 320 {
                Rgb([220, 20, 20])
            } else {
                Rgb([20, 20, 220])
            }
        });
        let hash = hash_of(DynamicImage::ImageRgb8(image));
        assert!(hash.0.len() <= 40, "{} base64 characters", hash.0.len());
        let (w, h, rgba) = decoded(&hash);
        assert!(w > h, "the placeholder keeps the aspect: {w}x{h}");
        let at = |x: usize, y: usize| &rgba[(y * w + x) * 4..(y * w + x) * 4 + 4];
        let (left, right) = (at(w / 8, h / 2), at(w - 1 - w / 8, h / 2));
        assert!(left[0] > left[2] + 60, "left is red: {left:?}");
        assert!(right[2] > right[0] + 60, "right is blue: {right:?}");
    }

    #[test]
    fn a_placeholder_made_from_rows_as_they_come_paints_what_the_whole_picture_does() {
        // Quarters of four colours, in batches of 64 rows and a last odd one.
        let (width, height) = (900, 601);
        let image = RgbImage::from_fn(width, height, |x, y| match (x < 450, y < 300) {
            (true, true) => Rgb([220, 20, 20]),
            (false, true) => Rgb([20, 200, 20]),
            (true, false) => Rgb([20, 20, 220]),
            (false, false) => Rgb([240, 240, 240]),
        });
        let mut from_rows = ThumbHashFromRows::new(width, height);
        for rows in image.as_raw().chunks(width as usize * 3 * 64) {
            from_rows.push_rgb_rows(rows).unwrap();
        }
        let (w, h, rows) = decoded(&from_rows.finish().unwrap());
        let (whole_w, whole_h, whole) = decoded(&hash_of(DynamicImage::ImageRgb8(image)));
        assert_eq!((w, h), (whole_w, whole_h));
        let worst = rows
            .iter()
            .zip(&whole)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst <= 12, "the two placeholders differ by up to {worst}");
    }

    #[test]
    fn transparency_is_kept() {
        let image = RgbaImage::from_pixel(200, 200, Rgba([0, 200, 0, 0]));
        let (_, _, rgba) = decoded(&hash_of(DynamicImage::ImageRgba8(image)));
        assert!(rgba.chunks(4).all(|pixel| pixel[3] < 40));
    }

    #[test]
    fn the_processors_that_hold_the_whole_picture_small_learn_its_placeholder() {
        use super::super::test_support::{fixture, use_test_pdfium};
        use super::super::{Limits, run};
        use serde_json::json;
        use_test_pdfium();
        let thumbhash = |processor: &str, options: serde_json::Value, input: &str| {
            run(
                processor,
                processor,
                &options,
                &fixture(input),
                &Limits::default(),
            )
            .unwrap()
            .source
            .thumbhash
        };
        for processor in ["thumbnail", "resize", "webp"] {
            let hash = thumbhash(processor, json!({}), "photo.jpg");
            assert!(hash.is_some(), "{processor}");
        }
        // A box resize or a watermark may crop or mark the picture: no placeholder.
        assert_eq!(
            thumbhash(
                "resize",
                json!({"width": 50, "height": 50, "fit": "cover"}),
                "photo.jpg"
            ),
            None
        );
        assert_eq!(
            thumbhash("watermark", json!({"text": "k"}), "photo.jpg"),
            None
        );
        assert!(thumbhash("pdf_thumbnail", json!({}), "two-pages.pdf").is_some());
        // A cover thumbnail's placeholder is of the whole picture, not the crop.
        let cover = thumbhash("thumbnail", json!({"fit": "cover"}), "photo.jpg").unwrap();
        let (w, h, _) = decoded(&cover);
        assert!(w > h, "{w}x{h}");
    }

    #[test]
    fn only_the_region_that_is_the_picture_counts() {
        // A reduced decode's last column stands for a fraction of a pixel; the
        // region, not the buffer, is the picture.
        let image = RgbImage::from_fn(101, 50, |x, _| {
            if x < 100 {
                Rgb([250, 250, 250])
            } else {
                Rgb([0, 0, 0])
            }
        });
        let image = DynamicImage::ImageRgb8(image);
        let region = Region {
            width: 100.0,
            ..Region::whole(&image)
        };
        let hash = ThumbHash::of(&mut Resizer::new(), &image, region).unwrap();
        let (_, _, rgba) = decoded(&hash);
        assert!(rgba.chunks(4).all(|pixel| pixel[0] > 200), "all white");
    }
}
