//! What the operator sets after the copy, printed on standard output as lines
//! an env file can take. Secrets the operator typed are shown as placeholders,
//! never echoed: this output ends up in terminals' scrollback and CI logs.
//!
//! The JWT secret needs a word. The embedded default keeps 32 random bytes in
//! `DATA_DIR/jwt_secret` (hex-encoded); `JWT_SECRET` is used as the bytes of its
//! text, so no value of it reproduces that key. A new secret only ends the
//! sign-in tokens issued in the last `JWT_TTL` (people sign in again): API
//! tokens, web sessions and mailed links are random values stored as hashes,
//! signed by nothing, and keep working. A source that already had
//! `JWT_SECRET` set keeps it, and then even sign-in tokens survive.

use super::target::Target;
use crate::config::{Config, JwtSecret, StorageBackend};

pub fn print(source: &Config, target: &Target) {
    let StorageBackend::S3 {
        endpoint,
        access_key,
        bucket,
        region,
        ..
    } = &target.storage.backend
    else {
        // `Target::from_args` builds nothing but S3 storage.
        unreachable!("the target storage is always S3");
    };
    println!();
    println!("# Stop the embedded instance for good: it no longer sees what the new one does.");
    println!("# Set these for every `kiln api` and `kiln worker` process:");
    println!("DATABASE_URL={}", target.database_url_shown);
    println!("MINIO_ENDPOINT={}", endpoint.as_str().trim_end_matches('/'));
    println!("MINIO_ACCESS_KEY={access_key}");
    println!("MINIO_SECRET_KEY=<the --s3-secret-key given here>");
    println!("MINIO_BUCKET={bucket}");
    if region != "us-east-1" {
        println!("MINIO_REGION={region}");
    }
    if !target.storage.key_prefix.is_empty() {
        println!("STORAGE_PREFIX={}", target.storage.key_prefix);
    }
    println!(
        "# Redis carries jobs between api and worker processes; nothing in it needs copying \
         (jobs live in the database)."
    );
    println!("REDIS_URL=redis://<host>:6379");
    match &source.jwt.secret {
        JwtSecret::Configured(_) => {
            println!("# Keep the JWT_SECRET this instance uses: every sign-in stays valid.");
            println!("JWT_SECRET=<unchanged>");
        }
        JwtSecret::KeptInDataDir => {
            println!(
                "# A new shared secret (e.g. `openssl rand -hex 32`). The key in {} cannot \
                 be carried over:",
                source.data_dir.join("jwt_secret").display()
            );
            println!(
                "# sign-in tokens from the last JWT_TTL end (people sign in again); API tokens \
                 and web sessions keep working."
            );
            println!("JWT_SECRET=<new secret, at least 32 characters>");
        }
    }
}
