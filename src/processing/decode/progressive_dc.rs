//! A progressive JPEG cut down to what a decode at 1/8 reads.
//!
//! A progressive JPEG sends its coefficients in several scans: first the DC
//! coefficient of every block (one scan, or one per component, sometimes refined
//! by a later scan of lower bits), then bands of AC coefficients, one component
//! per scan, refined again. At 1/8, libjpeg turns each block of a component at
//! full resolution (the luma of a 4:2:0 file, every component of a 4:4:4 or
//! greyscale one) into one pixel with its 1x1 IDCT, from the DC coefficient
//! alone. A subsampled component (4:2:0 chroma) is scaled up by a larger IDCT
//! instead of upsampled, and that one reads AC coefficients. The luma's AC scans
//! are most of a photo's file and of its entropy decoding, and libjpeg decodes
//! every scan it is given; this module gives it the file's markers and tables as
//! they are, and every scan but the AC scans of full-resolution components, in
//! order. The pixels at 1/8 are those of the whole file, byte for byte, as long
//! as libjpeg's block smoothing (which guesses missing AC coefficients, and
//! evens DC out between neighbours, for a file that stops early) is off.
//!
//! Anything but a progressive Huffman-coded JPEG whose markers read cleanly to
//! its end gets `None`, and the caller decodes the whole file as before.

/// The file without the AC scans a decode at 1/8 does not read, or `None` (see
/// the module's doc).
pub(super) fn scans_for_an_eighth(jpeg: &[u8]) -> Option<Vec<u8>> {
    const SOI: [u8; 2] = [0xFF, 0xD8];
    if !jpeg.starts_with(&SOI) {
        return None;
    }
    let mut kept = Vec::with_capacity(jpeg.len() / 4);
    kept.extend_from_slice(&SOI);
    let mut at = SOI.len();
    // Each component's sampling factors, from the frame header.
    let mut sampling: Vec<(u8, (u8, u8))> = Vec::new();
    let mut dropped_scans = 0;
    loop {
        let (marker_at, code) = marker(jpeg, at)?;
        match code {
            // EOI: the end.
            0xD9 => {
                kept.extend_from_slice(&[0xFF, 0xD9]);
                break;
            }
            // SOF2: progressive, Huffman-coded.
            0xC2 => sampling = sampling_factors(jpeg, marker_at)?,
            // Every other frame kind (baseline, extended, lossless, arithmetic)
            // is left to the whole decode.
            0xC0 | 0xC1 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            // A marker without a length (SOI again, RSTn, TEM) outside a scan.
            0x01 | 0xD0..=0xD8 => return None,
            _ => {}
        }
        let length = usize::from(u16::from_be_bytes([
            *jpeg.get(marker_at + 2)?,
            *jpeg.get(marker_at + 3)?,
        ]));
        let segment_end = marker_at.checked_add(2 + length)?;
        if length < 2 || segment_end > jpeg.len() {
            return None;
        }
        if code == 0xDA {
            // SOS: Ns, then Ns component selectors of 2 bytes, then Ss.
            let header = &jpeg[marker_at + 4..segment_end];
            let components = usize::from(*header.first()?);
            let spectral_start = *header.get(1 + 2 * components)?;
            let data_end = entropy_coded_end(jpeg, segment_end)?;
            let full = sampling.iter().map(|&(_, hv)| hv).max()?;
            let only_full_resolution = (0..components).all(|i| {
                let id = header[1 + 2 * i];
                sampling.iter().any(|&(c, hv)| c == id && hv == full)
            });
            match spectral_start > 0 && only_full_resolution {
                true => dropped_scans += 1,
                false => kept.extend_from_slice(&jpeg[marker_at..data_end]),
            }
            at = data_end;
        } else {
            kept.extend_from_slice(&jpeg[marker_at..segment_end]);
            at = segment_end;
        }
    }
    (dropped_scans > 0).then_some(kept)
}

/// The components of the frame header (SOF) at `marker_at`: each one's id and
/// its horizontal and vertical sampling factors.
fn sampling_factors(jpeg: &[u8], marker_at: usize) -> Option<Vec<(u8, (u8, u8))>> {
    // Length (2), precision (1), height (2), width (2), Nf (1), then Nf x 3.
    let count = usize::from(*jpeg.get(marker_at + 9)?);
    let components = jpeg.get(marker_at + 10..marker_at + 10 + 3 * count)?;
    let factors: Vec<(u8, (u8, u8))> = components
        .chunks_exact(3)
        .map(|c| (c[0], (c[1] >> 4, c[1] & 0x0F)))
        .collect();
    (!factors.is_empty()).then_some(factors)
}

