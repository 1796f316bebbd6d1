//! Colour management: pixels that carry an ICC profile other than sRGB are converted
//! to sRGB right after decoding. Outputs carry no profile (every piece of metadata is
//! stripped) and viewers show untagged pixels as sRGB, so without this a Display P3
//! photo from a phone or an Adobe RGB camera JPEG would come out dull or shifted.
//!
//! The conversion uses moxcms, the colour engine the `image` crate already carries,
//! with the perceptual intent. A profile that is already sRGB (by its primaries and
//! white point) is skipped, which is the common case and costs nothing. A profile that
//! cannot be read, or is not an RGB one, leaves the pixels as they are, as browsers
//! do. CMYK JPEGs with a CMYK profile are the exception: the decoder hands their raw
//! ink amounts to [`cmyk_to_srgb`] (a CMYK JPEG without one gets the plain
//! 1 - ink formula).

use std::sync::Arc;

use image::DynamicImage;
use moxcms::{ColorProfile, DataColorSpace, Layout, Transform8BitExecutor, TransformOptions, Xyzd};

/// Converts 8-bit RGB or RGBA pixels described by `icc` to sRGB in place.
pub(crate) fn convert_to_srgb(image: &mut DynamicImage, icc: &[u8]) {
    let alpha = match image {
        DynamicImage::ImageRgb8(_) => false,
        DynamicImage::ImageRgba8(_) => true,
        _ => return,
    };
    let Some(conversion) = SrgbConversion::from_profile(icc, alpha) else {
        return;
    };
    let target = match image {
        DynamicImage::ImageRgb8(rgb) => rgb.as_mut(),
        DynamicImage::ImageRgba8(rgba) => rgba.as_mut(),
        _ => return,
    };
    conversion.apply(target);
}

/// The conversion of 8-bit pixels of one layout from an ICC profile's colours to
/// sRGB, built once and applied to as many rows as come (a JPEG read in batches):
/// RGB pixels, or RGBA ones (`alpha`).
pub(crate) struct SrgbConversion(Arc<Transform8BitExecutor>);

impl SrgbConversion {
    /// `None` when there is nothing to convert: the profile is sRGB already, or it
    /// cannot be read, is not an RGB one, or has no usable transform (the pixels
    /// are then taken as sRGB).
    pub(crate) fn from_profile(icc: &[u8], alpha: bool) -> Option<SrgbConversion> {
        let layout = if alpha { Layout::Rgba } else { Layout::Rgb };
        let Ok(profile) = ColorProfile::new_from_slice(icc) else {
            tracing::debug!("unreadable ICC profile: pixels taken as sRGB");
            return None;
        };
        if profile.color_space != DataColorSpace::Rgb || is_srgb(&profile) {
            return None;
        }
        let srgb = ColorProfile::new_srgb();
        match profile.create_transform_8bit(layout, &srgb, layout, TransformOptions::default()) {
            Ok(transform) => Some(SrgbConversion(transform)),
            Err(_) => {
                tracing::debug!("ICC profile without a usable transform: pixels taken as sRGB");
                None
            }
        }
    }

    /// Converts whole pixels of the layout in place.
    pub(crate) fn apply(&self, pixels: &mut [u8]) {
        let source = pixels.to_vec();
        self.convert(&source, pixels);
    }

    /// Writes `source`'s pixels, converted, to `target` (of the same length); a
    /// failure of moxcms copies them unconverted.
    pub(crate) fn convert(&self, source: &[u8], target: &mut [u8]) {
        if let Err(err) = self.0.transform(source, target) {
            tracing::debug!(error = ?err, "ICC conversion failed: pixels taken as sRGB");
            target.copy_from_slice(source);
        }
    }
}

/// The profile in `icc`, when it is a CMYK one moxcms can read.
pub(crate) fn cmyk_profile(icc: &[u8]) -> Option<ColorProfile> {
    ColorProfile::new_from_slice(icc)
        .ok()
        .filter(|profile| profile.color_space == DataColorSpace::Cmyk)
}

