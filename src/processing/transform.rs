//! Transforms: any size, fit and format of an image, made on request (`/t/...`,
//! see API.md "Delivery"). Never a job: `kiln api` runs them in its own
//! processor children through the internal `transform` processor, whose
//! options are a [`TransformSpec`].
//!
//! A spec reaches this module whole and checked: the web layer turns a query
//! into one (resolving `dpr` and `fmt=auto`), and [`TransformSpec::cache_key`]
//! names its result in the transform cache, so two URLs that ask for the same
//! pixels share one cached object.
//!
//! ```text
//!  source W x H ──layout──▶ window (the part shown; smaller than the source for cover)
//!                           scaled (the size the window becomes)
//!                           canvas (the output; larger than scaled for contain)
//!  decode at the scale needed ─▶ window placed by gravity (attention: saliency)
//!    ─▶ Lanczos3 to scaled ─▶ onto the canvas ─▶ encode
//! ```
//!
//! An animated GIF or WebP asked for as GIF or WebP stays animated: every frame
//! gets the same window (placed once, on the first frame) and size.

use std::borrow::Cow;

use fast_image_resize::Resizer;
use image::{DynamicImage, RgbaImage};
use serde_json::{Value, json};

use super::attention::attention_crop;
use super::decode::animation::for_each_frame;
use super::decode::{Region, ShrinkOnLoad, decode_image_for};
use super::encode::{AnimationFrame, WebpCompression, encode, encode_animated_webp, encode_gif};
use super::options::{DEFAULT_QUALITY, Options, OutputFormat, invalid};
use super::resize::{Plan, resample};
use super::{Limits, ProcessError, Processed, SourceFacts};

/// The default (and largest allowed) `TRANSFORM_MAX_DIMENSION`.
pub const DEFAULT_TRANSFORM_MAX_DIMENSION: u32 = 4096;

/// How the picture meets a box of both a width and a height. With one side
/// given, every fit scales to it (`inside` never enlarges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformFit {
    /// Inside the box, keeping the aspect ratio, centred on a box-sized canvas
    /// (transparent, or white in JPEG).
    Contain,
    /// Fills the box, keeping the aspect ratio; the overflow is cropped where
    /// the gravity says.
    Cover,
    /// Stretched to the box.
    Fill,
    /// Inside the box, keeping the aspect ratio, never enlarged; the output is
    /// the picture's own size.
    Inside,
}

impl TransformFit {
    pub const ALL: [TransformFit; 4] = [
        TransformFit::Contain,
        TransformFit::Cover,
        TransformFit::Fill,
        TransformFit::Inside,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TransformFit::Contain => "contain",
            TransformFit::Cover => "cover",
            TransformFit::Fill => "fill",
            TransformFit::Inside => "inside",
        }
    }
}

/// Which part of the picture a `cover` keeps (and where a `contain` sits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gravity {
    Center,
    North,
    South,
    East,
    West,
    NorthEast,
    NorthWest,
    SouthEast,
    SouthWest,
    /// The most salient part: edges, saturated colour and skin tones.
    Attention,
}

impl Gravity {
    pub const ALL: [Gravity; 10] = [
        Gravity::Center,
        Gravity::North,
        Gravity::South,
        Gravity::East,
        Gravity::West,
        Gravity::NorthEast,
        Gravity::NorthWest,
        Gravity::SouthEast,
        Gravity::SouthWest,
        Gravity::Attention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Gravity::Center => "center",
            Gravity::North => "n",
            Gravity::South => "s",
            Gravity::East => "e",
            Gravity::West => "w",
            Gravity::NorthEast => "ne",
            Gravity::NorthWest => "nw",
            Gravity::SouthEast => "se",
            Gravity::SouthWest => "sw",
            Gravity::Attention => "attention",
        }
    }

    /// Where along each axis the window sits in the room left: 0 at the
    /// left or top, 1 at the right or bottom.
    fn anchor(self) -> (f64, f64) {
        match self {
            Gravity::Center | Gravity::Attention => (0.5, 0.5),
            Gravity::North => (0.5, 0.0),
            Gravity::South => (0.5, 1.0),
            Gravity::East => (1.0, 0.5),
            Gravity::West => (0.0, 0.5),
            Gravity::NorthEast => (1.0, 0.0),
            Gravity::NorthWest => (0.0, 0.0),
            Gravity::SouthEast => (1.0, 1.0),
            Gravity::SouthWest => (0.0, 1.0),
        }
    }
}

