//! The decode of a JPEG through libjpeg-turbo (the `mozjpeg` crate), for what the
//! `image` crate's decoder cannot do.
//!
//! A JPEG whose outputs need only part of its pixels is decoded at 1/2, 1/4 or 1/8
//! of its size in the DCT domain (libjpeg-turbo's scaled IDCT), which skips most of
//! the decoding work and the memory of the full-size pixels, as libvips does when it
//! shrinks on load. The smallest scale that still leaves the caller's margin over the
//! needed size is used ([`super::ShrinkOnLoad`]); a progressive JPEG is read at 1/8
//! without its luma's AC scans whenever that covers the need ([`super::progressive_dc`]).
//! A CMYK JPEG that carries a CMYK profile is read here too, at any scale, as raw
//! inks converted through its profile.

use image::DynamicImage;
use image::metadata::Orientation;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::super::ProcessError;
use super::super::color::{SrgbConversion, cmyk_profile, cmyk_to_srgb, convert_to_srgb};
use super::super::resize::{lanczos3, rgb_rows_across};
use super::progressive_dc::scans_for_an_eighth;
use super::restart_bands::decode_rgb_in_bands;
use super::split_scan::decode_rgb_split;
use super::{Decoded, Region};

/// The smallest DCT scale (1/8, 1/4, 1/2) that leaves at least `margin` times the
/// `needed` pixels of a `width` x `height` JPEG, or `None` when only the full size
/// does.
fn jpeg_reduction(width: u32, height: u32, margin: u32, needed: (u32, u32)) -> Option<u32> {
    let (need_width, need_height) = (
        needed.0.saturating_mul(margin),
        needed.1.saturating_mul(margin),
    );
    [8, 4, 2]
        .into_iter()
        .find(|&d| width.div_ceil(d) >= need_width && height.div_ceil(d) >= need_height)
}

/// What the decode needs from a JPEG's header before libjpeg reads it: read in
/// place by zune-jpeg (the `image` crate's decoder, whose wrapper would copy the
/// whole file first).
struct Header {
    /// As stored, before orientation.
    width: u32,
    height: u32,
    orientation: Orientation,
    icc: Option<Vec<u8>>,
}

impl Header {
    fn read(input: &[u8]) -> Option<Header> {
        let options = DecoderOptions::default()
            .set_strict_mode(false)
            .set_max_width(usize::MAX)
            .set_max_height(usize::MAX);
        let mut header = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(input), options);
        header.decode_headers().ok()?;
        let (width, height) = header.dimensions()?;
        Some(Header {
            width: u32::try_from(width).ok()?,
            height: u32::try_from(height).ok()?,
            orientation: header
                .exif()
                .and_then(|exif| Orientation::from_exif_chunk(exif))
                .unwrap_or(Orientation::NoTransforms),
            icc: header.icc_profile(),
        })
    }

    fn sideways(&self) -> bool {
        turns_sideways(self.orientation)
    }

    /// The size once oriented.
    fn oriented(&self) -> (u32, u32) {
        match self.sideways() {
            true => (self.height, self.width),
            false => (self.width, self.height),
        }
    }

    /// What `needed` asks of the oriented image, as a size of the stored one.
    fn stored_need(&self, needed: &impl Fn(u32, u32) -> (u32, u32)) -> (u32, u32) {
        let (width, height) = self.oriented();
        let (need_width, need_height) = needed(width, height);
        match self.sideways() {
            true => (need_height, need_width),
            false => (need_width, need_height),
        }
    }

    /// RGB pixels decoded from this JPEG at 1/`divisor` of its size, oriented,
    /// and converted to sRGB through its ICC profile unless `in_srgb` already.
    fn finish(&self, mut image: DynamicImage, divisor: u32, in_srgb: bool) -> Decoded {
        if let (Some(icc), false) = (&self.icc, in_srgb) {
            convert_to_srgb(&mut image, icc);
        }
        let stored = (image.width(), image.height());
        image.apply_orientation(self.orientation);
        let exact = |side: u32| f64::from(side) / f64::from(divisor);
        let (width, height) = self.oriented();
        Decoded {
            image,
            width,
            height,
            region: Region::oriented(
                stored,
                exact(self.width),
                exact(self.height),
                self.orientation,
            ),
        }
    }
}

