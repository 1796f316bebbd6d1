//! A still WebP through libwebp's own API (`libwebp-sys`), so that the pixels it is
//! made from can be freed before the encoding starts.
//!
//! libwebp first imports the pixels into a picture of its own: YUV planes for a
//! lossy WebP (half the bytes of RGB), ARGB for a lossless one. The `webp` crate's
//! encoder borrows the pixels for the whole call and always imports ARGB, then
//! converts that to YUV inside the encoder, so a 12 MP lossy WebP held the RGB, the
//! ARGB and the YUV at once (about 120 MB, where `cwebp` peaks at 57 MB). Here the
//! picture is imported in the encoding's own layout, and [`encode`] drops pixels it
//! owns before libwebp encodes.
//!
//! A lossy picture can also be filled from rows as a JPEG is decoded
//! ([`RowsPicture`]), so that the RGB of the whole image never exists: only its YUV,
//! half the bytes.

use std::borrow::Cow;
use std::ffi::c_void;
use std::mem::MaybeUninit;

use image::DynamicImage;
use libwebp_sys as sys;

use super::ProcessError;
use super::encode::WebpCompression;

/// Encodes 8-bit RGB or RGBA `pixels` (the caller converts others). Pixels
/// handed over (`Cow::Owned`) are freed once libwebp holds its copy.
pub(super) fn encode(
    pixels: Cow<'_, DynamicImage>,
    compression: WebpCompression,
) -> Result<Vec<u8>, ProcessError> {
    let config = config(compression)?;
    let mut picture = Picture::import(&pixels, compression == WebpCompression::Lossless)?;
    drop(pixels);
    picture.encode(&config)
}

/// libwebp's settings for `compression`, validated.
fn config(compression: WebpCompression) -> Result<sys::WebPConfig, ProcessError> {
    let mut config = sys::WebPConfig::new().map_err(|()| failed("cannot be configured"))?;
    match compression {
        WebpCompression::Lossy { quality } => {
            config.quality = f32::from(quality.clamp(1, 100));
            config.alpha_compression = 1;
        }
        WebpCompression::Lossless => {
            config.lossless = 1;
            config.alpha_compression = 0;
        }
    }
    // SAFETY: the config was initialised by libwebp above.
    if unsafe { sys::WebPValidateConfig(&config) } == 0 {
        return Err(failed("refused its configuration"));
    }
    Ok(config)
}

/// A lossy picture filled from RGB rows top to bottom, as a decoder gives them.
/// Each batch is imported into a band picture of its own (libwebp's RGB to YUV
/// 4:2:0 conversion) and the band's planes are copied into the whole picture's,
/// so only the whole image's YUV is held, never its RGB. Without sharp YUV (which
/// Kiln does not ask for) libwebp converts two rows at a time, each pair on its own,
/// so bands of an even number of rows give the very planes one import of the whole
/// image gives.
pub(super) struct RowsPicture {
    whole: Picture,
    band: Picture,
    /// Rows filled so far.
    filled: u32,
}

impl RowsPicture {
    /// An empty `width` x `height` picture (both within WebP's 16383).
    pub(super) fn new(width: u32, height: u32) -> Result<Self, ProcessError> {
        let mut whole = Picture::new(width, height, false)?;
        // SAFETY: the picture was initialised by WebPPictureInit with its size set.
        if unsafe { sys::WebPPictureAlloc(&mut whole.0) } == 0 {
            return Err(failed(&format!(
                "could not allocate a picture ({:?})",
                whole.0.error_code
            )));
        }
        Ok(RowsPicture {
            whole,
            band: Picture::new(width, 0, false)?,
            filled: 0,
        })
    }

