//! What a transform URL may ask (`/t/{file_id}?w=&h=&fit=&fmt=&q=&dpr=&g=&exp=&sig=`,
//! API.md "Delivery") and how it is signed. Checked here once, for the
//! transform route and the endpoint that mints URLs alike.
//!
//! - [`TransformQuery::parse`] reads the parameters, every value within its
//!   range; [`TransformQuery::spec`] then settles what depends on the file and
//!   the client (`dpr` into the sides, `fmt=auto` from `Accept`, no `fmt` from
//!   the original's type) into the [`TransformSpec`] a processor makes.
//! - [`TransformKey`] signs `path + "?" + the parameters but sig, sorted by
//!   name, as name=value joined by &`, with HMAC-SHA256, base64url without
//!   padding; anyone holding `TRANSFORM_KEY` can mint the same URLs.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::processing::{
    Gravity, MediaKind, OutputFormat, TRANSFORM_FORMATS, TransformFit, TransformSpec, format_name,
};

/// The query parameter that carries the signature.
pub const SIGNATURE: &str = "sig";
/// The query parameter that carries the expiry (unix seconds).
pub const EXPIRES: &str = "exp";
/// The largest `dpr`.
const MAX_DPR: f64 = 4.0;

/// The format a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    /// No `fmt`: the original's own, when a transform can write it.
    Original,
    /// `fmt=auto`: the best the client's `Accept` allows: AVIF, then WebP.
    Auto,
    Named(OutputFormat),
}

/// A transform's parameters, each checked but not yet settled against a file.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformQuery {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Option<TransformFit>,
    pub format: FormatChoice,
    pub quality: Option<u8>,
    pub dpr: Option<f64>,
    pub gravity: Option<Gravity>,
    /// Unix time after which the URL is refused.
    pub expires: Option<i64>,
}

impl TransformQuery {
    /// Reads the parameters but `sig`; an unknown or repeated one, or a value
    /// out of range, is refused with a message that names it.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        max_dimension: u32,
    ) -> Result<Self, String> {
        let mut query = TransformQuery {
            width: None,
            height: None,
            fit: None,
            format: FormatChoice::Original,
            quality: None,
            dpr: None,
            gravity: None,
            expires: None,
        };
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if name == SIGNATURE {
                continue;
            }
            if seen.contains(&name) {
                return Err(format!("`{name}` is given more than once"));
            }
            seen.push(name);
            match name {
                "w" => query.width = Some(whole(name, value, 1, max_dimension)?),
                "h" => query.height = Some(whole(name, value, 1, max_dimension)?),
                "q" => query.quality = Some(whole(name, value, 1, 100)? as u8),
                "fit" => query.fit = Some(fit(value)?),
                "g" => query.gravity = Some(gravity(value)?),
                "fmt" => query.format = format(value)?,
                "dpr" => query.dpr = Some(dpr(value)?),
                EXPIRES => {
                    query.expires = Some(value.parse().map_err(|_| {
                        format!("`exp` must be a unix time in seconds, not {value:?}")
                    })?);
                }
                other => {
                    return Err(format!(
                        "unknown parameter `{other}`; the parameters are w, h, fit, fmt, q, dpr, g, exp and sig"
                    ));
                }
            }
        }
        query.check_sides(max_dimension)?;
        Ok(query)
    }

    /// The sides times `dpr` must stay within `max_dimension` too.
    fn check_sides(&self, max_dimension: u32) -> Result<(), String> {
        for (name, side) in [("w", self.width), ("h", self.height)] {
            if let Some(side) = side
                && self.scaled(side) > max_dimension
            {
                return Err(format!(
                    "`{name}` times `dpr` is {}, more than the largest side, {max_dimension}",
                    self.scaled(side)
                ));
            }
        }
        Ok(())
    }

    fn scaled(&self, side: u32) -> u32 {
        // At most 4 x a u32 side checked against a u32 maximum, rounded.
        (f64::from(side) * self.dpr.unwrap_or(1.0)).round() as u32
    }

    /// Whether the answer depends on the client's `Accept` (`Vary: Accept`).
    pub fn varies_with_accept(&self) -> bool {
        self.format == FormatChoice::Auto
    }

    /// What to make of an original of kind `source` for a client that
    /// accepts `accept`. Equal pixels get equal specs, whatever the URL said:
    /// `w=200&dpr=2` is `w=400`, and a PNG's quality is not part of it.
    pub fn spec(&self, source: MediaKind, accept: &str, max_dimension: u32) -> TransformSpec {
        let format = match self.format {
            FormatChoice::Named(format) => format,
            FormatChoice::Original => same_as(source),
            FormatChoice::Auto if accepts(accept, "image/avif") => OutputFormat::Avif,
            FormatChoice::Auto if accepts(accept, "image/webp") => OutputFormat::Webp,
            // Without WebP, a picture that may be transparent stays PNG or GIF.
            FormatChoice::Auto => same_as(source),
        };
        let lossy = matches!(
            format,
            OutputFormat::Jpeg | OutputFormat::Webp | OutputFormat::Avif
        );
        TransformSpec {
            width: self.width.map(|side| self.scaled(side)),
            height: self.height.map(|side| self.scaled(side)),
            fit: self.fit.unwrap_or(TransformFit::Contain),
            format,
            quality: match self.quality {
                Some(quality) if lossy => quality,
                _ => TransformSpec::DEFAULT_QUALITY,
            },
            gravity: self.gravity.unwrap_or(Gravity::Center),
            max_dimension,
        }
    }

    /// The parameters this query was read from (but `sig`), to put in a URL.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let mut push = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                pairs.push((name, value));
            }
        };
        push("w", self.width.map(|w| w.to_string()));
        push("h", self.height.map(|h| h.to_string()));
        push("fit", self.fit.map(|fit| fit.name().to_owned()));
        push(
            "fmt",
            match self.format {
                FormatChoice::Original => None,
                FormatChoice::Auto => Some("auto".to_owned()),
                FormatChoice::Named(format) => Some(format_name(format).to_owned()),
            },
        );
        push("q", self.quality.map(|q| q.to_string()));
        push("dpr", self.dpr.map(|dpr| dpr.to_string()));
        push("g", self.gravity.map(|g| g.name().to_owned()));
        push(EXPIRES, self.expires.map(|exp| exp.to_string()));
        pairs
    }
}

