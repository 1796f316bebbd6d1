//! The signed-in user's files: the grid (`GET /files`: search by name, filter by
//! status, numbered pages), the upload page (`GET /upload`) and one file's page
//! (`GET /files/{id}`, in [`detail`]: the original, its variants and jobs, a
//! form to run any processor, retrying a dead job, deleting the file).
//!
//! Pages are rendered here; what they change is done by the rules the API uses
//! ([`crate::http::files`], [`crate::http::jobs`]). The script
//! (`templates/static/kiln.js`) uploads through `POST /api/upload` and keeps the
//! pages live with the event streams `GET /api/events` (every file of the user:
//! the grid and the upload page) and `GET /api/files/{id}/events` (one file's
//! page). What it adds to a page it copies from `<template>` elements the page
//! carries, so every piece of markup is written once, here in the templates.

mod detail;
mod process_form;
mod share;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Page, Pagination, UiError};
use crate::actors::catalog::File;
use crate::actors::catalog::files::{CountFiles, FileCounts, ListFiles, ListVariantNames};
use crate::config::Config;
use crate::domain::file_names::name_search;
use crate::domain::jobs::FileStatus;
use crate::domain::quota::human_size;
use crate::http::request_context::request_id_of;
use crate::http::session::SignedIn;
use crate::http::{AppState, ask};
use crate::processing::{MediaKind, Processor};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/files", web::get().to(grid))
        .route("/upload", web::get().to(upload_page))
        .route("/files/{id}", web::get().to(detail::show))
        .route("/files/{id}/process", web::post().to(detail::process))
        .route(
            "/files/{id}/jobs/{job_id}/retry",
            web::post().to(detail::retry),
        )
        .route("/files/{id}/delete", web::post().to(detail::delete))
        .route("/files/{id}/shares", web::post().to(share::create))
        .route(
            "/files/{id}/shares/{share_id}/revoke",
            web::post().to(share::revoke),
        )
        .route("/s/{token}", web::get().to(share::page));
}

/// Files on one page of the grid: fills rows of 2, 3, 4 and 6.
const PAGE_SIZE: u64 = 24;

// ---- how pages show a file -------------------------------------------------------

fn human_bytes(bytes: i64) -> String {
    human_size(u64::try_from(bytes).unwrap_or(0))
}

/// A short name for a content type: "JPEG", "PDF", "WebP"; the subtype in
/// capitals for anything else.
fn type_label(content_type: &str) -> String {
    let label = MediaKind::ALL
        .into_iter()
        .find(|kind| kind.content_type() == content_type)
        .map(|kind| match kind {
            MediaKind::Jpeg => "JPEG",
            MediaKind::Png => "PNG",
            MediaKind::Gif => "GIF",
            MediaKind::Webp => "WebP",
            MediaKind::Bmp => "BMP",
            MediaKind::Tiff => "TIFF",
            MediaKind::Pdf => "PDF",
        });
    match label {
        Some(label) => label.to_string(),
        None => content_type
            .rsplit('/')
            .next()
            .unwrap_or(content_type)
            .to_uppercase(),
    }
}

/// "4000 × 3000", when both are known.
fn dimensions(width: Option<i32>, height: Option<i32>) -> Option<String> {
    Some(format!("{} × {}", width?, height?))
}

/// The variant that previews a file of this kind in the grid, made by the
/// default jobs: `thumbnail` for images, `pdf_thumbnail` for PDFs; none for
/// the extra types stored without processing.
fn thumbnail_variant(kind: Option<MediaKind>) -> Option<&'static str> {
    match kind? {
        MediaKind::Pdf => Some(Processor::PdfThumbnail.default_variant()),
        _ => Some(Processor::Thumbnail.default_variant()),
    }
}

/// The link that shows (or downloads) a variant: the API's route, which
/// redirects to a fresh short-lived link, so a page left open never holds an
/// expired one.
fn variant_href(file_id: Uuid, name: &str) -> String {
    format!("/api/files/{file_id}/variants/{name}")
}

/// A file as a card of the grid.
#[derive(Serialize)]
struct FileCard {
    id: Uuid,
    filename: String,
    status: &'static str,
    kind: String,
    meta: String,
    /// The variant whose arrival shows the thumbnail (see [`thumbnail_variant`]).
    thumbnail_variant: Option<&'static str>,
    /// Its link, when it exists.
    thumbnail: Option<String>,
    /// PDF pages are shown whole, photos fill the square.
    contain: bool,
    /// Painted under the thumbnail while it loads (`kiln.js`).
    thumbhash: Option<String>,
}

