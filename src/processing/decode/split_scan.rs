//! A baseline JPEG reduced to 1/4 or 1/8 by an entropy decoder of Kiln's own, with
//! its one scan split between threads.
//!
//! Most of a JPEG decode at a reduced scale is its Huffman decoding, and it is
//! serial: where a block's codes start is only known by decoding every code before
//! it. A JPEG without restart markers (most camera files) still cannot be cut where
//! libjpeg could take over, so this module decodes the scan itself:
//!
//! 1. **Split.** Thread 0 decodes from the start. Every other thread starts at a
//!    guessed bit position (the scan cut in equal parts) as if a block began
//!    there. Huffman codes fall in step with the true decode within a few dozen
//!    codes in practice, and once a guessed decoder stands where the true one
//!    does, at the start of the same block of an MCU, it decodes exactly what the
//!    true one would. Each guessed decoder records where its first blocks start
//!    (its trail); the thread before it, once it reaches that part of the scan,
//!    compares its own block starts with the trail. At the first match it
//!    finishes that MCU and stops, and the next thread's blocks are the true ones
//!    from there. A code that cannot be (a guess that has not fallen in step yet,
//!    or that took the wrong block of the MCU for the one it stands at) restarts
//!    the guess as the next block of the MCU, then one bit further. No match in the trail: the thread
//!    decodes on to the end itself, and only the time is lost.
//!    Each lookup reads one or two codes with their values ([`AcPair`]): a
//!    camera's codes are short, and the decode is bound by each lookup waiting
//!    for the one before it.
//! 2. **Reduce.** Each block is reduced as it is decoded to the pixels the scale
//!    keeps of it: the mean of its full IDCT over each 8/n x 8/n square, which
//!    only the coefficients that survive that mean contribute to (the DC alone
//!    at 1/8 for full-resolution components). Subsampled chroma is reduced less,
//!    by the same factor both ways as libjpeg does, so 4:2:0 chroma comes out at
//!    the output's size and 4:2:2 chroma half as wide, upsampled across as
//!    libjpeg upsamples it. A guessed decoder does not know the DC value its first
//!    block is coded against, so the DC term is kept apart from the rest of the
//!    block and added when the parts are joined: the error of a guess is one
//!    constant per component, fixed from where the decoders met.
//! 3. **Join.** The first part knows where its MCUs go and what their DC values
//!    are, so it writes its samples straight into one plane per component as it
//!    decodes. The other parts' blocks are laid out there once the parts have met
//!    and their DC offsets are known, and the planes converted to RGB, in bands
//!    of rows on as many threads. The pixels are libjpeg's at the same scale to
//!    within rounding (unit-tested against it for greyscale, 4:4:4, 4:2:2 and
//!    4:2:0).
//!
//! A scan with restart intervals is read by one part, an interval after the
//! other (on one core); split, it is libjpeg's, which decodes it in bands cut at
//! the markers (`restart_bands`). Anything else (1/2, progressive, 12-bit,
//! CMYK or RGB-coded JPEGs, chroma subsampled down only, and any code that does
//! not decode) gets `None`, and the caller decodes through libjpeg, which also
//! has the last word on a damaged file.

use std::num::NonZeroUsize;
use std::sync::mpsc;

use super::progressive_dc::marker;

/// The most threads a scan is split between.
const MAX_PARTS: usize = 4;
/// Smaller images decode fast enough on one thread.
const MIN_PIXELS_TO_SPLIT: u64 = 2_000_000;
/// The file size per pixel from which one part of this decoder is faster than
/// libjpeg at 1/4: a camera's JPEG has 2-3 bits a pixel, a smooth or upscaled
/// photo well under 1.
const DENSE_BITS_PER_PIXEL: u64 = 1;
/// How many of its block starts a guessed decoder records for the thread before it.
/// Decoders fall in step within a few dozen blocks; this leaves a wide margin.
const TRAIL_BLOCKS: usize = 4096;
/// How many fresh starts a guessed decoder makes before it gives up: at each bit
/// from its start, as each block of an MCU in turn.
const MAX_GUESSES: usize = 1024;
/// Bits a Huffman code is looked up by at once; longer codes take the slow path.
const LOOKUP_BITS: u32 = 10;
/// Bits the AC codes a block needs none of are skipped by at once ([`Huffman::ac_skips`]).
const SKIP_BITS: u32 = 12;
/// The most pixels one block is reduced to (4x4): larger reductions are libjpeg's.
const MAX_BLOCK_PIXELS: usize = 16;
/// The reduced pixels are kept at 8 times their value, so that the DC term (the
/// DC coefficient times its quantizer, over 8) is added exactly.
const PIXEL_SCALE: f32 = 8.0;

/// Each zig-zag position's index in the block's natural (row-major) order.
const NATURAL_ORDER: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Decodes a baseline `input` at 1/`divisor` (4 or 8) of its size to RGB, its scan
/// split between up to [`MAX_PARTS`] threads, or `None` (see the module's doc).
///
/// In one part at 1/4 only where the file holds at least
/// [`DENSE_BITS_PER_PIXEL`]: there its Huffman decoding is most of the work, and
/// this decoder's (two codes a lookup) is faster than libjpeg's; in a sparser
/// file the work per block weighs more, and libjpeg's is lighter (BENCHMARKS.md,
/// "Thumbnails"). At 1/8 the full-resolution blocks need no AC values and their
/// codes are skipped several at a time, which is faster than libjpeg either way.
pub(super) fn decode_rgb_split(input: &[u8], divisor: u32) -> Option<(u32, u32, Vec<u8>)> {
    let threads = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let pixels = super::probe_dimensions(input)
        .map_or(0, |(width, height)| u64::from(width) * u64::from(height));
    let parts = match pixels >= MIN_PIXELS_TO_SPLIT {
        true => threads.min(MAX_PARTS),
        false => 1,
    };
    let dense = input.len() as u64 * 8 >= DENSE_BITS_PER_PIXEL * pixels;
    if parts == 1 && divisor != 8 && !dense {
        return None;
    }
    // With more than one core, libjpeg decodes restart intervals in bands.
    if threads > 1 && Headers::parse(input).is_some_and(|h| h.restart_interval != 0) {
        return None;
    }
    decode_in_parts(input, divisor, parts)
}

/// For the fuzzer: a scan split in 2 and 3 parts decodes, when it does, to the
/// pixels of one part.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn assert_parts_agree(input: &[u8]) {
    for divisor in [4, 8] {
        let Some(whole) = decode_in_parts(input, divisor, 1) else {
            continue;
        };
        for parts in [2, 3] {
            if let Some(split) = decode_in_parts(input, divisor, parts) {
                assert!(
                    split == whole,
                    "{parts} parts at 1/{divisor} differ from one"
                );
            }
        }
    }
}

/// [`decode_rgb_split`] in `parts` parts.
fn decode_in_parts(input: &[u8], divisor: u32, parts: usize) -> Option<(u32, u32, Vec<u8>)> {
    let headers = Headers::parse(input)?;
    // Restart intervals split between parts are libjpeg's, in bands.
    if headers.rgb_coded || (headers.restart_interval != 0 && parts > 1) {
        return None;
    }
    let plan = Plan::new(&headers, divisor)?;
    let data = match plan.restart_interval {
        0 => EntropyData::find(headers.data)?,
        // The first interval: one part reads the others in turn.
        _ => EntropyData::up_to_marker(headers.data)?,
    };
    let parts = parts.max(1);
    let mut planes = plan.empty_planes();
    let segments = decode_segments(&plan, data, parts, &mut planes)?;
    let pieces = plan.pieces(&segments)?;
    plan.to_rgb(
        &pieces,
        planes,
        (headers.width, headers.height),
        divisor,
        parts,
    )
}

/// The scan's `data` decoded in `parts` parts, each on a thread of
/// its own. The first, on the caller's thread, knows where its MCUs go and
/// writes them into `planes` as it decodes them; the others keep theirs until the
/// parts are joined.
fn decode_segments(
    plan: &Plan<'_>,
    data: EntropyData<'_>,
    parts: usize,
    planes: &mut [Vec<u8>],
) -> Option<Vec<Segment>> {
    let data_bits = data.bits;
    let starts: Vec<usize> = (0..parts).map(|i| i * data_bits / parts).collect();
    // Part i (from 1) sends its trail to part i - 1, which watches for it.
    let (mut senders, mut receivers) = (Vec::new(), Vec::new());
    for _ in 1..parts {
        let (sender, receiver) = mpsc::channel();
        senders.push(sender);
        receivers.push(receiver);
    }
    let (mut senders, mut receivers) = (senders.into_iter(), receivers.into_iter());
    let mut jobs = (0..parts).map(|part| Part {
        plan,
        data,
        // Its share and a little: a part meets the next one soon after its share.
        // A block takes at least 2 bits, so a damaged header cannot make it more
        // than the data holds.
        expected_mcus: (plan.mcus() / parts + plan.mcus() / 16 + 1)
            .min(data_bits / (2 * plan.mcu_blocks.len()) + 1),
        start: starts[part],
        trail: Trail {
            sender: if part > 0 { senders.next() } else { None },
            entries: Vec::new(),
        },
        next: receivers
            .next()
            .map(|receiver| (starts[part + 1], receiver)),
    });
    let first = jobs.next()?;
    std::thread::scope(|scope| {
        let mut started = Vec::with_capacity(parts - 1);
        for job in jobs {
            let thread = std::thread::Builder::new()
                .name("kiln-jpeg-part".into())
                .spawn_scoped(scope, move || job.decode(None));
            started.push(thread.ok()?);
        }
        let mut segments = vec![first.decode(Some(planes))];
        for thread in started {
            segments.push(thread.join().ok()?);
        }
        Some(segments)
    })
}