    /// Adds the next rows: tightly packed RGB, whole rows of the picture's width.
    /// Every batch but the last must hold an even number of rows.
    pub(super) fn push_rgb_rows(&mut self, rgb: &[u8]) -> Result<(), ProcessError> {
        let width = self.whole.0.width as usize;
        let rows = rgb.len() / (width * 3);
        let first = self.filled as usize;
        if rows * width * 3 != rgb.len()
            || !first.is_multiple_of(2)
            || first + rows > self.whole.0.height as usize
        {
            return Err(failed("was given rows that do not fit the picture"));
        }
        self.band.0.height = rows as i32;
        // SAFETY: `rgb` holds `rows` packed rows of `width` RGB pixels, the band
        // picture's size.
        let imported = unsafe {
            sys::WebPPictureImportRGB(&mut self.band.0, rgb.as_ptr(), (width * 3) as i32)
        };
        if imported == 0 {
            return Err(self.band.import_failed());
        }
        let (band, whole) = (&self.band.0, &mut self.whole.0);
        let chroma_width = width.div_ceil(2);
        // SAFETY: both pictures hold YUV 4:2:0 planes of the same width, allocated by
        // libwebp with the strides it reports; the band's `rows` luma rows (and half
        // as many chroma rows, rounded up) go to the whole picture's rows from
        // `first` (even, so its chroma row is `first / 2`), inside its height.
        unsafe {
            copy_plane(
                band.y,
                band.y_stride,
                whole.y,
                whole.y_stride,
                first,
                rows,
                width,
            );
            let (chroma_first, chroma_rows) = (first / 2, rows.div_ceil(2));
            for (from, to) in [(band.u, whole.u), (band.v, whole.v)] {
                copy_plane(
                    from,
                    band.uv_stride,
                    to,
                    whole.uv_stride,
                    chroma_first,
                    chroma_rows,
                    chroma_width,
                );
            }
        }
        self.filled += rows as u32;
        Ok(())
    }

    /// The lossy WebP of the filled picture, which must be complete.
    pub(super) fn encode(mut self, quality: u8) -> Result<Vec<u8>, ProcessError> {
        if self.filled != self.whole.0.height as u32 {
            return Err(failed("was asked to encode a picture with rows missing"));
        }
        drop(self.band);
        self.whole
            .encode(&config(WebpCompression::Lossy { quality })?)
    }
}

/// Copies `rows` rows of `bytes` bytes from a plane to another's rows from `first`.
///
/// # Safety
/// Both planes must hold the rows and bytes named, at their strides.
unsafe fn copy_plane(
    from: *const u8,
    from_stride: i32,
    to: *mut u8,
    to_stride: i32,
    first: usize,
    rows: usize,
    bytes: usize,
) {
    for row in 0..rows {
        // SAFETY: the caller's promise; strides are positive in libwebp's planes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                from.add(row * from_stride as usize),
                to.add((first + row) * to_stride as usize),
                bytes,
            );
        }
    }
}

fn failed(what: &str) -> ProcessError {
    ProcessError::Encode(format!("libwebp {what}"))
}

/// A libwebp picture, freed on drop.
struct Picture(sys::WebPPicture);

impl Picture {
    /// An empty picture of this size: ARGB, or YUV(A) for a lossy encoding.
    fn new(width: u32, height: u32, argb: bool) -> Result<Self, ProcessError> {
        let mut raw = sys::WebPPicture::new().map_err(|()| failed("cannot make a picture"))?;
        raw.use_argb = i32::from(argb);
        // Callers check both sides against WebP's limit (16383).
        raw.width = width as i32;
        raw.height = height as i32;
        Ok(Picture(raw))
    }

    /// Copies `pixels` into a new picture: ARGB for a lossless encoding, YUV(A)
    /// otherwise.
    fn import(pixels: &DynamicImage, argb: bool) -> Result<Self, ProcessError> {
        let mut picture = Picture::new(pixels.width(), pixels.height(), argb)?;
        let bytes = pixels.as_bytes();
        // SAFETY: `bytes` holds `height` rows of `width` pixels of the layout
        // imported (image's buffers are tightly packed, so the stride is the row),
        // and the picture's size was set to that above.
        let imported = unsafe {
            match pixels {
                DynamicImage::ImageRgba8(_) => {
                    sys::WebPPictureImportRGBA(&mut picture.0, bytes.as_ptr(), picture.0.width * 4)
                }
                _ => sys::WebPPictureImportRGB(&mut picture.0, bytes.as_ptr(), picture.0.width * 3),
            }
        };
        if imported == 0 {
            return Err(picture.import_failed());
        }
        Ok(picture)
    }

