//! `kiln user set-role`: making an account an administrator (and a regular
//! user again) from the command line, on the database a running Kiln uses.

use reqwest::StatusCode;

use crate::support::app::spawn_app;
use crate::support::cli::kiln;
use crate::support::web::WebClient;

#[actix_rt::test]
async fn set_role_makes_an_account_an_administrator_and_a_regular_user_again() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "boss@example.com").await;
    assert_eq!(web.get("/admin/jobs").await.status(), StatusCode::FORBIDDEN);

    let printed = kiln(&["user", "set-role", " Boss@Example.com ", "admin"])
        .on(&app)
        .stdout();
    assert_eq!(printed.trim(), "boss@example.com is now an administrator");
    assert_eq!(
        web.get("/admin/jobs").await.status(),
        StatusCode::OK,
        "the running server sees the role on the next request"
    );

    let printed = kiln(&["user", "set-role", "boss@example.com", "user"])
        .on(&app)
        .stdout();
    assert_eq!(printed.trim(), "boss@example.com is now a regular user");
    assert_eq!(web.get("/admin/jobs").await.status(), StatusCode::FORBIDDEN);
}

#[actix_rt::test]
async fn set_role_fails_for_an_unknown_address_or_role_saying_why() {
    let app = spawn_app().await;
    let output = kiln(&["user", "set-role", "nobody@example.com", "admin"])
        .on(&app)
        .run();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no account uses nobody@example.com"),
        "{stderr}"
    );

    let output = kiln(&["user", "set-role", "nobody@example.com", "king"])
        .on(&app)
        .run();
    assert_eq!(output.status.code(), Some(2), "clap refuses the role");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("admin") && stderr.contains("user"),
        "{stderr}"
    );

    let output = kiln(&["user", "set-role", "not an address", "admin"])
        .on(&app)
        .run();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a valid email"));
}