/// A frame component as the frame header gives it.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameComponent {
    id: u8,
    pub horizontal: usize,
    pub vertical: usize,
    quant_table: usize,
}

/// What the markers of an 8-bit baseline (or extended sequential, Huffman-coded)
/// greyscale or three-component JPEG say up to its first scan, and where that
/// scan's data starts; `restart_bands` cuts the scan with it too.
pub(super) struct Headers<'a> {
    pub width: u32,
    pub height: u32,
    /// Where the frame header's two height bytes are in the file.
    pub height_at: usize,
    pub components: Vec<FrameComponent>,
    /// MCUs per restart interval (0: none).
    pub restart_interval: usize,
    /// Whether the channels are coded as RGB, not YCbCr (Adobe's transform 0,
    /// or component ids 'R', 'G', 'B', as libjpeg reads them).
    rgb_coded: bool,
    /// Quantization tables, in zig-zag order.
    quant: [Option<[u16; 64]>; 4],
    dc_tables: [Option<Huffman>; 4],
    ac_tables: [Option<Huffman>; 4],
    /// Frame component index, DC table and AC table of each component in the scan.
    scan: Vec<(usize, usize, usize)>,
    /// From the scan's first byte to the end of the file.
    pub data: &'a [u8],
}

impl<'a> Headers<'a> {
    /// The markers up to the first scan, which must hold every component; `None`
    /// for any other JPEG, or a segment that does not read cleanly.
    pub fn parse(input: &'a [u8]) -> Option<Headers<'a>> {
        if input.get(..2)? != [0xFF, 0xD8] {
            return None;
        }
        let mut headers = Headers {
            width: 0,
            height: 0,
            height_at: 0,
            components: Vec::new(),
            restart_interval: 0,
            rgb_coded: false,
            quant: [None; 4],
            dc_tables: [None, None, None, None],
            ac_tables: [None, None, None, None],
            scan: Vec::new(),
            data: &[],
        };
        let mut at = 2;
        loop {
            let (marker_at, code) = marker(input, at)?;
            let length = usize::from(u16::from_be_bytes([
                *input.get(marker_at + 2)?,
                *input.get(marker_at + 3)?,
            ]));
            let end = marker_at.checked_add(2 + length)?;
            let segment = input.get(marker_at + 4..end)?;
            match code {
                0xC0 | 0xC1 => {
                    headers.height_at = marker_at + 5;
                    headers.read_frame(segment)?;
                }
                // Progressive, lossless, arithmetic-coded, or a second frame.
                0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
                0xC4 => headers.read_huffman_tables(segment)?,
                0xDB => headers.read_quant_tables(segment)?,
                0xDD => {
                    headers.restart_interval =
                        usize::from(u16::from_be_bytes([*segment.first()?, *segment.get(1)?]));
                }
                // Adobe's marker: a transform of 0 means the channels are RGB.
                0xEE if segment.starts_with(b"Adobe") => {
                    headers.rgb_coded |= *segment.get(11)? == 0;
                }
                0xDA => {
                    headers.read_scan(segment)?;
                    headers.data = &input[end..];
                    return Some(headers);
                }
                0x01 | 0xD0..=0xD9 => return None,
                _ => {}
            }
            at = end;
        }
    }

    fn read_frame(&mut self, segment: &[u8]) -> Option<()> {
        let [precision, h1, h0, w1, w0, count, ..] = *segment else {
            return None;
        };
        let count = usize::from(count);
        if precision != 8 || !matches!(count, 1 | 3) || !self.components.is_empty() {
            return None;
        }
        self.height = u32::from(u16::from_be_bytes([h1, h0]));
        self.width = u32::from(u16::from_be_bytes([w1, w0]));
        for entry in segment.get(6..6 + 3 * count)?.chunks_exact(3) {
            let (horizontal, vertical) = (usize::from(entry[1] >> 4), usize::from(entry[1] & 15));
            if !(1..=4).contains(&horizontal) || !(1..=4).contains(&vertical) || entry[2] > 3 {
                return None;
            }
            self.components.push(FrameComponent {
                id: entry[0],
                horizontal,
                vertical,
                quant_table: usize::from(entry[2]),
            });
        }
        let ids: Vec<u8> = self.components.iter().map(|c| c.id).collect();
        self.rgb_coded |= ids == *b"RGB";
        (self.width > 0 && self.height > 0).then_some(())
    }

    fn read_huffman_tables(&mut self, mut segment: &[u8]) -> Option<()> {
        while let [class_and_id, ref rest @ ..] = *segment {
            let counts: [u8; 16] = rest.get(..16)?.try_into().ok()?;
            let total = counts.iter().map(|&n| usize::from(n)).sum::<usize>();
            let symbols = rest.get(16..16 + total)?;
            let table = Huffman::new(&counts, symbols)?;
            let id = usize::from(class_and_id & 15);
            match class_and_id >> 4 {
                0 => *self.dc_tables.get_mut(id)? = Some(table),
                1 => *self.ac_tables.get_mut(id)? = Some(table),
                _ => return None,
            }
            segment = &rest[16 + total..];
        }
        Some(())
    }

    fn read_quant_tables(&mut self, mut segment: &[u8]) -> Option<()> {
        while let [precision_and_id, ref rest @ ..] = *segment {
            let mut table = [0u16; 64];
            let used = match precision_and_id >> 4 {
                0 => {
                    for (value, &byte) in table.iter_mut().zip(rest.get(..64)?) {
                        *value = u16::from(byte);
                    }
                    64
                }
                1 => {
                    for (value, pair) in table.iter_mut().zip(rest.get(..128)?.chunks_exact(2)) {
                        *value = u16::from_be_bytes([pair[0], pair[1]]);
                    }
                    128
                }
                _ => return None,
            };
            *self.quant.get_mut(usize::from(precision_and_id & 15))? = Some(table);
            segment = &rest[used..];
        }
        Some(())
    }

    fn read_scan(&mut self, segment: &[u8]) -> Option<()> {
        let count = usize::from(*segment.first()?);
        if count != self.components.len() {
            return None;
        }
        for entry in segment.get(1..1 + 2 * count)?.chunks_exact(2) {
            let component = self.components.iter().position(|c| c.id == entry[0])?;
            let (dc, ac) = (usize::from(entry[1] >> 4), usize::from(entry[1] & 15));
            // In the frame's order (Y, Cb, Cr), as every encoder writes them.
            if component != self.scan.len() {
                return None;
            }
            self.scan.push((component, dc, ac));
        }
        // Spectral selection 0..=63 and no successive approximation: sequential.
        (segment.get(1 + 2 * count..4 + 2 * count)? == [0, 63, 0]).then_some(())
    }
}

/// A Huffman table, for decoding.
#[derive(Debug, Clone)]
struct Huffman {
    /// By the next [`LOOKUP_BITS`] bits: the code's length << 8 | its symbol, or
    /// 0 when the code is longer.
    lookup: Box<[u16]>,
    /// For each length, the largest code of that length (-1 when there is none).
    largest: [i32; 17],
    /// For each length, the index in `symbols` of its first code, less that code.
    offset: [i32; 17],
    symbols: Vec<u8>,
}

impl Huffman {
    /// The table whose codes of each length 1..=16 number `counts`, with
    /// `symbols` in code order; `None` when the counts overflow their lengths.
    fn new(counts: &[u8; 16], symbols: &[u8]) -> Option<Huffman> {
        let mut lookup = vec![0u16; 1 << LOOKUP_BITS].into_boxed_slice();
        let (mut largest, mut offset) = ([-1i32; 17], [0i32; 17]);
        let (mut code, mut index) = (0u32, 0usize);
        for length in 1..=16u32 {
            let count = usize::from(counts[length as usize - 1]);
            offset[length as usize] = index as i32 - code as i32;
            for _ in 0..count {
                if code >= 1 << length {
                    return None;
                }
                if length <= LOOKUP_BITS {
                    let spare = LOOKUP_BITS - length;
                    let entry = (length as u16) << 8 | u16::from(symbols[index]);
                    let first = (code << spare) as usize;
                    lookup[first..first + (1 << spare)].fill(entry);
                }
                code += 1;
                index += 1;
            }
            if count > 0 {
                largest[length as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Some(Huffman {
            lookup,
            largest,
            offset,
            symbols: symbols.to_vec(),
        })
    }

    /// For an AC table: by the next [`LOOKUP_BITS`] bits, the codes there read
    /// at once, as an [`AcPair`]: a code with its value when both fit in them,
    /// and the code after it too (with its value, or an end of block) when that
    /// also fits; an end of block alone; 0 where the first code is longer, a run
    /// of 16 zeros, or not one.
    fn ac_pairs(&self) -> Box<[AcPair; 1 << LOOKUP_BITS]> {
        let mut pairs = Box::new([AcPair::default(); 1 << LOOKUP_BITS]);
        for (index, pair) in pairs.iter_mut().enumerate() {
            let bits = (index as u64) << (64 - LOOKUP_BITS);
            let Some((first_length, first_run, first_value)) = self.value_code(bits) else {
                // An end of block first reads as a value of 0 and the end.
                if let Some((length @ ..=LOOKUP_BITS, 0)) = self.decode(bits) {
                    *pair = AcPair::first(length, 0, 0).and_end_of_block(length);
                }
                continue;
            };
            *pair = AcPair::first(first_length, first_run, first_value);
            let rest = bits << first_length;
            match self.decode(rest) {
                // An end of block: the block ends after the first value.
                Some((length, 0)) if first_length + length <= LOOKUP_BITS => {
                    *pair = pair.and_end_of_block(first_length + length);
                }
                _ => {
                    if let Some((length, run, value)) = self.value_code(rest)
                        && first_length + length <= LOOKUP_BITS
                    {
                        *pair = pair.and_value(first_length + length, run, value);
                    }
                }
            }
        }
        pairs
    }

    /// The code at the start of `window` when it has a value and both fit in
    /// [`LOOKUP_BITS`]: their length, the run of zeros before the value, the value.
    fn value_code(&self, window: u64) -> Option<(u32, u32, i32)> {
        let (length, symbol) = self.decode(window)?;
        let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
        (size > 0 && length + size <= LOOKUP_BITS)
            .then(|| (length + size, run, extend(window << length, size)))
    }

    /// For an AC table, to skip the AC coefficients of a block reduced to its DC
    /// alone: by the next [`SKIP_BITS`] bits, how many bits the whole codes and
    /// values there take, up to and including an end of block, as
    /// end of block << 16 | coefficients passed << 8 | bits; 0 when not one fits
    /// (and at a run of 16 zeros, left to the one-code path).
    fn ac_skips(&self) -> Box<[u32]> {
        (0..1u64 << SKIP_BITS)
            .map(|index| {
                let bits = index << (64 - SKIP_BITS);
                let (mut used, mut passed) = (0u32, 0u32);
                while let Some((length, symbol)) = self.decode(bits << used) {
                    let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
                    let fits = used + length + size <= SKIP_BITS;
                    match (run, size) {
                        (15, 0) => break,
                        (_, 0) if fits => return 1 << 16 | passed << 8 | (used + length),
                        _ if fits && size <= 10 => {
                            used += length + size;
                            passed += run + 1;
                        }
                        _ => break,
                    }
                }
                match used {
                    0 => 0,
                    _ => passed << 8 | used,
                }
            })
            .collect()
    }

    /// The code at the start of `window` (the next bits, first bit highest): its
    /// length and symbol, or `None` when no code of this table starts so.
    #[inline(always)]
    fn decode(&self, window: u64) -> Option<(u32, u8)> {
        let entry = self.lookup[(window >> (64 - LOOKUP_BITS)) as usize];
        if entry != 0 {
            return Some((u32::from(entry >> 8), entry as u8));
        }
        (LOOKUP_BITS + 1..=16).find_map(|length| {
            let code = (window >> (64 - length)) as i32;
            if code > self.largest[length as usize] {
                return None;
            }
            let index = usize::try_from(self.offset[length as usize] + code).ok()?;
            Some((length, *self.symbols.get(index)?))
        })
    }
}

/// One or two AC codes read with one lookup ([`Huffman::ac_pairs`]), packed in
/// 64 bits so that the decoder reads every field without a branch:
///
/// | bits | field |
/// |---|---|
/// | 0-4 | the bits both codes and values take (the first's alone without a second) |
/// | 5-9 | the bits the first code and its value take |
/// | 10-13 | the run of zeros before the first value |
/// | 16-20 | the coefficients the second code moves past (its run and its value; 0 without one) |
/// | 21-24 | the run of zeros before the second value |
/// | 25 | the second code is an end of block |
/// | 32-47, 48-63 | the first and second values (0 without a second) |
///
/// 0 is no code read: the decoder takes the one-code path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
struct AcPair(u64);

impl AcPair {
    /// The first code, of `bits` with its value.
    fn first(bits: u32, run: u32, value: i32) -> AcPair {
        let value = u64::from(value as i16 as u16);
        AcPair(value << 32 | u64::from(run) << 10 | u64::from(bits) << 5 | u64::from(bits))
    }

    /// With a second code, both taking `bits` with their values.
    fn and_value(self, bits: u32, run: u32, value: i32) -> AcPair {
        let value = u64::from(value as i16 as u16);
        let second = value << 48 | u64::from(run) << 21 | u64::from(run + 1) << 16;
        AcPair(self.0 & !0x1F | second | u64::from(bits))
    }

    /// With an end of block after the first code, both taking `bits`.
    fn and_end_of_block(self, bits: u32) -> AcPair {
        AcPair(self.0 & !0x1F | 1 << 25 | u64::from(bits))
    }

    /// The field of `width` bits at bit `shift`.
    #[inline(always)]
    fn field(self, shift: u32, width: u32) -> usize {
        (self.0 >> shift & ((1 << width) - 1)) as usize
    }

    #[inline(always)]
    fn bits(self) -> u32 {
        self.field(0, 5) as u32
    }

    #[inline(always)]
    fn first_bits(self) -> u32 {
        self.field(5, 5) as u32
    }

    #[inline(always)]
    fn first_run(self) -> usize {
        self.field(10, 4)
    }

    #[inline(always)]
    fn second_advance(self) -> usize {
        self.field(16, 5)
    }

    #[inline(always)]
    fn second_run(self) -> usize {
        self.field(21, 4)
    }

    #[inline(always)]
    fn ends_block(self) -> usize {
        self.field(25, 1)
    }

    #[inline(always)]
    fn first_value(self) -> f32 {
        f32::from(self.field(32, 16) as u16 as i16)
    }

    #[inline(always)]
    fn second_value(self) -> f32 {
        f32::from(self.field(48, 16) as u16 as i16)
    }
}

/// A scan's entropy-coded data as the file holds it: a 0x00 byte stuffed after
/// every 0xFF, up to the marker that ends it. Decoders read it in place (a copy
/// without the stuffing would cost as much memory as the file), and count bits
/// without the stuffing, so that the positions parts compare are the same
/// whichever byte a part started at.
#[derive(Clone, Copy)]
struct EntropyData<'a> {
    /// Up to the marker (or fill bytes) that ends the scan.
    bytes: &'a [u8],
    /// Its bits once unstuffed.
    bits: usize,
    /// When a restart marker ends it (the data is one interval's), where the
    /// next interval starts, from the start of the data it was found in.
    next_interval: Option<usize>,
}

impl<'a> EntropyData<'a> {
    /// The scan's data at the start of `data`; `None` when it holds a restart
    /// marker or no marker ends it.
    fn find(data: &'a [u8]) -> Option<EntropyData<'a>> {
        EntropyData::up_to_marker(data).filter(|found| found.next_interval.is_none())
    }

    /// The entropy-coded data at the start of `data` up to the first marker
    /// (one restart interval's, in a scan that has them); `None` when no marker
    /// ends it.
    fn up_to_marker(data: &'a [u8]) -> Option<EntropyData<'a>> {
        let (mut at, mut stuffing) = (0, 0);
        loop {
            let ff = at + memchr::memchr(0xFF, data.get(at..)?)?;
            if *data.get(ff + 1)? == 0x00 {
                stuffing += 1;
                at = ff + 2;
                continue;
            }
            // A marker, after any fill bytes.
            let marker = ff + data.get(ff..)?.iter().position(|&byte| byte != 0xFF)?;
            return Some(EntropyData {
                bytes: &data[..ff],
                bits: (ff - stuffing) * 8,
                next_interval: matches!(data[marker], 0xD0..=0xD7).then_some(marker + 1),
            });
        }
    }

    /// Where the `byte`th byte of the unstuffed data is: a walk from the start.
    fn place_of(&self, byte: usize) -> Place {
        let mut place = Place::default();
        for ff in memchr::memchr_iter(0xFF, self.bytes) {
            if ff - place.stuffing >= byte {
                break;
            }
            place.stuffing += 1;
        }
        place.byte = byte + place.stuffing;
        place
    }
}

/// A byte of the stuffed data, and how many stuffed bytes come before it.
#[derive(Debug, Clone, Copy, Default)]
struct Place {
    byte: usize,
    stuffing: usize,
}

/// Reads the scan a code at a time: its next bits, unstuffed, sit in `buffer`,
/// first bit highest, `count` of them valid. Past the data's end it reads zeros.
struct Reader<'a> {
    data: &'a [u8],
    /// The next byte not yet in `buffer`, and the stuffed bytes before it.
    next: usize,
    stuffing: usize,
    buffer: u64,
    count: u32,
}

impl<'a> Reader<'a> {
    /// A reader at unstuffed bit `bit`, from a `known` place at or before it.
    fn at(data: EntropyData<'a>, known: Place, bit: usize) -> Reader<'a> {
        let mut place = known;
        while place.byte - place.stuffing < bit / 8 {
            match data.bytes.get(place.byte) {
                Some(0xFF) => {
                    place.byte += 2;
                    place.stuffing += 1;
                }
                _ => place.byte += 1,
            }
        }
        let mut reader = Reader {
            data: data.bytes,
            next: place.byte,
            stuffing: place.stuffing,
            buffer: 0,
            count: 0,
        };
        reader.refill();
        reader.consume((bit % 8) as u32);
        reader
    }

    /// Tops `buffer` up to at least 56 bits.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(bytes) = self.data.get(self.next..self.next + 8) {
            let word = u64::from_be_bytes(bytes.try_into().unwrap_or_default());
            // No 0xFF among them (no zero byte in the complement): no stuffing.
            let inverse = !word;
            if inverse.wrapping_sub(0x0101_0101_0101_0101) & word & 0x8080_8080_8080_8080 == 0 {
                self.buffer |= word >> self.count;
                let taken = (63 - self.count) >> 3;
                self.next += taken as usize;
                self.count += taken * 8;
                return;
            }
        }
        self.refill_bytewise();
    }

    /// [`Reader::refill`] a byte at a time, over stuffing and past the end.
    #[cold]
    fn refill_bytewise(&mut self) {
        while self.count <= 56 {
            let byte = match self.data.get(self.next) {
                Some(&0xFF) => {
                    // Its stuffed zero is in the data: the data ends before any
                    // 0xFF that is not followed by one.
                    self.next += 1;
                    self.stuffing += 1;
                    0xFF
                }
                Some(&byte) => byte,
                None => 0,
            };
            self.next += 1;
            self.buffer |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// Makes sure a code and its value (at most 27 bits) can be read from `buffer`.
    #[inline(always)]
    fn ensure(&mut self) {
        if self.count < 32 {
            self.refill();
        }
    }

    #[inline(always)]
    fn consume(&mut self, bits: u32) {
        self.buffer <<= bits;
        self.count -= bits;
    }

    /// The unstuffed bit the reader stands at.
    fn position(&self) -> usize {
        (self.next - self.stuffing) * 8 - self.count as usize
    }
}

/// The signed value of the `size` bits at the start of `bits` (JPEG's EXTEND).
#[inline(always)]
fn extend(bits: u64, size: u32) -> i32 {
    let raw = (bits >> (64 - size)) as i32;
    match raw < 1 << (size - 1) {
        true => raw - (1 << size) + 1,
        false => raw,
    }
}

/// How one component of the scan is decoded and reduced.
struct ScanComponent<'a> {
    dc_table: &'a Huffman,
    ac_table: &'a Huffman,
    /// The DC coefficient's quantizer.
    dc_quant: i32,
    /// Reduced pixels per block across and down.
    across: usize,
    down: usize,
    /// By the next [`LOOKUP_BITS`] bits, one or two AC codes and their values
    /// read at once ([`Huffman::ac_pairs`]).
    ac_pairs: Box<[AcPair; 1 << LOOKUP_BITS]>,
    /// For a component reduced to its DC alone, its AC table's [`Huffman::ac_skips`]
    /// (empty for the others).
    ac_skips: Box<[u32]>,
    /// By zig-zag position: what one unit of the coefficient adds to each reduced
    /// pixel (times [`PIXEL_SCALE`], dequantized); zeros for the DC coefficient
    /// and for those the reduction leaves out.
    contributions: Box<[[f32; MAX_BLOCK_PIXELS]; 64]>,
    /// The component's blocks per MCU across and down.
    horizontal: usize,
    vertical: usize,
    /// Whether its reduced samples are half as many across as the image's
    /// (4:2:2 chroma), and upsampled to its width.
    widen: bool,
    /// Its samples across the whole image, before any upsampling.
    samples_across: usize,
}

/// Everything the parts' decoders share: the scan's components and its MCUs.
struct Plan<'a> {
    components: Vec<ScanComponent<'a>>,
    /// The scan component of each block of an MCU, in order.
    mcu_blocks: Vec<usize>,
    /// Where each block of an MCU starts among the MCU's reduced pixels.
    block_pixel_offsets: Vec<usize>,
    /// Each block of an MCU's column and row among its component's blocks there.
    block_places: Vec<(usize, usize)>,
    pixels_per_mcu: usize,
    mcus_across: usize,
    mcus_down: usize,
    /// An MCU's reduced height in the output.
    mcu_pixels_down: usize,
    /// Whether upsampling across interpolates (or repeats samples).
    smooth_widening: bool,
    /// MCUs per restart interval (0: none), and the scan's data from its start,
    /// where one part finds each interval after the first.
    restart_interval: usize,
    scan: &'a [u8],
}

impl<'a> Plan<'a> {
    fn new(headers: &'a Headers<'_>, divisor: u32) -> Option<Plan<'a>> {
        if !matches!(divisor, 4 | 8) || headers.scan.is_empty() {
            return None;
        }
        let divisor = divisor as usize;
        // Reduced pixels per side of a full-resolution block.
        let scale = 8 / divisor;
        let single = headers.components.len() == 1;
        let max_h = headers.components.iter().map(|c| c.horizontal).max()?;
        let max_v = headers.components.iter().map(|c| c.vertical).max()?;
        let mut components = Vec::with_capacity(headers.scan.len());
        let (mut mcu_blocks, mut block_pixel_offsets) = (Vec::new(), Vec::new());
        let mut block_places = Vec::new();
        let mut pixels_per_mcu = 0;
        for (index, &(frame_index, dc, ac)) in headers.scan.iter().enumerate() {
            let frame = headers.components[frame_index];
            // One component alone is coded block by block, whatever its factors.
            let (horizontal, vertical) = match single {
                true => (1, 1),
                false => (frame.horizontal, frame.vertical),
            };
            let (max_h, max_v) = match single {
                true => (1, 1),
                false => (max_h, max_v),
            };
            // As libjpeg does: a subsampled component is reduced less, by the
            // same factor both ways, as far as its sampling allows both ways;
            // what that leaves (4:2:2 chroma, twice as wide) is upsampled across.
            let mut less = 1;
            while scale * less <= 8
                && max_h % (horizontal * less * 2) == 0
                && max_v % (vertical * less * 2) == 0
            {
                less *= 2;
            }
            let (across, down) = (scale * less, scale * less);
            let widen = match (max_h * scale, max_v * scale) {
                (wide, high) if high == vertical * down && wide == horizontal * across => false,
                (wide, high) if high == vertical * down && wide == 2 * horizontal * across => true,
                _ => return None,
            };
            if across * down > MAX_BLOCK_PIXELS {
                return None;
            }
            // The component's samples across the image (libjpeg's "downsampled
            // width"), where its upsampling turns at the right edge.
            let samples_across = (headers.width as usize * horizontal * across).div_ceil(max_h * 8);
            let quant = headers.quant[frame.quant_table].as_ref()?;
            let ac_table = headers.ac_tables.get(ac)?.as_ref()?;
            components.push(ScanComponent {
                dc_table: headers.dc_tables.get(dc)?.as_ref()?,
                ac_table,
                ac_pairs: ac_table.ac_pairs(),
                ac_skips: match across * down {
                    1 => ac_table.ac_skips(),
                    _ => Box::default(),
                },
                dc_quant: i32::from(quant[0]),
                across,
                down,
                contributions: contributions(quant, across, down),
                horizontal,
                vertical,
                widen,
                samples_across,
            });
            for place in 0..horizontal * vertical {
                mcu_blocks.push(index);
                block_places.push((place % horizontal, place / horizontal));
                block_pixel_offsets.push(pixels_per_mcu);
                pixels_per_mcu += across * down;
            }
        }
        if mcu_blocks.len() > 10 {
            return None;
        }
        let (width, height) = (headers.width as usize, headers.height as usize);
        let (mcu_width, mcu_height) = match single {
            true => (8, 8),
            false => (8 * max_h, 8 * max_v),
        };
        // Upsampling across reads its neighbours smoothly from 1/4 on, and
        // repeats each sample at 1/8, as libjpeg does.
        let smooth_widening = scale > 1;
        Some(Plan {
            components,
            mcu_blocks,
            block_pixel_offsets,
            block_places,
            pixels_per_mcu,
            mcus_across: width.div_ceil(mcu_width),
            mcus_down: height.div_ceil(mcu_height),
            mcu_pixels_down: mcu_height / divisor,
            smooth_widening,
            restart_interval: headers.restart_interval,
            scan: headers.data,
        })
    }

    fn mcus(&self) -> usize {
        self.mcus_across * self.mcus_down
    }

    /// The runs of MCUs each part gives, in the scan's order, or `None` when the
    /// parts do not add up to the whole scan.
    fn pieces<'s>(&self, segments: &'s [Segment]) -> Option<Vec<Piece<'s>>> {
        let blocks_per_mcu = self.mcu_blocks.len();
        let (mut part, mut global, mut local) = (0, 0, 0);
        let mut dc_offsets = vec![0i16; self.components.len()];
        let mut pieces = Vec::with_capacity(segments.len());
        while global < self.mcus() {
            let segment = segments.get(part)?;
            let end = segment.handover.map_or(segment.mcus, |h| h.local_mcu);
            let count = end.checked_sub(local)?.min(self.mcus() - global);
            pieces.push(Piece {
                segment,
                globals: global..global + count,
                first_local: local,
                dc_offsets: dc_offsets.clone(),
            });
            global += count;
            if global == self.mcus() {
                break;
            }
            // The next part takes over: its DC values are off by what the decoders'
            // predictions differ by where they met.
            let handover = segment.handover?;
            let next = segments.get(part + 1)?;
            for (component, offset) in dc_offsets.iter_mut().enumerate() {
                let last = self.mcu_blocks.iter().rposition(|&c| c == component)?;
                let true_dc = segment
                    .dcs
                    .get((handover.local_mcu - 1) * blocks_per_mcu + last)?
                    .wrapping_add(*offset);
                let guessed = next
                    .dcs
                    .get((handover.next_local_mcu - 1) * blocks_per_mcu + last)?;
                *offset = true_dc.wrapping_sub(*guessed);
            }
            part += 1;
            local = handover.next_local_mcu;
        }
        Some(pieces)
    }

