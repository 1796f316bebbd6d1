//! Scaling pixels: the geometry of contain/cover/by-width boxes (never upscaling), the
//! Lanczos3 resampler (`fast_image_resize`, SIMD, alpha premultiplied so transparent
//! pixels do not bleed dark fringes), and the `resize` processor itself, which serves
//! every requested size from one decode, with its options.

use std::borrow::Cow;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions as FirOptions, Resizer};
use image::{DynamicImage, RgbImage, RgbaImage};

use super::decode::{Region, ShrinkOnLoad, decode_image_for, decode_image_narrowed_for};
use super::encode::{default_format, encode};
use super::options::{
    DEFAULT_QUALITY, Fit, IMAGE_FORMATS, MAX_DIMENSION, Options, OutputFormat, Size, invalid,
};
use super::{Limits, Output, ProcessError, Processed, SourceFacts, ThumbHash};

/// Output size for a source, and whether the source is centre-cropped to its aspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub width: u32,
    pub height: u32,
    pub crop: bool,
}

/// Where a `width` x `height` source lands in a box. `None` on a side leaves it free
/// (the aspect ratio decides it). Never upscales: `contain` and by-side stop at the
/// source size; `cover` on a source smaller than the box yields the largest centred
/// crop with the box's aspect ratio, at the source's scale.
pub(crate) fn plan(
    width: u32,
    height: u32,
    box_width: Option<u32>,
    box_height: Option<u32>,
    fit: Fit,
) -> Plan {
    let (w, h) = (f64::from(width), f64::from(height));
    let scaled = |scale: f64, crop: bool| Plan {
        width: round_side(w * scale),
        height: round_side(h * scale),
        crop,
    };
    match (box_width, box_height) {
        (None, None) => scaled(1.0, false),
        (Some(bw), None) => scaled((f64::from(bw) / w).min(1.0), false),
        (None, Some(bh)) => scaled((f64::from(bh) / h).min(1.0), false),
        (Some(bw), Some(bh)) => {
            let (bw, bh) = (f64::from(bw), f64::from(bh));
            match fit {
                Fit::Contain => scaled((bw / w).min(bh / h).min(1.0), false),
                Fit::Cover => {
                    // Shrink the box (keeping its aspect) until it fits in the source.
                    let shrink = (w / bw).min(h / bh).min(1.0);
                    Plan {
                        width: round_side(bw * shrink),
                        height: round_side(bh * shrink),
                        crop: true,
                    }
                }
            }
        }
    }
}

impl Plan {
    /// How much of a `width` x `height` source this plan reads: the output size, or
    /// for a crop, the size the whole source is scaled to before it is cropped.
    pub(crate) fn source_pixels_needed(self, width: u32, height: u32) -> (u32, u32) {
        if !self.crop {
            return (self.width, self.height);
        }
        let (w, h) = (f64::from(width), f64::from(height));
        let scale = (f64::from(self.width) / w).max(f64::from(self.height) / h);
        // At most the source's own u32 sides (scale <= 1), so the casts keep the value.
        ((w * scale).ceil() as u32, (h * scale).ceil() as u32)
    }
}

fn round_side(side: f64) -> u32 {
    // Bounded by the source's u32 sides, so the cast cannot overflow.
    (side.round() as u32).max(1)
}