/// The formats a transform writes.
pub const TRANSFORM_FORMATS: [(&str, OutputFormat); 5] = [
    ("jpeg", OutputFormat::Jpeg),
    ("png", OutputFormat::Png),
    ("webp", OutputFormat::Webp),
    ("avif", OutputFormat::Avif),
    ("gif", OutputFormat::Gif),
];

/// One transform, checked: every value within its range.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformSpec {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: TransformFit,
    pub format: OutputFormat,
    /// JPEG and WebP quality, 1-100.
    pub quality: u8,
    pub gravity: Gravity,
    /// No side of the output is longer (`TRANSFORM_MAX_DIMENSION`).
    pub max_dimension: u32,
}

impl TransformSpec {
    /// The quality when the request names none.
    pub const DEFAULT_QUALITY: u8 = DEFAULT_QUALITY;

    /// The options the `transform` processor reads back as this spec.
    pub fn options(&self) -> Value {
        json!({
            "width": self.width,
            "height": self.height,
            "fit": self.fit.name(),
            "format": format_name(self.format),
            "quality": self.quality,
            "gravity": self.gravity.name(),
            "max_dimension": self.max_dimension,
        })
    }

    /// A text naming exactly the pixels this spec makes: equal specs, equal keys.
    pub fn cache_key(&self) -> String {
        let side = |side: Option<u32>| side.map_or_else(|| "-".to_owned(), |s| s.to_string());
        format!(
            "v1;w={};h={};fit={};fmt={};q={};g={};max={}",
            side(self.width),
            side(self.height),
            self.fit.name(),
            format_name(self.format),
            self.quality,
            self.gravity.name(),
            self.max_dimension
        )
    }

    pub(super) fn parse(o: &Options<'_>) -> Result<Self, ProcessError> {
        o.only(&[
            "width",
            "height",
            "fit",
            "format",
            "quality",
            "gravity",
            "max_dimension",
        ])?;
        let max_dimension = o
            .dimension("max_dimension", u32::MAX)?
            .unwrap_or(DEFAULT_TRANSFORM_MAX_DIMENSION);
        let fits: Vec<(&str, TransformFit)> = TransformFit::ALL
            .into_iter()
            .map(|fit| (fit.name(), fit))
            .collect();
        let gravities: Vec<(&str, Gravity)> = Gravity::ALL
            .into_iter()
            .map(|gravity| (gravity.name(), gravity))
            .collect();
        Ok(TransformSpec {
            width: optional_dimension(o, "width", max_dimension)?,
            height: optional_dimension(o, "height", max_dimension)?,
            fit: o.choice("fit", &fits)?.unwrap_or(TransformFit::Contain),
            format: o
                .format(&TRANSFORM_FORMATS)?
                .ok_or_else(|| invalid("a transform names its `format`".into()))?,
            quality: o.quality()?.unwrap_or(Self::DEFAULT_QUALITY),
            gravity: o.choice("gravity", &gravities)?.unwrap_or(Gravity::Center),
            max_dimension,
        })
    }
}

/// A side that may be `null` (left to the aspect ratio).
fn optional_dimension(o: &Options<'_>, key: &str, max: u32) -> Result<Option<u32>, ProcessError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => o.dimension(key, max),
    }
}