    /// A plane of reduced samples per component, each as many rows as the
    /// MCUs make, for the samples to be placed in.
    fn empty_planes(&self) -> Vec<Vec<u8>> {
        let rows = self.mcus_down * self.mcu_pixels_down;
        (0..self.components.len())
            .map(|c| vec![0u8; self.plane_width(c) * rows])
            .collect()
    }

    /// The image's top-left `width` x `height` at 1/`divisor` as RGB, from the
    /// `planes` the first part filled and the other parts' `pieces`, in bands of
    /// MCU rows on `threads` threads.
    fn to_rgb(
        &self,
        pieces: &[Piece<'_>],
        mut planes: Vec<Vec<u8>>,
        (width, height): (u32, u32),
        divisor: u32,
        threads: usize,
    ) -> Option<(u32, u32, Vec<u8>)> {
        let (out_width, out_height) = (width.div_ceil(divisor), height.div_ceil(divisor));
        let row_bytes = out_width as usize * 3;
        let mut rgb = vec![0u8; row_bytes * out_height as usize];
        let mcu_rows_per_band = self.mcus_down.div_ceil(threads.max(1));
        let band_rows = (mcu_rows_per_band * self.mcu_pixels_down).max(1);
        // Each band's rows of every plane.
        let mut plane_bands: Vec<Vec<&mut [u8]>> = Vec::new();
        for (c, plane) in planes.iter_mut().enumerate() {
            for (band, rows) in plane
                .chunks_mut(band_rows * self.plane_width(c))
                .enumerate()
            {
                match plane_bands.get_mut(band) {
                    Some(planes) => planes.push(rows),
                    None => plane_bands.push(vec![rows]),
                }
            }
        }
        std::thread::scope(|scope| {
            let mut bands = rgb
                .chunks_mut(band_rows * row_bytes)
                .zip(plane_bands)
                .enumerate();
            let (_, (first, mut first_planes)) = bands.next()?;
            let mut started = Vec::new();
            for (band, (pixels, mut planes)) in bands {
                let first_mcu_row = band * mcu_rows_per_band;
                let fill =
                    move || self.fill_band(pieces, first_mcu_row, &mut planes, pixels, row_bytes);
                let thread = std::thread::Builder::new()
                    .name("kiln-jpeg-rows".into())
                    .spawn_scoped(scope, fill);
                started.push(thread.ok()?);
            }
            let mut filled = self.fill_band(pieces, 0, &mut first_planes, first, row_bytes);
            for thread in started {
                filled &= thread.join().unwrap_or(false);
            }
            filled.then_some(())
        })?;
        Some((out_width, out_height, rgb))
    }

    /// Fills `rgb` (whole rows of `row_bytes`) from the MCU rows from
    /// `first_mcu_row` on, whose rows of each plane are `planes`: places there
    /// what parts other than the first decoded, then converts. `false` when the
    /// pieces leave an MCU out.
    fn fill_band(
        &self,
        pieces: &[Piece<'_>],
        first_mcu_row: usize,
        planes: &mut [&mut [u8]],
        rgb: &mut [u8],
        row_bytes: usize,
    ) -> bool {
        let rows = rgb.len() / row_bytes;
        let mcu_rows = rows.div_ceil(self.mcu_pixels_down);
        let mut piece = 0;
        for mcu_row in 0..mcu_rows {
            for mcu_x in 0..self.mcus_across {
                let global = (first_mcu_row + mcu_row) * self.mcus_across + mcu_x;
                while pieces.get(piece).is_some_and(|p| p.globals.end <= global) {
                    piece += 1;
                }
                let Some(from) = pieces.get(piece) else {
                    return false;
                };
                if !from.segment.placed {
                    let local = from.first_local + global - from.globals.start;
                    self.place_mcu(from, local, (mcu_x, mcu_row), planes);
                }
            }
        }
        let width = row_bytes / 3;
        let mut widened = vec![Vec::new(); planes.len()];
        for (row, out) in rgb.chunks_exact_mut(row_bytes).enumerate() {
            let mut lines = Vec::with_capacity(planes.len());
            for (c, (plane, wide)) in planes.iter().zip(&mut widened).enumerate() {
                let plane_width = self.plane_width(c);
                let line = &plane[row * plane_width..(row + 1) * plane_width];
                let component = &self.components[c];
                let line = if component.widen {
                    let samples = component.samples_across.min(plane_width);
                    widen(&line[..samples], wide, self.smooth_widening);
                    let wide: &Vec<u8> = wide;
                    wide.get(..width)
                } else {
                    line.get(..width)
                };
                match line {
                    Some(line) => lines.push(line),
                    None => return false,
                }
            }
            match lines.as_slice() {
                [luma] => {
                    for (pixel, &y) in out.chunks_exact_mut(3).zip(*luma) {
                        pixel.fill(y);
                    }
                }
                [luma, blue, red] => {
                    for (pixel, ((&y, &cb), &cr)) in out
                        .chunks_exact_mut(3)
                        .zip(luma.iter().zip(*blue).zip(*red))
                    {
                        pixel.copy_from_slice(&ycbcr_to_rgb(y, cb, cr));
                    }
                }
                _ => return false,
            }
        }
        true
    }

    /// The width of component `c`'s plane of reduced samples (before any
    /// upsampling): its blocks' across the MCUs.
    fn plane_width(&self, c: usize) -> usize {
        let component = &self.components[c];
        self.mcus_across * component.horizontal * component.across
    }

    /// Writes the reduced pixels of a piece's `local` MCU into the planes at
    /// MCU column and row `place`.
    fn place_mcu(
        &self,
        piece: &Piece<'_>,
        local: usize,
        place: (usize, usize),
        planes: &mut [impl AsMut<[u8]>],
    ) {
        let blocks_per_mcu = self.mcu_blocks.len();
        let segment = piece.segment;
        for (block, &c) in self.mcu_blocks.iter().enumerate() {
            let component = &self.components[c];
            let dc = segment.dcs[local * blocks_per_mcu + block].wrapping_add(piece.dc_offsets[c]);
            let first = local * self.pixels_per_mcu + self.block_pixel_offsets[block];
            let pixels = &segment.pixels[first..first + component.across * component.down];
            self.place_block(planes, place, block, pixels, dc);
        }
    }

    /// Writes block `block` of the MCU at MCU column and row `place`, its reduced
    /// `pixels` (without the DC term) and its DC coefficient `dc`, into the planes
    /// as samples.
    #[inline(always)]
    fn place_block(
        &self,
        planes: &mut [impl AsMut<[u8]>],
        place: (usize, usize),
        block: usize,
        pixels: &[i16],
        dc: i16,
    ) {
        match pixels.len() {
            1 => self.place_block_of::<1>(planes, place, block, pixels, dc),
            4 => self.place_block_of::<4>(planes, place, block, pixels, dc),
            _ => self.place_block_of::<16>(planes, place, block, pixels, dc),
        }
    }

    /// [`Plan::place_block`] for a block of `PIXELS` reduced pixels, a square
    /// whose loops the compiler unrolls: placing is per block, and with the
    /// sides only known at run time it cost as much as decoding a block of a
    /// low-entropy photo.
    #[inline(always)]
    fn place_block_of<const PIXELS: usize>(
        &self,
        planes: &mut [impl AsMut<[u8]>],
        (mcu_x, mcu_row): (usize, usize),
        block: usize,
        pixels: &[i16],
        dc: i16,
    ) {
        let side = match PIXELS {
            1 => 1,
            4 => 2,
            _ => 4,
        };
        let c = self.mcu_blocks[block];
        let component = &self.components[c];
        debug_assert_eq!((component.across, component.down), (side, side));
        let (bx, by) = self.block_places[block];
        let x0 = (mcu_x * component.horizontal + bx) * side;
        let y0 = (mcu_row * component.vertical + by) * side;
        let dc_term = i32::from(dc) * component.dc_quant + 4;
        let plane_width = self.plane_width(c);
        let plane = planes[c].as_mut();
        for (row, values) in pixels[..PIXELS].chunks_exact(side).enumerate() {
            let start = (y0 + row) * plane_width + x0;
            for (out, &value) in plane[start..start + side].iter_mut().zip(values) {
                *out = (((i32::from(value) + dc_term) >> 3) + 128).clamp(0, 255) as u8;
            }
        }
    }
}

/// A run of the scan's MCUs that one part decoded.
struct Piece<'s> {
    segment: &'s Segment,
    /// The MCUs' indexes in the scan.
    globals: std::ops::Range<usize>,
    /// The first MCU's index in the part (from where it started).
    first_local: usize,
    /// What the part's DC values are off by, per component.
    dc_offsets: Vec<i16>,
}

/// `samples` upsampled to twice as many across into `wide` (as libjpeg does a
/// 4:2:2 file's chroma): each sample's two are weighted 3:1 with the neighbour
/// on their side when `smooth` (and the samples more than two), else repeated.
fn widen(samples: &[u8], wide: &mut Vec<u8>, smooth: bool) {
    wide.clear();
    let last = samples.len().saturating_sub(1);
    for (i, &sample) in samples.iter().enumerate() {
        if !smooth || samples.len() <= 2 {
            wide.extend_from_slice(&[sample, sample]);
            continue;
        }
        let three = 3 * u16::from(sample);
        let left = u16::from(samples[i.saturating_sub(1)]);
        let right = u16::from(samples[(i + 1).min(last)]);
        let first = if i == 0 {
            sample
        } else {
            ((three + left + 1) >> 2) as u8
        };
        let second = if i == last {
            sample
        } else {
            ((three + right + 2) >> 2) as u8
        };
        wide.extend_from_slice(&[first, second]);
    }
}

/// JFIF's YCbCr to RGB, in 16-bit fixed point.
#[inline(always)]
fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    const HALF: i32 = 1 << 15;
    let (y, cb, cr) = (i32::from(y), i32::from(cb) - 128, i32::from(cr) - 128);
    let channel = |value: i32| value.clamp(0, 255) as u8;
    [
        channel(y + ((91_881 * cr + HALF) >> 16)),
        channel(y + ((-22_554 * cb - 46_802 * cr + HALF) >> 16)),
        channel(y + ((116_130 * cb + HALF) >> 16)),
    ]
}