/// The format a transform writes for an original of `kind` when none is named.
fn same_as(kind: MediaKind) -> OutputFormat {
    match kind {
        MediaKind::Png => OutputFormat::Png,
        MediaKind::Webp => OutputFormat::Webp,
        MediaKind::Gif => OutputFormat::Gif,
        _ => OutputFormat::Jpeg,
    }
}

/// Whether an `Accept` header lists `media_type` (without `q=0`).
fn accepts(accept: &str, media_type: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let listed = parts
            .next()
            .is_some_and(|t| t.eq_ignore_ascii_case(media_type));
        let refused = parts.any(|param| {
            param
                .strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        listed && !refused
    })
}

fn whole(name: &str, value: &str, min: u32, max: u32) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            format!("`{name}` must be a whole number from {min} to {max}, not {value:?}")
        })
}

fn dpr(value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|dpr| (1.0..=MAX_DPR).contains(dpr))
        .ok_or_else(|| format!("`dpr` must be a number from 1 to 4, not {value:?}"))
}

fn fit(value: &str) -> Result<TransformFit, String> {
    TransformFit::ALL
        .into_iter()
        .find(|fit| fit.name() == value)
        .ok_or_else(|| format!("`fit` must be contain, cover, fill or inside, not {value:?}"))
}

fn gravity(value: &str) -> Result<Gravity, String> {
    Gravity::ALL
        .into_iter()
        .find(|gravity| gravity.name() == value)
        .ok_or_else(|| {
            format!("`g` must be center, attention, n, s, e, w, ne, nw, se or sw, not {value:?}")
        })
}

fn format(value: &str) -> Result<FormatChoice, String> {
    if value == "auto" {
        return Ok(FormatChoice::Auto);
    }
    TRANSFORM_FORMATS
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, format)| FormatChoice::Named(*format))
        .ok_or_else(|| format!("`fmt` must be jpeg, png, webp, avif, gif or auto, not {value:?}"))
}

/// The key transform URLs are signed with.
#[derive(Clone)]
pub struct TransformKey(Vec<u8>);

impl TransformKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self(key.into())
    }

    /// The signature of `path` with `pairs` (any order; `sig` is left out).
    pub fn sign<'a>(
        &self,
        path: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(path, pairs).finalize().into_bytes())
    }

    /// Whether `signature` is the signature of `path` with `pairs`, compared
    /// in constant time.
    pub fn verify<'a>(
        &self,
        path: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        signature: &str,
    ) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.mac(path, pairs).verify_slice(&signature).is_ok()
    }

    fn mac<'a>(
        &self,
        path: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Hmac<Sha256> {
        let mut sorted: Vec<(&str, &str)> = pairs
            .into_iter()
            .filter(|(name, _)| *name != SIGNATURE)
            .collect();
        sorted.sort();
        let query: Vec<String> = sorted
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        // HMAC takes keys of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(path.as_bytes());
        mac.update(b"?");
        mac.update(query.join("&").as_bytes());
        mac
    }
}

