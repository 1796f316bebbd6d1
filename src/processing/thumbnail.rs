//! The `thumbnail` processor: one small image inside (`contain`, the default) or
//! filling (`cover`, centre-cropped) a 300x300 box, JPEG q85 unless asked otherwise.

use fast_image_resize::Resizer;

use super::decode::{ShrinkOnLoad, decode_image_for};
use super::encode::encode;
use super::options::{DEFAULT_QUALITY, Fit, IMAGE_FORMATS, MAX_DIMENSION, Options, OutputFormat};
use super::resize::{plan, resample};
use super::{Limits, ProcessError, Processed, SourceFacts, ThumbHash};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThumbnailOptions {
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    pub format: OutputFormat,
    pub quality: u8,
}

impl ThumbnailOptions {
    /// What a request that names no option gets.
    pub(crate) const DEFAULT: ThumbnailOptions = ThumbnailOptions {
        width: 300,
        height: 300,
        fit: Fit::Contain,
        format: OutputFormat::Jpeg,
        quality: DEFAULT_QUALITY,
    };

    pub(super) fn parse(o: &Options<'_>) -> Result<Self, ProcessError> {
        o.only(&["width", "height", "fit", "format", "quality"])?;
        let default = Self::DEFAULT;
        Ok(ThumbnailOptions {
            width: o
                .dimension("width", MAX_DIMENSION)?
                .unwrap_or(default.width),
            height: o
                .dimension("height", MAX_DIMENSION)?
                .unwrap_or(default.height),
            fit: o.fit()?.unwrap_or(default.fit),
            format: o.format(&IMAGE_FORMATS)?.unwrap_or(default.format),
            quality: o.quality()?.unwrap_or(default.quality),
        })
    }
}

