//! The machine-readable contract: `/api/openapi.json` is valid OpenAPI 3.1
//! (by `openapi-spec-validator`) and documents every route of the API, the
//! server keeps to it under schemathesis' generated requests, and
//! `/api/docs` renders it in a browser under Kiln's CSP.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::spawn_app;
use crate::support::browser::Browser;
use crate::support::servers::test_python;

/// Every route of `shared/API.md` under `/api`, as (method, path): each must
/// be in the document.
const CONTRACT: [(&str, &str); 37] = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/me"),
    ("post", "/api/tokens"),
    ("get", "/api/tokens"),
    ("delete", "/api/tokens/{id}"),
    ("post", "/api/auth/password/forgot"),
    ("post", "/api/auth/password/reset"),
    ("post", "/api/auth/email/verify"),
    ("post", "/api/auth/email/resend"),
    ("post", "/api/upload"),
    ("get", "/api/files"),
    ("get", "/api/files/{id}"),
    ("delete", "/api/files/{id}"),
    ("get", "/api/files/{id}/content"),
    ("get", "/api/files/{id}/variants/{name}"),
    ("post", "/api/files/{id}/process"),
    ("get", "/api/files/{id}/events"),
    ("get", "/api/events"),
    ("get", "/api/jobs/{id}"),
    ("post", "/api/jobs/{id}/retry"),
    ("post", "/api/files/{id}/shares"),
    ("get", "/api/files/{id}/shares"),
    ("delete", "/api/shares/{id}"),
    ("post", "/api/files/{id}/transform-url"),
    ("options", "/api/uploads"),
    ("post", "/api/uploads"),
    ("head", "/api/uploads/{id}"),
    ("patch", "/api/uploads/{id}"),
    ("delete", "/api/uploads/{id}"),
    ("get", "/api/uploads/{id}"),
    ("post", "/api/webhooks"),
    ("get", "/api/webhooks"),
    ("delete", "/api/webhooks/{id}"),
    ("get", "/api/webhooks/{id}/deliveries"),
    ("post", "/api/webhooks/{id}/test"),
];

/// Runs `program` with `args` (asynchronously: the app under test runs on this
/// thread) and returns whether it succeeded and what it printed.
async fn run(program: &Path, args: &[&str]) -> (bool, String) {
    let hooks = support_dir();
    let output = tokio::process::Command::new(program)
        .args(args)
        // Read by schemathesis only: tus chunks' media type.
        .env("PYTHONPATH", hooks)
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        // Where schemathesis would keep its reports: nowhere in the checkout.
        .current_dir(std::env::temp_dir())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|err| {
            panic!(
                "run {} (scripts/test.sh installs it into target/test-venv): {err}",
                program.display()
            )
        });
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

/// Where the schemathesis hooks and settings are.
fn support_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/support")
}

/// The program `name` installed beside the tests' Python.
fn venv_program(name: &str) -> std::path::PathBuf {
    let python = test_python();
    match python.parent() {
        Some(bin) if bin.join(name).exists() => bin.join(name),
        _ => name.into(),
    }
}

#[actix_rt::test]
async fn the_document_is_valid_openapi_3_1_and_documents_every_api_route() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let (valid, printed) = run(
        &test_python(),
        &["-m", "openapi_spec_validator", file.to_str().unwrap()],
    )
    .await;
    assert!(
        valid,
        "openapi-spec-validator refused the document:\n{printed}"
    );

    let mut operation_ids = HashSet::new();
    for (method, path) in CONTRACT {
        let operation = &doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let id = operation["operationId"].as_str().unwrap();
        assert!(operation_ids.insert(id), "operationId {id} is used twice");
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{method} {path} documents no success"
        );
        assert_eq!(
            responses["500"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "{method} {path}'s errors have the API's error body"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        CONTRACT.len(),
        "the document has operations the contract does not name"
    );

    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["csrf"]["name"], "X-CSRF-Token");
    let upload = &doc["paths"]["/api/upload"]["post"];
    assert_eq!(
        upload["security"],
        serde_json::json!([{ "bearer": [] }, { "session": [], "csrf": [] }]),
        "a write takes a bearer credential, or a session with its CSRF token"
    );
    assert_eq!(
        doc["paths"]["/api/files"]["get"]["security"],
        serde_json::json!([{ "bearer": [] }, { "session": [] }])
    );
    assert!(
        doc["paths"]["/api/auth/login"]["post"]["security"].is_null(),
        "signing in needs no credential"
    );
    for code in ["file_too_large", "quota_exceeded"] {
        assert!(
            upload["responses"]["413"]["description"]
                .as_str()
                .unwrap()
                .contains(code),
            "the upload's 413 names {code}"
        );
    }
}