/// The decode of a JPEG through libjpeg-turbo (the `mozjpeg` crate): scaled, for a
/// plain 8-bit greyscale or YCbCr JPEG whose outputs allow a reduction (its scaled
/// IDCT, as libvips shrinks on load), and at any scale for a CMYK JPEG carrying a CMYK
/// ICC profile (its raw inks go through the profile). Orientation and ICC profile come
/// from the `image` crate's header parse. `None` sends the caller to the `image`
/// crate's full decode: nothing to gain here, 12-bit, or anything libjpeg rejects
/// (the full decoder then gives the authoritative error).
pub(super) fn decode_jpeg_with_libjpeg(
    input: &[u8],
    margin: u32,
    needed: &impl Fn(u32, u32) -> (u32, u32),
) -> Option<Decoded> {
    let header = Header::read(input)?;
    let need = header.stored_need(needed);
    let cmyk_profile = header.icc.as_deref().and_then(cmyk_profile);
    let divisor = match (
        jpeg_reduction(header.width, header.height, margin, need),
        &cmyk_profile,
    ) {
        (Some(divisor), _) => divisor,
        (None, Some(_)) => 1,
        (None, None) => return None,
    };
    // A progressive JPEG's 1/8 leaves out its luma's AC scans, most of the
    // file and of its decoding: taken whenever it covers the need itself, even
    // where the margin would ask for 1/4 (libvips shrinks every JPEG that far).
    if cmyk_profile.is_none()
        && jpeg_reduction(header.width, header.height, 1, need) == Some(8)
        && let Some((w, h, rgb)) =
            scans_for_an_eighth(input).and_then(|scans| libjpeg_scaled(&scans, 8, Channels::Rgb))
    {
        let image = image::RgbImage::from_raw(w, h, rgb)?;
        return Some(header.finish(DynamicImage::ImageRgb8(image), 8, false));
    }
    let (image, in_srgb) = match cmyk_profile {
        Some(profile) => {
            let (w, h, inks) = libjpeg_scaled(input, divisor, Channels::Cmyk)?;
            let rgb = cmyk_to_srgb(&profile, &inks)?;
            (image::RgbImage::from_raw(w, h, rgb)?, true)
        }
        None => {
            let (w, h, rgb) = decode_rgb_split(input, divisor)
                .or_else(|| decode_rgb_in_bands(input, divisor))
                .or_else(|| libjpeg_scaled(input, divisor, Channels::Rgb))?;
            (image::RgbImage::from_raw(w, h, rgb)?, false)
        }
    };
    if image.width() < need.0 || image.height() < need.1 {
        return None;
    }
    Some(header.finish(DynamicImage::ImageRgb8(image), divisor, in_srgb))
}

/// The full-size decode of a plain 8-bit JPEG for outputs that each show the whole
/// image, the largest `needed` of the oriented size: narrowed while it is read.
/// libjpeg gives the rows a batch at a time, and each batch is resampled across
/// (Lanczos3, as [`crate::processing::resize`] does) to the width the largest output
/// needs along the stored rows, so the full-size pixels never exist at once. The
/// resize set's largest size from a 12 MP photo then holds its narrowed rows (2560
/// columns by the photo's height) instead of the photo's 36 MB of RGB, and what is left
/// of its resampling is down the columns. `None` when narrowing saves nothing, for a
/// CMYK JPEG, or for anything libjpeg rejects.
pub(super) fn decode_jpeg_narrowed(
    input: &[u8],
    needed: &impl Fn(u32, u32) -> (u32, u32),
) -> Option<Decoded> {
    let header = Header::read(input)?;
    let (columns, _) = header.stored_need(needed);
    if columns == 0
        || columns >= header.width
        || header
            .icc
            .as_deref()
            .is_some_and(|icc| cmyk_profile(icc).is_some())
    {
        return None;
    }
    let (w, h, rgb) = libjpeg_narrowed(input, columns)?;
    let image = DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, rgb)?);
    let mut decoded = header.finish(image, 1, false);
    decoded.region = Region::whole(&decoded.image);
    Some(decoded)
}