/// By zig-zag position, what one unit of each coefficient (dequantized by
/// `quant`) adds to each of the `across` x `down` reduced pixels of its block: the
/// mean of its cosine over each pixel's square, times [`PIXEL_SCALE`]. The DC
/// coefficient is left out: it is added when the parts are joined.
fn contributions(
    quant: &[u16; 64],
    across: usize,
    down: usize,
) -> Box<[[f32; MAX_BLOCK_PIXELS]; 64]> {
    let means = |pixels: usize| -> Vec<[f64; 8]> {
        let span = 8 / pixels;
        (0..pixels)
            .map(|pixel| {
                let mut row = [0.0; 8];
                for (frequency, mean) in row.iter_mut().enumerate() {
                    let scale = match frequency {
                        0 => std::f64::consts::FRAC_1_SQRT_2 / 2.0,
                        _ => 0.5,
                    };
                    let sum: f64 = (pixel * span..(pixel + 1) * span)
                        .map(|x| {
                            (((2 * x + 1) * frequency) as f64 * std::f64::consts::PI / 16.0).cos()
                        })
                        .sum();
                    *mean = scale * sum / span as f64;
                }
                row
            })
            .collect()
    };
    let (horizontal, vertical) = (means(across), means(down));
    let mut units = Box::new([[0.0f32; MAX_BLOCK_PIXELS]; 64]);
    for (zigzag, unit) in units.iter_mut().enumerate().skip(1) {
        let natural = usize::from(NATURAL_ORDER[zigzag]);
        let (v, u) = (natural / 8, natural % 8);
        for y in 0..down {
            for x in 0..across {
                let weight = vertical[y][v] * horizontal[x][u];
                unit[y * across + x] =
                    (weight * f64::from(quant[zigzag]) * f64::from(PIXEL_SCALE)) as f32;
            }
        }
    }
    units
}

