//! The `webp` processor: the whole image as a WebP, lossy at quality 80 by default or
//! lossless on request, optionally narrowed to `max_width` first (never widened). An
//! animated GIF or WebP stays animated: every frame is narrowed alike and the
//! frames keep their timing (within `MAX_FRAMES`; see [`super::decode::animation`]).
//!
//! libwebp dominates the time, and its cost grows with the pixel count, so a requested
//! size is applied before encoding, not after.
//!
//! A lossy WebP of a JPEG at its full size is made from the JPEG's rows as libjpeg
//! decodes them ([`lossy_webp_of_jpeg_rows`]): the WebP picture's YUV fills up batch
//! by batch, and the full-size RGB (36 MB for a 12 MP photo) never exists, which keeps
//! the peak memory near cwebp's. Every other case decodes the whole image first.

use fast_image_resize::Resizer;

use std::borrow::Cow;

use image::DynamicImage;

use super::decode::animation::for_each_frame;
use super::decode::{Region, ShrinkOnLoad, decode_image_for, read_jpeg_rows};
use super::encode::{
    AnimationFrame, LossyWebpFromRows, WebpCompression, encode_animated_webp, encode_webp,
};
use super::options::{Fit, MAX_DIMENSION, Options};
use super::placeholder::ThumbHashFromRows;
use super::resize::{plan, resample};
use super::{Limits, ProcessError, Processed, SourceFacts, ThumbHash, probe_dimensions};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WebpOptions {
    /// Ignored when `lossless`.
    pub quality: u8,
    pub lossless: bool,
    /// Downscale to at most this width (aspect kept); never upscales.
    pub max_width: Option<u32>,
}

impl WebpOptions {
    /// What a request that names no option gets.
    pub(crate) const DEFAULT: WebpOptions = WebpOptions {
        quality: 80,
        lossless: false,
        max_width: None,
    };

    pub(super) fn parse(o: &Options<'_>) -> Result<Self, ProcessError> {
        o.only(&["quality", "lossless", "max_width"])?;
        let default = Self::DEFAULT;
        Ok(WebpOptions {
            quality: o.quality()?.unwrap_or(default.quality),
            lossless: o.boolean("lossless")?.unwrap_or(default.lossless),
            max_width: o.dimension("max_width", MAX_DIMENSION)?,
        })
    }
}

pub(crate) fn run(
    variant: &str,
    options: &WebpOptions,
    input: &[u8],
    limits: &Limits,
) -> Result<Processed, ProcessError> {
    let plan_for = |width, height| plan(width, height, options.max_width, None, Fit::Contain);
    let compression = if options.lossless {
        WebpCompression::Lossless
    } else {
        WebpCompression::Lossy {
            quality: options.quality,
        }
    };
    let mut resizer = Resizer::new();
    let (mut frames, mut source) = (Vec::new(), None);
    let animated = for_each_frame(input, limits, |frame| {
        let image = DynamicImage::ImageRgba8(frame.image);
        let (width, height) = (image.width(), image.height());
        let small = resample(
            &mut resizer,
            &image,
            Region::whole(&image),
            plan_for(width, height),
        )?;
        if source.is_none() {
            let thumbhash = ThumbHash::of(&mut resizer, &small, Region::whole(&small))?;
            source = Some(SourceFacts::image(width, height).with_thumbhash(thumbhash));
        }
        frames.push(AnimationFrame {
            image: small.into_owned().into_rgba8(),
            delay_ms: frame.delay_ms,
        });
        Ok(())
    })?;
    if animated {
        return Ok(Processed {
            outputs: vec![encode_animated_webp(variant, &frames, compression)?],
            source: source.unwrap_or_default(),
        });
    }
    if let WebpCompression::Lossy { quality } = compression
        && let Some(output) = lossy_webp_of_jpeg_rows(variant, quality, input, limits, |w, h| {
            plan_for(w, h).source_pixels_needed(w, h) == (w, h)
        })?
    {
        return Ok(output);
    }
    let decoded = decode_image_for(input, limits, ShrinkOnLoad::KeepMargin, |width, height| {
        plan_for(width, height).source_pixels_needed(width, height)
    })?;
    let (width, height) = (decoded.width, decoded.height);
    let plan = plan_for(width, height);
    // Handed over whole, so the encoder frees the pixels once libwebp has its copy.
    let pixels = match resample(&mut resizer, &decoded.image, decoded.region, plan)? {
        Cow::Owned(smaller) => smaller,
        Cow::Borrowed(_) => decoded.image,
    };
    let thumbhash = ThumbHash::of(&mut resizer, &pixels, Region::whole(&pixels))?;
    let output = encode_webp(variant, Cow::Owned(pixels), compression)?;
    Ok(Processed {
        outputs: vec![output],
        source: SourceFacts::image(width, height).with_thumbhash(thumbhash),
    })
}

/// Rows of a JPEG read at a time by [`lossy_webp_of_jpeg_rows`]: an even number, as
/// [`LossyWebpFromRows`] needs, and about 0.75 MB of a 4000-wide photo.
const JPEG_BATCH_ROWS: usize = 64;