/// The full-size decode of a plain 8-bit JPEG that needs no turning, as sRGB rows
/// handed to `each` `batch_rows` at a time ([`read_rgb_rows`]), for an output made
/// from the rows as they come. Returns the image's size; `Ok(None)` when the JPEG
/// does not qualify (an EXIF orientation, CMYK, or anything libjpeg rejects), and
/// the caller then takes the whole-image decode, discarding any rows it had. An
/// error of `each` ends the decode and is returned.
pub(super) fn read_upright_srgb_rows(
    input: &[u8],
    batch_rows: usize,
    mut each: impl FnMut(RgbRows<'_>) -> Result<(), ProcessError>,
) -> Result<Option<(u32, u32)>, ProcessError> {
    let Some(header) = Header::read(input) else {
        return Ok(None);
    };
    if header.orientation != Orientation::NoTransforms
        || header
            .icc
            .as_deref()
            .is_some_and(|icc| cmyk_profile(icc).is_some())
    {
        return Ok(None);
    }
    let conversion = header
        .icc
        .as_deref()
        .and_then(|icc| SrgbConversion::from_profile(icc, false));
    let mut failure = None;
    let mut converted = Vec::new();
    let size = read_rgb_rows(input, batch_rows, |rows| {
        let rows = match &conversion {
            Some(conversion) => {
                converted.resize(rows.pixels.len(), 0);
                conversion.convert(rows.pixels, &mut converted);
                RgbRows {
                    pixels: &converted,
                    ..rows
                }
            }
            None => rows,
        };
        each(rows).map_err(|err| {
            failure = Some(err);
            std::io::Error::other("the rows' consumer failed")
        })
    });
    match failure {
        Some(err) => Err(err),
        None => Ok(size),
    }
}

/// Rows libjpeg gives [`libjpeg_narrowed`] at a time: little memory, and enough rows
/// for the resampler's four-row kernels.
const NARROWED_BATCH_ROWS: usize = 64;

/// Decodes a JPEG at full size to RGB, resampling each batch of rows to `columns`.
fn libjpeg_narrowed(input: &[u8], columns: u32) -> Option<(u32, u32, Vec<u8>)> {
    let mut narrowed = Vec::new();
    let mut resizer = fast_image_resize::Resizer::new();
    let (_, height) = read_rgb_rows(input, NARROWED_BATCH_ROWS, |batch| {
        if batch.first_row == 0 {
            narrowed
                .try_reserve_exact(columns as usize * 3 * batch.height as usize)
                .map_err(|_| std::io::ErrorKind::OutOfMemory)?;
        }
        let across = rgb_rows_across(
            &mut resizer,
            batch.pixels,
            batch.width,
            columns,
            &lanczos3(),
        )
        .map_err(std::io::Error::other)?;
        narrowed.extend_from_slice(&across);
        Ok(())
    })?;
    Some((columns, height, narrowed))
}

/// Rows of a JPEG's full-size RGB, as libjpeg hands them to [`read_rgb_rows`]'s
/// caller: up to a batch at a time, top to bottom, as stored (not oriented).
pub(crate) struct RgbRows<'a> {
    /// The whole image's width and height.
    pub width: u32,
    pub height: u32,
    /// The first of these rows' index.
    pub first_row: u32,
    /// Tightly packed RGB rows, `width * 3` bytes each.
    pub pixels: &'a [u8],
}

/// Decodes a plain 8-bit JPEG (greyscale, YCbCr or RGB) at full size, handing its
/// RGB rows to `each` `batch_rows` at a time (fewer in the last batch), so the whole
/// image is never held. Returns the stored width and height; `None` for a JPEG of
/// other channels, one libjpeg rejects (its errors unwind and are caught here), or
/// when `each` fails. Rows already handed over before a failure are the caller's to
/// discard.
pub(crate) fn read_rgb_rows(
    input: &[u8],
    batch_rows: usize,
    mut each: impl FnMut(RgbRows<'_>) -> std::io::Result<()>,
) -> Option<(u32, u32)> {
    let mut decode = || -> std::io::Result<Option<(u32, u32)>> {
        let decompress = mozjpeg::Decompress::builder()
            .with_markers(&[mozjpeg::Marker::APP(14)])
            .from_mem(input)?;
        if !rgb_fits(decompress.color_space()) {
            return Ok(None);
        }
        let mut started = decompress.rgb()?;
        let side = |side: usize| u32::try_from(side).map_err(std::io::Error::other);
        let (width, height) = (side(started.width())?, side(started.height())?);
        let row_bytes = width as usize * 3;
        let mut batch = vec![0; row_bytes * batch_rows.min(height as usize)];
        let mut first_row = 0;
        while first_row < height {
            let rows = batch_rows.min((height - first_row) as usize);
            let pixels = started.read_scanlines_into::<u8>(&mut batch[..rows * row_bytes])?;
            each(RgbRows {
                width,
                height,
                first_row,
                pixels,
            })?;
            first_row += side(rows)?;
        }
        started.finish()?;
        Ok(Some((width, height)))
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut decode))
        .ok()?
        .ok()?
}