/// A block start a guessed part recorded, and which of its MCUs it is in.
#[derive(Debug, Clone, Copy)]
struct TrailEntry {
    start: BlockStart,
    mcu: usize,
}

/// Where a block starts: the bit, and the block's index in its MCU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockStart {
    bit: usize,
    block: usize,
}

/// Where a part hands the scan over to the next one.
#[derive(Debug, Clone, Copy)]
struct Handover {
    /// This part's MCUs before the next part's (counted from this part's start).
    local_mcu: usize,
    /// The next part's index for the MCU at `local_mcu` (from its own start).
    next_local_mcu: usize,
}

/// What one part decoded: its complete MCUs from its (last) start.
#[derive(Debug, Default)]
struct Segment {
    /// Whether its pixels went straight into the planes (the first part's, whose
    /// MCUs' places and DC values are known as it decodes).
    placed: bool,
    /// Each block's reduced pixels without the DC term, MCU after MCU (none
    /// when `placed`).
    pixels: Vec<i16>,
    /// Each block's DC coefficient, as this part's predictions add up.
    dcs: Vec<i16>,
    /// Complete MCUs decoded.
    mcus: usize,
    handover: Option<Handover>,
}

/// A code that cannot be: the part's decode stops there.
struct Undecodable;

/// The block starts a guessed part records for the part before it.
struct Trail {
    /// Where it goes; `None` for the first part, and once it has been sent.
    sender: Option<mpsc::Sender<Vec<TrailEntry>>>,
    entries: Vec<TrailEntry>,
}