/// The name of a format in a transform's query and options.
pub fn format_name(format: OutputFormat) -> &'static str {
    TRANSFORM_FORMATS
        .iter()
        .find(|(_, f)| *f == format)
        .map_or("jpeg", |(name, _)| name)
}

/// Where the picture goes, in the source's (oriented) pixels and the output's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    /// The size of the part of the source shown: all of it but for `cover`.
    window: (f64, f64),
    /// The size the window is scaled to.
    scaled: (u32, u32),
    /// The output's size: `scaled`, or the box for `contain`.
    canvas: (u32, u32),
}

impl Layout {
    /// A `width` x `height` source under `spec`.
    fn of(width: u32, height: u32, spec: &TransformSpec) -> Layout {
        let (w, h) = (f64::from(width), f64::from(height));
        let max = f64::from(spec.max_dimension);
        // The whole source at `scale`, shrunk further if a side passes the maximum.
        let whole_at = |scale: f64| {
            let (sw, sh) = (w * scale, h * scale);
            let shrink = (max / sw).min(max / sh).min(1.0);
            let scaled = (side(sw * shrink), side(sh * shrink));
            Layout {
                window: (w, h),
                scaled,
                canvas: scaled,
            }
        };
        let enlarges = spec.fit != TransformFit::Inside;
        let limit = |scale: f64| if enlarges { scale } else { scale.min(1.0) };
        match (spec.width, spec.height) {
            (None, None) => whole_at(1.0),
            (Some(bw), None) => whole_at(limit(f64::from(bw) / w)),
            (None, Some(bh)) => whole_at(limit(f64::from(bh) / h)),
            (Some(bw), Some(bh)) => {
                let (fw, fh) = (f64::from(bw), f64::from(bh));
                match spec.fit {
                    TransformFit::Inside => whole_at(limit((fw / w).min(fh / h))),
                    TransformFit::Contain => Layout {
                        canvas: (bw, bh),
                        ..whole_at((fw / w).min(fh / h))
                    },
                    TransformFit::Fill => Layout {
                        window: (w, h),
                        scaled: (bw, bh),
                        canvas: (bw, bh),
                    },
                    TransformFit::Cover => {
                        let scale = (fw / w).max(fh / h);
                        Layout {
                            window: ((fw / scale).min(w), (fh / scale).min(h)),
                            scaled: (bw, bh),
                            canvas: (bw, bh),
                        }
                    }
                }
            }
        }
    }

    /// How many pixels of the whole source the output needs, for a reduced decode.
    fn source_pixels_needed(&self, width: u32, height: u32) -> (u32, u32) {
        let scale_x = f64::from(self.scaled.0) / self.window.0;
        let scale_y = f64::from(self.scaled.1) / self.window.1;
        let need = |side: u32, scale: f64| {
            // At most the source's own side, so the cast keeps the value.
            (f64::from(side) * scale.min(1.0)).ceil().max(1.0) as u32
        };
        (need(width, scale_x), need(height, scale_y))
    }
}

fn side(length: f64) -> u32 {
    // Bounded by TRANSFORM_MAX_DIMENSION, or by a requested side.
    (length.round() as u32).max(1)
}

/// Makes one transform of `input`.
pub(crate) fn run(
    variant: &str,
    spec: &TransformSpec,
    input: &[u8],
    limits: &Limits,
) -> Result<Processed, ProcessError> {
    let mut resizer = Resizer::new();
    if matches!(spec.format, OutputFormat::Gif | OutputFormat::Webp)
        && let Some(processed) = run_animated(variant, spec, input, limits, &mut resizer)?
    {
        return Ok(processed);
    }
    let decoded = decode_image_for(
        input,
        limits,
        ShrinkOnLoad::ToOutputSize,
        |width, height| Layout::of(width, height, spec).source_pixels_needed(width, height),
    )?;
    let layout = Layout::of(decoded.width, decoded.height, spec);
    let window = place_window(
        &decoded.image,
        decoded.region,
        (decoded.width, decoded.height),
        &layout,
        spec.gravity,
    );
    let pixels = render(&mut resizer, &decoded.image, window, &layout, spec.gravity)?;
    let output = encode(variant, &pixels, spec.format, spec.quality)?;
    Ok(Processed {
        outputs: vec![output],
        source: SourceFacts::image(decoded.width, decoded.height),
    })
}