pub(crate) fn run(
    variant: &str,
    options: &ThumbnailOptions,
    input: &[u8],
    limits: &Limits,
) -> Result<Processed, ProcessError> {
    let plan_for = |width, height| {
        plan(
            width,
            height,
            Some(options.width),
            Some(options.height),
            options.fit,
        )
    };
    let decoded = decode_image_for(input, limits, ShrinkOnLoad::KeepMargin, |width, height| {
        plan_for(width, height).source_pixels_needed(width, height)
    })?;
    let plan = plan_for(decoded.width, decoded.height);
    let mut resizer = Resizer::new();
    let pixels = resample(&mut resizer, &decoded.image, decoded.region, plan)?;
    let output = encode(variant, &pixels, options.format, options.quality)?;
    // From the decode, not the thumbnail: a `cover` thumbnail is cropped.
    let thumbhash = ThumbHash::of(&mut resizer, &decoded.image, decoded.region)?;
    Ok(Processed {
        outputs: vec![output],
        source: SourceFacts::image(decoded.width, decoded.height).with_thumbhash(thumbhash),
    })
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Processor, ProcessorOptions};
    use super::super::test_support::{assert_pixel, decode_output, fixture, only_output};
    use super::super::{Limits, ProcessError, Processed, run as run_processor};
    use super::*;
    use image::GenericImageView;
    use serde_json::{Value, json};

    fn thumbnail(name: &str, options: Value) -> Result<Processed, ProcessError> {
        run_processor(
            "thumbnail",
            "thumbnail",
            &options,
            &fixture(name),
            &Limits::default(),
        )
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn an_empty_thumbnail_request_means_a_300_box_jpeg_at_quality_85() {
        assert_eq!(
            ProcessorOptions::parse(Processor::Thumbnail, &json!({})).unwrap(),
            ProcessorOptions::Thumbnail(ThumbnailOptions {
                width: 300,
                height: 300,
                fit: Fit::Contain,
                format: OutputFormat::Jpeg,
                quality: 85,
            })
        );
    }

    #[test]
    fn a_landscape_photo_becomes_a_300_by_200_jpeg() {
        let processed = thumbnail("photo.jpg", json!({})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.variant, "thumbnail");
        assert_eq!((out.content_type(), out.extension()), ("image/jpeg", "jpg"));
        let img = decode_output(out);
        assert_eq!(img.dimensions(), (300, 200));
        assert_eq!(
            (processed.source.width, processed.source.height),
            (Some(1200), Some(800))
        );
        assert_eq!(processed.source.page_count, None);
    }

    #[test]
    fn an_orientation_6_photo_becomes_a_portrait_thumbnail_turned_the_right_way() {
        let processed = thumbnail("orientation6.jpg", json!({})).unwrap();
        let img = decode_output(only_output(&processed));
        assert_eq!(img.dimensions(), (200, 300));
        assert_eq!(
            (processed.source.width, processed.source.height),
            (Some(800), Some(1200))
        );
        // The stored top-left red marker must now be at the top-right.
        assert_pixel(&img, (195, 5), [255, 0, 0], 50);
    }

    #[test]
    fn the_thumbnail_carries_no_exif_gps_or_orientation() {
        let original = fixture("orientation6.jpg");
        assert!(
            contains(&original, b"Exif\0\0"),
            "the fixture must have EXIF to strip"
        );
        assert!(contains(&original, b"KilnCam"));
        for format in ["jpeg", "png", "webp"] {
            let processed = thumbnail("orientation6.jpg", json!({ "format": format })).unwrap();
            let bytes = &only_output(&processed).bytes;
            assert!(
                !contains(bytes, b"Exif"),
                "{format} output has an EXIF block"
            );
            assert!(
                !contains(bytes, b"KilnCam"),
                "{format} output kept the camera make"
            );
            assert!(
                !contains(bytes, b"eXIf"),
                "{format} output has a PNG eXIf chunk"
            );
            assert!(
                !contains(bytes, b"http://ns.adobe.com/xap"),
                "{format} output has XMP"
            );
            let mut decoder = image::ImageReader::new(std::io::Cursor::new(bytes))
                .with_guessed_format()
                .unwrap()
                .into_decoder()
                .unwrap();
            use image::ImageDecoder;
            assert_eq!(decoder.exif_metadata().unwrap(), None, "{format}");
        }
    }

    #[test]
    fn cover_fills_the_whole_box() {
        let processed = thumbnail(
            "photo.jpg",
            json!({"fit": "cover", "width": 200, "height": 200}),
        )
        .unwrap();
        assert_eq!(
            decode_output(only_output(&processed)).dimensions(),
            (200, 200)
        );
    }

    #[test]
    fn a_png_thumbnail_of_a_transparent_png_keeps_its_alpha() {
        let processed = thumbnail("alpha.png", json!({"format": "png"})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.content_type(), "image/png");
        let img = decode_output(out);
        assert!(img.color().has_alpha());
        assert_eq!(img.dimensions(), (300, 225));
        let rgba = img.to_rgba8();
        assert_eq!(rgba.get_pixel(280, 100).0[3], 0);
        assert_eq!(rgba.get_pixel(20, 100).0, [20, 120, 220, 255]);
    }

    #[test]
    fn a_jpeg_thumbnail_of_a_transparent_png_is_white_where_it_was_transparent() {
        let processed = thumbnail("alpha.png", json!({})).unwrap();
        let img = decode_output(only_output(&processed));
        assert_pixel(&img, (280, 100), [255, 255, 255], 3);
        assert_pixel(&img, (20, 100), [20, 120, 220], 12);
    }

    #[test]
    fn a_16_bit_png_and_a_cmyk_jpeg_make_thumbnails_in_their_true_colours() {
        let img = decode_output(only_output(&thumbnail("deep16.png", json!({})).unwrap()));
        assert_eq!(img.dimensions(), (300, 225));
        assert_pixel(&img, (30, 100), [255, 0, 0], 12);
        assert_pixel(&img, (270, 100), [0, 128, 255], 12);

        let img = decode_output(only_output(&thumbnail("cmyk.jpg", json!({})).unwrap()));
        assert_pixel(&img, (30, 100), [0, 255, 255], 30);
        assert_pixel(&img, (270, 100), [255, 0, 255], 30);
    }

    #[test]
    fn an_animated_gif_thumbnail_shows_the_first_frame() {
        let img = decode_output(only_output(&thumbnail("animated.gif", json!({})).unwrap()));
        assert_eq!(img.dimensions(), (200, 150), "never upscaled");
        assert_pixel(&img, (100, 75), [255, 0, 0], 12);
    }

    #[test]
    fn a_small_image_is_not_upscaled() {
        let processed = thumbnail("small.jpg", json!({"width": 600, "height": 600})).unwrap();
        assert_eq!(
            decode_output(only_output(&processed)).dimensions(),
            (300, 200)
        );
    }

    #[test]
    fn quality_changes_the_jpeg_size() {
        let low = thumbnail("photo.jpg", json!({"quality": 20})).unwrap();
        let high = thumbnail("photo.jpg", json!({"quality": 95})).unwrap();
        assert!(only_output(&low).bytes.len() < only_output(&high).bytes.len());
    }

    #[test]
    fn a_truncated_jpeg_fails_as_corrupt_and_a_bomb_as_too_many_pixels() {
        let err = thumbnail("truncated.jpg", json!({})).unwrap_err();
        assert!(matches!(err, ProcessError::Corrupt(_)), "{err:?}");
        assert!(err.is_permanent());
        let err = thumbnail("bomb.png", json!({})).unwrap_err();
        assert!(matches!(err, ProcessError::TooManyPixels { .. }), "{err:?}");
    }
}