/// What [`libjpeg_scaled`] reads out of a JPEG.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Channels {
    /// RGB from a greyscale, YCbCr or RGB JPEG.
    Rgb,
    /// Ink amounts (0 for none) from a CMYK or YCCK JPEG.
    Cmyk,
}

/// Decodes a JPEG at 1/`divisor` of its size to interleaved `channels`. libjpeg
/// reports errors by unwinding (`mozjpeg` resumes a panic without the panic hook),
/// so they are caught here and become `None`, as does a JPEG of other channels.
pub(super) fn libjpeg_scaled(
    input: &[u8],
    divisor: u32,
    channels: Channels,
) -> Option<(u32, u32, Vec<u8>)> {
    use mozjpeg::{ColorSpace, Marker};

    let numerator = u8::try_from(8 / divisor).ok()?;
    let decode = || -> std::io::Result<Option<(u32, u32, Vec<u8>)>> {
        let mut decompress = mozjpeg::Decompress::builder()
            .with_markers(&[Marker::APP(14)])
            .from_mem(input)?;
        let fits = match channels {
            Channels::Rgb => rgb_fits(decompress.color_space()),
            Channels::Cmyk => matches!(
                decompress.color_space(),
                ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK
            ),
        };
        if !fits {
            return Ok(None);
        }
        // Adobe's (Photoshop's, Pillow's) CMYK JPEGs store inverted inks.
        let inverted = channels == Channels::Cmyk
            && decompress
                .markers()
                .any(|marker| marker.data.starts_with(b"Adobe"));
        decompress.scale(numerator);
        // Block smoothing guesses the coefficients a progressive file has not
        // sent (and, in libjpeg-turbo, evens DC out between neighbours). A whole
        // file has sent them all, so it changes nothing there; a file cut down to
        // the scans 1/8 reads (`progressive_dc`) must be read as the whole one is.
        decompress.do_block_smoothing(false);
        let side = |side: usize| u32::try_from(side).map_err(std::io::Error::other);
        let (w, h, pixels) = match channels {
            Channels::Rgb => {
                let mut started = decompress.rgb()?;
                let (w, h) = (side(started.width())?, side(started.height())?);
                let rows: Vec<[u8; 3]> = started.read_scanlines()?;
                started.finish()?;
                (w, h, rows.into_flattened())
            }
            Channels::Cmyk => {
                let mut started = decompress.to_colorspace(ColorSpace::JCS_CMYK)?;
                let (w, h) = (side(started.width())?, side(started.height())?);
                let rows: Vec<[u8; 4]> = started.read_scanlines()?;
                started.finish()?;
                let mut inks = rows.into_flattened();
                if inverted {
                    inks.iter_mut().for_each(|ink| *ink = 255 - *ink);
                }
                (w, h, inks)
            }
        };
        Ok(Some((w, h, pixels)))
    };
    std::panic::catch_unwind(decode).ok()?.ok()?
}

/// Whether libjpeg gives RGB for a JPEG of this colour space.
fn rgb_fits(color_space: mozjpeg::ColorSpace) -> bool {
    use mozjpeg::ColorSpace;
    matches!(
        color_space,
        ColorSpace::JCS_YCbCr | ColorSpace::JCS_GRAYSCALE | ColorSpace::JCS_RGB
    )
}

