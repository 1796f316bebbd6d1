//! Attention gravity: where a crop window should sit so that it keeps the most
//! interesting part of a picture. Transforms asked for `g=attention` call
//! [`attention_crop`] instead of centring their crop (the idea behind libvips'
//! `attention` crop and sharp's `strategy.attention`).
//!
//! It lays a coarse grid over the picture (at most [`GRID_LONG_SIDE`] cells a side,
//! a fixed number of pixels sampled in each, so the cost does not grow with the
//! image), scores every cell by its detail, colourfulness and skin tones, then
//! slides the window over the grid and keeps the position holding the highest
//! total, the centred one on a tie. Transparent pixels score nothing: what cannot
//! be seen is not a subject.

use image::{DynamicImage, GenericImageView, Rgba};

use super::decode::Region;

/// Cells across the region's long side: places a crop to about 1% of the picture.
const GRID_LONG_SIDE: usize = 96;
/// Pixels sampled across each side of a cell (this many squared per cell).
const SAMPLES_PER_CELL_SIDE: usize = 6;
/// How much a cell's detail (luminance edges and texture, 0 to about 1) counts.
const DETAIL_WEIGHT: f64 = 1.0;
/// How much a cell's saturation (chroma, 0 to 1) counts.
const SATURATION_WEIGHT: f64 = 0.5;
/// How much a cell's share of skin-toned pixels (0 to 1) counts.
const SKIN_WEIGHT: f64 = 1.0;
/// Window totals closer than this fraction of the whole grid's total are a tie.
const TIE_TOLERANCE: f64 = 1e-9;

/// The `width` x `height` window inside `region` of `image` (both in `image`'s
/// pixels; `region` is the part of `image` that shows the picture) that holds the
/// most salient part of the picture. The window is clamped to `region`'s size.
pub(crate) fn attention_crop(
    image: &DynamicImage,
    region: Region,
    width: f64,
    height: f64,
) -> Region {
    let region = Region {
        width: region.width.max(0.0),
        height: region.height.max(0.0),
        ..region
    };
    let width = width.max(0.0).min(region.width);
    let height = height.max(0.0).min(region.height);
    let grid = Grid::over(region);
    let table = SummedArea::new(&saliency(image, region, grid), grid);
    let window = (
        grid.cols as f64 * fraction(width, region.width),
        grid.rows as f64 * fraction(height, region.height),
    );
    let (x, y) = best_window_position(&table, window);
    Region {
        left: place(region.left, region.width, width, x / grid.cols as f64),
        top: place(region.top, region.height, height, y / grid.rows as f64),
        width,
        height,
    }
}

/// `part` as a fraction of `whole`; all of it when `whole` is empty.
fn fraction(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 1.0 }
}

/// The start of a window of `length` placed `fraction` of the way into the span
/// from `start` of `extent`, kept inside the span.
fn place(start: f64, extent: f64, length: f64, fraction: f64) -> f64 {
    (start + fraction * extent)
        .min(start + extent - length)
        .max(start)
}

/// The grid of cells laid over the region: never finer than a pixel, at least one
/// cell each way.
#[derive(Debug, Clone, Copy)]
struct Grid {
    cols: usize,
    rows: usize,
}

impl Grid {
    fn over(region: Region) -> Grid {
        let cell = (region.width.max(region.height) / GRID_LONG_SIDE as f64).max(1.0);
        let cells_across =
            |length: f64| ((length / cell).round() as usize).clamp(1, GRID_LONG_SIDE);
        Grid {
            cols: cells_across(region.width),
            rows: cells_across(region.height),
        }
    }

    fn len(self) -> usize {
        self.cols * self.rows
    }

    fn index(self, col: usize, row: usize) -> usize {
        row * self.cols + col
    }

    /// The indices of the cells left, right, above and below a cell.
    fn neighbours(self, col: usize, row: usize) -> impl Iterator<Item = usize> {
        let around = [
            (col.checked_sub(1), Some(row)),
            (col.checked_add(1), Some(row)),
            (Some(col), row.checked_sub(1)),
            (Some(col), row.checked_add(1)),
        ];
        around
            .into_iter()
            .filter_map(move |neighbour| match neighbour {
                (Some(col), Some(row)) if col < self.cols && row < self.rows => {
                    Some(self.index(col, row))
                }
                _ => None,
            })
    }
}

