//! The calls Kiln makes into the generic pixel libraries it spends its processing
//! time in, `fast_image_resize` and `jpeg-encoder`, in a crate of their own so
//! that they are compiled optimised in every build.
//!
//! Generic code is compiled in the crate that names its type parameters, not in
//! the library that defines it: `fast_image_resize`'s convolution kernels are
//! generic over the image types, `jpeg-encoder`'s encoder over its writer. Called
//! from Kiln, they would take Kiln's profile: in a dev build (what `make run` and
//! `make test` use), unoptimised and with debug assertions, where resizing a photo
//! took about 16 times as long as it does named from here, and was most of the test
//! suite's processing time. Named here, with concrete types, they take this crate's
//! profile (`opt-level = 2` without debug assertions in the workspace's dev profile),
//! and Kiln calls plain functions. Release builds are the same either way.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{ResizeError, ResizeOptions, Resizer};
use jpeg_encoder::{ColorType, Encoder, EncodingError};

/// Resamples `source` into `target` (whose size is the output's) with `options`,
/// through `resizer`, which keeps its buffers between calls.
pub fn resize(
    resizer: &mut Resizer,
    source: &ImageRef<'_>,
    target: &mut Image<'_>,
    options: &ResizeOptions,
) -> Result<(), ResizeError> {
    resizer.resize(source, target, options)
}

/// Encodes `width` x `height` pixels of `color` with an encoder set up by the
/// caller (quality, subsampling), appending the JPEG to its buffer.
pub fn encode_jpeg(
    encoder: Encoder<&mut Vec<u8>>,
    pixels: &[u8],
    width: u16,
    height: u16,
    color: ColorType,
) -> Result<(), EncodingError> {
    encoder.encode(pixels, width, height, color)
}
