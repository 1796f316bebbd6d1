//! The file pages over HTTP, as a browser on Kiln's own pages uses them: the
//! grid (badges, thumbnails, status filter, name search, pages), a file's page
//! (variants, jobs, the processor form, retry, delete), what another user
//! sees, CSRF on the forms and on the API with the session cookie, and the
//! per-user event stream that keeps the grid live.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::api::job_in;
use crate::support::app::{spawn_app, spawn_app_with};
use crate::support::events::EventStream;
use crate::support::wait::wait_until;
use crate::support::web::{WebClient, assert_page_says, location};

/// A page as a browser reads its attributes: Tera escapes `/` (and the
/// usual) in every value it writes.
fn unescaped(page: String) -> String {
    page.replace("&#x2F;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A page that must load, unescaped.
async fn load(web: &mut WebClient<'_>, path: &str) -> String {
    unescaped(web.page(path).await)
}

fn count(page: &str, needle: &str) -> usize {
    page.matches(needle).count()
}

/// The opening tag of the first element with `data-test="<test>"` and
/// `data-<key>="<value>"`, e.g. a file card by its file id.
fn element<'p>(page: &'p str, test: &str, key: &str, value: &str) -> &'p str {
    let wanted = format!(r#"data-{key}="{value}""#);
    let mut rest = page;
    while let Some(at) = rest.find(&format!(r#"data-test="{test}""#)) {
        let start = rest[..at].rfind('<').unwrap();
        let end = at + rest[at..].find('>').unwrap();
        if rest[start..end].contains(&wanted) {
            return &rest[start..=end];
        }
        rest = &rest[end..];
    }
    panic!("no {test} with {wanted} on the page");
}

#[actix_rt::test]
async fn signed_out_visitors_of_the_file_pages_are_sent_to_sign_in_and_back() {
    let app = spawn_app().await;
    let mut web = WebClient::new(&app);
    let id = Uuid::new_v4();
    for (path, next) in [
        ("/files", "%2Ffiles"),
        ("/files?status=ready", "%2Ffiles%3Fstatus%3Dready"),
        ("/upload", "%2Fupload"),
        (
            &format!("/files/{id}") as &str,
            &format!("%2Ffiles%2F{id}") as &str,
        ),
    ] {
        let response = web.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), format!("/login?next={next}"));
    }
    let response = web
        .post_form(&format!("/files/{id}/delete"), &[("csrf_token", "x")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

#[actix_rt::test]
async fn a_new_account_sees_an_empty_grid_that_invites_an_upload_within_the_limits() {
    let app = spawn_app_with(&[("MAX_UPLOAD_SIZE", "5MiB")]).await;
    let mut web = WebClient::register(&app, "empty@example.com").await;
    let page = load(&mut web, "/files").await;
    assert!(page.contains(r#"data-test="no-files""#), "{page}");
    assert!(page.contains(r#"href="/upload""#));
    assert!(
        page.contains(r#"data-max-size="5242880""#),
        "the script's size limit"
    );
    assert!(page.contains(r#"data-max-size-text="5 MB""#));
    assert!(page.contains("application/pdf"), "accepted types");
    assert!(page.contains(r#"id="upload-card-template""#));

    let upload = load(&mut web, "/upload").await;
    assert!(upload.contains(r#"data-test="file-input""#));
    assert!(
        upload.contains(r#"<label for="upload-input""#),
        "the picker has a label"
    );
    assert!(upload.contains("up to 5 MB each"));
    assert!(upload.contains(r#"data-page="upload""#));
}

#[actix_rt::test]
async fn the_grid_shows_each_file_with_its_badge_and_thumbnail_and_filters_by_status() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "grid@example.com").await;
    let good = web.upload("small.jpg").await;
    let broken = web.upload("truncated.jpg").await;
    let document = web.upload("two-pages.pdf").await;
    for id in [&good, &broken, &document] {
        web.processed(id).await;
    }
    let held = web.upload("logo.png").await;
    web.processed(&held).await;
    app.held_job(web.user_id().await, held.parse().unwrap(), "held")
        .await;

    let page = load(&mut web, "/files").await;
    assert_eq!(count(&page, r#"data-test="file-card""#), 4, "{page}");
    let card = element(&page, "file-card", "file-id", &good);
    assert!(card.contains(r#"data-status="ready""#), "{card}");
    assert!(
        card.contains(r#"data-thumbnail-variant="thumbnail""#),
        "{card}"
    );
    assert!(page.contains(&format!(
        r#"<img data-test="thumbnail" src="/api/files/{good}/variants/thumbnail""#
    )));
    assert!(page.contains(&format!(
        r#"<img data-test="thumbnail" src="/api/files/{document}/variants/pdf_thumbnail""#
    )));
    let card = element(&page, "file-card", "file-id", &broken);
    assert!(card.contains(r#"data-status="failed""#), "{card}");
    assert!(
        !page.contains(&format!("/api/files/{broken}/variants/")),
        "no thumbnail was made"
    );
    assert!(element(&page, "file-card", "file-id", &held).contains(r#"data-status="processing""#));
    assert!(page.contains(r#"<span class="badge badge-failed file-badge" data-field="badge" data-test="file-status">failed</span>"#));
    assert!(page.contains("2 pages"), "a PDF's card counts its pages");
    for (status, n) in [("all", 4), ("processing", 1), ("ready", 2), ("failed", 1)] {
        let tab = element(&page, "status-tab", "status", status);
        assert!(tab.contains("href="), "{tab}");
        let after = &page[page.find(tab).unwrap() + tab.len()..];
        let label = &after[..after.find("</a>").unwrap()];
        assert!(
            label.ends_with(&format!(r#"<span class="tab-count">{n}</span>"#)),
            "{status}: {label}"
        );
    }

    let failed = load(&mut web, "/files?status=failed").await;
    assert_eq!(count(&failed, r#"data-test="file-card""#), 1);
    assert!(failed.contains(&broken));
    assert!(element(&failed, "status-tab", "status", "failed").contains(r#"aria-current="page""#));
    let processing = load(&mut web, "/files?status=processing").await;
    assert_eq!(count(&processing, r#"data-test="file-card""#), 1);
    assert!(processing.contains(&held));
    // An unknown status shows everything rather than an error.
    let all = load(&mut web, "/files?status=nonsense").await;
    assert_eq!(count(&all, r#"data-test="file-card""#), 4);
}

#[actix_rt::test]
async fn the_name_search_ignores_case_and_takes_wildcards_literally_in_the_grid_and_the_api() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "search@example.com").await;
    let me = web.user_id().await;
    for name in [
        "Holiday 100%.png",
        "holiday_2.png",
        "holidayX.png",
        "Work.png",
    ] {
        app.record_file(me, name, Vec::new()).await;
    }
    // Someone else's file never turns up in a search.
    let other = WebClient::register(&app, "other-search@example.com").await;
    app.record_file(other.user_id().await, "holiday-theirs.png", Vec::new())
        .await;

    let names = |page: &str| -> Vec<String> {
        page.split(r#"data-test="file-name">"#)
            .skip(1)
            .map(|rest| rest[..rest.find('<').unwrap()].to_string())
            .filter(|name| !name.is_empty()) // the blank card of the <template>
            .collect()
    };
    let page = load(&mut web, "/files?q=HOLIDAY").await;
    let mut found = names(&page);
    found.sort();
    assert_eq!(found, ["Holiday 100%.png", "holidayX.png", "holiday_2.png"]);
    assert!(
        page.contains(r#"value="HOLIDAY""#),
        "the search box keeps the words"
    );
    assert_eq!(
        names(&load(&mut web, "/files?q=100%25").await),
        ["Holiday 100%.png"]
    );
    assert_eq!(
        names(&load(&mut web, "/files?q=y_").await),
        ["holiday_2.png"]
    );
    let none = load(&mut web, "/files?q=nothing+like+it").await;
    assert!(none.contains(r#"data-test="no-matches""#));
    assert!(
        none.contains(r#"href="/files""#),
        "a way to clear the search"
    );

    let api = web.api_json("/api/files?q=holiday_").await;
    let files = api["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{api}");
    assert_eq!(files[0]["filename"], "holiday_2.png");
    // A control character (a NUL too, which PostgreSQL's text refuses) is left
    // out of the search as it was out of the names.
    let with_nul = web.api_json("/api/files?q=holiday%00_%E2%80%8B").await;
    assert_eq!(with_nul["files"], api["files"], "{with_nul}");
    let all = web.api_json("/api/files").await;
    assert_eq!(
        all["files"].as_array().unwrap().len(),
        4,
        "without q, as before"
    );
}

#[actix_rt::test]
async fn the_grid_shows_24_files_a_page_newest_first() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "pages@example.com").await;
    let me = web.user_id().await;
    for n in 1..=30 {
        app.record_file(me, &format!("file-{n:02}.png"), Vec::new())
            .await;
    }
    let first = load(&mut web, "/files").await;
    assert_eq!(count(&first, r#"data-test="file-card""#), 24);
    assert!(first.contains("file-30.png"), "newest first");
    assert!(!first.contains("file-01.png"));
    assert!(first.contains("Page 1 of 2"));
    assert!(first.contains(r#"href="/files?page=2" rel="next" data-test="next-page""#));
    assert!(!first.contains(r#"data-test="previous-page""#));

    let second = load(&mut web, "/files?page=2").await;
    assert_eq!(count(&second, r#"data-test="file-card""#), 6);
    assert!(second.contains("file-01.png"));
    assert!(!second.contains("file-30.png"));
    assert!(second.contains(r#"href="/files" rel="prev" data-test="previous-page""#));
    assert!(!second.contains(r#"data-test="next-page""#));

    let beyond = load(&mut web, "/files?page=9").await;
    assert_eq!(count(&beyond, r#"data-test="file-card""#), 0);
    assert!(beyond.contains("Nothing on this page"));

    let searched = load(&mut web, "/files?q=file-0").await;
    assert_eq!(count(&searched, r#"data-test="file-card""#), 9);
    assert!(!searched.contains(r#"data-test="pagination""#));
}

#[actix_rt::test]
async fn another_user_s_file_is_not_found_on_its_page_or_through_its_forms() {
    let app = spawn_app().await;
    let owner = WebClient::register(&app, "owner@example.com").await;
    let id = owner.upload("small.jpg").await;
    let details = owner.processed(&id).await;
    let job_id = details["jobs"][0]["id"].as_str().unwrap().to_string();

    let mut stranger = WebClient::register(&app, "stranger@example.com").await;
    let response = stranger.get(&format!("/files/{id}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response.text().await.unwrap();
    assert!(body.contains("<html"), "an error page, not JSON: {body}");
    assert!(!body.contains("small.jpg"));
    for (path, fields) in [
        (format!("/files/{id}/process"), vec![("processor", "webp")]),
        (format!("/files/{id}/jobs/{job_id}/retry"), vec![]),
        (format!("/files/{id}/delete"), vec![]),
    ] {
        let response = stranger.post_form(&path, &fields).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        stranger.get("/files/not-a-uuid").await.status(),
        StatusCode::NOT_FOUND
    );
    let owner_view = owner.api_json(&format!("/api/files/{id}")).await;
    assert_eq!(owner_view["file"]["status"], "ready", "still there");
    assert_eq!(owner_view["jobs"], details["jobs"]);
}

#[actix_rt::test]
async fn a_file_page_shows_the_original_every_variant_and_the_jobs() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "detail@example.com").await;
    let id = web.upload("photo.jpg").await;
    let details = web.processed(&id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");

    let page = load(&mut web, &format!("/files/{id}")).await;
    assert!(page.contains(r#"data-page="file""#));
    assert!(page.contains(&format!(r#"data-test="file-detail" data-file-id="{id}""#)));
    assert!(page.contains("<h1>photo.jpg</h1>"));
    assert!(page.contains(&format!(
        r#"href="/api/files/{id}/content" data-test="download-original""#
    )));
    let variants = details["variants"].as_array().unwrap();
    assert!(
        variants.len() >= 2,
        "thumbnail and at least one size: {details}"
    );
    assert_eq!(
        count(&page, r#"data-test="variant""#),
        variants.len() + 1,
        "and the blank one in its <template>"
    );
    for variant in variants {
        let name = variant["name"].as_str().unwrap();
        let card = element(&page, "variant", "variant", name);
        assert!(card.contains("data-version="), "{card}");
        assert!(page.contains(&format!(
            r#"href="/api/files/{id}/variants/{name}" data-field="download""#
        )));
        let size = format!("{} × {} px", variant["width"], variant["height"]);
        assert!(page.contains(&size), "{name}: {size}");
    }
    assert!(page.contains(r#"data-test="preview""#));
    assert!(
        page.contains(&format!(r#"<img src="/api/files/{id}/variants/sm?v="#))
            || page.contains(&format!(r#"<img src="/api/files/{id}/variants/md?v="#))
    );
    for job in details["jobs"].as_array().unwrap() {
        let row = element(&page, "job", "job-id", job["id"].as_str().unwrap());
        assert!(row.contains(r#"data-status="succeeded""#), "{row}");
    }
    assert!(page.contains(r#"id="job-template""#) && page.contains(r#"id="variant-template""#));
    // An image is offered the image processors, each with labelled fields.
    for processor in ["thumbnail", "resize", "webp", "watermark"] {
        assert!(
            page.contains(&format!(r#"<option value="{processor}""#)),
            "{processor}"
        );
    }
    assert!(!page.contains(r#"<option value="pdf_thumbnail""#));
    assert!(page.contains(r#"<label for="opt-watermark-text">Text"#));
    assert!(page.contains(r#"<label for="opt-watermark-position">Position</label>"#));
    assert!(page.contains(r#"<label for="processor">Processor</label>"#));

    let pdf = web.upload("two-pages.pdf").await;
    web.processed(&pdf).await;
    let page = load(&mut web, &format!("/files/{pdf}")).await;
    assert!(page.contains(r#"<option value="pdf_thumbnail""#));
    assert!(!page.contains(r#"<option value="watermark""#));
    assert!(
        page.contains(r#"name="pdf_thumbnail.page""#) && page.contains(r#"max="2""#),
        "a page within the PDF"
    );
}

#[actix_rt::test]
async fn running_a_processor_from_the_page_queues_its_job_and_makes_the_variant() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "process@example.com").await;
    let id = web.upload("small.jpg").await;
    web.processed(&id).await;

    let response = web
        .post_form(
            &format!("/files/{id}/process"),
            &[
                ("processor", "watermark"),
                ("variant", "stamped"),
                ("watermark.text", "© Kiln"),
                ("watermark.position", "top-left"),
                ("watermark.opacity", "0.8"),
                ("watermark.font_size", ""),
                ("watermark.format", "png"),
                ("webp.quality", "not read"),
            ],
        )
        .await;
    assert_eq!(location(&response), format!("/files/{id}#jobs"));
    let page = unescaped(web.follow_with_notice(&response).await);
    assert!(page.contains("The job is queued"), "the notice");
    assert!(page.contains(r#"data-processor="watermark" data-variant="stamped""#));

    let details = web.processed(&id).await;
    let job = details["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["variant"] == "stamped")
        .expect("the watermark job");
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        job["options"],
        json!({"text": "© Kiln", "position": "top-left", "opacity": 0.8, "format": "png"})
    );
    let page = load(&mut web, &format!("/files/{id}")).await;
    let card = element(&page, "variant", "variant", "stamped");
    assert!(card.contains("data-version"), "{card}");
    assert!(page.contains(">PNG</span>"), "the variant's type");

    // A refused form comes back with the reason, as it was filled in.
    let refused = web
        .post_form(
            &format!("/files/{id}/process"),
            &[
                ("processor", "watermark"),
                ("watermark.text", " "),
                ("watermark.position", "center"),
                ("watermark.opacity", "0.3"),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = unescaped(refused.text().await.unwrap());
    assert!(
        page.contains(r#"data-test="form-error">Fill in “Text” to run watermark."#),
        "{page}"
    );
    assert!(page.contains(r#"<option value="center" selected>"#));
    assert!(page.contains(r#"value="0.3""#));
    let refused = web
        .post_form(
            &format!("/files/{id}/process"),
            &[("processor", "resize"), ("resize.width", "20000")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = unescaped(refused.text().await.unwrap());
    assert!(
        page.contains("`width` must be a whole number from 1 to 10000"),
        "the API's own check"
    );
    let refused = web
        .post_form(
            &format!("/files/{id}/process"),
            &[("processor", "webp"), ("variant", "original")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_rt::test]
async fn a_dead_job_is_retried_from_its_file_s_page() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "retry@example.com").await;
    let id = web.upload("truncated.jpg").await;
    let details = web.processed(&id).await;
    let dead = job_in(&details, "dead");
    let job_id = dead["id"].as_str().unwrap().to_string();
    let page = load(&mut web, &format!("/files/{id}")).await;
    let row = element(&page, "job", "job-id", &job_id);
    assert!(row.contains(r#"data-status="dead""#));
    assert!(page.contains(r#"data-test="job-error">"#));
    assert!(
        page.contains(&format!(
            r#"action="/files/{id}/jobs/{job_id}/retry" class="inline-form" data-field="retry">"#
        )),
        "the retry button shows"
    );

    let response = web
        .post_form(&format!("/files/{id}/jobs/{job_id}/retry"), &[])
        .await;
    assert_eq!(location(&response), format!("/files/{id}#jobs"));
    let page = unescaped(web.follow_with_notice(&response).await);
    assert!(page.contains("The job is queued again."));
    // It runs again, for real: the same file fails the same way, later.
    let path = format!("/api/jobs/{job_id}");
    wait_until(Duration::from_secs(30), || async {
        let job = &web.api_json(&path).await["job"];
        job["status"] == "dead" && job["finished_at"] != dead["finished_at"]
    })
    .await;

    // A job that is not dead is not retried.
    let good = web.upload("small.jpg").await;
    let details = web.processed(&good).await;
    let done = details["jobs"][0]["id"].as_str().unwrap().to_string();
    let response = web
        .post_form(&format!("/files/{good}/jobs/{done}/retry"), &[])
        .await;
    assert_page_says(
        response,
        StatusCode::CONFLICT,
        "only a dead job can be retried",
    )
    .await;
    // Nor one named under another file.
    let response = web
        .post_form(&format!("/files/{id}/jobs/{done}/retry"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn deleting_from_the_page_removes_the_file_and_its_variants() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "delete@example.com").await;
    let id = web.upload("small.jpg").await;
    web.processed(&id).await;
    let me = web.user_id().await.to_string();
    assert!(!app.stored_keys(&me).await.is_empty());

    let page = load(&mut web, &format!("/files/{id}")).await;
    assert!(
        page.contains(&format!(
            r#"action="/files/{id}/delete" class="inline-form" data-confirm="#
        )),
        "it asks first"
    );
    let response = web.post_form(&format!("/files/{id}/delete"), &[]).await;
    assert_eq!(location(&response), "/files");
    let page = unescaped(web.follow_with_notice(&response).await);
    assert!(page.contains("The file and everything made from it are deleted."));
    assert!(!page.contains(&id));
    assert_eq!(
        web.get(&format!("/files/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        app.stored_keys(&me).await.is_empty(),
        "original and variants are gone"
    );
}

#[actix_rt::test]
async fn changes_need_the_session_s_csrf_token_on_the_forms_and_the_api() {
    let app = spawn_app().await;
    let mut web = WebClient::register(&app, "csrf@example.com").await;
    let id = web.upload("small.jpg").await;
    web.processed(&id).await;

    // The forms: a wrong token, or none, is refused.
    let origin = app.address.clone();
    for path in [
        format!("/files/{id}/process"),
        format!("/files/{id}/delete"),
    ] {
        let response = web
            .post_raw(
                &path,
                &[("processor", "webp"), ("csrf_token", "forged")],
                Some(&origin),
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let response = web
            .post_raw(&path, &[("processor", "webp")], Some(&origin))
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }

    // The API with the session cookie: a change without the header is refused.
    let upload = web.upload_response("small.jpg", false).await;
    assert_eq!(upload.status(), StatusCode::FORBIDDEN);
    let process = |csrf| {
        web.scripted(Method::POST, &format!("/api/files/{id}/process"), csrf)
            .json(&json!({ "processor": "webp" }))
            .send()
    };
    assert_eq!(
        process(false).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let delete = |csrf| {
        web.scripted(Method::DELETE, &format!("/api/files/{id}"), csrf)
            .send()
    };
    assert_eq!(delete(false).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(
        web.api_json(&format!("/api/files/{id}")).await["jobs"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing was queued"
    );

    // With it, the same requests work.
    assert_eq!(process(true).await.unwrap().status(), StatusCode::ACCEPTED);
    assert_eq!(delete(true).await.unwrap().status(), StatusCode::NO_CONTENT);
}

#[actix_rt::test]
async fn the_user_event_stream_carries_the_user_s_own_file_events_and_nobody_else_s() {
    let app = spawn_app().await;
    let watcher = WebClient::register(&app, "watcher@example.com").await;
    let other = WebClient::register(&app, "neighbour@example.com").await;

    let mut stream = EventStream::new(
        watcher
            .scripted(Method::GET, "/api/events", false)
            .send()
            .await
            .unwrap(),
    );
    let unauthenticated = app.get("/api/events", None).await;
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);

    // The neighbour's file is processed completely while the stream is open,
    // then the watcher's own.
    let theirs = other.upload("small.jpg").await;
    other.processed(&theirs).await;
    let mine = watcher.upload("small.jpg").await;

    // Both the thumbnail's success and the file's readiness; through Redis the
    // two may arrive in either order.
    let heard_all = |frames: &[Value]| {
        let mine = |e: &&Value| e["file_id"] == mine.as_str();
        frames
            .iter()
            .filter(mine)
            .any(|e| e["type"] == "file" && e["status"] == "ready")
            && frames.iter().filter(mine).any(|e| {
                e["type"] == "job" && e["variant"] == "thumbnail" && e["status"] == "succeeded"
            })
    };
    stream.read_until(Duration::from_secs(60), heard_all).await;
    let frames = &stream.events;
    assert!(
        frames.iter().all(|e| e["file_id"] == mine.as_str()),
        "only the watcher's own file: {frames:?}"
    );
}