/// What the sampled pixels of one cell look like.
#[derive(Debug, Clone, Copy, Default)]
struct CellStats {
    /// The mean opacity, 0 (transparent) to 1.
    coverage: f64,
    /// The mean luminance (0 to 1) of the visible pixels.
    luminance: f64,
    /// The standard deviation of the visible pixels' luminance: texture.
    texture: f64,
    /// The mean chroma (0 to 1), transparent pixels counting as grey.
    saturation: f64,
    /// The share of pixels that look like skin, weighted by their opacity.
    skin: f64,
}

/// The saliency of every cell of the grid, row by row.
fn saliency(image: &DynamicImage, region: Region, grid: Grid) -> Vec<f64> {
    let cells = cell_stats(image, region, grid);
    (0..grid.rows)
        .flat_map(|row| (0..grid.cols).map(move |col| (col, row)))
        .map(|(col, row)| cell_score(&cells, grid, col, row))
        .collect()
}

fn cell_score(cells: &[CellStats], grid: Grid, col: usize, row: usize) -> f64 {
    let cell = cells[grid.index(col, row)];
    let edges = contrast_with_neighbours(cells, grid, col, row);
    cell.coverage * DETAIL_WEIGHT * (edges + cell.texture)
        + SATURATION_WEIGHT * cell.saturation
        + SKIN_WEIGHT * cell.skin
}

/// The mean luminance difference between a cell and its visible neighbours: the
/// edge energy at the scale of the grid.
fn contrast_with_neighbours(cells: &[CellStats], grid: Grid, col: usize, row: usize) -> f64 {
    let cell = cells[grid.index(col, row)];
    let (sum, count) = grid.neighbours(col, row).map(|index| cells[index]).fold(
        (0.0, 0.0),
        |(sum, count), neighbour| {
            let difference = (cell.luminance - neighbour.luminance).abs();
            (sum + neighbour.coverage * difference, count + 1.0)
        },
    );
    if count > 0.0 { sum / count } else { 0.0 }
}

/// Samples `SAMPLES_PER_CELL_SIDE` squared pixels, evenly spread, in every cell.
fn cell_stats(image: &DynamicImage, region: Region, grid: Grid) -> Vec<CellStats> {
    if image.width() == 0 || image.height() == 0 {
        return vec![CellStats::default(); grid.len()];
    }
    let xs = sample_coordinates(region.left, region.width, grid.cols, image.width());
    let ys = sample_coordinates(region.top, region.height, grid.rows, image.height());
    let mut cells = Vec::with_capacity(grid.len());
    for cell_ys in ys.chunks(SAMPLES_PER_CELL_SIDE) {
        for cell_xs in xs.chunks(SAMPLES_PER_CELL_SIDE) {
            let mut sums = SampleSums::default();
            for &y in cell_ys {
                for &x in cell_xs {
                    sums.add(image.get_pixel(x, y));
                }
            }
            cells.push(sums.stats());
        }
    }
    cells
}

/// The pixel columns (or rows) sampled along one side of the region: `cells` times
/// `SAMPLES_PER_CELL_SIDE` evenly spaced pixel centres, kept inside the image's
/// `limit` (at least 1) pixels.
fn sample_coordinates(start: f64, extent: f64, cells: usize, limit: u32) -> Vec<u32> {
    let samples = cells * SAMPLES_PER_CELL_SIDE;
    (0..samples)
        .map(|sample| {
            let at = start + (sample as f64 + 0.5) / samples as f64 * extent;
            (at.floor().max(0.0) as u32).min(limit - 1)
        })
        .collect()
}

/// Running sums over a cell's samples, each weighted by its opacity.
#[derive(Debug, Default)]
struct SampleSums {
    count: f64,
    opacity: f64,
    luminance: f64,
    luminance_squared: f64,
    chroma: f64,
    skin: f64,
}

impl SampleSums {
    fn add(&mut self, pixel: Rgba<u8>) {
        let [red, green, blue, alpha] = pixel.0.map(f64::from);
        let opacity = alpha / 255.0;
        let luminance = luma(red, green, blue) / 255.0;
        let chroma = (red.max(green).max(blue) - red.min(green).min(blue)) / 255.0;
        self.count += 1.0;
        self.opacity += opacity;
        self.luminance += opacity * luminance;
        self.luminance_squared += opacity * luminance * luminance;
        self.chroma += opacity * chroma;
        if looks_like_skin(red, green, blue) {
            self.skin += opacity;
        }
    }