/// The schemathesis run: every operation, the two event streams included (read
/// for a moment each, `support/schemathesis.toml`), with generated valid and
/// invalid requests, and the stateful phase following the document's links
/// (upload → show, process, share, delete ...). Authenticated with an API
/// token, so no generated request (a logout) can revoke it.
#[actix_rt::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let app = spawn_app().await;
    let session = app.verified_user("schemathesis@example.com").await;
    let token = app.api_token(&session, "schemathesis").await;
    // Something of the user's to read, process and share.
    app.upload_fixture(&token, "photo.jpg").await;

    let schema = app.url("/api/openapi.json");
    let authorization = format!("Authorization: Bearer {token}");
    let settings = support_dir().join("schemathesis.toml");
    let (passed, printed) = run(
        &venv_program("schemathesis"),
        &[
            "--config-file",
            settings.to_str().unwrap(),
            "run",
            &schema,
            "--url",
            &app.address,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            "100",
            "--header",
            &authorization,
            "--max-redirects",
            "0",
            "--request-timeout",
            "20",
            // One thread: CPython 3.11's AST parser (which hypothesis calls
            // to describe strategies) can fail with "AST constructor recursion
            // depth mismatch" when two threads parse at once.
            "--workers",
            "1",
            "--no-color",
            // Nothing kept between runs: each run explores afresh, and prints
            // the seed that replays it (`--seed`).
            "--generation-database",
            "none",
        ],
    )
    .await;
    assert!(passed, "schemathesis found failures:\n{printed}");
    // What it covered, for the test log.
    println!("{printed}");
}

#[actix_rt::test]
async fn the_api_reference_page_renders_the_document_under_the_csp() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.goto(&format!("{}/api/docs", app.address)).await;
    // Swagger UI has fetched the document and drawn an entry per operation.
    browser
        .wait_for(".swagger-ui .opblock", Browser::WAIT)
        .await;
    let operations = browser.count(".swagger-ui .opblock").await;
    assert_eq!(operations, CONTRACT.len(), "one entry per operation");
    let text = browser.text_of(".swagger-ui").await;
    for path in [
        "/api/upload",
        "/api/uploads/{id}",
        "/api/files/{id}/transform-url",
    ] {
        assert!(text.contains(path), "the page lists {path}");
    }
    // Its stylesheet applied (a style-src refusal would leave this unset).
    let styled = browser
        .execute(
            "const block = document.querySelector('.swagger-ui .opblock');\
             return getComputedStyle(block).borderRadius;",
        )
        .await;
    assert_ne!(styled, Value::from("0px"), "swagger-ui.css is applied");
    // The browser reported no Content-Security-Policy violation.
    browser
        .execute(
            "window.kilnViolations = [];\
             const observer = new ReportingObserver((reports) => \
               window.kilnViolations.push(...reports.map((r) => r.body.blockedURL)),\
               { types: ['csp-violation'], buffered: true });\
             observer.observe(); return true;",
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let violations = browser.execute("return window.kilnViolations;").await;
    assert_eq!(violations, serde_json::json!([]), "CSP violations");
    browser.screenshot("api-docs").await;
    browser.close().await;
}
