//! The browser harness itself, on the landing page: the one UI test that must pass
//! before any other can mean something.

use crate::support::app::spawn_app;
use crate::support::browser::Browser;

#[actix_rt::test]
async fn the_landing_page_renders_in_headless_chromium_with_kiln_in_its_heading() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    browser.goto(&format!("{}/", app.address)).await;
    let heading = browser.text_of("h1").await;
    assert!(
        heading.contains("Kiln"),
        "the landing page's <h1> reads {heading:?}"
    );

    let screenshot = browser.screenshot("landing").await;
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        screenshot.display()
    );
    browser.close().await;
}