/// Resamples 8-bit RGB or RGBA pixels; a plan that keeps the source's size and crops
/// nothing borrows the source instead of copying it. Reuse one `Resizer` across the
/// sizes of a job: it keeps its buffers.
pub(crate) fn resample<'a>(
    resizer: &mut Resizer,
    source: &'a DynamicImage,
    region: Region,
    plan: Plan,
) -> Result<Cow<'a, DynamicImage>, ProcessError> {
    if (plan.width, plan.height) == (source.width(), source.height())
        && !plan.crop
        && region == Region::whole(source)
    {
        return Ok(Cow::Borrowed(source));
    }
    let pixel_type = match source {
        DynamicImage::ImageRgb8(_) => PixelType::U8x3,
        DynamicImage::ImageRgba8(_) => PixelType::U8x4,
        other => {
            // decode_image only yields the two above; convert rather than fail.
            let converted = if other.color().has_alpha() {
                DynamicImage::ImageRgba8(other.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(other.to_rgb8())
            };
            return resample(resizer, &converted, region, plan)
                .map(|pixels| Cow::Owned(pixels.into_owned()));
        }
    };
    let resample_error = |e: &dyn std::fmt::Display| {
        ProcessError::Encode(format!(
            "resizing to {}x{} failed: {e}",
            plan.width, plan.height
        ))
    };
    let src = ImageRef::new(
        source.width(),
        source.height(),
        source.as_bytes(),
        pixel_type,
    )
    .map_err(|e| resample_error(&e))?;
    let mut dst = Image::new(plan.width, plan.height, pixel_type);
    let crop = if plan.crop {
        centred_crop(region, plan)
    } else {
        region
    };
    let options = lanczos3().crop(crop.left, crop.top, crop.width, crop.height);
    kiln_kernels::resize(resizer, &src, &mut dst, &options).map_err(|e| resample_error(&e))?;
    let (width, height, pixels) = (dst.width(), dst.height(), dst.into_vec());
    let image = match pixel_type {
        PixelType::U8x4 => RgbaImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8),
        _ => RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8),
    };
    image
        .map(Cow::Owned)
        .ok_or_else(|| resample_error(&"the resized buffer has the wrong size"))
}

/// How Kiln resamples: a Lanczos3 convolution.
pub(crate) fn lanczos3() -> FirOptions {
    FirOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
}

/// Packed RGB `rows`, `width` pixels wide, resampled across to `columns` with
/// `options`' filter (their number stays): for rows that a decoder gives a batch at
/// a time, so the whole image is never held at its full width.
pub(crate) fn rgb_rows_across(
    resizer: &mut Resizer,
    rows: &[u8],
    width: u32,
    columns: u32,
    options: &FirOptions,
) -> Result<Vec<u8>, ProcessError> {
    let failed = |e: &dyn std::fmt::Display| {
        ProcessError::Encode(format!("resizing rows to {columns} columns failed: {e}"))
    };
    // Whole rows of a u32 width, fewer than u32::MAX of them.
    let height = (rows.len() / (width as usize * 3)) as u32;
    let source = ImageRef::new(width, height, rows, PixelType::U8x3).map_err(|e| failed(&e))?;
    let mut across = Image::new(columns, height, PixelType::U8x3);
    kiln_kernels::resize(resizer, &source, &mut across, options).map_err(|e| failed(&e))?;
    Ok(across.into_vec())
}

/// The largest centred part of `region` with the plan's aspect ratio.
fn centred_crop(region: Region, plan: Plan) -> Region {
    let aspect = f64::from(plan.width) / f64::from(plan.height);
    let mut crop = region;
    if region.width / region.height > aspect {
        crop.width = region.height * aspect;
        crop.left += (region.width - crop.width) / 2.0;
    } else {
        crop.height = region.width / aspect;
        crop.top += (region.height - crop.height) / 2.0;
    }
    crop
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResizeTarget {
    /// Named sizes from one decode, each only when narrower than the source.
    Sizes(Vec<Size>),
    /// One output: by width, by height, or into a box with a fit.
    Box {
        width: Option<u32>,
        height: Option<u32>,
        fit: Fit,
    },
}

/// A `resize` job's options. A request that names no option gets every [`Size`],
/// at [`ResizeOptions::DEFAULT_QUALITY`], in the source's own kind of format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResizeOptions {
    pub target: ResizeTarget,
    /// `None`: JPEG, or PNG when the source has an alpha channel.
    pub format: Option<OutputFormat>,
    pub quality: u8,
}

impl ResizeOptions {
    /// The fit of a box given both a width and a height.
    pub(crate) const DEFAULT_FIT: Fit = Fit::Contain;
    pub(crate) const DEFAULT_QUALITY: u8 = DEFAULT_QUALITY;

