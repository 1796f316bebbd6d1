//! `kiln user set-role`: making an account an administrator (and a regular
//! user again) from the command line, on the database a running Kiln uses.

use std::collections::HashMap;
use std::process::{Command, Output};

use reqwest::StatusCode;
use secrecy::ExposeSecret;

use crate::helpers::{JWT_SECRET, TestApp, spawn_app};
use crate::web::WebClient;

/// Runs `kiln` with only what it needs to reach `app`'s database.
fn kiln(app: &TestApp, args: &[&str]) -> Output {
    let env = HashMap::from([
        ("DATA_DIR", app.config.data_dir.display().to_string()),
        (
            "DATABASE_URL",
            app.config.database.url.expose_secret().to_string(),
        ),
        ("JWT_SECRET", JWT_SECRET.to_string()),
    ]);
    // Run outside the checkout so a developer's .env cannot leak in.
    Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("kiln runs")
}

fn stdout_of(output: Output) -> String {
    assert!(
        output.status.success(),
        "kiln failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[actix_rt::test]
async fn set_role_makes_an_account_an_administrator_and_a_regular_user_again() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "boss@example.com").await;
    assert_eq!(web.get("/admin/jobs").await.status(), StatusCode::FORBIDDEN);

    let printed = stdout_of(kiln(
        &app,
        &["user", "set-role", " Boss@Example.com ", "admin"],
    ));
    assert_eq!(printed.trim(), "boss@example.com is now an administrator");
    assert_eq!(
        web.get("/admin/jobs").await.status(),
        StatusCode::OK,
        "the running server sees the role on the next request"
    );

    let printed = stdout_of(kiln(
        &app,
        &["user", "set-role", "boss@example.com", "user"],
    ));
    assert_eq!(printed.trim(), "boss@example.com is now a regular user");
    assert_eq!(web.get("/admin/jobs").await.status(), StatusCode::FORBIDDEN);
}

#[actix_rt::test]
async fn set_role_fails_for_an_unknown_address_or_role_saying_why() {
    let app = spawn_app().await;
    let output = kiln(&app, &["user", "set-role", "nobody@example.com", "admin"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no account uses nobody@example.com"),
        "{stderr}"
    );

    let output = kiln(&app, &["user", "set-role", "nobody@example.com", "king"]);
    assert_eq!(output.status.code(), Some(2), "clap refuses the role");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("admin") && stderr.contains("user"),
        "{stderr}"
    );

    let output = kiln(&app, &["user", "set-role", "not an address", "admin"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a valid email"));
}