/// Whether an EXIF orientation swaps width and height.
fn turns_sideways(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

impl Region {
    /// Where the exact `width` x `height` top-left part of a `stored` image (before
    /// orientation) lands once `orientation` is applied: flips and turns carry the
    /// partial last row and column to another side.
    fn oriented(stored: (u32, u32), width: f64, height: f64, orientation: Orientation) -> Region {
        let (excess_x, excess_y) = (f64::from(stored.0) - width, f64::from(stored.1) - height);
        let region = |left, top, sideways| {
            let (width, height) = if sideways {
                (height, width)
            } else {
                (width, height)
            };
            Region {
                left,
                top,
                width,
                height,
            }
        };
        match orientation {
            Orientation::NoTransforms => region(0.0, 0.0, false),
            Orientation::FlipHorizontal => region(excess_x, 0.0, false),
            Orientation::FlipVertical => region(0.0, excess_y, false),
            Orientation::Rotate180 => region(excess_x, excess_y, false),
            Orientation::Rotate90 => region(excess_y, 0.0, true),
            Orientation::Rotate270 => region(0.0, excess_x, true),
            Orientation::Rotate90FlipH => region(0.0, 0.0, true),
            Orientation::Rotate270FlipH => region(excess_y, excess_x, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::{close, fixture, rgb};
    use super::super::tests::decode;

    use super::super::ShrinkOnLoad::{KeepMargin, ToOutputSize};
    use super::super::{decode_image, decode_image_for, decode_image_narrowed_for};
    use super::*;
    use crate::processing::{Limits, ProcessError};
    use image::GenericImageView;

    /// A JPEG of `width` x `height` with smooth gradients, and `icc` embedded.
    fn gradient_jpeg(width: u16, height: u16, icc: Option<&[u8]>) -> Vec<u8> {
        let pixels: Vec<u8> = (0..u32::from(height))
            .flat_map(|y| {
                (0..u32::from(width))
                    .flat_map(move |x| [(x * 255 / 4000) as u8, (y * 255 / 3000) as u8, 120])
            })
            .collect();
        let mut bytes = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 90);
        if let Some(icc) = icc {
            encoder.add_icc_profile(icc).unwrap();
        }
        encoder
            .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        bytes
    }

    #[test]
    fn a_jpeg_is_decoded_at_the_smallest_dct_scale_that_still_covers_the_need() {
        let jpeg = gradient_jpeg(4000, 3000, None);
        // KeepMargin: twice the need must fit, so Lanczos3 gets at least a 2x
        // reduction to do. ToOutputSize: the need itself must fit.
        for (shrink, need, decoded_size) in [
            (KeepMargin, (250, 180), (500, 375)),
            (KeepMargin, (300, 225), (1000, 750)),
            (KeepMargin, (500, 375), (1000, 750)),
            (KeepMargin, (600, 400), (2000, 1500)),
            (KeepMargin, (1000, 300), (2000, 1500)),
            (KeepMargin, (1001, 300), (4000, 3000)),
            (ToOutputSize, (500, 375), (500, 375)),
            (ToOutputSize, (501, 300), (1000, 750)),
            (ToOutputSize, (1000, 750), (1000, 750)),
            (ToOutputSize, (1500, 1000), (2000, 1500)),
            (ToOutputSize, (2001, 1000), (4000, 3000)),
        ] {
            let decoded = decode_image_for(&jpeg, &Limits::default(), shrink, |w, h| {
                assert_eq!((w, h), (4000, 3000));
                need
            })
            .unwrap();
            assert_eq!(
                decoded.image.dimensions(),
                decoded_size,
                "{shrink:?} for {need:?}"
            );
            assert_eq!((decoded.width, decoded.height), (4000, 3000));
        }
    }

    #[test]
    fn a_reduced_decode_looks_like_the_full_one_shrunk() {
        let jpeg = gradient_jpeg(4000, 3000, None);
        let reduced =
            decode_image_for(&jpeg, &Limits::default(), KeepMargin, |_, _| (250, 180)).unwrap();
        let full = decode_image(&jpeg, &Limits::default()).unwrap();
        // The centre of the 8x8 block at reduced (250, 187) is full (2003.5, 1499.5).
        let (r, f) = (rgb(&reduced.image, 250, 187), rgb(&full, 2003, 1499));
        assert!(close(r, f, 3), "reduced {r:?} vs full {f:?}");
    }

    #[test]
    fn a_sideways_photo_is_reduced_by_its_upright_size() {
        let photo = fixture("orientation6.jpg");
        // Stored 1200x800, upright 800x1200: a 100x150 need allows a quarter.
        let decoded = decode_image_for(&photo, &Limits::default(), KeepMargin, |w, h| {
            assert_eq!((w, h), (800, 1200));
            (100, 150)
        })
        .unwrap();
        assert_eq!(decoded.image.dimensions(), (200, 300));
        assert!(close(rgb(&decoded.image, 195, 5), [255, 0, 0], 40));
    }

    #[test]
    fn cmyk_and_non_jpeg_sources_take_the_full_decode() {
        for name in ["cmyk.jpg", "alpha.png"] {
            let full = decode(name).unwrap();
            let decoded =
                decode_image_for(&fixture(name), &Limits::default(), KeepMargin, |_, _| {
                    (1, 1)
                })
                .unwrap();
            assert_eq!(decoded.image.dimensions(), full.dimensions(), "{name}");
        }
    }

    #[test]
    fn a_display_p3_jpeg_is_converted_to_srgb_on_both_decode_paths() {
        let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let tagged = gradient_jpeg(1600, 1200, Some(&p3));
        let untagged = gradient_jpeg(1600, 1200, None);
        let full = |jpeg: &[u8]| decode_image(jpeg, &Limits::default()).unwrap();
        let reduced = |jpeg: &[u8]| {
            decode_image_for(jpeg, &Limits::default(), KeepMargin, |_, _| (100, 75))
                .unwrap()
                .image
        };
        // Reds are stronger in P3: the converted pixel is redder than the untagged one.
        let (x, y) = (150, 20);
        let tagged_full = rgb(&full(&tagged), x * 8, y * 8);
        let untagged_full = rgb(&full(&untagged), x * 8, y * 8);
        assert!(
            tagged_full[0] > untagged_full[0] + 5,
            "{tagged_full:?} vs {untagged_full:?}"
        );
        let tagged_reduced = rgb(&reduced(&tagged), x, y);
        assert!(
            close(tagged_reduced, tagged_full, 6),
            "{tagged_reduced:?} vs {tagged_full:?}"
        );
    }

    /// Every row [`read_jpeg_rows`] hands over, in one buffer, with the batches'
    /// sizes.
    fn rows_of(jpeg: &[u8]) -> Option<(u32, u32, Vec<u8>, Vec<u32>)> {
        let (mut pixels, mut batches) = (Vec::new(), Vec::new());
        let size = super::super::read_jpeg_rows(jpeg, &Limits::default(), 64, |rows| {
            assert_eq!(
                rows.first_row as usize,
                pixels.len() / (rows.width as usize * 3)
            );
            batches.push((rows.pixels.len() / (rows.width as usize * 3)) as u32);
            pixels.extend_from_slice(rows.pixels);
            Ok(())
        })
        .unwrap();
        size.map(|(width, height)| (width, height, pixels, batches))
    }

    #[test]
    fn a_jpeg_read_in_rows_is_its_full_decode_a_batch_at_a_time_in_srgb() {
        let p3 = moxcms::ColorProfile::new_display_p3().encode().unwrap();
        let (untagged, tagged) = (
            gradient_jpeg(1600, 301, None),
            gradient_jpeg(1600, 301, Some(&p3)),
        );
        let (width, height, pixels, batches) = rows_of(&untagged).unwrap();
        assert_eq!((width, height), (1600, 301));
        assert_eq!(batches, [64, 64, 64, 64, 45]);
        let from_rows =
            DynamicImage::ImageRgb8(image::RgbImage::from_raw(1600, 301, pixels).unwrap());
        let full = decode_image(&untagged, &Limits::default()).unwrap();
        for (x, y) in [(0, 0), (800, 150), (1599, 300), (123, 64)] {
            assert!(
                close(rgb(&from_rows, x, y), rgb(&full, x, y), 3),
                "({x}, {y})"
            );
        }
        // The profile is applied on the way, as the full decode applies it.
        let (.., tagged_pixels, _) = rows_of(&tagged).unwrap();
        let tagged_rows =
            DynamicImage::ImageRgb8(image::RgbImage::from_raw(1600, 301, tagged_pixels).unwrap());
        let tagged_full = decode_image(&tagged, &Limits::default()).unwrap();
        let (x, y) = (1500, 10);
        assert!(rgb(&tagged_rows, x, y)[0] > rgb(&from_rows, x, y)[0] + 5);
        assert!(close(rgb(&tagged_rows, x, y), rgb(&tagged_full, x, y), 3));
    }

    #[test]
    fn a_jpeg_that_needs_turning_or_is_cmyk_or_no_jpeg_is_not_read_in_rows() {
        for name in [
            "orientation6.jpg",
            "cmyk.jpg",
            "cmyk-profiled.jpg",
            "alpha.png",
        ] {
            assert!(rows_of(&fixture(name)).is_none(), "{name}");
        }
        // The decode's limits still hold.
        let limits = Limits {
            max_pixels: 1000,
            ..Limits::default()
        };
        let refused = super::super::read_jpeg_rows(&fixture("photo.jpg"), &limits, 64, |_| Ok(()));
        assert!(
            matches!(refused, Err(ProcessError::TooManyPixels { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn a_reduced_decode_says_which_part_of_it_is_the_original() {
        // 4001 x 3001 at 1/4: 1000.25 x 750.25 original pixels, decoded as 1001 x 751.
        let jpeg = gradient_jpeg(4001, 3001, None);
        let decoded =
            decode_image_for(&jpeg, &Limits::default(), KeepMargin, |_, _| (300, 300)).unwrap();
        assert_eq!(decoded.image.dimensions(), (1001, 751));
        assert_eq!(
            decoded.region,
            Region {
                left: 0.0,
                top: 0.0,
                width: 1000.25,
                height: 750.25
            }
        );
        let full = decode_image(&jpeg, &Limits::default()).unwrap();
        assert_eq!(
            decode_image_for(&jpeg, &Limits::default(), KeepMargin, |_, _| (4001, 3001))
                .unwrap()
                .region,
            Region::whole(&full)
        );
    }

    #[test]
    fn turns_and_flips_carry_the_partial_edge_to_its_new_side() {
        let region = |o| Region::oriented((11, 7), 10.5, 6.25, o);
        let r = |left, top, width, height| Region {
            left,
            top,
            width,
            height,
        };
        assert_eq!(region(Orientation::NoTransforms), r(0.0, 0.0, 10.5, 6.25));
        assert_eq!(region(Orientation::FlipHorizontal), r(0.5, 0.0, 10.5, 6.25));
        assert_eq!(region(Orientation::FlipVertical), r(0.0, 0.75, 10.5, 6.25));
        assert_eq!(region(Orientation::Rotate180), r(0.5, 0.75, 10.5, 6.25));
        // Turned, the image is 7 x 11: clockwise the bottom edge becomes the left one.
        assert_eq!(region(Orientation::Rotate90), r(0.75, 0.0, 6.25, 10.5));
        assert_eq!(region(Orientation::Rotate270), r(0.0, 0.5, 6.25, 10.5));
        assert_eq!(region(Orientation::Rotate90FlipH), r(0.0, 0.0, 6.25, 10.5));
        assert_eq!(
            region(Orientation::Rotate270FlipH),
            r(0.75, 0.5, 6.25, 10.5)
        );
    }

    /// mozjpeg-sys quietly builds libjpeg-turbo without its SIMD code when nasm
    /// is missing the first time it is compiled (and cargo keeps that build after
    /// nasm arrives): a transform of a JPEG then takes half as long again
    /// (BENCHMARKS.md "Delivery", runs T2 and T3).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn libjpeg_turbo_is_built_with_its_simd_code() {
        unsafe extern "C" {
            fn jsimd_can_idct_4x4() -> std::ffi::c_int;
            fn jsimd_can_ycc_rgb() -> std::ffi::c_int;
        }
        // SAFETY: both only read the CPU's features, once, into a static.
        let (idct, colour) = unsafe { (jsimd_can_idct_4x4(), jsimd_can_ycc_rgb()) };
        assert!(
            idct != 0 && colour != 0,
            "libjpeg-turbo has no SIMD: install nasm (make nasm), then \
             cargo clean -p mozjpeg-sys and build again"
        );
    }

    #[test]
    fn a_jpeg_libjpeg_refuses_is_an_error_from_the_full_decoder_not_a_crash() {
        // Point the first component at a quantisation table the file never defines:
        // a fatal error inside libjpeg (it unwinds; the reduced path must catch it).
        let mut jpeg = gradient_jpeg(1600, 1200, None);
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        // FFC0, length (2), precision, height (2), width (2), count, then id, sampling, table.
        jpeg[sof + 12] = 3;
        assert!(
            libjpeg_scaled(&jpeg, 8, Channels::Rgb).is_none(),
            "libjpeg must refuse it"
        );
        let reduced = std::panic::catch_unwind(|| {
            decode_image_for(&jpeg, &Limits::default(), KeepMargin, |_, _| (100, 75))
                .map(|d| d.region)
        })
        .expect("no panic escapes");
        let full = decode_image(&jpeg, &Limits::default()).map(|image| Region::whole(&image));
        assert_eq!(reduced.is_err(), full.is_err(), "{reduced:?} vs {full:?}");
        if let Err(err) = reduced {
            assert!(matches!(err, ProcessError::Corrupt(_)), "{err:?}");
        }
    }

    /// The made-up press of `scripts/make_fixtures.py` (`press_rgb`): sRGB 0-255 of
    /// ink amounts 0-255.
    fn press_rgb([c, m, y, k]: [u8; 4]) -> [f64; 3] {
        let [c, m, y, k] = [c, m, y, k].map(|ink| f64::from(ink) / 255.0);
        [
            (1.0 - c) * (1.0 - 0.3 * m) * (1.0 - k),
            (1.0 - m) * (1.0 - 0.3 * c) * (1.0 - 0.3 * y) * (1.0 - k),
            (1.0 - y) * (1.0 - 0.2 * m) * (1.0 - k),
        ]
        .map(|v| v * 255.0)
    }

    #[test]
    fn a_cmyk_jpeg_with_a_cmyk_profile_is_converted_through_it_at_any_scale() {
        const PATCHES: [[u8; 4]; 4] = [
            [128, 128, 0, 0],
            [0, 128, 255, 0],
            [255, 0, 128, 64],
            [64, 64, 64, 128],
        ];
        let jpeg = fixture("cmyk-profiled.jpg");
        let full = decode("cmyk-profiled.jpg").unwrap();
        assert_eq!(full.dimensions(), (160, 40));
        let reduced = decode_image_for(&jpeg, &Limits::default(), KeepMargin, |_, _| (40, 10))
            .unwrap()
            .image;
        assert_eq!(reduced.dimensions(), (80, 20));
        for (i, ink) in PATCHES.into_iter().enumerate() {
            let expected = press_rgb(ink);
            let x = 40 * i as u32 + 20;
            for (got, scale) in [(rgb(&full, x, 20), 1), (rgb(&reduced, x / 2, 10), 2)] {
                // Compared in linear light: near black a few codes are nothing.
                let linear = |code: f64| {
                    let v = code / 255.0;
                    if v <= 0.04045 {
                        v / 12.92
                    } else {
                        ((v + 0.055) / 1.055).powf(2.4)
                    }
                };
                let close = got
                    .iter()
                    .zip(expected)
                    .all(|(g, e)| (linear(f64::from(*g)) - linear(e)).abs() <= 0.02);
                assert!(
                    close,
                    "patch {i} at 1/{scale}: got {got:?}, the press gives {expected:?}"
                );
            }
            // The naive formula would be far off for these impure inks.
            let naive = ink.map(|v| 255.0 - f64::from(v));
            let naive = [0, 1, 2].map(|c| naive[c] * naive[3] / 255.0);
            let got = rgb(&full, x, 20);
            assert!(
                got.iter()
                    .zip(naive)
                    .any(|(g, n)| (f64::from(*g) - n).abs() > 12.0),
                "patch {i}: {got:?} is the naive {naive:?}"
            );
        }
    }

    #[test]
    fn a_narrowed_decode_is_the_full_decode_resampled_across() {
        let jpeg = gradient_jpeg(4000, 3000, None);
        let narrowed =
            decode_image_narrowed_for(&jpeg, &Limits::default(), KeepMargin, |_, _| (2560, 1920))
                .unwrap();
        assert_eq!(narrowed.image.dimensions(), (2560, 3000));
        assert_eq!((narrowed.width, narrowed.height), (4000, 3000));
        assert_eq!(narrowed.region, Region::whole(&narrowed.image));

        // The same rows, decoded whole and then resampled across in one go.
        let (w, h, rgb) = libjpeg_scaled(&jpeg, 1, Channels::Rgb).unwrap();
        let full = fast_image_resize::images::ImageRef::new(
            w,
            h,
            &rgb,
            fast_image_resize::PixelType::U8x3,
        )
        .unwrap();
        let mut across =
            fast_image_resize::images::Image::new(2560, 3000, fast_image_resize::PixelType::U8x3);
        fast_image_resize::Resizer::new()
            .resize(&full, &mut across, &lanczos3())
            .unwrap();
        assert!(
            narrowed.image.as_bytes() == across.buffer(),
            "batch by batch differs from all at once"
        );
    }

    #[test]
    fn a_sideways_photo_is_narrowed_along_its_stored_rows() {
        // Stored 1200x800, upright 800x1200: a 400x600 need narrows the stored
        // rows to 600, which stand upright as 600 rows of 800.
        let photo = fixture("orientation6.jpg");
        let decoded = decode_image_narrowed_for(&photo, &Limits::default(), KeepMargin, |w, h| {
            assert_eq!((w, h), (800, 1200));
            (400, 600)
        })
        .unwrap();
        assert_eq!(decoded.image.dimensions(), (800, 600));
        assert_eq!((decoded.width, decoded.height), (800, 1200));
        // The upright photo's red top-right corner stays there.
        assert!(close(rgb(&decoded.image, 780, 5), [255, 0, 0], 40));
    }

    #[test]
    fn a_need_a_dct_scale_covers_is_decoded_scaled_not_narrowed() {
        let jpeg = gradient_jpeg(4000, 3000, None);
        let decoded =
            decode_image_narrowed_for(&jpeg, &Limits::default(), KeepMargin, |_, _| (640, 480))
                .unwrap();
        assert_eq!(decoded.image.dimensions(), (2000, 1500));
    }
}