    /// The error of an import libwebp refused, with its reason.
    fn import_failed(&self) -> ProcessError {
        failed(&format!(
            "could not take the pixels ({:?})",
            self.0.error_code
        ))
    }

    fn encode(&mut self, config: &sys::WebPConfig) -> Result<Vec<u8>, ProcessError> {
        let mut writer = MaybeUninit::<sys::WebPMemoryWriter>::uninit();
        // SAFETY: WebPMemoryWriterInit initialises every field of the writer; the
        // picture writes through it only during WebPEncode, while `writer` lives,
        // and its memory is read, then released by WebPMemoryWriterClear.
        unsafe {
            sys::WebPMemoryWriterInit(writer.as_mut_ptr());
            let mut writer = writer.assume_init();
            self.0.writer = Some(sys::WebPMemoryWrite);
            self.0.custom_ptr = (&raw mut writer).cast::<c_void>();
            let encoded = sys::WebPEncode(config, &mut self.0);
            self.0.writer = None;
            self.0.custom_ptr = std::ptr::null_mut();
            let bytes = match writer.mem.is_null() {
                true => Vec::new(),
                false => std::slice::from_raw_parts(writer.mem, writer.size).to_vec(),
            };
            sys::WebPMemoryWriterClear(&mut writer);
            if encoded == 0 {
                return Err(failed(&format!("failed ({:?})", self.0.error_code)));
            }
            Ok(bytes)
        }
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was initialised by WebPPictureInit (in `new`), and
        // WebPPictureFree frees what an import allocated (nothing if none did).
        unsafe { sys::WebPPictureFree(&mut self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture's Y, U and V planes, row by row without stride padding.
    fn planes(picture: &Picture) -> [Vec<u8>; 3] {
        let p = &picture.0;
        let (width, height) = (p.width as usize, p.height as usize);
        let plane = |data: *mut u8, stride: i32, columns: usize, rows: usize| {
            (0..rows)
                .flat_map(|row| {
                    // SAFETY: libwebp allocated `rows` rows of `columns` at `stride`.
                    unsafe { std::slice::from_raw_parts(data.add(row * stride as usize), columns) }
                })
                .copied()
                .collect()
        };
        let (chroma_width, chroma_height) = (width.div_ceil(2), height.div_ceil(2));
        [
            plane(p.y, p.y_stride, width, height),
            plane(p.u, p.uv_stride, chroma_width, chroma_height),
            plane(p.v, p.uv_stride, chroma_width, chroma_height),
        ]
    }

    #[test]
    fn a_picture_filled_in_bands_of_rows_is_the_picture_imported_whole() {
        // Odd sides, noisy colours, and a last band of an odd number of rows.
        let (width, height) = (77_u32, 141_u32);
        let mut state = 12345_u32;
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let noise = (state >> 24) as u8;
            image::Rgb([noise, (x * 3) as u8 ^ noise, (y * 2) as u8])
        });
        let whole = Picture::import(&DynamicImage::ImageRgb8(image.clone()), false).unwrap();
        let mut rows = RowsPicture::new(width, height).unwrap();
        for band in image.as_raw().chunks(width as usize * 3 * 64) {
            rows.push_rgb_rows(band).unwrap();
        }
        assert_eq!(planes(&rows.whole), planes(&whole));

        let lossy = WebpCompression::Lossy { quality: 80 };
        let encoded_whole = encode(Cow::Owned(DynamicImage::ImageRgb8(image)), lossy).unwrap();
        assert_eq!(
            rows.encode(80).unwrap(),
            encoded_whole,
            "the same WebP, byte for byte"
        );
    }

    #[test]
    fn rows_that_do_not_fit_or_a_picture_short_of_rows_are_refused() {
        let row = vec![0_u8; 10 * 3];
        let mut picture = RowsPicture::new(10, 4).unwrap();
        assert!(picture.push_rgb_rows(&row[..29]).is_err(), "not whole rows");
        picture.push_rgb_rows(&row).unwrap();
        assert!(picture.push_rgb_rows(&row).is_err(), "after an odd band");
        let mut short = RowsPicture::new(10, 4).unwrap();
        short.push_rgb_rows(&[row.clone(), row].concat()).unwrap();
        assert!(short.encode(80).is_err());
    }
}