impl Trail {
    fn open(&self) -> bool {
        self.sender.is_some()
    }

    /// Records a block start, and sends the trail once it is full.
    fn record(&mut self, entry: TrailEntry) {
        if self.open() {
            self.entries.push(entry);
            if self.entries.len() == TRAIL_BLOCKS {
                self.send();
            }
        }
    }

    /// Sends what is recorded (the part before stops watching at its end).
    fn send(&mut self) {
        if let Some(sender) = self.sender.take() {
            // The part before may have finished without it: nothing to do then.
            let _ = sender.send(std::mem::take(&mut self.entries));
        }
    }
}

/// One thread's share of the scan.
struct Part<'a> {
    plan: &'a Plan<'a>,
    data: EntropyData<'a>,
    /// How many MCUs this part is expected to decode, to reserve their memory.
    expected_mcus: usize,
    /// Where this part starts: the scan's start for the first part, a guess for
    /// the others.
    start: usize,
    trail: Trail,
    /// Where the next part starts, and where its trail arrives.
    next: Option<(usize, mpsc::Receiver<Vec<TrailEntry>>)>,
}

/// The next part's trail, as a part compares its own block starts with it.
struct Watch {
    from_bit: usize,
    receiver: mpsc::Receiver<Vec<TrailEntry>>,
    trail: Option<Vec<TrailEntry>>,
    seen: usize,
}

impl Watch {
    /// The next part's MCU (from its start) where it stands as this part does at
    /// `start`, `None` while it does not (yet); `Err` once the trail is passed.
    fn meets(&mut self, start: BlockStart) -> Result<Option<usize>, ()> {
        if start.bit < self.from_bit {
            return Ok(None);
        }
        let trail = match &mut self.trail {
            Some(trail) => trail,
            empty => empty.insert(self.receiver.recv().map_err(|_| ())?),
        };
        while trail
            .get(self.seen)
            .is_some_and(|s| s.start.bit < start.bit)
        {
            self.seen += 1;
        }
        match trail.get(self.seen) {
            None => Err(()),
            Some(theirs) if theirs.start == start => Ok(Some(theirs.mcu)),
            Some(_) => Ok(None),
        }
    }
}

