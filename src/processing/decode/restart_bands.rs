//! A JPEG with restart markers, decoded in bands on several threads.
//!
//! Most of a JPEG decode is its entropy decoding, which runs serially through the
//! scan: each block's DC value is coded against the one before. A restart marker
//! resets that chain, so a baseline JPEG with a restart interval can be cut at its
//! markers into parts that decode on their own. Cameras often write one.
//!
//! When the intervals line up with rows of MCUs, the scan is cut into horizontal
//! bands, one per thread. Each band becomes a JPEG of its own: the original's
//! headers and tables with the band's height in the frame header, then the band's
//! part of the scan, its restart markers renumbered from 0, then an end marker.
//! libjpeg decodes each on its own thread at the caller's scale, and the bands'
//! rows are stacked back.
//!
//! Bands overlap by one stretch of intervals at each inner edge, and those rows are
//! dropped: chroma upsampling reads the rows next to the one it makes, so a band
//! that started exactly at its first kept row would make that row differently.
//! With the overlap, the result is the same, byte for byte, as one decode's.
//!
//! Anything this module does not recognise (progressive or several scans, no
//! restart interval, intervals that do not line up with MCU rows, markers that do
//! not add up) leaves the decode to the caller's single pass.

use std::num::NonZeroUsize;

use super::libjpeg::{Channels, libjpeg_scaled};
use super::split_scan::Headers;

/// The most bands a decode is cut into.
const MAX_BANDS: usize = 4;
/// A band must hold at least this many stretches of intervals, or the overlap
/// and the threads cost more than they save.
const MIN_STRETCHES_PER_BAND: usize = 4;
/// Smaller images decode fast enough on one thread.
const MIN_PIXELS: u64 = 2_000_000;

/// Decodes `input` at 1/`divisor` of its size to RGB in bands on up to
/// [`MAX_BANDS`] threads, or `None` when it has no usable restart markers, only
/// one core is free, a thread cannot be started, or a band fails to decode; the
/// caller then decodes it in one pass (which also reports what is wrong).
pub(super) fn decode_rgb_in_bands(input: &[u8], divisor: u32) -> Option<(u32, u32, Vec<u8>)> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    decode_on(input, divisor, threads.min(MAX_BANDS))
}

/// [`decode_rgb_in_bands`] on `threads` threads.
fn decode_on(input: &[u8], divisor: u32, threads: usize) -> Option<(u32, u32, Vec<u8>)> {
    let scan = Scan::parse(input)?;
    if u64::from(scan.width) * u64::from(scan.height) < MIN_PIXELS {
        return None;
    }
    let bands = scan.bands(threads)?;
    let decoded = std::thread::scope(|scope| {
        let mut started = Vec::with_capacity(bands.len());
        for band in &bands[1..] {
            let jpeg = scan.band_jpeg(input, band);
            let thread = std::thread::Builder::new()
                .name("kiln-jpeg-band".into())
                .spawn_scoped(scope, move || libjpeg_scaled(&jpeg, divisor, Channels::Rgb));
            started.push(thread.ok()?);
        }
        let first = libjpeg_scaled(&scan.band_jpeg(input, &bands[0]), divisor, Channels::Rgb);
        let mut decoded = vec![first];
        // A band whose thread panicked is a failed band (libjpeg errors are caught
        // inside libjpeg_scaled; this is for anything else).
        decoded.extend(
            started
                .into_iter()
                .map(|thread| thread.join().ok().flatten()),
        );
        decoded.into_iter().collect::<Option<Vec<_>>>()
    })?;
    scan.stack(&bands, decoded, divisor)
}

/// What the bands are cut from: a baseline JPEG's frame and its one scan.
#[derive(Debug)]
struct Scan {
    width: u32,
    height: u32,
    /// Where the frame header's two height bytes are.
    height_at: usize,
    /// Where the entropy-coded data starts (after the scan header) and ends (at
    /// the marker that follows it).
    data: std::ops::Range<usize>,
    /// The offset of every restart marker in the data, in order.
    restarts: Vec<usize>,
    /// MCUs per restart interval.
    interval: usize,
    mcus_per_row: usize,
    mcu_rows: usize,
    /// Pixel rows per MCU row (8 or 16).
    mcu_height: usize,
}

/// What the frame header (SOF) says.
#[derive(Debug)]
struct Frame {
    width: u32,
    height: u32,
    /// Where its two height bytes are in the file.
    height_at: usize,
    /// Each component's horizontal and vertical sampling factors.
    sampling: Vec<(usize, usize)>,
}

/// MCU rows `[first, end)` of the image that one band decodes, and how many of its
/// first rows (the overlap with the band before) are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Band {
    first: usize,
    end: usize,
    /// MCU rows kept, from `first + dropped`.
    kept: usize,
    dropped: usize,
}

