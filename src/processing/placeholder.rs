//! The ThumbHash of an original: about 25 bytes that a page decodes into a
//! blurred likeness of the picture (colours, layout, aspect ratio, alpha) and paints
//! while the real thumbnail loads. Made by the processors whose work already holds
//! the whole picture small (thumbnail, resize, webp, pdf_thumbnail), from those
//! pixels, so it costs one shrink of a few hundred pixels at most.

use fast_image_resize::Resizer;
use image::DynamicImage;

use super::ProcessError;
use super::decode::Region;
use super::options::Fit;
use super::resize::{plan, resample};

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
        let small = plan(
            width.max(1),
            height.max(1),
            Some(MAX_SIDE),
            Some(MAX_SIDE),
            Fit::Contain,
        );
        let pixels = resample(resizer, image, region, small)?.to_rgba8();
        let hash = ::thumbhash::rgba_to_thumb_hash(
            pixels.width() as usize,
            pixels.height() as usize,
            pixels.as_raw(),
        );
        use base64::Engine as _;
        Ok(ThumbHash(
            base64::engine::general_purpose::STANDARD.encode(hash),
        ))
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