    fn stats(&self) -> CellStats {
        if self.opacity <= 0.0 {
            return CellStats::default();
        }
        let luminance = self.luminance / self.opacity;
        let variance = self.luminance_squared / self.opacity - luminance * luminance;
        CellStats {
            coverage: self.opacity / self.count,
            luminance,
            texture: variance.max(0.0).sqrt(),
            saturation: self.chroma / self.count,
            skin: self.skin / self.count,
        }
    }
}

/// Rec. 601 luma, 0 to 255.
fn luma(red: f64, green: f64, blue: f64) -> f64 {
    0.299 * red + 0.587 * green + 0.114 * blue
}

/// A chroma test in YCbCr (the usual Chai and Ngan box): skin of any tone has a
/// little more red than blue, whatever its brightness; too dark to tell is not skin.
fn looks_like_skin(red: f64, green: f64, blue: f64) -> bool {
    let blue_difference = 128.0 - 0.168_736 * red - 0.331_264 * green + 0.5 * blue;
    let red_difference = 128.0 + 0.5 * red - 0.418_688 * green - 0.081_312 * blue;
    luma(red, green, blue) >= 40.0
        && (77.0..=127.0).contains(&blue_difference)
        && (133.0..=173.0).contains(&red_difference)
}

/// A summed-area table of the grid's scores, read at fractional cell positions
/// (the scores are constant within a cell, so their integral is bilinear there).
struct SummedArea {
    cols: usize,
    rows: usize,
    /// `(cols + 1) * (rows + 1)` totals: of the cells above and left of each corner.
    totals: Vec<f64>,
}

impl SummedArea {
    fn new(scores: &[f64], grid: Grid) -> SummedArea {
        let stride = grid.cols + 1;
        let mut totals = vec![0.0; stride * (grid.rows + 1)];
        for (row, row_scores) in scores.chunks(grid.cols).enumerate() {
            let mut running = 0.0;
            for (col, score) in row_scores.iter().enumerate() {
                running += score;
                totals[(row + 1) * stride + col + 1] = totals[row * stride + col + 1] + running;
            }
        }
        SummedArea {
            cols: grid.cols,
            rows: grid.rows,
            totals,
        }
    }

    fn corner(&self, col: usize, row: usize) -> f64 {
        self.totals[row * (self.cols + 1) + col]
    }

    fn total(&self) -> f64 {
        self.corner(self.cols, self.rows)
    }

    /// The total of the scores above and left of the point `(x, y)` (in cells).
    fn integral(&self, x: f64, y: f64) -> f64 {
        let (col, dx) = split(x, self.cols);
        let (row, dy) = split(y, self.rows);
        let top_left = self.corner(col, row);
        let top_right = self.corner(col + 1, row);
        let bottom_left = self.corner(col, row + 1);
        let bottom_right = self.corner(col + 1, row + 1);
        top_left
            + dx * (top_right - top_left)
            + dy * (bottom_left - top_left)
            + dx * dy * (bottom_right - top_right - bottom_left + top_left)
    }

    /// The total of the scores in a window at `(x, y)` of `(width, height)` cells.
    fn window_total(&self, (x, y): (f64, f64), (width, height): (f64, f64)) -> f64 {
        self.integral(x + width, y + height)
            - self.integral(x, y + height)
            - self.integral(x + width, y)
            + self.integral(x, y)
    }
}

/// The cell a position falls in along an axis of `cells` (at least 1) cells, and
/// how far into that cell it is (0 to 1).
fn split(position: f64, cells: usize) -> (usize, f64) {
    let position = position.max(0.0).min(cells as f64);
    let cell = (position.floor() as usize).min(cells - 1);
    (cell, position - cell as f64)
}

/// The top-left corner (in cells) of the window of `window` cells that holds the
/// highest total; of equal totals, the one closest to the centre.
fn best_window_position(table: &SummedArea, window: (f64, f64)) -> (f64, f64) {
    let slack = (
        (table.cols as f64 - window.0).max(0.0),
        (table.rows as f64 - window.1).max(0.0),
    );
    let centre = (slack.0 / 2.0, slack.1 / 2.0);
    let off_centre = |(x, y): (f64, f64)| (x - centre.0).powi(2) + (y - centre.1).powi(2);
    let tolerance = table.total().abs() * TIE_TOLERANCE;
    let mut best = (centre, table.window_total(centre, window));
    for y in candidate_offsets(slack.1) {
        for x in candidate_offsets(slack.0) {
            let total = table.window_total((x, y), window);
            let higher = total > best.1 + tolerance;
            let tie = (total - best.1).abs() <= tolerance;
            if higher || (tie && off_centre((x, y)) < off_centre(best.0)) {
                best = ((x, y), total);
            }
        }
    }
    best.0
}

