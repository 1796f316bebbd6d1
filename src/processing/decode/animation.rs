//! The frames of an animated GIF or WebP, for the processors whose output can
//! move too. Each frame comes whole (the decoder composites it onto the canvas
//! the way a browser shows it), 8-bit RGBA, with how long it stays.
//!
//! Limits, checked as the frames come and before any more are decoded: the
//! canvas passes `MAX_IMAGE_PIXELS` like any image; no more than `MAX_FRAMES`
//! frames; and all frames together at most four times `MAX_IMAGE_PIXELS`
//! pixels, so a long animation cannot cost more than a few large photos.
//! Colour profiles and EXIF orientation are not applied to animations (GIF has
//! neither; an animated WebP's are rare).

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, Frames, RgbaImage};

use super::{check_pixels, from_image_error};
use crate::processing::{Limits, MediaKind, ProcessError, probe_dimensions};

/// All frames of an animation together may hold this many times `max_pixels`.
const TOTAL_PIXELS_FACTOR: u64 = 4;

/// One frame, whole, and how long it is shown.
pub(crate) struct Frame {
    pub image: RgbaImage,
    pub delay_ms: u32,
}

/// Calls `each` with every frame of `input` in order when it is an animated GIF
/// or WebP (two frames or more), and answers whether it was. A still image
/// (or any other type) is not read beyond its first frame and `each` is never
/// called: the processor decodes it as a still.
pub(crate) fn for_each_frame(
    input: &[u8],
    limits: &Limits,
    mut each: impl FnMut(Frame) -> Result<(), ProcessError>,
) -> Result<bool, ProcessError> {
    let Some(frames) = frames(input, limits)? else {
        return Ok(false);
    };
    let total_limit = limits.max_pixels.saturating_mul(TOTAL_PIXELS_FACTOR);
    let (mut count, mut total_pixels) = (0_u32, 0_u64);
    let mut first: Option<Frame> = None;
    for frame in frames {
        let frame = frame.map_err(from_image_error)?;
        count += 1;
        if count > limits.max_frames {
            return Err(ProcessError::Unsupported(format!(
                "the animation has too many frames; the limit is {}",
                limits.max_frames
            )));
        }
        let (numer, denom) = frame.delay().numer_denom_ms();
        let delay_ms = numer.checked_div(denom.max(1)).unwrap_or(0);
        let image = frame.into_buffer();
        total_pixels += u64::from(image.width()) * u64::from(image.height());
        if total_pixels > total_limit {
            return Err(ProcessError::Unsupported(format!(
                "the animation's frames hold more than {total_limit} pixels together, the limit"
            )));
        }
        let frame = Frame { image, delay_ms };
        match (count, first.take()) {
            (1, _) => first = Some(frame),
            (2, Some(earlier)) => {
                each(earlier)?;
                each(frame)?;
            }
            _ => each(frame)?,
        }
    }
    Ok(count >= 2)
}

/// The frame decoder of an animated GIF or WebP, once its canvas passed the
/// pixel limit; `None` for any other input.
fn frames<'a>(input: &'a [u8], limits: &Limits) -> Result<Option<Frames<'a>>, ProcessError> {
    let kind = MediaKind::sniff(input);
    if !matches!(kind, Some(MediaKind::Gif | MediaKind::Webp)) {
        return Ok(None);
    }
    let (width, height) = probe_dimensions(input)
        .ok_or_else(|| ProcessError::Corrupt("the image header cannot be read".into()))?;
    check_pixels(width, height, limits)?;
    let reader = Cursor::new(input);
    Ok(Some(match kind {
        Some(MediaKind::Gif) => GifDecoder::new(reader)
            .map_err(from_image_error)?
            .into_frames(),
        _ => {
            let decoder = WebPDecoder::new(reader).map_err(from_image_error)?;
            if !decoder.has_animation() {
                return Ok(None);
            }
            decoder.into_frames()
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processing::test_support::fixture;

    /// Width, height and delay of one frame.
    type Seen = (u32, u32, u32);

    fn frames_of(name: &str, limits: &Limits) -> Result<(bool, Vec<Seen>), ProcessError> {
        let mut seen = Vec::new();
        let animated = for_each_frame(&fixture(name), limits, |frame| {
            seen.push((frame.image.width(), frame.image.height(), frame.delay_ms));
            Ok(())
        })?;
        Ok((animated, seen))
    }

    #[test]
    fn every_frame_of_an_animated_gif_or_webp_comes_whole_with_its_delay() {
        for name in ["animated.gif", "animated.webp"] {
            let (animated, frames) = frames_of(name, &Limits::default()).unwrap();
            assert!(animated, "{name}");
            assert!(frames.len() >= 2, "{name}: {frames:?}");
            let (width, height, _) = frames[0];
            assert!(
                frames.iter().all(|f| (f.0, f.1) == (width, height)),
                "{name}"
            );
            assert!(frames.iter().all(|f| f.2 > 0), "{name}: {frames:?}");
        }
    }

    #[test]
    fn a_still_image_is_no_animation() {
        for name in ["photo.jpg", "alpha.png", "logo.png"] {
            assert_eq!(
                frames_of(name, &Limits::default()).unwrap(),
                (false, vec![]),
                "{name}"
            );
        }
    }

    #[test]
    fn too_many_frames_or_pixels_are_refused_before_more_are_decoded() {
        let few_frames = Limits {
            max_frames: 1,
            ..Limits::default()
        };
        let refused = frames_of("animated.gif", &few_frames).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("too many frames; the limit is 1"),
            "{refused}"
        );
        // A canvas within the limit, but not four of them.
        let (_, frames) = frames_of("animated.gif", &Limits::default()).unwrap();
        let canvas = u64::from(frames[0].0 * frames[0].1);
        let few_pixels = Limits {
            max_pixels: canvas,
            ..Limits::default()
        };
        if frames.len() > 4 {
            assert!(frames_of("animated.gif", &few_pixels).is_err());
        }
    }
}