impl Scan {
    /// Reads the markers up to the end of the first scan, or `None` for anything
    /// but a baseline (or extended sequential Huffman) JPEG with a restart interval
    /// and one scan that holds every component.
    fn parse(input: &[u8]) -> Option<Scan> {
        let headers = Headers::parse(input)?;
        if headers.restart_interval == 0 {
            return None;
        }
        let frame = Frame {
            width: headers.width,
            height: headers.height,
            height_at: headers.height_at,
            sampling: headers
                .components
                .iter()
                .map(|c| (c.horizontal, c.vertical))
                .collect(),
        };
        let data_start = input.len() - headers.data.len();
        Scan::with_data(input, data_start, headers.restart_interval, &frame)
    }

    fn with_data(input: &[u8], data_start: usize, interval: usize, frame: &Frame) -> Option<Scan> {
        let Frame {
            width,
            height,
            height_at,
            ref sampling,
        } = *frame;
        // One component is coded block by block, whatever its factors say.
        let (max_h, max_v) = match sampling.as_slice() {
            [_] => (1, 1),
            _ => sampling
                .iter()
                .fold((1, 1), |(h, v), &(fh, fv)| (h.max(fh), v.max(fv))),
        };
        let (mcu_width, mcu_height) = (8 * max_h, 8 * max_v);
        let mcus_per_row = (width as usize).div_ceil(mcu_width);
        let mcu_rows = (height as usize).div_ceil(mcu_height);
        let mut restarts = Vec::new();
        let mut at = data_start;
        let end = loop {
            let found = at + memchr::memchr(0xFF, input.get(at..)?)?;
            match *input.get(found + 1)? {
                // A stuffed 0xFF data byte, or a fill byte before a marker.
                0x00 | 0xFF => at = found + 1,
                0xD0..=0xD7 => {
                    restarts.push(found);
                    at = found + 2;
                }
                // Any other marker ends the scan.
                _ => break found,
            }
        };
        let intervals = (mcus_per_row * mcu_rows).div_ceil(interval);
        if restarts.len() + 1 != intervals {
            return None;
        }
        Some(Scan {
            width,
            height,
            height_at,
            data: data_start..end,
            restarts,
            interval,
            mcus_per_row,
            mcu_rows,
            mcu_height,
        })
    }

    /// Cuts the MCU rows into up to `wanted` bands at stretches where a restart
    /// interval and an MCU row start together, or `None` when fewer than two
    /// bands of [`MIN_STRETCHES_PER_BAND`] stretches fit.
    fn bands(&self, wanted: usize) -> Option<Vec<Band>> {
        let stretch_mcus = lcm(self.interval, self.mcus_per_row);
        let stretch_rows = stretch_mcus / self.mcus_per_row;
        let stretches = self.mcu_rows.div_ceil(stretch_rows);
        let count = wanted.min(stretches / MIN_STRETCHES_PER_BAND);
        if count < 2 {
            return None;
        }
        let row_of = |stretch: usize| (stretch * stretch_rows).min(self.mcu_rows);
        Some(
            (0..count)
                .map(|i| {
                    let (keep_from, keep_end) = (
                        row_of(i * stretches / count),
                        row_of((i + 1) * stretches / count),
                    );
                    let first = if i == 0 { 0 } else { keep_from - stretch_rows };
                    let end = if i + 1 == count {
                        keep_end
                    } else {
                        keep_end + stretch_rows
                    };
                    Band {
                        first,
                        end,
                        kept: keep_end - keep_from,
                        dropped: keep_from - first,
                    }
                })
                .collect(),
        )
    }

    /// The JPEG of one band: the original's headers with the band's height, the
    /// band's intervals with their markers renumbered from 0, and an end marker.
    fn band_jpeg(&self, input: &[u8], band: &Band) -> Vec<u8> {
        let first_interval = band.first * self.mcus_per_row / self.interval;
        let end_interval = (band.end * self.mcus_per_row).div_ceil(self.interval);
        let start = match first_interval {
            0 => self.data.start,
            n => self.restarts[n - 1] + 2,
        };
        let end = match self.restarts.get(end_interval - 1) {
            Some(&marker) => marker,
            None => self.data.end,
        };
        let rows =
            (band.end * self.mcu_height).min(self.height as usize) - band.first * self.mcu_height;
        let mut jpeg = Vec::with_capacity(self.data.start + (end - start) + 2);
        jpeg.extend_from_slice(&input[..self.data.start]);
        // Fits: a band is never taller than the image.
        jpeg[self.height_at..self.height_at + 2].copy_from_slice(&(rows as u16).to_be_bytes());
        let base = jpeg.len();
        jpeg.extend_from_slice(&input[start..end]);
        for (n, &marker) in self.restarts[first_interval..end_interval - 1]
            .iter()
            .enumerate()
        {
            jpeg[base + marker - start + 1] = 0xD0 + (n % 8) as u8;
        }
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        jpeg
    }