/// The lossy WebP of a JPEG that stays at its full size (`keeps_size` of its width
/// and height), made from its rows as they are decoded ([`read_jpeg_rows`]), with
/// its ThumbHash made alike. `Ok(None)` when the original is not a JPEG read that
/// way (see [`read_jpeg_rows`]) or would be narrowed: the caller decodes it whole.
fn lossy_webp_of_jpeg_rows(
    variant: &str,
    quality: u8,
    input: &[u8],
    limits: &Limits,
    keeps_size: impl Fn(u32, u32) -> bool,
) -> Result<Option<Processed>, ProcessError> {
    match probe_dimensions(input) {
        Some((width, height)) if keeps_size(width, height) => {}
        _ => return Ok(None),
    }
    let mut building: Option<(LossyWebpFromRows, ThumbHashFromRows)> = None;
    let read = read_jpeg_rows(input, limits, JPEG_BATCH_ROWS, |rows| {
        let (webp, thumbhash) = match &mut building {
            Some(building) => building,
            None => building.insert((
                LossyWebpFromRows::new(rows.width, rows.height)?,
                ThumbHashFromRows::new(rows.width, rows.height),
            )),
        };
        webp.push_rgb_rows(rows.pixels)?;
        thumbhash.push_rgb_rows(rows.pixels)
    })?;
    let (Some((width, height)), Some((webp, thumbhash))) = (read, building) else {
        return Ok(None);
    };
    Ok(Some(Processed {
        outputs: vec![webp.finish(variant, quality)?],
        source: SourceFacts::image(width, height).with_thumbhash(thumbhash.finish()?),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Processor, ProcessorOptions};
    use super::super::test_support::{close, decode_output, fixture, only_output};
    use super::super::{Limits, ProcessError, Processed, run as run_processor};
    use super::*;
    use image::GenericImageView;
    use serde_json::{Value, json};

    fn webp(name: &str, options: Value) -> Result<Processed, ProcessError> {
        run_processor("webp", "webp", &options, &fixture(name), &Limits::default())
    }

    /// The size and delay of each frame of a WebP, and whether it is animated.
    fn frames_of_webp(bytes: &[u8]) -> (bool, Vec<(u32, u32, u32)>) {
        use image::AnimationDecoder;
        use image::codecs::webp::WebPDecoder;
        let decoder = WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
        let animated = decoder.has_animation();
        let frames = decoder
            .into_frames()
            .map(|frame| {
                let frame = frame.unwrap();
                let (numer, denom) = frame.delay().numer_denom_ms();
                let image = frame.into_buffer();
                (image.width(), image.height(), numer / denom.max(1))
            })
            .collect();
        (animated, frames)
    }

    #[test]
    fn an_animated_gif_or_webp_becomes_an_animated_webp_with_every_frame_and_its_timing() {
        for name in ["animated.gif", "animated.webp"] {
            let mut source = Vec::new();
            crate::processing::decode::animation::for_each_frame(
                &fixture(name),
                &Limits::default(),
                |frame| {
                    source.push((frame.image.width(), frame.image.height(), frame.delay_ms));
                    Ok(())
                },
            )
            .unwrap();
            let processed = webp(name, json!({})).unwrap();
            let out = only_output(&processed);
            let (animated, frames) = frames_of_webp(&out.bytes);
            assert!(animated, "{name}");
            assert_eq!(frames.len(), source.len(), "{name}: every frame");
            assert_eq!(
                frames.iter().map(|f| f.2).collect::<Vec<_>>(),
                source.iter().map(|f| f.2).collect::<Vec<_>>(),
                "{name}: the timing"
            );
            assert!(processed.source.thumbhash.is_some());

            // Narrowed: every frame alike.
            let narrow = webp(name, json!({"max_width": 20})).unwrap();
            let (_, frames) = frames_of_webp(&only_output(&narrow).bytes);
            assert!(frames.iter().all(|f| f.0 == 20), "{name}: {frames:?}");
            assert_eq!(frames.len(), source.len());
        }
    }

    #[test]
    fn an_animation_over_the_frame_limit_is_refused_and_a_still_gif_stays_still() {
        let limits = Limits {
            max_frames: 1,
            ..Limits::default()
        };
        let refused = run_processor(
            "webp",
            "webp",
            &json!({}),
            &fixture("animated.gif"),
            &limits,
        );
        assert!(
            matches!(refused, Err(ProcessError::Unsupported(_))),
            "{refused:?}"
        );
        let still = webp("alpha.png", json!({})).unwrap();
        assert!(!frames_of_webp(&only_output(&still).bytes).0);
    }

    #[test]
    fn an_empty_webp_request_means_lossy_at_quality_80_at_full_size() {
        let parse = |options| ProcessorOptions::parse(Processor::Webp, &options).unwrap();
        assert_eq!(
            parse(json!({})),
            ProcessorOptions::Webp(WebpOptions {
                quality: 80,
                lossless: false,
                max_width: None,
            })
        );
        assert_eq!(
            parse(json!({"lossless": true, "max_width": 640})),
            ProcessorOptions::Webp(WebpOptions {
                quality: 80,
                lossless: true,
                max_width: Some(640),
            })
        );
    }

    #[test]
    fn a_photo_becomes_a_webp_of_the_same_size_named_by_the_variant() {
        let processed = webp("photo.jpg", json!({})).unwrap();
        let out = only_output(&processed);
        assert_eq!(out.variant, "webp");
        assert_eq!(
            (out.content_type(), out.extension()),
            ("image/webp", "webp")
        );
        let img = decode_output(out);
        assert_eq!(img.dimensions(), (1200, 800));
        // The red marker survives lossy compression.
        let marker = img.to_rgb8().get_pixel(50, 50).0;
        assert!(close(marker, [255, 0, 0], 30), "{marker:?}");
        assert_eq!(
            (processed.source.width, processed.source.height),
            (Some(1200), Some(800))
        );
    }

    #[test]
    fn lossy_is_much_smaller_than_lossless_on_a_photo() {
        let lossy = webp("photo.jpg", json!({})).unwrap();
        let lossless = webp("photo.jpg", json!({"lossless": true})).unwrap();
        let (lossy, lossless) = (only_output(&lossy), only_output(&lossless));
        assert_eq!(decode_output(lossless).dimensions(), (1200, 800));
        assert!(
            lossy.bytes.len() * 3 < lossless.bytes.len(),
            "lossy {} bytes, lossless {} bytes",
            lossy.bytes.len(),
            lossless.bytes.len()
        );
    }

    #[test]
    fn quality_changes_the_size() {
        let low = webp("photo.jpg", json!({"quality": 20})).unwrap();
        let high = webp("photo.jpg", json!({"quality": 95})).unwrap();
        assert!(only_output(&low).bytes.len() < only_output(&high).bytes.len());
    }

    #[test]
    fn max_width_narrows_keeping_the_aspect_ratio_and_never_widens() {
        let narrowed = webp("photo.jpg", json!({"max_width": 600})).unwrap();
        assert_eq!(
            decode_output(only_output(&narrowed)).dimensions(),
            (600, 400)
        );
        let kept = webp("small.jpg", json!({"max_width": 2000})).unwrap();
        assert_eq!(decode_output(only_output(&kept)).dimensions(), (300, 200));
    }

    #[test]
    fn a_transparent_png_keeps_its_alpha_lossy_and_lossless() {
        for options in [json!({}), json!({"lossless": true})] {
            let processed = webp("alpha.png", options.clone()).unwrap();
            let img = decode_output(only_output(&processed));
            assert!(img.color().has_alpha(), "{options}");
            assert_eq!(img.dimensions(), (400, 300));
            let rgba = img.to_rgba8();
            assert_eq!(rgba.get_pixel(350, 150).0[3], 0, "{options}");
            let opaque = rgba.get_pixel(50, 150).0;
            assert_eq!(opaque[3], 255, "{options}");
            assert!(
                close([opaque[0], opaque[1], opaque[2]], [20, 120, 220], 12),
                "{options}: {opaque:?}"
            );
        }
    }

    #[test]
    fn an_orientation_6_photo_comes_out_upright_without_exif() {
        let processed = webp("orientation6.jpg", json!({"max_width": 400})).unwrap();
        let out = only_output(&processed);
        let img = decode_output(out);
        assert_eq!(img.dimensions(), (400, 600));
        let top_right = img.to_rgb8().get_pixel(395, 5).0;
        assert!(close(top_right, [255, 0, 0], 50), "{top_right:?}");
        let has = |needle: &[u8]| out.bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!has(b"EXIF") && !has(b"Exif") && !has(b"KilnCam"));
    }

    #[test]
    fn an_animated_webp_becomes_its_first_frame() {
        let processed = webp("animated.webp", json!({})).unwrap();
        let img = decode_output(only_output(&processed)).to_rgb8();
        assert_eq!(img.dimensions(), (200, 150));
        assert!(close(img.get_pixel(100, 75).0, [255, 0, 0], 12));
    }

    #[test]
    fn bad_options_and_bad_inputs_are_permanent_errors() {
        for options in [
            json!({"quality": 0}),
            json!({"quality": 101}),
            json!({"lossless": "yes"}),
            json!({"max_width": 0}),
            json!({"max_width": 10_001}),
            json!({"width": 100}),
        ] {
            let err = webp("photo.jpg", options.clone()).unwrap_err();
            assert!(
                matches!(err, ProcessError::InvalidOptions(_)),
                "{options}: {err:?}"
            );
        }
        let err = webp("bomb.png", json!({})).unwrap_err();
        assert!(matches!(err, ProcessError::TooManyPixels { .. }), "{err:?}");
        let err = webp("truncated.jpg", json!({})).unwrap_err();
        assert!(matches!(err, ProcessError::Corrupt(_)), "{err:?}");
    }
}