    pub(super) fn parse(o: &Options<'_>) -> Result<Self, ProcessError> {
        o.only(&["sizes", "width", "height", "fit", "format", "quality"])?;
        let (width, height, fit) = (
            o.dimension("width", MAX_DIMENSION)?,
            o.dimension("height", MAX_DIMENSION)?,
            o.fit()?,
        );
        let target = match sizes(o)? {
            Some(_) if width.is_some() || height.is_some() || fit.is_some() => {
                return Err(invalid(
                    "resize takes either `sizes` or `width`/`height`/`fit`, not both".into(),
                ));
            }
            Some(sizes) => ResizeTarget::Sizes(sizes),
            // No target at all means the default set.
            None if width.is_none() && height.is_none() => ResizeTarget::Sizes(Size::ALL.to_vec()),
            None => ResizeTarget::Box {
                width,
                height,
                fit: fit.unwrap_or(Self::DEFAULT_FIT),
            },
        };
        Ok(ResizeOptions {
            target,
            format: o.format(&IMAGE_FORMATS)?,
            quality: o.quality()?.unwrap_or(Self::DEFAULT_QUALITY),
        })
    }
}

/// `sizes`: a non-empty list of size names, sorted and without repeats.
fn sizes(o: &Options<'_>) -> Result<Option<Vec<Size>>, ProcessError> {
    let Some(value) = o.get("sizes") else {
        return Ok(None);
    };
    let expected = || {
        invalid(format!(
            "`sizes` must be a non-empty list of \"sm\", \"md\", \"lg\", \"xl\", not {value}"
        ))
    };
    let items = value
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(expected)?;
    let mut sizes = Vec::with_capacity(items.len());
    for item in items {
        let size = Size::ALL
            .into_iter()
            .find(|s| item.as_str() == Some(s.name()))
            .ok_or_else(expected)?;
        sizes.push(size);
    }
    sizes.sort();
    sizes.dedup();
    Ok(Some(sizes))
}