/// An animated source made into an animated GIF or WebP; `None` for a still.
fn run_animated(
    variant: &str,
    spec: &TransformSpec,
    input: &[u8],
    limits: &Limits,
    resizer: &mut Resizer,
) -> Result<Option<Processed>, ProcessError> {
    let mut frames = Vec::new();
    let mut placed: Option<(Layout, Region, (u32, u32))> = None;
    let animated = for_each_frame(input, limits, |frame| {
        let image = DynamicImage::ImageRgba8(frame.image);
        let size = (image.width(), image.height());
        // The window is placed once, so the picture does not jump between frames.
        let (layout, window, _) = *placed.get_or_insert_with(|| {
            let layout = Layout::of(size.0, size.1, spec);
            let whole = Region::whole(&image);
            let window = place_window(&image, whole, size, &layout, spec.gravity);
            (layout, window, size)
        });
        let pixels = render(resizer, &image, window, &layout, spec.gravity)?;
        frames.push(AnimationFrame {
            image: pixels.into_owned().into_rgba8(),
            delay_ms: frame.delay_ms,
        });
        Ok(())
    })?;
    let Some((layout, _, (width, height))) = placed.filter(|_| animated) else {
        return Ok(None);
    };
    let output = match spec.format {
        OutputFormat::Gif => encode_gif(variant, frames)?,
        _ => encode_animated_webp(
            variant,
            &frames,
            WebpCompression::Lossy {
                quality: spec.quality,
            },
        )?,
    };
    debug_assert_eq!((output.width, output.height), layout.canvas);
    Ok(Some(Processed {
        outputs: vec![output],
        source: SourceFacts::image(width, height),
    }))
}

/// The part of `image` the output shows: `region` (the whole picture in the
/// decoded pixels), or for `cover` a window of it placed by `gravity`.
fn place_window(
    image: &DynamicImage,
    region: Region,
    (width, height): (u32, u32),
    layout: &Layout,
    gravity: Gravity,
) -> Region {
    // The window in decoded pixels: the decode may be reduced.
    let window_width = (layout.window.0 * region.width / f64::from(width)).min(region.width);
    let window_height = (layout.window.1 * region.height / f64::from(height)).min(region.height);
    if (window_width, window_height) == (region.width, region.height) {
        return region;
    }
    if gravity == Gravity::Attention {
        return attention_crop(image, region, window_width, window_height);
    }
    let (ax, ay) = gravity.anchor();
    Region {
        left: region.left + (region.width - window_width) * ax,
        top: region.top + (region.height - window_height) * ay,
        width: window_width,
        height: window_height,
    }
}