impl Part<'_> {
    /// Decodes the part; into `planes` when given (the first part only).
    fn decode(mut self, mut planes: Option<&mut [Vec<u8>]>) -> Segment {
        let mut watch = self.next.take().map(|(from_bit, receiver)| Watch {
            from_bit,
            receiver,
            trail: None,
            seen: 0,
        });
        let guesses = if self.trail.open() { MAX_GUESSES } else { 1 };
        // Every guess starts at or after the part's start: found once.
        let known = self.data.place_of(self.start / 8);
        let blocks_per_mcu = self.plan.mcu_blocks.len();
        for guess in 0..guesses {
            self.trail.entries.clear();
            let (bit, block) = (self.start + guess / blocks_per_mcu, guess % blocks_per_mcu);
            let start = (known, bit, block);
            let (segment, failed) = self.decode_from(start, &mut watch, planes.as_deref_mut());
            // A guess that has not fallen in step yet tries the next bit.
            if !(failed && self.trail.open()) {
                self.trail.send();
                return segment;
            }
        }
        // No guess fell in step: the part before decodes on without this one.
        self.trail.entries.clear();
        self.trail.send();
        Segment::default()
    }

    /// Decodes MCUs from bit `start` (found from a `known` place before it),
    /// taken to be where block `first_block` of an MCU starts, until the scan's MCUs are all done, the data ends, a code cannot
    /// be (the flag is then set), or the next part is met. The blocks of the first
    /// MCU before `first_block` are left empty, with DC values of 0 (as the
    /// predictions start). With `planes`, the part starts at the scan's first MCU
    /// and its pixels go there.
    fn decode_from(
        &mut self,
        (known, start, first_block): (Place, usize, usize),
        watch: &mut Option<Watch>,
        mut planes: Option<&mut [Vec<u8>]>,
    ) -> (Segment, bool) {
        let plan = self.plan;
        let blocks_per_mcu = plan.mcu_blocks.len();
        let placed = planes.is_some();
        let mut segment = Segment {
            placed,
            pixels: Vec::with_capacity(match placed {
                true => 0,
                false => self.expected_mcus * plan.pixels_per_mcu,
            }),
            dcs: Vec::with_capacity(self.expected_mcus * blocks_per_mcu),
            ..Segment::default()
        };
        let mut predictions = vec![0i16; plan.components.len()];
        let mut reader = Reader::at(self.data, known, start);
        let mut data_bits = self.data.bits;
        // With restart intervals (one part only), where the next one starts.
        // The first part's data is the first interval's, from the scan's start.
        let mut next_interval = self.data.next_interval;
        let mut meeting = None;
        let mut placed_pixels = [0i16; MAX_BLOCK_PIXELS];
        while segment.mcus < plan.mcus() {
            if plan.restart_interval != 0
                && segment.mcus > 0
                && segment.mcus.is_multiple_of(plan.restart_interval)
            {
                // Past a restart marker: the next interval's data, byte-aligned,
                // its predictions from 0.
                let Some((at, data)) = next_interval
                    .and_then(|at| Some((at, EntropyData::up_to_marker(plan.scan.get(at..)?)?)))
                else {
                    return (segment, false);
                };
                reader = Reader::at(data, Place::default(), 0);
                data_bits = data.bits;
                next_interval = data.next_interval.map(|next| at + next);
                predictions.fill(0);
            }
            let place = (
                segment.mcus % plan.mcus_across,
                segment.mcus / plan.mcus_across,
            );
            for (block, &c) in plan.mcu_blocks.iter().enumerate() {
                let component = &plan.components[c];
                let count = component.across * component.down;
                let first = segment.pixels.len();
                if !placed {
                    segment.pixels.resize(first + count, 0);
                }
                if segment.mcus == 0 && block < first_block {
                    segment.dcs.push(predictions[c]);
                    continue;
                }
                let bit = reader.position();
                if bit > data_bits {
                    return (segment, false);
                }
                let here = BlockStart { bit, block };
                self.trail.record(TrailEntry {
                    start: here,
                    mcu: segment.mcus,
                });
                if meeting.is_none()
                    && let Some(next) = watch
                {
                    match next.meets(here) {
                        Ok(found) => meeting = found,
                        Err(()) => *watch = None,
                    }
                }
                let pixels = match placed {
                    true => &mut placed_pixels[..count],
                    false => &mut segment.pixels[first..],
                };
                let prediction = &mut predictions[c];
                let decoded = match count {
                    1 => decode_block::<1>(&mut reader, component, prediction, pixels),
                    4 => decode_block::<4>(&mut reader, component, prediction, pixels),
                    _ => decode_block::<16>(&mut reader, component, prediction, pixels),
                };
                match decoded {
                    Ok(dc) => {
                        segment.dcs.push(dc);
                        if let Some(planes) = planes.as_deref_mut() {
                            plan.place_block(planes, place, block, &placed_pixels[..count], dc);
                        }
                    }
                    Err(Undecodable) => {
                        segment.pixels.truncate(segment.mcus * plan.pixels_per_mcu);
                        segment.dcs.truncate(segment.mcus * blocks_per_mcu);
                        return (segment, true);
                    }
                }
            }
            segment.mcus += 1;
            if let Some(theirs) = meeting {
                segment.handover = Some(Handover {
                    local_mcu: segment.mcus,
                    next_local_mcu: theirs + 1,
                });
                return (segment, false);
            }
        }
        (segment, false)
    }
}

/// Decodes one block at `bit` (moving it past the block) into its `PIXELS`
/// reduced pixels (1, 4 or 16: the component's `across` x `down`) without the DC
/// term, and returns its DC coefficient.
#[inline(always)]
fn decode_block<const PIXELS: usize>(
    reader: &mut Reader<'_>,
    component: &ScanComponent<'_>,
    prediction: &mut i16,
    pixels: &mut [i16],
) -> Result<i16, Undecodable> {
    reader.ensure();
    let bits = reader.buffer;
    let (length, size) = component.dc_table.decode(bits).ok_or(Undecodable)?;
    let size = u32::from(size);
    if size > 11 {
        return Err(Undecodable);
    }
    if size > 0 {
        *prediction = prediction.wrapping_add(extend(bits << length, size) as i16);
    }
    reader.consume(length + size);
    let contributions = &*component.contributions;
    let mut sums = [0.0f32; PIXELS];
    let mut k = 1;
    while k < 64 {
        reader.ensure();
        let bits = reader.buffer;
        if PIXELS == 1 {
            // Nothing to keep: skip several codes at once where they fit.
            let skip = component
                .ac_skips
                .get((bits >> (64 - SKIP_BITS)) as usize)
                .copied()
                .unwrap_or(0);
            let (passed, ends) = (((skip >> 8) & 0xFF) as usize, (skip >> 16) as usize);
            // The codes must all be this block's: a block whose last coefficient
            // is coded has no end-of-block code after it.
            if skip != 0 && k + passed + ends <= 64 {
                reader.consume(skip & 0xFF);
                k += passed;
                match ends {
                    0 => continue,
                    _ => break,
                }
            }
        }
        let pair = component.ac_pairs[(bits >> (64 - LOOKUP_BITS)) as usize];
        if pair != AcPair::default() {
            let first = k + pair.first_run();
            let after = first + 1 + pair.second_advance();
            // The common case: one or two codes and their values at once. Not
            // when the first code ends the block (the next bits are then the
            // next block's) or a run goes past it.
            if after + pair.ends_block() <= 64 {
                reader.consume(pair.bits());
                if PIXELS > 1 {
                    // Without a second value this adds 0.
                    let second = first + 1 + pair.second_run();
                    add_coefficient(&mut sums, pair.first_value(), &contributions[first & 63]);
                    add_coefficient(&mut sums, pair.second_value(), &contributions[second & 63]);
                }
                k = after;
                match pair.ends_block() {
                    0 => continue,
                    _ => break,
                }
            }
            if first > 63 {
                return Err(Undecodable);
            }
            reader.consume(pair.first_bits());
            if PIXELS > 1 {
                add_coefficient(&mut sums, pair.first_value(), &contributions[first]);
            }
            k = first + 1;
            continue;
        }
        let (length, symbol) = component.ac_table.decode(bits).ok_or(Undecodable)?;
        let (run, size) = (usize::from(symbol >> 4), u32::from(symbol & 15));
        if size == 0 {
            reader.consume(length);
            match run {
                15 => {
                    k += 16;
                    continue;
                }
                _ => break,
            }
        }
        k += run;
        if size > 10 || k > 63 {
            return Err(Undecodable);
        }
        reader.consume(length + size);
        if PIXELS > 1 {
            let value = extend(bits << length, size) as f32;
            add_coefficient(&mut sums, value, &contributions[k]);
        }
        k += 1;
    }
    for (pixel, sum) in pixels.iter_mut().zip(sums) {
        *pixel = (sum + 0.5f32.copysign(sum)) as i16;
    }
    Ok(*prediction)
}

/// Adds what `value` units of a coefficient add to a block's reduced pixels
/// (`unit`, from [`contributions`]) to their `sums`.
#[inline(always)]
fn add_coefficient<const PIXELS: usize>(sums: &mut [f32; PIXELS], value: f32, unit: &[f32]) {
    for (sum, weight) in sums.iter_mut().zip(unit) {
        *sum += value * weight;
    }
}

#[cfg(test)]
mod tests {
    use super::super::libjpeg::{Channels, libjpeg_scaled};
    use super::*;
    use crate::processing::test_support::noisy_rgb;