impl FileCard {
    fn new(file: File, has_thumbnail: bool) -> Self {
        let kind = MediaKind::from_extension(&file.extension);
        let thumbnail_variant = thumbnail_variant(kind);
        let mut meta = vec![human_bytes(file.size_bytes)];
        meta.extend(dimensions(file.width, file.height));
        if let Some(pages) = file.page_count {
            meta.push(match pages {
                1 => "1 page".to_string(),
                n => format!("{n} pages"),
            });
        }
        Self {
            id: file.id,
            status: file.status.as_str(),
            kind: type_label(&file.content_type),
            meta: meta.join(" · "),
            thumbnail: thumbnail_variant
                .filter(|_| has_thumbnail)
                .map(|name| variant_href(file.id, name)),
            thumbnail_variant,
            contain: kind == Some(MediaKind::Pdf),
            thumbhash: file.thumbhash,
            filename: file.filename,
        }
    }

    /// The empty card the script fills in for each upload.
    fn blank() -> Self {
        Self {
            id: Uuid::nil(),
            filename: String::new(),
            status: FileStatus::Processing.as_str(),
            kind: String::new(),
            meta: String::new(),
            thumbnail_variant: None,
            thumbnail: None,
            contain: false,
            thumbhash: None,
        }
    }
}

/// What an upload may be, for the page's script to check before sending a
/// byte (the server checks again, from the bytes themselves).
#[derive(Serialize)]
struct UploadRules {
    max_size: u64,
    max_size_text: String,
    /// The file input's `accept`: content types and extensions.
    accept: String,
    /// Content types a browser may report for an accepted file.
    types: String,
    types_text: String,
    /// Whose unfinished uploads this browser may offer to resume (their
    /// addresses are kept in its local storage, under this name).
    owner: String,
    /// How long the server keeps an unfinished upload (`UPLOAD_EXPIRY`):
    /// older ones are not offered.
    expiry_seconds: u64,
}

impl UploadRules {
    fn of(config: &Config, owner: Uuid) -> Self {
        let mut accept: Vec<String> = Vec::new();
        let mut types: Vec<String> = Vec::new();
        for kind in MediaKind::ALL {
            accept.push(kind.content_type().to_string());
            accept.push(format!(".{}", kind.extension()));
            types.push(kind.content_type().to_string());
        }
        // Browsers call some of these by other names.
        accept.extend([".jpeg".to_string(), ".tif".to_string()]);
        types.extend(["image/jpg".to_string(), "image/x-ms-bmp".to_string()]);
        let mut types_text =
            "JPEG, PNG, GIF, WebP, BMP and TIFF images, and PDF documents".to_string();
        if !config.extra_allowed_types.is_empty() {
            accept.extend(config.extra_allowed_types.iter().cloned());
            types.extend(config.extra_allowed_types.iter().cloned());
            types_text = format!(
                "JPEG, PNG, GIF, WebP, BMP and TIFF images, PDF documents, and {}",
                config.extra_allowed_types.join(", ")
            );
        }
        Self {
            max_size: config.max_upload_size,
            max_size_text: human_size(config.max_upload_size),
            accept: accept.join(","),
            types: types.join(" "),
            types_text,
            owner: owner.to_string(),
            expiry_seconds: config.upload_expiry.as_secs(),
        }
    }
}

// ---- the grid ----------------------------------------------------------------------

/// Which files the grid shows. Read leniently from the query: an unknown
/// status or page shows the first page of all.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    q: Option<String>,
    status: Option<FileStatus>,
    page: u64,
}

#[derive(Deserialize)]
struct ViewQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

impl View {
    fn from_query(query: &ViewQuery) -> Self {
        Self {
            q: name_search(query.q.as_deref()),
            status: query.status.as_deref().and_then(FileStatus::parse),
            page: query
                .page
                .as_deref()
                .and_then(|p| p.parse::<u64>().ok())
                .filter(|p| (1..=1_000_000).contains(p))
                .unwrap_or(1),
        }
    }

    fn href(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = &self.q {
            query.append_pair("q", q);
        }
        if let Some(status) = self.status {
            query.append_pair("status", status.as_str());
        }
        if self.page > 1 {
            query.append_pair("page", &self.page.to_string());
        }
        match query.finish() {
            query if query.is_empty() => "/files".to_string(),
            query => format!("/files?{query}"),
        }
    }
}

#[derive(Serialize)]
struct Tab {
    label: &'static str,
    /// The status it shows, "all" for every file.
    status: &'static str,
    count: u64,
    href: String,
    current: bool,
}