/// Converts CMYK pixels (ink amounts, 0 for none) described by a CMYK `profile` to
/// sRGB pixels; `None` when moxcms cannot build or run the transform.
pub(crate) fn cmyk_to_srgb(profile: &ColorProfile, cmyk: &[u8]) -> Option<Vec<u8>> {
    // moxcms takes four-channel device data in the Rgba layout.
    let transform = profile
        .create_transform_8bit(
            Layout::Rgba,
            &ColorProfile::new_srgb(),
            Layout::Rgb,
            TransformOptions::default(),
        )
        .ok()?;
    let mut rgb = vec![0; cmyk.len() / 4 * 3];
    transform.transform(cmyk, &mut rgb).ok()?;
    Some(rgb)
}

/// Whether an RGB profile has sRGB's primaries and white point (its tone curve is
/// then sRGB's or close enough that converting would change nothing visible).
fn is_srgb(profile: &ColorProfile) -> bool {
    let srgb = ColorProfile::new_srgb();
    let close = |a: Xyzd, b: Xyzd| {
        (a.x - b.x).abs() < 0.002 && (a.y - b.y).abs() < 0.002 && (a.z - b.z).abs() < 0.002
    };
    close(profile.red_colorant, srgb.red_colorant)
        && close(profile.green_colorant, srgb.green_colorant)
        && close(profile.blue_colorant, srgb.blue_colorant)
        && close(profile.white_point, srgb.white_point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// sRGB's transfer curve, both ways (Display P3 uses the same one).
    fn to_linear(c: f64) -> f64 {
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    }
    fn from_linear(c: f64) -> f64 {
        if c <= 0.0031308 {
            c * 12.92
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        }
    }

    /// Display P3 to sRGB by the published matrices (both D65: no adaptation needed).
    fn p3_to_srgb_by_hand(p3: [u8; 3]) -> [f64; 3] {
        const P3_TO_XYZ: [[f64; 3]; 3] = [
            [0.486_570_9, 0.265_667_7, 0.198_217_3],
            [0.228_974_6, 0.691_738_5, 0.079_286_9],
            [0.0, 0.045_113_4, 1.043_944_4],
        ];
        const XYZ_TO_SRGB: [[f64; 3]; 3] = [
            [3.240_969_9, -1.537_383_2, -0.498_610_8],
            [-0.969_243_6, 1.875_967_5, 0.041_555_1],
            [0.055_630_1, -0.203_977_0, 1.056_971_5],
        ];
        let linear = p3.map(|c| to_linear(f64::from(c) / 255.0));
        let apply = |m: [[f64; 3]; 3], v: [f64; 3]| {
            [0, 1, 2].map(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
        };
        apply(XYZ_TO_SRGB, apply(P3_TO_XYZ, linear)).map(|c| from_linear(c.clamp(0.0, 1.0)) * 255.0)
    }

    #[test]
    fn display_p3_pixels_become_the_same_colours_in_srgb() {
        let p3 = ColorProfile::new_display_p3().encode().unwrap();
        // Colours inside sRGB's gamut, so no clipping decides the result.
        for colour in [
            [200, 120, 80],
            [90, 160, 110],
            [60, 90, 200],
            [128, 128, 128],
        ] {
            let mut image = DynamicImage::ImageRgb8(RgbImage::from_pixel(2, 2, Rgb(colour)));
            convert_to_srgb(&mut image, &p3);
            let got = image.to_rgb8().get_pixel(1, 1).0;
            let expected = p3_to_srgb_by_hand(colour);
            for (g, e) in got.iter().zip(expected) {
                assert!(
                    (f64::from(*g) - e).abs() <= 2.0,
                    "{colour:?}: got {got:?}, expected {expected:?}"
                );
            }
        }
    }

    #[test]
    fn srgb_and_unreadable_profiles_leave_the_pixels_alone() {
        let srgb = ColorProfile::new_srgb().encode().unwrap();
        for icc in [srgb.as_slice(), b"not a profile"] {
            let mut image =
                DynamicImage::ImageRgb8(RgbImage::from_pixel(2, 2, Rgb([200, 120, 80])));
            convert_to_srgb(&mut image, icc);
            assert_eq!(image.to_rgb8().get_pixel(0, 0).0, [200, 120, 80]);
        }
    }

    #[test]
    fn an_srgb_profile_is_recognised_and_display_p3_is_not() {
        assert!(is_srgb(&ColorProfile::new_srgb()));
        assert!(!is_srgb(&ColorProfile::new_display_p3()));
        assert!(!is_srgb(&ColorProfile::new_adobe_rgb()));
    }
}
