//! Where `kiln migrate-backend` copies to: the PostgreSQL database and S3 bucket
//! named by its flags, as the same [`DatabaseConfig`] and [`StorageConfig`] the
//! rest of Kiln reads from the environment, so the copy opens them with
//! `catalog::connect` and `Storage::open` exactly as the new deployment will.

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::MigrateBackendArgs;
use crate::config::{DatabaseBackend, DatabaseConfig, StorageBackend, StorageConfig};

/// The scaled-out backends, with what the operator must set to use them.
pub struct Target {
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    /// `--to-database` without its password: safe to print and to keep in the
    /// resume marker.
    pub database_label: String,
    /// `--to-database` as the operator sets it, with `<password>` standing in
    /// for a password it has.
    pub database_url_shown: String,
    /// `s3://BUCKET[/PREFIX] at ENDPOINT`, naming the storage target in messages
    /// and in the resume marker.
    pub storage_label: String,
}

impl Target {
    pub fn from_args(args: &MigrateBackendArgs) -> anyhow::Result<Self> {
        let database_url = args.to_database.expose_secret();
        let mut parsed = match Url::parse(database_url) {
            Ok(url) if matches!(url.scheme(), "postgres" | "postgresql") => url,
            _ => bail!(
                "--to-database must be a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL \
                 (the target is PostgreSQL; the source is the configured SQLite database)"
            ),
        };
        let had_password = parsed.password().is_some();
        // Removing the password of a URL with a host cannot fail.
        let _ = parsed.set_password(None);
        let database_label = parsed.to_string();
        let database_url_shown = match had_password {
            // The label has no password, so its first '@' ends the user name.
            true => database_label.replacen('@', ":<password>@", 1),
            false => database_label.clone(),
        };
        let (bucket, key_prefix) = parse_storage_url(&args.to_storage)?;
        if !matches!(args.s3_endpoint.scheme(), "http" | "https") {
            bail!("--s3-endpoint must be an http:// or https:// URL");
        }
        let storage_label = match key_prefix.as_str() {
            "" => format!("s3://{bucket} at {}", args.s3_endpoint),
            prefix => format!("s3://{bucket}/{prefix} at {}", args.s3_endpoint),
        };
        Ok(Self {
            database: DatabaseConfig {
                url: args.to_database.clone(),
                backend: DatabaseBackend::Postgres,
                // The copy writes one batch at a time.
                pool_size: 4,
            },
            storage: StorageConfig {
                backend: StorageBackend::S3 {
                    endpoint: args.s3_endpoint.clone(),
                    access_key: args.s3_access_key.clone(),
                    secret_key: args.s3_secret_key.clone(),
                    bucket,
                    region: args.s3_region.clone(),
                },
                key_prefix,
            },
            database_label,
            database_url_shown,
            storage_label,
        })
    }
}

/// `s3://BUCKET` or `s3://BUCKET/PREFIX` as (bucket, prefix without slashes at
/// either end).
fn parse_storage_url(raw: &str) -> anyhow::Result<(String, String)> {
    let Some(rest) = raw.strip_prefix("s3://") else {
        bail!("--to-storage must look like s3://BUCKET or s3://BUCKET/PREFIX");
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'));
    if !valid_bucket {
        bail!("--to-storage: {bucket:?} is not an S3 bucket name (3 to 63 of a-z, 0-9, '.', '-')");
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// Parses a secret flag without it ever being held in a plain `String` that a
/// `Debug` print could show.
pub fn parse_secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

#[cfg(test)]
mod tests {
    use super::parse_storage_url;

    #[test]
    fn storage_urls_name_a_bucket_and_an_optional_prefix() {
        assert_eq!(
            parse_storage_url("s3://kiln").unwrap(),
            ("kiln".into(), String::new())
        );
        assert_eq!(
            parse_storage_url("s3://kiln-media/prod/kiln/").unwrap(),
            ("kiln-media".into(), "prod/kiln".into())
        );
        for bad in ["kiln", "http://kiln", "s3://", "s3://Kiln", "s3://a/b"] {
            assert!(parse_storage_url(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
