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
    let mut config = sys::WebPConfig::new().map_err(|()| failed("cannot be configured"))?;
    let lossless = compression == WebpCompression::Lossless;
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
    let mut picture = Picture::import(&pixels, lossless)?;
    drop(pixels);
    picture.encode(&config)
}

fn failed(what: &str) -> ProcessError {
    ProcessError::Encode(format!("libwebp {what}"))
}

/// A libwebp picture, freed on drop.
struct Picture(sys::WebPPicture);

impl Picture {
    /// Copies `pixels` into a new picture: ARGB for a lossless encoding, YUV(A)
    /// otherwise.
    fn import(pixels: &DynamicImage, argb: bool) -> Result<Self, ProcessError> {
        let mut raw = sys::WebPPicture::new().map_err(|()| failed("cannot make a picture"))?;
        raw.use_argb = i32::from(argb);
        // The caller checked both sides against WebP's limit (16383).
        raw.width = pixels.width() as i32;
        raw.height = pixels.height() as i32;
        let mut picture = Picture(raw);
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
            return Err(failed(&format!(
                "could not take the pixels ({:?})",
                picture.0.error_code
            )));
        }
        Ok(picture)
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