/// The marker at `at` (an 0xFF, any fill 0xFF bytes, then its code): where its
/// last 0xFF is, and its code.
pub(super) fn marker(jpeg: &[u8], mut at: usize) -> Option<(usize, u8)> {
    if *jpeg.get(at)? != 0xFF {
        return None;
    }
    while *jpeg.get(at + 1)? == 0xFF {
        at += 1;
    }
    Some((at, jpeg[at + 1]))
}

/// Where the entropy-coded data that starts at `from` ends: at the first 0xFF
/// that is neither a stuffed zero byte nor a restart marker.
fn entropy_coded_end(jpeg: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let ff = at + memchr::memchr(0xFF, &jpeg[at..])?;
        match *jpeg.get(ff + 1)? {
            0x00 | 0xD0..=0xD7 => at = ff + 2,
            _ => return Some(ff),
        }
    }
}

#[cfg(test)]
mod tests {
    use image::GenericImageView;

    use super::super::libjpeg::{Channels, libjpeg_scaled};
    use super::super::{ShrinkOnLoad, decode_image_for};
    use super::*;
    use crate::processing::Limits;
    use crate::processing::test_support::noisy_rgb;

    /// A `width` x `height` JPEG of detailed, noisy content: progressive (with
    /// mozjpeg's scan script: DC first, then AC bands and their refinements) or
    /// baseline.
    fn detailed_jpeg(width: usize, height: usize, progressive: bool) -> Vec<u8> {
        let pixels = noisy_rgb(width, height);
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        if !progressive {
            // mozjpeg writes progressive files unless set to its fastest profile.
            compress.set_fastest_defaults();
        }
        compress.set_size(width, height);
        compress.set_quality(92.0);
        let mut started = compress.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&pixels).unwrap();
        started.finish().unwrap()
    }

    #[test]
    fn the_scans_an_eighth_reads_give_the_whole_files_pixels_at_an_eighth_exactly() {
        for (width, height) in [(803, 611), (64, 48)] {
            let jpeg = detailed_jpeg(width, height, true);
            let cut = scans_for_an_eighth(&jpeg).expect("a progressive JPEG");
            assert!(
                cut.len() * 2 < jpeg.len(),
                "the luma's AC scans are most of the file: {} of {} bytes kept",
                cut.len(),
                jpeg.len()
            );
            let whole = libjpeg_scaled(&jpeg, 8, Channels::Rgb).unwrap();
            let from_cut = libjpeg_scaled(&cut, 8, Channels::Rgb).unwrap();
            assert_eq!((from_cut.0, from_cut.1), (whole.0, whole.1));
            assert!(from_cut.2 == whole.2, "{width}x{height}: pixels differ");
        }
    }

    #[test]
    fn baseline_cut_short_or_not_jpeg_is_left_to_the_whole_decode() {
        let baseline = detailed_jpeg(320, 240, false);
        assert!(scans_for_an_eighth(&baseline).is_none(), "baseline");
        let progressive = detailed_jpeg(320, 240, true);
        assert!(scans_for_an_eighth(&progressive).is_some());
        let cut = &progressive[..progressive.len() / 2];
        assert!(scans_for_an_eighth(cut).is_none(), "no end of image");
        assert!(scans_for_an_eighth(b"\x89PNG\r\n\x1a\n").is_none());
        assert!(scans_for_an_eighth(&[0xFF, 0xD8, 0xFF]).is_none());
    }

    #[test]
    fn a_progressive_jpeg_is_decoded_at_an_eighth_whenever_that_covers_the_need() {
        let limits = Limits::default();
        let progressive = detailed_jpeg(1600, 1200, true);
        let baseline = detailed_jpeg(1600, 1200, false);
        for (jpeg, need, decoded_size) in [
            // Twice the need fits at 1/4 only; an eighth covers the need itself.
            (&progressive, (150, 110), (200, 150)),
            (&baseline, (150, 110), (400, 300)),
            // Both shrink to 1/8 with the margin.
            (&progressive, (90, 70), (200, 150)),
            (&baseline, (90, 70), (200, 150)),
            // An eighth is too small: the margin decides, as for any JPEG.
            (&progressive, (201, 150), (800, 600)),
        ] {
            let decoded =
                decode_image_for(jpeg, &limits, ShrinkOnLoad::KeepMargin, |_, _| need).unwrap();
            assert_eq!(decoded.image.dimensions(), decoded_size, "{need:?}");
            assert_eq!((decoded.width, decoded.height), (1600, 1200));
        }
    }
}
