//! Text for watermarks: the font Kiln ships, and one line of text laid out and
//! rasterised into a coverage mask that a caller composites in any colour.
//!
//! The font is Open Sans Regular, in `assets/fonts/` (Apache-2.0, see
//! `LICENSE-OpenSans.txt` there) and embedded in the binary, so text looks the same on
//! every machine and needs no system fonts. `ab_glyph` parses and rasterises it. One
//! line only, left to right with the font's kerning; no shaping (ligatures, complex
//! scripts), which a Latin, Greek or Cyrillic watermark does not need.

use std::sync::LazyLock;

use ab_glyph::{
    Font, FontRef, GlyphId, InvalidFont, OutlinedGlyph, PxScale, Rect, ScaleFont, point,
};

use super::ProcessError;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/OpenSans-Regular.ttf");
static FONT: LazyLock<Result<FontRef<'static>, InvalidFont>> =
    LazyLock::new(|| FontRef::try_from_slice(FONT_BYTES));

/// The characters of `text` the shipped font has no glyph for (whitespace aside), so a
/// request can be refused before it would draw empty boxes.
pub(crate) fn missing_glyphs(text: &str) -> Result<Vec<char>, ProcessError> {
    let font = font()?;
    let mut missing = Vec::new();
    for c in text.chars() {
        if !c.is_whitespace() && font.glyph_id(c) == GlyphId(0) && !missing.contains(&c) {
            missing.push(c);
        }
    }
    Ok(missing)
}

/// Whether some character of `text` has a visible shape (not only spaces, zero-width
/// or other invisible characters), so a watermark never silently draws nothing.
pub(crate) fn has_ink(text: &str) -> Result<bool, ProcessError> {
    let font = font()?;
    Ok(text
        .chars()
        .any(|c| font.outline(font.glyph_id(c)).is_some()))
}

/// The embedded font, parsed once. It cannot fail in practice (the bytes are fixed at
/// build time and a test parses them), but a broken asset is an error, not a panic.
pub(crate) fn font() -> Result<&'static FontRef<'static>, ProcessError> {
    FONT.as_ref().map_err(|e| {
        ProcessError::Encode(format!("the built-in watermark font is unreadable: {e}"))
    })
}

/// One line of text laid out at a size: glyph outlines on a baseline at y = 0, and the
/// whole-pixel box around their ink.
pub(crate) struct Line {
    /// Pixels per em.
    pub size: f32,
    glyphs: Vec<OutlinedGlyph>,
    bounds: Rect,
}

impl Line {
    /// `size` is in pixels per em, as in CSS. `None` when no glyph has ink.
    pub fn lay_out(font: &FontRef<'_>, text: &str, size: f32) -> Option<Line> {
        // ab_glyph's PxScale is the height from descender to ascender, not the em.
        let scale = PxScale::from(size * font.height_unscaled() / font.units_per_em()?);
        let scaled = font.as_scaled(scale);
        let mut caret = 0.0;
        let mut previous: Option<GlyphId> = None;
        let mut glyphs = Vec::with_capacity(text.len());
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(previous) = previous {
                caret += scaled.kern(previous, id);
            }
            previous = Some(id);
            glyphs.extend(font.outline_glyph(id.with_scale_and_position(scale, point(caret, 0.0))));
            caret += scaled.h_advance(id);
        }
        let bounds = glyphs
            .iter()
            .map(OutlinedGlyph::px_bounds)
            .reduce(|a, b| Rect {
                min: point(a.min.x.min(b.min.x), a.min.y.min(b.min.y)),
                max: point(a.max.x.max(b.max.x), a.max.y.max(b.max.y)),
            })?;
        Some(Line {
            size,
            glyphs,
            bounds,
        })
    }

    pub fn width(&self) -> f32 {
        self.bounds.width()
    }

    pub fn height(&self) -> f32 {
        self.bounds.height()
    }

    /// The coverage (0 to 1) of every pixel of the ink box. Glyphs are summed into one
    /// mask before compositing, so where kerned glyphs overlap the text is not drawn twice.
    pub fn rasterise(&self) -> Mask {
        // px_bounds are whole pixels, so these casts are exact.
        let (width, height) = (self.width() as u32, self.height() as u32);
        let mut coverage = vec![0.0f32; width as usize * height as usize];
        for glyph in &self.glyphs {
            let at = glyph.px_bounds().min;
            let (left, top) = (
                (at.x - self.bounds.min.x) as u32,
                (at.y - self.bounds.min.y) as u32,
            );
            glyph.draw(|x, y, c| {
                let index = (top + y) as usize * width as usize + (left + x) as usize;
                if let Some(cell) = coverage.get_mut(index) {
                    *cell = (*cell + c).min(1.0);
                }
            });
        }
        Mask {
            width,
            height,
            coverage,
        }
    }
}

/// Coverage from 0 to 1 per pixel, row-major.
pub(crate) struct Mask {
    pub width: u32,
    pub height: u32,
    pub coverage: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_font_parses_and_covers_latin_text() {
        assert!(font().is_ok());
        assert_eq!(
            missing_glyphs("© 2026 Kiln — Ünïcødé € Ωμέγα Привет").unwrap(),
            Vec::<char>::new()
        );
        assert_eq!(missing_glyphs("Kiln 日本日").unwrap(), ['日', '本']);
        assert!(has_ink(" . ").unwrap());
        assert!(!has_ink(" \u{200B} ").unwrap());
    }

    #[test]
    fn a_line_scales_with_its_size_and_its_mask_is_coverage() {
        let font = font().unwrap();
        let small = Line::lay_out(font, "Kiln", 20.0).unwrap();
        let large = Line::lay_out(font, "Kiln", 80.0).unwrap();
        let ratio = large.width() / small.width();
        assert!((3.5..=4.5).contains(&ratio), "{ratio}");
        // Cap and ascender height: about 0.75 em.
        assert!(
            (55.0..=65.0).contains(&large.height()),
            "{}",
            large.height()
        );
        let mask = large.rasterise();
        assert_eq!(
            (mask.width as f32, mask.height as f32),
            (large.width(), large.height())
        );
        assert!(mask.coverage.iter().all(|c| (0.0..=1.0).contains(c)));
        let inked = mask.coverage.iter().filter(|&&c| c > 0.5).count();
        assert!(inked > mask.coverage.len() / 10, "{inked} inked pixels");
    }

    #[test]
    fn kerning_pulls_a_pair_together() {
        let font = font().unwrap();
        let kerned = Line::lay_out(font, "AV", 100.0).unwrap().width();
        let apart = Line::lay_out(font, "A", 100.0).unwrap().width()
            + Line::lay_out(font, "V", 100.0).unwrap().width();
        assert!(kerned < apart, "{kerned} vs {apart}");
    }
}