impl std::fmt::Debug for TransformKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransformKey(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<TransformQuery, String> {
        TransformQuery::parse(query.iter().copied(), 4096)
    }

    #[test]
    fn every_parameter_is_read_and_checked() {
        let query = parse(&[
            ("w", "300"),
            ("h", "200"),
            ("fit", "cover"),
            ("fmt", "webp"),
            ("q", "70"),
            ("dpr", "2"),
            ("g", "attention"),
            ("exp", "1900000000"),
            ("sig", "ignored here"),
        ])
        .unwrap();
        let spec = query.spec(MediaKind::Jpeg, "", 4096);
        assert_eq!((spec.width, spec.height), (Some(600), Some(400)));
        assert_eq!(spec.fit, TransformFit::Cover);
        assert_eq!(spec.format, OutputFormat::Webp);
        assert_eq!(spec.quality, 70);
        assert_eq!(spec.gravity, Gravity::Attention);
        assert_eq!(query.expires, Some(1_900_000_000));
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        for (query, mentions) in [
            (vec![("w", "0")], "`w`"),
            (vec![("w", "4097")], "`w`"),
            (vec![("h", "abc")], "`h`"),
            (vec![("q", "101")], "`q`"),
            (vec![("fit", "stretch")], "`fit`"),
            (vec![("fmt", "tiff")], "`fmt`"),
            (vec![("dpr", "5")], "`dpr`"),
            (vec![("g", "up")], "`g`"),
            (vec![("exp", "soon")], "`exp`"),
            (vec![("size", "3")], "`size`"),
            (vec![("w", "1"), ("w", "2")], "more than once"),
            (vec![("w", "3000"), ("dpr", "2")], "times `dpr`"),
        ] {
            let err = parse(&query).unwrap_err();
            assert!(err.contains(mentions), "{query:?}: {err}");
        }
    }

    #[test]
    fn the_format_follows_the_original_or_the_accept_header() {
        let none = parse(&[]).unwrap();
        assert_eq!(
            none.spec(MediaKind::Png, "", 4096).format,
            OutputFormat::Png
        );
        assert_eq!(
            none.spec(MediaKind::Tiff, "", 4096).format,
            OutputFormat::Jpeg
        );
        let auto = parse(&[("fmt", "auto")]).unwrap();
        assert!(auto.varies_with_accept() && !none.varies_with_accept());
        let chrome = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
        assert_eq!(
            auto.spec(MediaKind::Jpeg, chrome, 4096).format,
            OutputFormat::Avif
        );
        let older = "image/webp,image/apng,image/*,*/*;q=0.8";
        assert_eq!(
            auto.spec(MediaKind::Jpeg, older, 4096).format,
            OutputFormat::Webp
        );
        assert_eq!(
            auto.spec(MediaKind::Jpeg, "image/*", 4096).format,
            OutputFormat::Jpeg
        );
        assert_eq!(
            auto.spec(MediaKind::Jpeg, "image/webp;q=0", 4096).format,
            OutputFormat::Jpeg
        );
    }

    #[test]
    fn urls_for_the_same_pixels_settle_on_the_same_spec() {
        let doubled = parse(&[("w", "200"), ("dpr", "2"), ("fmt", "png"), ("q", "10")]).unwrap();
        let plain = parse(&[("w", "400"), ("fmt", "png")]).unwrap();
        assert_eq!(
            doubled.spec(MediaKind::Jpeg, "", 4096).cache_key(),
            plain.spec(MediaKind::Jpeg, "", 4096).cache_key()
        );
    }

    #[test]
    fn a_signature_holds_for_its_path_and_parameters_in_any_order_only() {
        let key = TransformKey::new(b"k".repeat(32));
        let sig = key.sign("/t/abc", [("w", "300"), ("fmt", "webp")]);
        assert!(key.verify("/t/abc", [("fmt", "webp"), ("w", "300")], &sig));
        assert!(key.verify(
            "/t/abc",
            [("fmt", "webp"), ("w", "300"), ("sig", &sig)],
            &sig
        ));
        assert!(!key.verify("/t/abc", [("w", "301"), ("fmt", "webp")], &sig));
        assert!(!key.verify("/t/abd", [("w", "300"), ("fmt", "webp")], &sig));
        assert!(!key.verify("/t/abc", [("w", "300")], &sig));
        let other = TransformKey::new(b"o".repeat(32));
        assert!(!other.verify("/t/abc", [("w", "300"), ("fmt", "webp")], &sig));
        assert!(!key.verify("/t/abc", [("w", "300"), ("fmt", "webp")], "not base64!"));
    }

    #[test]
    fn the_pairs_of_a_query_read_back_as_the_same_query() {
        let query = parse(&[("w", "300"), ("fmt", "auto"), ("g", "ne"), ("dpr", "1.5")]).unwrap();
        let pairs = query.pairs();
        let again = TransformQuery::parse(pairs.iter().map(|(n, v)| (*n, v.as_str())), 4096);
        assert_eq!(again.unwrap(), query);
    }
}
