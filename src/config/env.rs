//! Reading the environment: typed reads of one variable each, and the one error
//! every configuration part reports.
//!
//! The parts of [`super`] read their variables through [`Env`], never through
//! `std::env`, so a whole configuration can be read from a map (tests, embedders)
//! and a bad value always names its variable in one line.

use std::time::Duration;

use url::Url;

/// A configuration problem, reported as one line that names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    pub(super) fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// Typed reads of one variable each; empty values count as unset.
pub(super) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Env<'a> {
    /// Reads variables through `lookup` (the process environment, or a map).
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(lookup)
    }

    pub(super) fn string(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.string(name)
            .map(|raw| {
                raw.parse::<T>()
                    .map_err(|e| ConfigError::new(name, format!("{raw:?} is not valid: {e}")))
            })
            .transpose()
    }

    pub(super) fn positive(&self, name: &'static str) -> Result<Option<u32>, ConfigError> {
        match self.parse::<u32>(name)? {
            Some(0) => Err(ConfigError::new(name, "must be at least 1")),
            other => Ok(other),
        }
    }

    pub(super) fn duration(&self, name: &'static str) -> Result<Option<Duration>, ConfigError> {
        let Some(raw) = self.string(name) else {
            return Ok(None);
        };
        let duration = humantime::parse_duration(&raw).map_err(|e| {
            ConfigError::new(
                name,
                format!("{raw:?} is not a duration like 30s or 5m: {e}"),
            )
        })?;
        if duration.is_zero() {
            return Err(ConfigError::new(name, "must be longer than zero"));
        }
        Ok(Some(duration))
    }

    pub(super) fn byte_size(&self, name: &'static str) -> Result<Option<u64>, ConfigError> {
        let Some(raw) = self.string(name) else {
            return Ok(None);
        };
        let size = raw.parse::<bytesize::ByteSize>().map_err(|e| {
            ConfigError::new(
                name,
                format!("{raw:?} is not a size like 104857600 or 100MiB: {e}"),
            )
        })?;
        if size.as_u64() == 0 {
            return Err(ConfigError::new(name, "must be larger than zero"));
        }
        Ok(Some(size.as_u64()))
    }

    pub(super) fn flag(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.string(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(None),
            Some("1" | "true" | "yes" | "on") => Ok(Some(true)),
            Some("0" | "false" | "no" | "off") => Ok(Some(false)),
            Some(_) => Err(ConfigError::new(name, "must be true or false")),
        }
    }
}

/// An `http://` or `https://` URL (`BASE_URL`, `MINIO_ENDPOINT`, OAuth endpoints).
pub(super) fn parse_http_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new(variable, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            variable,
            "must be an http:// or https:// URL",
        ));
    }
    Ok(url)
}