/// Scales `window` of `image` to the layout and puts it on its canvas.
fn render<'a>(
    resizer: &mut Resizer,
    image: &'a DynamicImage,
    window: Region,
    layout: &Layout,
    gravity: Gravity,
) -> Result<Cow<'a, DynamicImage>, ProcessError> {
    let plan = Plan {
        width: layout.scaled.0,
        height: layout.scaled.1,
        crop: false,
    };
    let scaled = resample(resizer, image, window, plan)?;
    if layout.canvas == layout.scaled {
        return Ok(scaled);
    }
    let (canvas_width, canvas_height) = layout.canvas;
    let mut canvas = RgbaImage::new(canvas_width, canvas_height);
    let (ax, ay) = gravity.anchor();
    let offset = |room: u32| (f64::from(room) * ax).round() as i64;
    let left = offset(canvas_width.saturating_sub(layout.scaled.0));
    let top = (f64::from(canvas_height.saturating_sub(layout.scaled.1)) * ay).round() as i64;
    image::imageops::replace(&mut canvas, &scaled.to_rgba8(), left, top);
    Ok(Cow::Owned(DynamicImage::ImageRgba8(canvas)))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{decode_output, fixture, only_output};
    use super::super::{Limits, run as run_processor};
    use super::*;
    use image::{GenericImageView, Rgb, RgbImage};

    fn spec(width: Option<u32>, height: Option<u32>, fit: TransformFit) -> TransformSpec {
        TransformSpec {
            width,
            height,
            fit,
            format: OutputFormat::Png,
            quality: 80,
            gravity: Gravity::Center,
            max_dimension: DEFAULT_TRANSFORM_MAX_DIMENSION,
        }
    }

    fn transform(input: &[u8], spec: &TransformSpec) -> Result<Processed, ProcessError> {
        run_processor("transform", "t", &spec.options(), input, &Limits::default())
    }

    fn png(image: RgbImage) -> Vec<u8> {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        bytes.into_inner()
    }

    #[test]
    fn a_spec_survives_the_trip_through_its_options() {
        let mut original = spec(Some(300), None, TransformFit::Cover);
        original.gravity = Gravity::Attention;
        original.format = OutputFormat::Gif;
        let o = serde_json::to_value(original.options()).unwrap();
        let options = Options::new(super::super::TRANSFORM, &o).unwrap();
        assert_eq!(TransformSpec::parse(&options).unwrap(), original);
    }

    #[test]
    fn every_fit_gives_the_size_it_promises() {
        // photo.jpg is 1200 x 800.
        let photo = fixture("photo.jpg");
        let cases = [
            (Some(300), Some(300), TransformFit::Contain, (300, 300)),
            (Some(300), Some(300), TransformFit::Cover, (300, 300)),
            (Some(300), Some(300), TransformFit::Fill, (300, 300)),
            (Some(300), Some(300), TransformFit::Inside, (300, 200)),
            (Some(600), None, TransformFit::Contain, (600, 400)),
            (None, Some(100), TransformFit::Cover, (150, 100)),
            // Enlarged, but for inside.
            (Some(2400), None, TransformFit::Contain, (2400, 1600)),
            (Some(2400), Some(2400), TransformFit::Inside, (1200, 800)),
            (None, None, TransformFit::Contain, (1200, 800)),
        ];
        for (width, height, fit, expected) in cases {
            let processed = transform(&photo, &spec(width, height, fit)).unwrap();
            let out = only_output(&processed);
            assert_eq!(
                (out.width, out.height),
                expected,
                "{width:?}x{height:?} {fit:?}"
            );
            assert_eq!(decode_output(out).dimensions(), expected);
            assert_eq!(processed.source.width, Some(1200));
        }
    }

    #[test]
    fn no_side_passes_the_maximum_dimension() {
        let mut wide = spec(Some(4000), None, TransformFit::Contain);
        wide.max_dimension = 1000;
        // 4000 wide is refused as an option above the maximum.
        assert!(transform(&fixture("photo.jpg"), &wide).is_err());
        wide.width = Some(1000);
        wide.height = None;
        let tall = png(RgbImage::from_pixel(100, 400, Rgb([9, 9, 9])));
        let processed = transform(&tall, &wide).unwrap();
        let out = only_output(&processed);
        assert_eq!((out.width, out.height), (250, 1000));
    }

    /// 300 x 100: red on the left third, green in the middle, blue on the right.
    fn thirds() -> Vec<u8> {
        png(RgbImage::from_fn(300, 100, |x, _| match x / 100 {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        }))
    }

    #[test]
    fn cover_keeps_the_part_the_gravity_names() {
        for (gravity, expected) in [
            (Gravity::West, [255, 0, 0]),
            (Gravity::Center, [0, 255, 0]),
            (Gravity::East, [0, 0, 255]),
            (Gravity::SouthEast, [0, 0, 255]),
        ] {
            let mut square = spec(Some(50), Some(50), TransformFit::Cover);
            square.gravity = gravity;
            let out = decode_output(only_output(&transform(&thirds(), &square).unwrap()));
            assert_eq!(out.dimensions(), (50, 50));
            let centre = out.to_rgb8().get_pixel(25, 25).0;
            assert_eq!(centre, expected, "{gravity:?}");
        }
    }

    #[test]
    fn contain_puts_the_picture_on_a_transparent_canvas_of_the_box() {
        let out = decode_output(only_output(
            &transform(&thirds(), &spec(Some(90), Some(90), TransformFit::Contain)).unwrap(),
        ))
        .to_rgba8();
        assert_eq!(out.dimensions(), (90, 90));
        // The picture is 90 x 30, centred: rows 30-59.
        assert_eq!(out.get_pixel(45, 5).0[3], 0, "above it is transparent");
        assert_eq!(out.get_pixel(45, 45).0, [0, 255, 0, 255]);
        assert_eq!(out.get_pixel(45, 85).0[3], 0, "below it is transparent");
    }

    #[test]
    fn fill_stretches_the_whole_picture() {
        let out = decode_output(only_output(
            &transform(&thirds(), &spec(Some(30), Some(90), TransformFit::Fill)).unwrap(),
        ))
        .to_rgb8();
        assert_eq!(out.dimensions(), (30, 90));
        assert_eq!(out.get_pixel(2, 45).0, [255, 0, 0]);
        assert_eq!(out.get_pixel(27, 45).0, [0, 0, 255]);
    }

    #[test]
    fn an_animation_stays_animated_as_gif_or_webp_and_becomes_still_otherwise() {
        use image::AnimationDecoder;
        let animation = fixture("animated.gif");
        let mut small = spec(Some(20), Some(20), TransformFit::Cover);
        small.format = OutputFormat::Gif;
        let out = only_output(&transform(&animation, &small).unwrap()).clone();
        assert_eq!(out.content_type(), "image/gif");
        let decoder =
            image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&out.bytes)).unwrap();
        let frames = decoder.into_frames().collect_frames().unwrap();
        assert!(frames.len() > 1, "{} frames", frames.len());
        assert!(frames.iter().all(|f| f.buffer().dimensions() == (20, 20)));

        small.format = OutputFormat::Webp;
        let out = only_output(&transform(&animation, &small).unwrap()).clone();
        let decoder =
            image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(&out.bytes)).unwrap();
        assert!(decoder.has_animation());

        small.format = OutputFormat::Png;
        let out = only_output(&transform(&animation, &small).unwrap()).clone();
        assert_eq!(decode_output(&out).dimensions(), (20, 20));
    }

    #[test]
    fn a_still_becomes_a_gif() {
        let mut gif = spec(Some(60), None, TransformFit::Contain);
        gif.format = OutputFormat::Gif;
        let out = only_output(&transform(&thirds(), &gif).unwrap()).clone();
        assert_eq!(out.content_type(), "image/gif");
        let image = decode_output(&out).to_rgb8();
        assert_eq!(image.dimensions(), (60, 20));
        let left = image.get_pixel(5, 10).0;
        assert!(left[0] > 200 && left[1] < 50, "{left:?}");
    }

    #[test]
    fn equal_specs_share_a_cache_key_and_different_ones_do_not() {
        let a = spec(Some(300), None, TransformFit::Cover);
        assert_eq!(a.cache_key(), a.clone().cache_key());
        let mut b = a.clone();
        b.quality = 81;
        assert_ne!(a.cache_key(), b.cache_key());
        let mut c = a.clone();
        c.height = Some(300);
        assert_ne!(a.cache_key(), c.cache_key());
    }
}