/// The `resize` processor.
pub(crate) fn run(
    variant: &str,
    options: &ResizeOptions,
    input: &[u8],
    limits: &Limits,
) -> Result<Processed, ProcessError> {
    // One decode serves every size, at the scale the largest of them needs.
    let plans = |width: u32, height: u32| -> Vec<(&str, Plan)> {
        match &options.target {
            ResizeTarget::Sizes(sizes) => sizes
                .iter()
                .filter(|size| width > size.width())
                .map(|size| {
                    let plan = plan(width, height, Some(size.width()), None, Fit::Contain);
                    (size.name(), plan)
                })
                .collect(),
            ResizeTarget::Box {
                width: box_width,
                height: box_height,
                fit,
            } => vec![(variant, plan(width, height, *box_width, *box_height, *fit))],
        }
    };
    let needed = |width: u32, height: u32| {
        plans(width, height)
            .iter()
            .map(|(_, plan)| plan.source_pixels_needed(width, height))
            .fold((0, 0), |most, need| {
                (most.0.max(need.0), most.1.max(need.1))
            })
    };
    // The sizes each show the whole picture (never cropped), so a full-size JPEG
    // decode may be narrowed to the largest while it is read.
    let decoded = match options.target {
        ResizeTarget::Sizes(_) => {
            decode_image_narrowed_for(input, limits, ShrinkOnLoad::KeepMargin, needed)?
        }
        ResizeTarget::Box { .. } => {
            decode_image_for(input, limits, ShrinkOnLoad::KeepMargin, needed)?
        }
    };
    let (width, height, region, source) =
        (decoded.width, decoded.height, decoded.region, decoded.image);
    // Unless asked, keep transparency where the source has it.
    let format = options.format.unwrap_or_else(|| default_format(&source));
    let plans = plans(width, height);
    // Largest first, each size from the one before it rather than from the original:
    // a shrink costs in proportion to its source's pixels, so the whole set then costs
    // little more than its largest size alone. (Sizes are never cropped, so each
    // result holds the whole picture the next one needs.)
    let mut largest_first: Vec<usize> = (0..plans.len()).collect();
    largest_first.sort_by_key(|&i| std::cmp::Reverse((plans[i].1.width, plans[i].1.height)));
    let mut resizer = Resizer::new();
    let mut made: Vec<Option<Output>> = plans.iter().map(|_| None).collect();
    // Each size replaces the one it was made from before it is encoded, so the
    // decoded source is freed as soon as the largest size exists.
    let (mut larger, mut larger_region) = (source, region);
    for &i in &largest_first {
        let (name, plan) = plans[i];
        let pixels = resample(&mut resizer, &larger, larger_region, plan)?.into_owned();
        larger = pixels;
        larger_region = Region::whole(&larger);
        made[i] = Some(encode(name, &larger, format, options.quality)?);
    }
    let mut source = SourceFacts::image(width, height);
    // The smallest size holds the whole picture (a box resize may crop: not that).
    if let (false, ResizeTarget::Sizes(_)) = (largest_first.is_empty(), &options.target) {
        source = source.with_thumbhash(ThumbHash::of(&mut resizer, &larger, larger_region)?);
    }
    Ok(Processed {
        outputs: made.into_iter().flatten().collect(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Processor, ProcessorOptions};
    use super::super::test_support::{decode_output, fixture, only_output};
    use super::super::{Limits, run as run_processor};
    use super::*;
    use serde_json::json;

    fn options(options: serde_json::Value) -> ResizeOptions {
        match ProcessorOptions::parse(Processor::Resize, &options).unwrap() {
            ProcessorOptions::Resize(options) => options,
            other => panic!("not resize: {other:?}"),
        }
    }

    #[test]
    fn an_empty_resize_request_means_every_size() {
        let opts = options(json!(null));
        assert_eq!(opts.target, ResizeTarget::Sizes(Size::ALL.to_vec()));
        assert_eq!(opts.format, None);
    }

    #[test]
    fn sizes_are_sorted_and_deduplicated() {
        let opts = options(json!({"sizes": ["xl", "sm", "xl"]}));
        assert_eq!(opts.target, ResizeTarget::Sizes(vec![Size::Sm, Size::Xl]));
    }

    #[test]
    fn a_resize_by_width_alone_keeps_the_aspect_ratio() {
        let opts = options(json!({"width": 800, "format": "webp", "quality": 70}));
        assert_eq!(
            opts.target,
            ResizeTarget::Box {
                width: Some(800),
                height: None,
                fit: Fit::Contain
            }
        );
        assert_eq!(opts.format, Some(OutputFormat::Webp));
        assert_eq!(opts.quality, 70);
    }

    fn resize(name: &str, options: serde_json::Value) -> Processed {
        run_processor(
            "resize",
            "custom",
            &options,
            &fixture(name),
            &Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn contain_fits_inside_the_box_and_never_upscales() {
        let contain = |w, h, bw, bh| plan(w, h, Some(bw), Some(bh), Fit::Contain);
        assert_eq!(
            contain(1200, 800, 300, 300),
            Plan {
                width: 300,
                height: 200,
                crop: false
            }
        );
        assert_eq!(
            contain(800, 1200, 300, 300),
            Plan {
                width: 200,
                height: 300,
                crop: false
            }
        );
        assert_eq!(
            contain(200, 100, 300, 300),
            Plan {
                width: 200,
                height: 100,
                crop: false
            }
        );
        assert_eq!(
            contain(10000, 1, 300, 300),
            Plan {
                width: 300,
                height: 1,
                crop: false
            }
        );
    }

    #[test]
    fn cover_fills_the_box_and_shrinks_it_for_a_small_source() {
        let cover = |w, h, bw, bh| plan(w, h, Some(bw), Some(bh), Fit::Cover);
        assert_eq!(
            cover(1200, 800, 300, 300),
            Plan {
                width: 300,
                height: 300,
                crop: true
            }
        );
        assert_eq!(
            cover(200, 100, 300, 300),
            Plan {
                width: 100,
                height: 100,
                crop: true
            }
        );
        assert_eq!(
            cover(1200, 800, 400, 100),
            Plan {
                width: 400,
                height: 100,
                crop: true
            }
        );
    }

    #[test]
    fn one_side_alone_keeps_the_aspect_ratio() {
        assert_eq!(plan(1200, 800, Some(640), None, Fit::Contain).height, 427);
        assert_eq!(plan(1200, 800, None, Some(400), Fit::Contain).width, 600);
        assert_eq!(plan(1200, 800, Some(5000), None, Fit::Contain).width, 1200);
    }

    #[test]
    fn the_default_sizes_make_only_those_narrower_than_the_photo() {
        let processed = resize("photo.jpg", json!({"sizes": ["sm", "md", "lg", "xl"]}));
        let names: Vec<&str> = processed
            .outputs
            .iter()
            .map(|o| o.variant.as_str())
            .collect();
        assert_eq!(names, ["sm", "md"]);
        let sm = decode_output(&processed.outputs[0]);
        assert_eq!((sm.width(), sm.height()), (640, 427));
        let md = decode_output(&processed.outputs[1]);
        assert_eq!((md.width(), md.height()), (1024, 683));
        assert_eq!(processed.outputs[0].content_type(), "image/jpeg");
        assert_eq!(processed.outputs[0].extension(), "jpg");
        assert_eq!(processed.source.width, Some(1200));
    }

    #[test]
    fn sizes_follow_the_oriented_width_of_a_rotated_photo() {
        // Stored 1200x800 with Orientation=6: displayed 800 wide, so only sm.
        let processed = resize("orientation6.jpg", json!({}));
        let names: Vec<&str> = processed
            .outputs
            .iter()
            .map(|o| o.variant.as_str())
            .collect();
        assert_eq!(names, ["sm"]);
        let sm = decode_output(&processed.outputs[0]);
        assert_eq!((sm.width(), sm.height()), (640, 960));
    }

    #[test]
    fn a_source_narrower_than_every_size_makes_nothing_and_succeeds() {
        let processed = resize("small.jpg", json!({}));
        assert!(processed.outputs.is_empty());
        assert_eq!(processed.source.width, Some(300));
    }

    #[test]
    fn an_explicit_width_makes_one_output_named_by_the_variant() {
        let processed = resize("photo.jpg", json!({"width": 500, "format": "png"}));
        let out = only_output(&processed);
        assert_eq!(out.variant, "custom");
        assert_eq!(out.content_type(), "image/png");
        let img = decode_output(out);
        assert_eq!((img.width(), img.height()), (500, 333));
    }

    #[test]
    fn an_explicit_width_larger_than_the_source_keeps_the_source_size() {
        let processed = resize("small.jpg", json!({"width": 2000}));
        assert_eq!(
            (
                only_output(&processed).width,
                only_output(&processed).height
            ),
            (300, 200)
        );
    }

    #[test]
    fn a_resized_png_with_alpha_stays_a_png_with_alpha_by_default() {
        let processed = resize("alpha.png", json!({"width": 200}));
        let out = only_output(&processed);
        assert_eq!(out.extension(), "png");
        let img = decode_output(out).to_rgba8();
        assert_eq!((img.width(), img.height()), (200, 150));
        assert_eq!(
            img.get_pixel(180, 75).0[3],
            0,
            "right half stays transparent"
        );
        // Premultiplied resampling: the opaque blue does not darken at the edge.
        let edge = img.get_pixel(98, 75).0;
        assert_eq!(edge[3], 255);
        assert!(edge[2] > 200, "edge pixel {edge:?}");
    }

    #[test]
    fn cover_crops_to_the_exact_box() {
        let processed = resize(
            "photo.jpg",
            json!({"width": 400, "height": 400, "fit": "cover", "format": "webp"}),
        );
        let out = only_output(&processed);
        assert_eq!(out.content_type(), "image/webp");
        let img = decode_output(out);
        assert_eq!((img.width(), img.height()), (400, 400));
    }
}