    /// A photo-like `width` x `height` JPEG ([`noisy_rgb`]), subsampled as
    /// `sampling` says, or greyscale.
    fn photo_like(width: usize, height: usize, sampling: (u8, u8), gray: bool) -> Vec<u8> {
        let pixels = noisy_rgb(width, height);
        let (pixels, space) = match gray {
            true => (
                pixels.chunks_exact(3).map(|p| p[0]).collect(),
                mozjpeg::ColorSpace::JCS_GRAYSCALE,
            ),
            false => (pixels, mozjpeg::ColorSpace::JCS_RGB),
        };
        let mut compress = mozjpeg::Compress::new(space);
        compress.set_fastest_defaults();
        compress.set_size(width, height);
        compress.set_quality(93.0);
        if !gray {
            for (i, component) in compress.components_mut().iter_mut().enumerate() {
                let (h, v) = if i == 0 { sampling } else { (1, 1) };
                component.h_samp_factor = i32::from(h);
                component.v_samp_factor = i32::from(v);
            }
        }
        let mut started = compress.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&pixels).unwrap();
        started.finish().unwrap()
    }

    /// Peak signal-to-noise ratio of `ours` against `theirs`, in dB.
    fn psnr(ours: &[u8], theirs: &[u8]) -> f64 {
        let squared: f64 = ours
            .iter()
            .zip(theirs)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum();
        let mse = squared / ours.len() as f64;
        10.0 * (255.0f64.powi(2) / mse.max(1e-12)).log10()
    }

    /// Asserts that one part decodes `jpeg` at 1/`divisor` to libjpeg's pixels at
    /// that scale to within rounding (said as `what` when not).
    fn assert_libjpegs_within_rounding(jpeg: &[u8], divisor: u32, what: &str) {
        let ours = decode_in_parts(jpeg, divisor, 1)
            .unwrap_or_else(|| panic!("{what} 1/{divisor} does not decode"));
        let theirs = libjpeg_scaled(jpeg, divisor, Channels::Rgb).unwrap();
        assert_eq!((ours.0, ours.1), (theirs.0, theirs.1), "{what} 1/{divisor}");
        let largest = ours
            .2
            .iter()
            .zip(&theirs.2)
            .map(|(&a, &b)| a.abs_diff(b))
            .max();
        let score = psnr(&ours.2, &theirs.2);
        assert!(
            score > 50.0 && largest <= Some(4),
            "{what} 1/{divisor}: {score:.1} dB, largest difference {largest:?}"
        );
    }

    #[test]
    fn the_reduction_is_libjpegs_to_within_rounding() {
        for (sampling, gray) in [
            ((2, 2), false),
            ((2, 1), false),
            ((1, 1), false),
            ((1, 1), true),
        ] {
            let jpeg = photo_like(1203, 805, sampling, gray);
            for divisor in [4, 8] {
                assert_libjpegs_within_rounding(
                    &jpeg,
                    divisor,
                    &format!("{sampling:?} gray {gray}"),
                );
            }
        }
    }

    #[test]
    fn blocks_whose_last_coefficient_is_coded_end_where_libjpeg_ends_them() {
        // A checkerboard of single pixels is the highest frequency both ways,
        // the last coefficient of every block; at quality 100 it is coded, and a
        // block that codes it has no end-of-block code: the codes read with its
        // last value belong to the next block.
        let (width, height) = (403, 301);
        let mut pixels = noisy_rgb(width, height);
        for (i, pixel) in pixels.chunks_exact_mut(3).enumerate() {
            let (x, y) = (i % width, i / width);
            let sign = if (x + y) % 2 == 0 { 1 } else { -1 };
            for channel in pixel {
                *channel = (i32::from(*channel) + sign * 40).clamp(0, 255) as u8;
            }
        }
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        compress.set_fastest_defaults();
        compress.set_size(width, height);
        compress.set_quality(100.0);
        let mut started = compress.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&pixels).unwrap();
        let jpeg = started.finish().unwrap();
        assert_libjpegs_within_rounding(&jpeg, 4, "a checkerboard at quality 100");
    }

    #[test]
    fn one_part_reads_restart_intervals_as_libjpeg_does() {
        let (width, height) = (1210, 803);
        let pixels = noisy_rgb(width, height);
        // 76 MCUs a row: an interval of one row, of 7 MCUs (ending mid-row),
        // and of one MCU.
        for interval in [76, 7, 1] {
            let mut jpeg = Vec::new();
            let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, 92);
            encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            encoder.set_restart_interval(interval);
            let (w, h) = (width as u16, height as u16);
            encoder
                .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
                .unwrap();
            for divisor in [4, 8] {
                assert_libjpegs_within_rounding(&jpeg, divisor, &format!("every {interval} MCUs"));
                // Split, it is left to libjpeg's bands.
                assert!(decode_in_parts(&jpeg, divisor, 2).is_none());
            }
        }
    }

    #[test]
    fn parts_decoded_on_threads_give_the_pixels_of_one_part() {
        let jpeg = photo_like(2011, 1413, (2, 2), false);
        for divisor in [4, 8] {
            let whole = decode_in_parts(&jpeg, divisor, 1).unwrap();
            for parts in [2, 3, 4] {
                let split = decode_in_parts(&jpeg, divisor, parts).unwrap();
                assert!(
                    split == whole,
                    "{parts} parts at 1/{divisor} differ from one"
                );
            }
        }
    }

    #[test]
    fn the_reader_reads_the_stuffed_data_as_unstuffed_bits_from_any_bit() {
        // Bytes with runs of 0xFF, at the ends too, stuffed as a scan stores them.
        let mut clean: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
        for at in [0, 1, 2, 50, 51, 100, 180, 181, 182, 297, 298, 299] {
            clean[at] = 0xFF;
        }
        let mut stored = Vec::new();
        for &byte in &clean {
            stored.push(byte);
            if byte == 0xFF {
                stored.push(0x00);
            }
        }
        stored.extend_from_slice(&[0xFF, 0xFF, 0xD9]);
        let data = EntropyData::find(&stored).unwrap();
        assert_eq!(data.bits, clean.len() * 8);
        let bit_of = |bit: usize| clean.get(bit / 8).map_or(0, |b| (b >> (7 - bit % 8)) & 1);
        for start in (0..clean.len() * 8 + 20).step_by(7) {
            let known = data.place_of(start.saturating_sub(29) / 8);
            let mut reader = Reader::at(data, known, start);
            for read in 0..120 {
                assert_eq!(reader.position(), start + read, "from bit {start}");
                reader.ensure();
                let bit = (reader.buffer >> 63) as u8;
                assert_eq!(
                    bit,
                    bit_of(start + read),
                    "bit {} from {start}",
                    start + read
                );
                reader.consume(1);
            }
        }
        // A restart marker in the data, or no marker at its end, is refused.
        assert!(EntropyData::find(&[1, 2, 0xFF, 0xD3, 4, 0xFF, 0xD9]).is_none());
        assert!(EntropyData::find(&[1, 2, 0xFF, 0x00, 4]).is_none());
    }

    #[test]
    fn a_guessed_part_falls_in_step_and_takes_over() {
        let jpeg = photo_like(2011, 1413, (2, 2), false);
        let headers = Headers::parse(&jpeg).unwrap();
        let plan = Plan::new(&headers, 8).unwrap();
        let data = EntropyData::find(headers.data).unwrap();
        let segments = decode_segments(&plan, data, 3, &mut plan.empty_planes()).unwrap();
        for (part, segment) in segments.iter().take(2).enumerate() {
            let handover = segment.handover.expect("the next part was met");
            assert!(
                handover.local_mcu < plan.mcus() * 2 / 3,
                "part {part} stopped near its own share's end, at MCU {}",
                handover.local_mcu
            );
        }
        let covered: usize = segments
            .iter()
            .map(|s| s.handover.map_or(s.mcus, |h| h.local_mcu))
            .sum();
        assert!(covered >= plan.mcus(), "the parts cover the scan");
    }

    #[test]
    fn what_this_decoder_does_not_reduce_is_left_to_libjpeg() {
        let photo = photo_like(1203, 805, (2, 2), false);
        assert!(decode_in_parts(&photo, 2, 1).is_none(), "1/2 is libjpeg's");
        let subsampled_down = photo_like(1203, 805, (1, 2), false);
        assert!(decode_in_parts(&subsampled_down, 4, 1).is_none(), "4:4:0");
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        compress.set_size(64, 64);
        compress.set_progressive_mode();
        let mut started = compress.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&[128; 64 * 64 * 3]).unwrap();
        let progressive = started.finish().unwrap();
        assert!(decode_in_parts(&progressive, 8, 1).is_none(), "progressive");
        let mut restarts = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut restarts, 90);
        encoder.set_restart_interval(4);
        encoder
            .encode(&[90; 64 * 64 * 3], 64, 64, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        assert!(
            decode_in_parts(&restarts, 8, 2).is_none(),
            "restart markers, split between parts"
        );
    }

    #[test]
    fn damaged_data_is_refused_or_decoded_without_a_panic_and_parts_agree() {
        let photo = photo_like(2011, 1413, (2, 2), false);
        assert!(
            decode_in_parts(&photo[..photo.len() / 2], 8, 2).is_none(),
            "cut short"
        );
        let scan_start = photo.len() - Headers::parse(&photo).unwrap().data.len();
        let mut seed = 7u32;
        for _ in 0..20 {
            let mut damaged = photo.clone();
            for _ in 0..4 {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let at = scan_start + (seed as usize >> 8) % (photo.len() - scan_start - 2);
                damaged[at] ^= (seed >> 3) as u8 | 1;
            }
            assert_parts_agree(&damaged);
        }
        // Restart intervals cut short, and markers damaged or lost, in one part.
        let mut restarts = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut restarts, 90);
        encoder.set_restart_interval(5);
        let pixels = noisy_rgb(403, 301);
        encoder
            .encode(&pixels, 403, 301, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let scan_start = restarts.len() - Headers::parse(&restarts).unwrap().data.len();
        for divisor in [4, 8] {
            let cut = &restarts[..restarts.len() * 2 / 3];
            assert!(decode_in_parts(cut, divisor, 1).is_none(), "cut short");
            for _ in 0..40 {
                let mut damaged = restarts.clone();
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let at = scan_start + (seed as usize >> 8) % (restarts.len() - scan_start - 2);
                damaged[at] ^= (seed >> 3) as u8 | 1;
                let _ = decode_in_parts(&damaged, divisor, 1);
            }
        }
    }
}