/// Where a window may start along an axis with `slack` cells to spare: every whole
/// cell, the far end and the centre.
fn candidate_offsets(slack: f64) -> impl Iterator<Item = f64> {
    (0..=slack.floor() as usize)
        .map(|offset| offset as f64)
        .chain([slack, slack / 2.0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, RgbaImage};

    const GREY: Rgb<u8> = Rgb([128, 128, 128]);
    const SKIN: Rgb<u8> = Rgb([224, 172, 140]);

    /// A rectangle by its edges, in pixels.
    #[derive(Debug, Clone, Copy)]
    struct Area {
        left: u32,
        top: u32,
        right: u32,
        bottom: u32,
    }

    impl Area {
        fn holds(self, x: u32, y: u32) -> bool {
            (self.left..self.right).contains(&x) && (self.top..self.bottom).contains(&y)
        }
    }

    /// Red and blue squares of 8 pixels: lots of edges and colour.
    fn checker(x: u32, y: u32) -> Rgb<u8> {
        if (x / 8 + y / 8).is_multiple_of(2) {
            Rgb([230, 30, 30])
        } else {
            Rgb([20, 30, 210])
        }
    }

    /// Grey, with a checkerboard in `subject`.
    fn grey_with_checker(width: u32, height: u32, subject: Area) -> DynamicImage {
        let image = RgbImage::from_fn(width, height, |x, y| {
            if subject.holds(x, y) {
                checker(x, y)
            } else {
                GREY
            }
        });
        DynamicImage::ImageRgb8(image)
    }

    fn crop_of(image: &DynamicImage, width: f64, height: f64) -> Region {
        attention_crop(image, Region::whole(image), width, height)
    }

    fn assert_inside(crop: Region, region: Region) {
        let slack = 1e-9;
        assert!(
            crop.left >= region.left - slack
                && crop.top >= region.top - slack
                && crop.left + crop.width <= region.left + region.width + slack
                && crop.top + crop.height <= region.top + region.height + slack,
            "{crop:?} is not inside {region:?}"
        );
    }

    fn assert_holds(crop: Region, subject: Area) {
        assert!(
            crop.left <= f64::from(subject.left)
                && crop.top <= f64::from(subject.top)
                && crop.left + crop.width >= f64::from(subject.right)
                && crop.top + crop.height >= f64::from(subject.bottom),
            "{crop:?} cuts into the subject {subject:?}"
        );
    }

    #[test]
    fn a_detailed_subject_at_the_right_edge_pulls_the_crop_right() {
        let subject = Area {
            left: 310,
            top: 60,
            right: 390,
            bottom: 140,
        };
        let image = grey_with_checker(400, 200, subject);
        let crop = crop_of(&image, 200.0, 200.0);
        assert_eq!((crop.width, crop.height), (200.0, 200.0));
        assert!(crop.left >= 150.0, "{crop:?}");
        assert_eq!(crop.top, 0.0);
        assert_holds(crop, subject);
        assert_inside(crop, Region::whole(&image));
    }

    #[test]
    fn a_face_at_the_top_of_a_portrait_pulls_the_square_crop_up() {
        // A skin-toned disc with dark eyes and mouth on grey.
        let (centre_x, centre_y, radius) = (100.0_f64, 75.0_f64, 45.0_f64);
        let image = RgbImage::from_fn(200, 400, |x, y| {
            let (dx, dy) = (f64::from(x) - centre_x, f64::from(y) - centre_y);
            let eye = ((dx.abs() - 15.0).powi(2) + (dy + 10.0).powi(2)).sqrt() < 6.0;
            let mouth = dx.abs() < 15.0 && (dy - 20.0).abs() < 3.0;
            if eye || mouth {
                Rgb([40, 25, 20])
            } else if dx.hypot(dy) < radius {
                SKIN
            } else {
                GREY
            }
        });
        let image = DynamicImage::ImageRgb8(image);
        let crop = crop_of(&image, 200.0, 200.0);
        assert_eq!((crop.left, crop.width, crop.height), (0.0, 200.0, 200.0));
        assert!(crop.top <= 30.0, "{crop:?}");
        let face = Area {
            left: 55,
            top: 30,
            right: 145,
            bottom: 120,
        };
        assert_holds(crop, face);
    }

    #[test]
    fn a_flat_picture_is_cropped_in_the_centre() {
        let image = DynamicImage::ImageRgb8(RgbImage::from_pixel(300, 200, GREY));
        let whole = Region::whole(&image);
        let part = Region {
            left: 20.5,
            top: 10.0,
            width: 250.0,
            height: 150.0,
        };
        for region in [whole, part] {
            for (width, height) in [(100.0, region.height), (region.width, 50.0), (150.0, 99.5)] {
                let crop = attention_crop(&image, region, width, height);
                let centred_left = region.left + (region.width - width) / 2.0;
                let centred_top = region.top + (region.height - height) / 2.0;
                assert!(
                    (crop.left - centred_left).abs() < 1e-9,
                    "{crop:?} in {region:?}"
                );
                assert!(
                    (crop.top - centred_top).abs() < 1e-9,
                    "{crop:?} in {region:?}"
                );
                assert_eq!((crop.width, crop.height), (width, height));
            }
        }
    }

    #[test]
    fn degenerate_sizes_do_not_panic_and_stay_inside_the_region() {
        let tiny = DynamicImage::ImageRgb8(RgbImage::from_pixel(1, 1, Rgb([250, 0, 0])));
        let empty = DynamicImage::ImageRgb8(RgbImage::new(0, 0));
        let subject = Area {
            left: 300,
            top: 0,
            right: 400,
            bottom: 100,
        };
        let detailed = grey_with_checker(400, 300, subject);
        let sliver = Region {
            left: 10.0,
            top: 0.0,
            width: 0.3,
            height: 300.0,
        };
        let beyond = Region {
            left: -5.0,
            top: 290.0,
            width: 500.0,
            height: 20.0,
        };
        let cases = [
            (&tiny, Region::whole(&tiny), 1.0, 1.0),
            (&tiny, Region::whole(&tiny), 0.5, 0.25),
            (&tiny, Region::whole(&tiny), 3.0, 7.0),
            (&empty, Region::whole(&empty), 1.0, 1.0),
            (&detailed, Region::whole(&detailed), 400.0, 300.0),
            (&detailed, Region::whole(&detailed), 0.0, 0.0),
            (&detailed, sliver, 0.3, 100.0),
            (&detailed, sliver, 0.1, 0.1),
            (&detailed, beyond, 100.0, 10.0),
            (&detailed, Region::whole(&detailed), f64::NAN, 10.0),
        ];
        for (image, region, width, height) in cases {
            let crop = attention_crop(image, region, width, height);
            assert_inside(crop, region);
            assert!(crop.width <= region.width && crop.height <= region.height);
        }
        let whole = Region::whole(&detailed);
        assert_eq!(crop_of(&detailed, 400.0, 300.0), whole);
    }

    #[test]
    fn a_subject_in_transparent_pixels_is_ignored() {
        // A big checkerboard on the left that cannot be seen, a small visible one
        // on the right.
        let hidden = Area {
            left: 0,
            top: 0,
            right: 150,
            bottom: 200,
        };
        let visible = Area {
            left: 320,
            top: 70,
            right: 380,
            bottom: 130,
        };
        let picture = |hidden_alpha: u8| {
            let image = RgbaImage::from_fn(400, 200, |x, y| {
                let Rgb([red, green, blue]) = if hidden.holds(x, y) || visible.holds(x, y) {
                    checker(x, y)
                } else {
                    GREY
                };
                let alpha = if hidden.holds(x, y) {
                    hidden_alpha
                } else {
                    255
                };
                Rgba([red, green, blue, alpha])
            });
            DynamicImage::ImageRgba8(image)
        };
        let crop = crop_of(&picture(0), 200.0, 200.0);
        assert!(crop.left >= 150.0, "{crop:?}");
        assert_holds(crop, visible);
        // Were it visible, the big checkerboard would win.
        let crop = crop_of(&picture(255), 200.0, 200.0);
        assert!(crop.left <= 50.0, "{crop:?}");
    }

    #[test]
    fn only_the_region_is_searched() {
        // The checkerboard lies outside the region, which is otherwise flat.
        let subject = Area {
            left: 0,
            top: 0,
            right: 80,
            bottom: 200,
        };
        let image = grey_with_checker(500, 200, subject);
        let region = Region {
            left: 100.0,
            top: 0.0,
            width: 400.0,
            height: 200.0,
        };
        let crop = attention_crop(&image, region, 200.0, 200.0);
        assert!((crop.left - 200.0).abs() < 1e-9, "{crop:?}");
    }
}