    /// The bands' kept rows, stacked into one image, as one decode would give it.
    fn stack(
        &self,
        bands: &[Band],
        decoded: Vec<(u32, u32, Vec<u8>)>,
        divisor: u32,
    ) -> Option<(u32, u32, Vec<u8>)> {
        let width = decoded.first()?.0;
        let row_bytes = width as usize * 3;
        // Whole output rows per MCU row: divisor is 2, 4 or 8, MCU rows 8 or 16.
        let rows_per_mcu_row = self.mcu_height / divisor as usize;
        let mut pixels = Vec::with_capacity(decoded.iter().map(|(_, _, rgb)| rgb.len()).sum());
        for (band, (band_width, band_height, rgb)) in bands.iter().zip(decoded) {
            if band_width != width {
                return None;
            }
            let skip = band.dropped * rows_per_mcu_row;
            let keep = (band.kept * rows_per_mcu_row).min(band_height as usize - skip);
            pixels.extend_from_slice(rgb.get(skip * row_bytes..(skip + keep) * row_bytes)?);
        }
        let height = u32::try_from(pixels.len() / row_bytes).ok()?;
        (height == self.height.div_ceil(divisor)).then_some((width, height, pixels))
    }
}

fn lcm(a: usize, b: usize) -> usize {
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    use super::*;

    /// A photo-like test card: gradients with seeded noise, so every block has
    /// detail and no two rows are alike.
    fn card(width: u16, height: u16, channels: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height) * channels);
        for y in 0..usize::from(height) {
            for x in 0..usize::from(width) {
                for c in 0..channels {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let ramp = (x * (c + 1) + y * (3 - c.min(2))) / 16;
                    pixels.push((ramp as u64 + (state % 48)) as u8);
                }
            }
        }
        pixels
    }

    fn jpeg(width: u16, height: u16, restart: u16, gray: bool, progressive: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = Encoder::new(&mut out, 90);
        encoder.set_sampling_factor(SamplingFactor::F_2_2);
        encoder.set_restart_interval(restart);
        encoder.set_progressive(progressive);
        let (pixels, color) = match gray {
            true => (card(width, height, 1), ColorType::Luma),
            false => (card(width, height, 3), ColorType::Rgb),
        };
        encoder.encode(&pixels, width, height, color).unwrap();
        out
    }

    /// Decoded in `threads` bands at every scale, the pixels are those of one pass.
    fn assert_same_as_one_pass(input: &[u8], threads: usize) {
        for divisor in [2, 4, 8] {
            let banded = decode_on(input, divisor, threads).expect("decodes in bands");
            let whole = libjpeg_scaled(input, divisor, Channels::Rgb).unwrap();
            assert_eq!((banded.0, banded.1), (whole.0, whole.1), "1/{divisor}");
            assert!(banded.2 == whole.2, "1/{divisor}: the pixels differ");
        }
    }

    #[test]
    fn a_restart_marker_per_mcu_row_decodes_in_bands_as_in_one_pass() {
        // 1610 px: 101 MCUs a row, the last one partial; 1301 rows: a partial last MCU row.
        let input = jpeg(1610, 1301, 101, false, false);
        assert_same_as_one_pass(&input, 2);
        assert_same_as_one_pass(&input, 3);
    }

    #[test]
    fn intervals_that_cross_rows_are_cut_where_a_row_and_an_interval_start_together() {
        // 7 MCUs an interval, 100 a row: the stretches are 7 MCU rows.
        let input = jpeg(1600, 1400, 7, false, false);
        let scan = Scan::parse(&input).unwrap();
        let bands = scan.bands(2).unwrap();
        assert_eq!(bands[1].first % 7, 0);
        assert_same_as_one_pass(&input, 2);
    }

    #[test]
    fn a_greyscale_jpeg_is_cut_into_rows_of_blocks() {
        let input = jpeg(1600, 1400, 200, true, false);
        assert_eq!(Scan::parse(&input).unwrap().mcu_height, 8);
        assert_same_as_one_pass(&input, 2);
    }

    #[test]
    fn what_cannot_be_cut_is_left_to_one_pass() {
        let plain = jpeg(1600, 1400, 0, false, false);
        assert!(decode_on(&plain, 4, 2).is_none(), "no restart interval");
        let progressive = jpeg(1600, 1400, 100, false, true);
        assert!(Scan::parse(&progressive).is_none(), "progressive");
        let small = jpeg(800, 600, 50, false, false);
        assert!(
            decode_on(&small, 4, 2).is_none(),
            "too small to be worth it"
        );
        let restarts = jpeg(1600, 1400, 100, false, false);
        assert!(decode_on(&restarts, 4, 1).is_none(), "one thread");
        let truncated = &restarts[..restarts.len() / 2];
        assert!(decode_on(truncated, 4, 2).is_none(), "markers missing");
    }
}