fn tabs(view: &View, counts: &FileCounts) -> Vec<Tab> {
    let tab = |label, status: Option<FileStatus>| Tab {
        label,
        status: status.map_or("all", FileStatus::as_str),
        count: counts.of(status),
        href: View {
            q: view.q.clone(),
            status,
            page: 1,
        }
        .href(),
        current: view.status == status,
    };
    vec![
        tab("All", None),
        tab("Processing", Some(FileStatus::Processing)),
        tab("Ready", Some(FileStatus::Ready)),
        tab("Failed", Some(FileStatus::Failed)),
    ]
}

async fn grid(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    query: web::Query<ViewQuery>,
) -> Result<HttpResponse, UiError> {
    let view = View::from_query(&query);
    let user_id = signed_in.user.id;
    let counts = ask(
        &state.actors.catalog,
        CountFiles {
            request_id: request_id_of(&req),
            user_id,
            name_contains: view.q.clone(),
        },
    )
    .await?;
    let mut files = ask(
        &state.actors.catalog,
        ListFiles {
            request_id: request_id_of(&req),
            user_id,
            limit: PAGE_SIZE,
            after: None,
            status: view.status,
            name_contains: view.q.clone(),
            offset: (view.page - 1) * PAGE_SIZE,
        },
    )
    .await?;
    files.truncate(PAGE_SIZE as usize);
    let with_thumbnail = ask(
        &state.actors.catalog,
        ListVariantNames {
            request_id: request_id_of(&req),
            user_id,
            file_ids: files.iter().map(|file| file.id).collect(),
            names: [Processor::Thumbnail, Processor::PdfThumbnail]
                .map(|p| p.default_variant().to_string())
                .to_vec(),
        },
    )
    .await?;
    let cards: Vec<FileCard> = files
        .into_iter()
        .map(|file| {
            let kind = MediaKind::from_extension(&file.extension);
            let has = with_thumbnail
                .iter()
                .any(|(id, name)| *id == file.id && Some(name.as_str()) == thumbnail_variant(kind));
            FileCard::new(file, has)
        })
        .collect();

    let pages = counts.of(view.status).div_ceil(PAGE_SIZE).max(1);
    let at = |page| {
        View {
            page,
            ..view.clone()
        }
        .href()
    };
    let pagination = Pagination {
        page: view.page,
        pages,
        previous: (view.page > 1).then(|| at(view.page.min(pages + 1) - 1)),
        next: (view.page < pages).then(|| at(view.page + 1)),
    };
    let clear_search = View {
        q: None,
        ..view.clone()
    };
    Page::new("pages/files.html")
        .with("files", &cards)
        .with("tabs", &tabs(&view, &counts))
        .with("q", &view.q)
        .with("filter", &view.status.map(FileStatus::as_str))
        .with("pagination", &pagination)
        .with("first_page", &at(1))
        .with(
            "clear_search",
            &View {
                page: 1,
                ..clear_search
            }
            .href(),
        )
        .with("total", &counts.total())
        // New uploads join the grid only where they belong: the first page of all.
        .with(
            "live_insert",
            &(view.page == 1 && view.status.is_none() && view.q.is_none()),
        )
        .with("upload", &UploadRules::of(&state.config, signed_in.user.id))
        .with("upload_card", &FileCard::blank())
        .render(&req, Some(&signed_in))
}

async fn upload_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
) -> Result<HttpResponse, UiError> {
    Page::new("pages/upload.html")
        .with("upload", &UploadRules::of(&state.config, signed_in.user.id))
        .with("upload_card", &FileCard::blank())
        .render(&req, Some(&signed_in))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_size_reads_as_nothing() {
        assert_eq!(human_bytes(-1), "0 B");
    }

    #[test]
    fn content_types_get_short_names() {
        assert_eq!(type_label("image/jpeg"), "JPEG");
        assert_eq!(type_label("image/webp"), "WebP");
        assert_eq!(type_label("application/pdf"), "PDF");
        assert_eq!(type_label("text/plain"), "PLAIN");
    }

    #[test]
    fn the_view_comes_from_the_query_and_goes_back_into_links() {
        let query = |q: Option<&str>, status: Option<&str>, page: Option<&str>| ViewQuery {
            q: q.map(str::to_string),
            status: status.map(str::to_string),
            page: page.map(str::to_string),
        };
        let view = View::from_query(&query(Some(" cat & dog "), Some("ready"), Some("2")));
        assert_eq!(view.q.as_deref(), Some("cat & dog"));
        assert_eq!(view.status, Some(FileStatus::Ready));
        assert_eq!(view.href(), "/files?q=cat+%26+dog&status=ready&page=2");
        assert_eq!(View::from_query(&query(None, None, None)).href(), "/files");
        assert_eq!(
            View::from_query(&query(Some(""), Some("dead"), Some("0"))).href(),
            "/files"
        );
    }
}
