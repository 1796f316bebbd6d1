//! Whole journeys through the web UI in a real browser (headless Chromium):
//! registering and verifying by mail, uploading and processing files, API
//! tokens, password reset, OAuth sign-in against a loopback provider, the
//! refusal of a form posted from another origin, downloads that are saved,
//! never rendered, and webhook endpoints on the settings page.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::api::file_id;
use crate::support::app::{NEW_PASSWORD, PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::support::browser::Browser;
use crate::support::fixtures::fixture;
use crate::support::mail::ReceivedMail;
use crate::support::oauth_provider::{OAuthProvider, ProviderUser};
use crate::support::servers::{Answers, PrivateSmtp, WebhookReceiver, serve_page};
use crate::support::wait::wait_until;
use crate::support::web::WebClient;

/// Processing (thumbnails, watermarks) may take a while on a busy machine.
const SLOW: Duration = Duration::from_secs(60);

/// Registers on /register; the browser ends signed in on /files.
async fn register_in_browser(browser: &Browser, app: &TestApp, name: &str, email: &str) {
    browser.goto(&app.url("/register")).await;
    browser.fill("#name", name).await;
    browser.fill("#email", email).await;
    browser.fill("#password", PASSWORD).await;
    browser.submit(r#"form[action="/register"]"#).await;
    browser.wait_for_url("/files", Browser::WAIT).await;
    browser
        .wait_for_text("[data-test=viewer-name]", name, Browser::WAIT)
        .await;
}

/// Signs in on /login and waits for /files.
async fn sign_in(browser: &Browser, app: &TestApp, email: &str, password: &str) {
    browser.goto(&app.url("/login")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.submit(r#"form[action="/login"]"#).await;
    browser.wait_for_url("/files", Browser::WAIT).await;
    browser
        .wait_for("[data-test=viewer-name]", Browser::WAIT)
        .await;
}

/// Clicks the header's "Sign out" and waits for the sign-in page.
async fn sign_out(browser: &Browser) {
    browser.click("[data-test=logout]").await;
    browser.wait_for_url("/login", Browser::WAIT).await;
    browser.wait_for_text("h1", "Sign in", Browser::WAIT).await;
    assert!(
        !browser.is_present("[data-test=viewer-name]").await,
        "after signing out the header still shows a signed-in person"
    );
}

/// Opens the link in `mail` to `page` and waits for the page's `heading`.
async fn open_mailed_link(
    browser: &Browser,
    app: &TestApp,
    mail: &ReceivedMail,
    page: &str,
    heading: &str,
) {
    browser.goto(&app.url(&mail.link_path(page))).await;
    browser.wait_for_text("h1", heading, Browser::WAIT).await;
}

/// Checks that the browser still opens the files page as `name`.
async fn still_signed_in_as(browser: &Browser, app: &TestApp, name: &str) {
    browser.goto(&app.url("/files")).await;
    assert!(browser.current_url().await.ends_with("/files"));
    browser
        .wait_for_text("[data-test=viewer-name]", name, Browser::WAIT)
        .await;
}

#[actix_rt::test]
async fn a_new_user_registers_verifies_uploads_watermarks_and_manages_tokens() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let browser = Browser::start().await;

    browser.goto(&app.url("/")).await;
    browser.screenshot("landing").await;

    // Register, and verify the address from the mail.
    register_in_browser(&browser, &app, "Ada Lovelace", "ada@example.com").await;
    let mail = smtp.inbox.next_to("ada@example.com").await;
    open_mailed_link(
        &browser,
        &app,
        &mail,
        "verify-email",
        "Verify your e-mail address",
    )
    .await;
    browser.submit(r#"form[action="/verify-email"]"#).await;
    // Clicking "Verify my address" takes the browser off the verify page.
    browser
        .wait_until_gone(r#"form[action="/verify-email"]"#, Browser::WAIT)
        .await;
    browser.screenshot("verified").await;
    let me = {
        // Verified, as the API sees it (through a fresh API login).
        let token = app.access_token("ada@example.com", PASSWORD).await;
        app.me(&token.expect("the account signs in")).await
    };
    assert_eq!(
        me["user"]["email_verified"],
        json!(true),
        "clicking \"Verify my address\" did not verify the account: /api/me says {me}"
    );
    browser.goto(&app.url("/files")).await;
    assert!(
        !browser
            .is_present(r#"form[action="/verify-email/resend"]"#)
            .await,
        "the \"please verify\" banner still shows after verifying"
    );

    // Out, and back in on /login.
    sign_out(&browser).await;
    sign_in(&browser, &app, "ada@example.com", PASSWORD).await;

    // Upload two images from /files, without the page reloading.
    browser.goto(&app.url("/files")).await;
    browser
        .wait_for("[data-test=no-files]", Browser::WAIT)
        .await;
    let files_url = browser.current_url().await;
    browser.execute("window.__noReload = 1; return 1").await;
    browser
        .upload("[data-test=file-input]", &["small.jpg", "logo.png"])
        .await;
    browser
        .wait_for_count(
            r#"[data-test="file-card"] [data-test="thumbnail"]"#,
            2,
            SLOW,
        )
        .await;
    assert_eq!(
        browser.current_url().await,
        files_url,
        "uploading moved the browser to another page"
    );
    assert_eq!(
        browser.execute("return window.__noReload === 1").await,
        json!(true),
        "the files page reloaded while uploading (the JS marker is gone)"
    );
    assert_eq!(browser.count(r#"[data-test="file-card"]"#).await, 2);
    // The cards fade in; the screenshot shows them once they have.
    browser.wait_for_animations(Browser::WAIT).await;
    browser.screenshot("files").await;

    // A phone-width look at the grid.
    browser.set_window_size(390, 844).await;
    browser.screenshot("files-phone").await;
    browser.set_window_size(1280, 900).await;

    // One file's page: make a watermarked variant.
    let link = browser
        .find(r#"[data-test="file-card"] a.file-card-link"#)
        .await;
    let href = link
        .attr("href")
        .await
        .unwrap()
        .expect("a card links to its file");
    browser.goto(&app.url(&href)).await;
    browser
        .wait_for("[data-test=file-detail]", Browser::WAIT)
        .await;
    let select = browser.find("[data-test=processor]").await;
    select
        .select_by_value("watermark")
        .await
        .expect("the processor list offers watermark");
    browser.fill("#opt-watermark-text", "Kiln test").await;
    browser.submit("[data-test=process-form]").await;
    browser
        .wait_for(
            r#"[data-test="job"][data-processor="watermark"][data-status="succeeded"]"#,
            SLOW,
        )
        .await;
    browser
        .wait_for(r#"[data-test="variant"][data-variant="watermark"]"#, SLOW)
        .await;
    // The variant's card fades in; the screenshot shows it once it has.
    browser.wait_for_animations(Browser::WAIT).await;
    browser.scroll_to_top().await;
    browser.screenshot("file-detail").await;

    // API tokens on /settings.
    browser.goto(&app.url("/settings")).await;
    browser.fill("#token_name", "Browser test").await;
    browser.submit(r#"form[action="/settings/tokens"]"#).await;
    let secret = browser
        .wait_for("[data-test=new-token-secret]", Browser::WAIT)
        .await
        .prop("value")
        .await
        .unwrap()
        .expect("the new token's field has a value");
    assert!(!secret.is_empty(), "the new token is shown empty");
    assert_eq!(
        app.me_status(&secret).await,
        StatusCode::OK,
        "the token shown on /settings does not work on /api/me"
    );
    assert_eq!(browser.count("[data-test=token-row]").await, 1);
    // The revoke form asks for confirmation; say yes.
    browser
        .execute("window.confirm = () => true; return 1")
        .await;
    browser.submit(r#"[data-test=token-row] form"#).await;
    browser
        .wait_for("[data-test=no-tokens]", Browser::WAIT)
        .await;
    assert_eq!(
        app.me_status(&secret).await,
        StatusCode::UNAUTHORIZED,
        "a revoked token still works"
    );
    browser.scroll_to_top().await;
    browser.screenshot("settings").await;

    browser.goto(&app.url("/upload")).await;
    browser
        .wait_for("[data-test=dropzone]", Browser::WAIT)
        .await;
    browser.screenshot("upload").await;

    sign_out(&browser).await;
    browser.close().await;
}

#[actix_rt::test]
async fn a_forgotten_password_is_reset_in_the_browser() {
    let mut smtp = PrivateSmtp::start().await;
    let app = spawn_app_with(smtp.env()).await;
    let browser = Browser::start().await;

    register_in_browser(&browser, &app, "Grace Hopper", "grace@example.com").await;
    smtp.inbox.next().await; // the verification mail
    sign_out(&browser).await;
    browser.screenshot("login").await;

    browser.click(r#"a[href="/forgot-password"]"#).await;
    browser
        .wait_for_url("/forgot-password", Browser::WAIT)
        .await;
    browser.fill("#email", "grace@example.com").await;
    browser.submit(r#"form[action="/forgot-password"]"#).await;
    let mail = smtp.inbox.next_to("grace@example.com").await;
    open_mailed_link(
        &browser,
        &app,
        &mail,
        "reset-password",
        "Choose a new password",
    )
    .await;
    browser.fill("#password", NEW_PASSWORD).await;
    browser.fill("#password_confirm", NEW_PASSWORD).await;
    browser.screenshot("reset-password").await;
    browser.submit(r#"form[action="/reset-password"]"#).await;
    browser.wait_for_url("/login", Browser::WAIT).await;
    browser.wait_for("p.notice", Browser::WAIT).await;

    // The old password no longer works; the new one does.
    browser.fill("#email", "grace@example.com").await;
    browser.fill("#password", PASSWORD).await;
    browser.submit(r#"form[action="/login"]"#).await;
    browser
        .wait_for("[data-test=form-error]", Browser::WAIT)
        .await;
    assert!(!browser.current_url().await.contains("/files"));

    sign_in(&browser, &app, "grace@example.com", NEW_PASSWORD).await;
    browser
        .wait_for_text("[data-test=viewer-name]", "Grace Hopper", Browser::WAIT)
        .await;
    browser.close().await;
}

#[actix_rt::test]
async fn oauth_sign_in_runs_against_the_loopback_provider() {
    let provider = OAuthProvider::start();
    let app = spawn_app_with(provider.env("GOOGLE")).await;
    let mut user = ProviderUser::new("g-5005", "lin@example.com", true);
    user.name = Some("Lin Oauth".to_string());
    provider.sign_in_as(user);
    let browser = Browser::start().await;

    browser.goto(&app.url("/login")).await;
    browser
        .wait_for("[data-test=oauth-google]", Browser::WAIT)
        .await;
    browser.screenshot("login-oauth").await;
    browser.click("[data-test=oauth-google]").await;
    browser
        .wait_for_url(&format!("{}/files", app.address), Browser::WAIT)
        .await;
    browser
        .wait_for_text("[data-test=viewer-name]", "Lin Oauth", Browser::WAIT)
        .await;
    assert_eq!(
        provider.authorize_requests().len(),
        1,
        "the browser went through the provider's /authorize once"
    );

    browser.goto(&app.url("/settings")).await;
    let linked = browser
        .wait_for_text(
            "[data-test=provider-google]",
            "lin@example.com",
            Browser::WAIT,
        )
        .await;
    assert!(
        linked.to_lowercase().contains("linked") && !linked.contains("Not linked"),
        "/settings does not show Google as linked: {linked:?}"
    );
    browser.close().await;
}

/// A page on another site (another origin than Kiln's) with a form that
/// posts to `action`; its URL.
fn foreign_form(action: &str) -> String {
    serve_page(format!(
        "<!doctype html><html><head><title>Elsewhere</title></head><body>\
         <h1>Another site</h1>\
         <form id=\"evil\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"name\" value=\"Mallory was here\">\
         <button type=\"submit\" id=\"go\">Win a prize</button></form></body></html>"
    ))
}

#[actix_rt::test]
async fn a_cross_site_form_post_is_refused() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    register_in_browser(&browser, &app, "Katherine Johnson", "kj@example.com").await;

    let foreign = foreign_form(&app.url("/settings/profile"));
    browser.goto(&foreign).await;
    browser
        .wait_for_text("h1", "Another site", Browser::WAIT)
        .await;
    browser.click("#go").await;
    browser
        .wait_for_url(&app.url("/settings/profile"), Browser::WAIT)
        .await;
    let body = browser
        .wait_for_text("body", "another site", Browser::WAIT)
        .await;
    assert!(
        body.contains("403") || body.to_lowercase().contains("forbidden"),
        "the refusal page does not say 403/Forbidden: {body:?}"
    );
    browser.screenshot("cross-site-refused").await;

    // Still signed in, and the name is unchanged.
    still_signed_in_as(&browser, &app, "Katherine Johnson").await;
    browser.goto(&app.url("/settings")).await;
    let name = browser
        .find("#name")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(
        name, "Katherine Johnson",
        "the foreign form changed the name"
    );

    // The same for /logout: refused, and the session lives on.
    let foreign = foreign_form(&app.url("/logout"));
    browser.goto(&foreign).await;
    browser.click("#go").await;
    browser
        .wait_for_url(&app.url("/logout"), Browser::WAIT)
        .await;
    browser
        .wait_for_text("body", "another site", Browser::WAIT)
        .await;
    still_signed_in_as(&browser, &app, "Katherine Johnson").await;
    browser.close().await;
}

#[actix_rt::test]
async fn the_upload_page_says_which_files_were_refused_and_why() {
    // 2 KiB: logo.png (281 B) fits, small.jpg (4.5 KB) does not.
    let app = spawn_app_with(&[("MAX_UPLOAD_SIZE", "2KiB")]).await;
    let browser = Browser::start().await;
    register_in_browser(&browser, &app, "Ada Lovelace", "ada@example.com").await;
    browser.goto(&app.url("/upload")).await;
    browser
        .upload(
            r#"[data-test="file-input"]"#,
            &["small.jpg", "spoofed.jpg", "logo.png"],
        )
        .await;
    // Too large is caught before sending; text dressed as a JPEG only by the
    // server, which looks at the bytes.
    browser
        .wait_for_count(r#"[data-test="upload-error"]"#, 2, SLOW)
        .await;
    let errors = browser
        .execute(
        r#"return [...document.querySelectorAll('[data-test="upload"]')]
             .map(card => [card.textContent.includes("small.jpg") ? "small" :
                           card.textContent.includes("spoofed.jpg") ? "spoofed" : "logo",
                           (card.querySelector('[data-test="upload-error"]') || {}).textContent || ""]);"#,
    )
    .await;
    let message_of = |name: &str| -> String {
        errors
            .as_array()
            .unwrap()
            .iter()
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no upload card for {name}: {errors}"))
    };
    assert!(message_of("small").contains("Too large"), "{errors}");
    // Refused before its first byte: the page never asked to create an upload
    // for it (the other two each asked once).
    let creations = browser
        .execute(
            "return performance.getEntriesByType('resource')\
             .filter(entry => new URL(entry.name).pathname === '/api/uploads').length",
        )
        .await;
    assert_eq!(creations, json!(2), "{errors}");
    assert!(
        message_of("spoofed").contains("Unsupported type"),
        "{errors}"
    );
    assert_eq!(message_of("logo"), "", "{errors}");
    browser
        .wait_for(r#"[data-test="upload"] [data-test="thumbnail"]"#, SLOW)
        .await;
    browser.screenshot("upload-errors").await;

    let cookie = browser
        .client()
        .get_named_cookie("kiln_session")
        .await
        .expect("signed in");
    let listed = WebClient::with_session(&app, &format!("kiln_session={}", cookie.value()))
        .api_json("/api/files")
        .await;
    let names: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["filename"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logo.png"], "only the accepted file is stored");
    browser.close().await;
}

/// A page whose script, were it ever run on Kiln's origin, would leave a mark
/// there: hidden after the end of a real PDF, and after a ZIP's signature.
const HIDDEN_PAGE: &[u8] = b"\n<!doctype html><html><body><script>\
    localStorage.setItem('kiln-script-ran', location.href)</script></body></html>\n";

#[actix_rt::test]
async fn a_pdf_or_an_allowed_extra_type_is_downloaded_not_rendered_and_its_script_never_runs() {
    let app = spawn_app_with(&[("ALLOWED_EXTRA_TYPES", "application/zip")]).await;
    let token = app.signed_in_user("ada@example.com").await;
    let pdf = [fixture("two-pages.pdf"), HIDDEN_PAGE.to_vec()].concat();
    let zip = [b"PK\x03\x04".to_vec(), HIDDEN_PAGE.to_vec()].concat();
    let mut files = Vec::new();
    for (name, bytes) in [("report.pdf", pdf), ("notes.zip", zip)] {
        let body = app.upload_accepted(&token, name, bytes.clone(), None).await;
        files.push((name, bytes, file_id(&body)));
    }

    let browser = Browser::start().await;
    sign_in(&browser, &app, "ada@example.com", PASSWORD).await;
    for (name, bytes, id) in &files {
        let page = app.url(&format!("/files/{id}"));
        browser.goto(&page).await;
        browser.click("[data-test=download-original]").await;
        let saved = browser.wait_for_download(name, SLOW).await;
        assert!(saved == *bytes, "{name} is saved whole, under its name");
        assert_eq!(
            browser.current_url().await,
            page,
            "{name} was opened in the browser"
        );
    }
    let mark = browser
        .execute("return localStorage.getItem('kiln-script-ran')")
        .await;
    assert_eq!(mark, serde_json::Value::Null, "a stored file's script ran");
    browser.close().await;
}

/// What the page loaded of its thumbnails, once all 20 show: per thumbnail
/// resource entry, the bytes that came over the network (0 from the cache).
const THUMBNAIL_TRANSFERS: &str = "\
    const shown = [...document.querySelectorAll('img[data-test=thumbnail]')] \
        .filter(img => img.complete && img.naturalWidth > 0).length; \
    if (shown < 20) return null; \
    return performance.getEntriesByType('resource') \
        .filter(entry => entry.name.includes('/variants/thumbnail')) \
        .map(entry => entry.transferSize);";

/// Opens the files page and waits until its 20 thumbnails show; returns the
/// transfer sizes [`THUMBNAIL_TRANSFERS`] reads.
async fn load_twenty_thumbnails(browser: &Browser, app: &TestApp) -> Vec<u64> {
    browser.goto(&app.url("/files")).await;
    let deadline = std::time::Instant::now() + Browser::WAIT;
    loop {
        let transfers = browser.execute(THUMBNAIL_TRANSFERS).await;
        if let Some(sizes) = transfers.as_array() {
            return sizes
                .iter()
                .map(|size| size.as_u64().unwrap_or(0))
                .collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the thumbnails never all showed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_rt::test]
async fn a_page_of_thumbnails_shown_again_comes_from_the_browser_cache() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(file_id(&app.upload_fixture(&token, "small.jpg").await));
    }
    for id in &ids {
        app.wait_until_processed(&token, id).await;
    }
    let browser = Browser::start().await;
    // Tall enough that no thumbnail waits for a scroll (they load lazily).
    browser.set_window_size(1280, 4000).await;
    sign_in(&browser, &app, "ada@example.com", PASSWORD).await;
    // Signing in lands on the files page, which may already have fetched
    // thumbnails: the first visit measured starts from an empty cache.
    browser.goto(&app.url("/settings")).await;
    browser.clear_cache().await;

    let first = load_twenty_thumbnails(&browser, &app).await;
    let second = load_twenty_thumbnails(&browser, &app).await;
    // S3's links are another origin, which hides its transfer sizes from the
    // page; Kiln's own route is this origin, so the first visit shows bytes
    // coming over the network (the measurement can see a miss).
    if !app.uses_services() {
        assert!(first.iter().any(|&bytes| bytes > 0), "{first:?}");
    }
    // The second visit takes every thumbnail from the cache: no image bytes
    // come over the network (a cached resource has no transfer, or no entry).
    assert!(second.iter().all(|&bytes| bytes == 0), "{second:?}");
    browser.close().await;
}

/// Each box that has a ThumbHash (the grid's thumbnails, the file page's
/// preview): whether its placeholder is painted, and whether its image shows.
const PLACEHOLDERS: &str = "return [...document.querySelectorAll('[data-thumbhash]')].map(box => { \
    const image = box.querySelector('img'); \
    return { \
      painted: getComputedStyle(box).backgroundImage.startsWith('url(\"data:image/png'), \
      shown: !!image && image.complete && image.naturalWidth > 0, \
    }; });";

/// Whether `boxes` (what [`PLACEHOLDERS`] returned) are `count` boxes, each
/// painted or not and showing its image or not as asked.
fn boxes_are(boxes: &serde_json::Value, count: usize, painted: bool, shown: bool) -> bool {
    boxes.as_array().is_some_and(|boxes| {
        boxes.len() == count
            && boxes
                .iter()
                .all(|b| b["painted"] == json!(painted) && b["shown"] == json!(shown))
    })
}

#[actix_rt::test]
async fn an_image_still_loading_shows_a_blurred_likeness_of_itself_in_its_place() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let photo = app.uploaded(&token, "photo.jpg").await;
    app.uploaded(&token, "alpha.png").await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ada@example.com", PASSWORD).await;

    // No image bytes arrive: each box shows its placeholder, for as long as it takes.
    browser
        .block_requests(&["*/variants/*", "*/content*"])
        .await;
    browser.goto(&app.url("/files")).await;
    browser
        .wait_for_value(PLACEHOLDERS, Browser::WAIT, |boxes| {
            boxes_are(boxes, 2, true, false)
        })
        .await;
    browser.goto(&app.url(&format!("/files/{photo}"))).await;
    browser
        .wait_for_value(PLACEHOLDERS, Browser::WAIT, |boxes| {
            boxes_are(boxes, 1, true, false)
        })
        .await;
    browser.screenshot("placeholder-file-detail").await;

    // When the images come, they take their placeholders' place.
    browser.block_requests(&[]).await;
    browser.goto(&app.url("/files")).await;
    browser
        .wait_for_value(PLACEHOLDERS, Browser::WAIT, |boxes| {
            boxes_are(boxes, 2, false, true)
        })
        .await;
    browser.close().await;
}

#[actix_rt::test]
async fn a_link_made_on_the_file_page_opens_in_a_browser_without_a_session_until_revoked() {
    let app = spawn_app().await;
    let token = app.signed_in_user("ada@example.com").await;
    let photo = app.uploaded(&token, "photo.jpg").await;
    let owner = Browser::start().await;
    sign_in(&owner, &app, "ada@example.com", PASSWORD).await;
    owner.goto(&app.url(&format!("/files/{photo}"))).await;
    // Share only the thumbnail and the medium size, for a day.
    for name in ["original", "sm"] {
        owner
            .click(&format!("[data-test=share-form] input[value={name}]"))
            .await;
    }
    owner
        .execute("document.querySelector('[data-test=share-expires]').value = '1d'")
        .await;
    owner.click("[data-test=create-share]").await;
    let field = owner.wait_for("[data-test=share-url]", Browser::WAIT).await;
    let url = field.prop("value").await.unwrap().unwrap();
    assert!(url.starts_with(&app.url("/s/")), "{url}");
    let listed = owner.text_of("[data-test=share-link]").await;
    assert!(listed.contains("md, thumbnail"), "{listed}");
    owner.screenshot("share-panel").await;

    // Someone with the link and no account sees the name, the preview and
    // what the link opens.
    let stranger = Browser::start().await;
    stranger.goto(&url).await;
    stranger
        .wait_for_text("[data-test=shared-name]", "photo.jpg", Browser::WAIT)
        .await;
    stranger
        .wait_for_value(
            "const image = document.querySelector('[data-test=preview] img'); \
             return !!image && image.complete && image.naturalWidth > 0;",
            Browser::WAIT,
            |shown| *shown == json!(true),
        )
        .await;
    let names = stranger
        .execute(
            "return [...document.querySelectorAll('[data-test=shared-download]')] \
             .map(link => link.dataset.name);",
        )
        .await;
    assert_eq!(names, json!(["md", "thumbnail"]));
    assert!(
        !stranger.is_present("[data-test=viewer-name]").await,
        "no session"
    );
    stranger.screenshot("share-page").await;

    // The owner revokes it; the stranger's next visit finds nothing.
    owner.click("[data-test=revoke-share]").await;
    owner
        .wait_for_text(".notice", "revoked", Browser::WAIT)
        .await;
    stranger.goto(&url).await;
    stranger
        .wait_for_text("h1", "Not Found", Browser::WAIT)
        .await;
    owner.close().await;
    stranger.close().await;
}

/// How fast the browser may send while an upload is to be interrupted: a few
/// seconds per 8 MiB chunk of the upload page, on loopback.
const SLOW_UPLINK: u64 = 4_000_000;
/// What the upload page sends per request (kiln.js `CHUNK_SIZE`).
const PAGE_CHUNK: u64 = 8 * 1024 * 1024;

/// A BMP of about 35 MB (five of the page's chunks), written to `dir`.
fn large_bitmap(dir: &std::path::Path) -> (String, Vec<u8>) {
    let (width, height) = (3400, 3400);
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 239) as u8])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Bmp)
        .expect("a BMP is written");
    let path = dir.join("large.bmp");
    std::fs::write(&path, bytes.get_ref()).unwrap();
    (path.display().to_string(), bytes.into_inner())
}

/// A script: the addresses of the uploads the page's tus client keeps for resuming.
const STORED_UPLOAD_URLS: &str = "return Object.keys(localStorage)\
    .filter(key => key.startsWith('tus::'))\
    .map(key => JSON.parse(localStorage.getItem(key)).uploadUrl);";

async fn stored_upload_urls(browser: &Browser) -> Vec<String> {
    let urls = browser.execute(STORED_UPLOAD_URLS).await;
    serde_json::from_value(urls).expect("a list of addresses")
}

/// Waits until the page's tus client keeps one upload, and returns its address.
async fn the_stored_upload_url(browser: &Browser) -> String {
    let urls = browser
        .wait_for_value(STORED_UPLOAD_URLS, Browser::WAIT, |urls| {
            urls.as_array().is_some_and(|urls| urls.len() == 1)
        })
        .await;
    urls[0].as_str().expect("an address").to_string()
}

/// `Upload-Offset` and `Kiln-File-Id` of the upload at `url`, as the API says.
async fn upload_progress(url: &str, token: &str) -> (u64, Option<String>) {
    let response = reqwest::Client::new()
        .head(url)
        .bearer_auth(token)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "HEAD {url}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_string())
    };
    let offset = header("Upload-Offset").expect("an offset").parse().unwrap();
    (offset, header("Kiln-File-Id"))
}

/// Polls the upload at `url` until the server holds at least `bytes` of it.
async fn wait_for_offset(url: &str, token: &str, bytes: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + SLOW;
    loop {
        let (offset, _) = upload_progress(url, token).await;
        if offset >= bytes {
            return offset;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the upload at {url} stayed at {offset} bytes, short of {bytes}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_rt::test]
async fn an_upload_from_the_page_goes_on_after_a_reload_and_a_dropped_connection() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    register_in_browser(&browser, &app, "Grace Hopper", "grace@example.com").await;
    let token = app
        .access_token("grace@example.com", PASSWORD)
        .await
        .expect("the account signs in");
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = large_bitmap(dir.path());

    // A slow uplink; the page is reloaded once the server holds a chunk.
    browser.goto(&app.url("/upload")).await;
    browser.throttle_uploads(Some(SLOW_UPLINK)).await;
    browser
        .choose_files(r#"[data-test="file-input"]"#, std::slice::from_ref(&path))
        .await;
    let url = the_stored_upload_url(&browser).await;
    let before_reload = wait_for_offset(&url, &token, PAGE_CHUNK).await;
    browser.goto(&app.url("/upload")).await;
    let unfinished = browser
        .wait_for_text(
            r#"[data-test="unfinished-upload"]"#,
            "large.bmp",
            Browser::WAIT,
        )
        .await;
    assert!(unfinished.contains("MB"), "{unfinished}");
    browser.screenshot("upload-unfinished").await;

    // Chosen again, the same upload goes on from where the server stopped.
    browser
        .choose_files(r#"[data-test="file-input"]"#, std::slice::from_ref(&path))
        .await;
    browser
        .wait_until_gone(r#"[data-test="unfinished-upload"]"#, Browser::WAIT)
        .await;
    let resumed_to = wait_for_offset(&url, &token, before_reload + PAGE_CHUNK).await;
    assert_eq!(
        stored_upload_urls(&browser).await,
        vec![url.clone()],
        "choosing the file again started another upload"
    );

    // The connection drops: the card says so and keeps trying.
    browser.block_requests(&["*/api/uploads/*"]).await;
    let status = browser
        .wait_for_text(
            r#"[data-test="upload"] .upload-status"#,
            "Trying again",
            SLOW,
        )
        .await;
    assert!(status.contains("connection dropped"), "{status}");
    browser.screenshot("upload-reconnecting").await;
    let (while_dropped, _) = upload_progress(&url, &token).await;
    assert!(while_dropped >= resumed_to, "the server lost bytes it had");
    assert!(while_dropped < bytes.len() as u64, "the upload had ended");

    // Back: it finishes, as the one upload, with every byte.
    browser.block_requests(&[]).await;
    browser.throttle_uploads(None).await;
    browser
        .wait_for(r#"[data-test="upload"][data-state="uploaded"]"#, SLOW)
        .await;
    let (offset, file_id) = upload_progress(&url, &token).await;
    assert_eq!(offset, bytes.len() as u64);
    let file_id = file_id.expect("the finished upload names its file");
    let details = app.wait_until_processed(&token, &file_id).await;
    assert_eq!(
        details["file"]["sha256"],
        hex::encode(Sha256::digest(&bytes)),
        "the stored file is not the one chosen"
    );
    assert_eq!(details["file"]["filename"], "large.bmp");
    assert!(
        stored_upload_urls(&browser).await.is_empty(),
        "a finished upload is still kept for resuming"
    );
    browser.goto(&app.url("/upload")).await;
    assert!(
        !browser
            .is_present(r#"[data-test="unfinished-upload"]"#)
            .await
    );

    // An upload left unfinished can be discarded: the server drops it too.
    browser.throttle_uploads(Some(SLOW_UPLINK)).await;
    browser
        .choose_files(r#"[data-test="file-input"]"#, &[path])
        .await;
    let abandoned = the_stored_upload_url(&browser).await;
    browser.goto(&app.url("/upload")).await;
    browser.throttle_uploads(None).await;
    browser.click(r#"[data-test="discard-upload"]"#).await;
    browser
        .wait_until_gone(r#"[data-test="unfinished-upload"]"#, Browser::WAIT)
        .await;
    let gone = browser
        .wait_for_value(
            &format!(
                "return fetch({abandoned:?}, {{method: 'HEAD', headers: {{'Tus-Resumable': '1.0.0'}}}})\
                 .then(response => response.status)"
            ),
            Browser::WAIT,
            |status| status == 404,
        )
        .await;
    assert_eq!(gone, json!(404));
    assert!(stored_upload_urls(&browser).await.is_empty());
    browser.close().await;
}

#[actix_rt::test]
async fn a_webhook_endpoint_is_added_tried_out_and_deleted_on_the_settings_page() {
    let app = spawn_app_with(&[
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("WEBHOOK_POLL_INTERVAL", "100ms"),
    ])
    .await;
    app.verified_user("ada@example.com").await;
    let receiver = WebhookReceiver::start(Answers::default()).await;
    let browser = Browser::start().await;
    sign_in(&browser, &app, "ada@example.com", PASSWORD).await;

    browser.goto(&app.url("/settings")).await;
    browser
        .wait_for("[data-test=no-webhooks]", Browser::WAIT)
        .await;
    browser.fill("#webhook_url", &receiver.url()).await;
    browser.fill("#webhook_description", "Our build bot").await;
    // Every event is offered checked; this endpoint does without job.dead.
    browser.click(r#"input[name="job.dead"]"#).await;
    browser.submit("[data-test=webhook-form]").await;
    let secret = browser
        .wait_for("[data-test=new-webhook-secret]", Browser::WAIT)
        .await
        .prop("value")
        .await
        .unwrap()
        .expect("the new endpoint's secret has a value");
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.set_secret(&secret);
    let row = browser.text_of("[data-test=webhook-row]").await;
    assert!(
        row.contains("file.ready") && row.contains("file.failed") && !row.contains("job.dead"),
        "{row}"
    );
    assert!(row.contains("Our build bot"), "{row}");

    browser
        .submit(r#"[data-test=webhook-row] form[action$="/test"]"#)
        .await;
    browser
        .wait_for_text(".notice", "test event", Browser::WAIT)
        .await;
    let received = receiver
        .wait_until("the test event", |received| !received.is_empty())
        .await;
    assert_eq!(received[0]["verified"], true, "{:?}", received[0]);
    assert_eq!(received[0]["body"]["type"], "webhook.test");
    // The page lists the delivery as delivered once it is recorded.
    wait_until(Browser::WAIT, async || {
        // Without a fragment: going to the same URL with one would not reload.
        browser.goto(&app.url("/settings")).await;
        browser
            .text_of("[data-test=delivery-status]")
            .await
            .eq_ignore_ascii_case("delivered")
    })
    .await;
    browser
        .execute("document.getElementById('webhooks').scrollIntoView(); return 1")
        .await;
    browser.screenshot("settings-webhooks").await;

    browser
        .execute("window.confirm = () => true; return 1")
        .await;
    browser
        .submit(r#"[data-test=webhook-row] form[action$="/delete"]"#)
        .await;
    browser
        .wait_for("[data-test=no-webhooks]", Browser::WAIT)
        .await;
    let token = app.access_token("ada@example.com", PASSWORD).await.unwrap();
    assert_eq!(
        app.get_json("/api/webhooks", Some(&token)).await["webhooks"],
        json!([])
    );
    browser.close().await;
}
