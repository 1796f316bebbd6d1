//! Share links in the web UI: the file page's Share panel (make a link,
//! `POST /files/{id}/shares`, shown once on the page that answers; revoke one,
//! `POST /files/{id}/shares/{share_id}/revoke`) and the public page a link
//! opens, `GET /s/{token}`: a preview, the file's name, and its downloads,
//! for anyone, signed in or not. The rules are the Ingest actor's, shared with
//! the API; the bytes are `http::shares`'.

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde::Serialize;
use uuid::Uuid;

use super::detail::{PREVIEW_ORDER, THUMBNAIL_PREVIEWS, find_file, render, show_refused};
use super::{dimensions, human_bytes, type_label};
use crate::actors::catalog::files::FileDetails;
use crate::actors::catalog::shares::Share;
use crate::actors::ingest::{OpenShare, RevokeShare, ShareFile, ShowShares};
use crate::domain::shares::ORIGINAL;
use crate::http::request_context::request_id_of;
use crate::http::session::SignedIn;
use crate::http::shares::{admit, share_url};
use crate::http::ui::parse_id;
use crate::http::ui::{CsrfForm, Notice, Page, SignedInForm, UiError, When, see_other_with};
use crate::http::{AppState, ask};

/// The file page's Share panel.
#[derive(Serialize)]
pub(super) struct Sharing {
    /// The link just made, shown this once.
    created: Option<String>,
    /// What a new link may open: the original and each variant.
    choices: Vec<String>,
    links: Vec<LinkRow>,
}

#[derive(Serialize)]
struct LinkRow {
    id: Uuid,
    /// What it opens, for people: "everything" or "original, thumbnail".
    opens: String,
    expires: When,
}

impl From<Share> for LinkRow {
    fn from(share: Share) -> Self {
        Self {
            id: share.id,
            opens: share
                .names
                .map_or_else(|| "Everything".to_string(), |names| names.join(", ")),
            expires: share.expires_at.into(),
        }
    }
}

/// The Share panel of `details`' page, with `created` (a link just made).
pub(super) async fn sharing(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    details: &FileDetails,
    created: Option<String>,
) -> Result<Sharing, UiError> {
    let show = ShowShares {
        request_id: request_id_of(req),
        user_id: signed_in.user.id,
        file_id: details.file.id,
    };
    let links = ask(&state.actors.ingest, show).await?;
    let choices = std::iter::once(ORIGINAL.to_string())
        .chain(details.variants.iter().map(|v| v.name.clone()))
        .collect();
    Ok(Sharing {
        created,
        choices,
        links: links.into_iter().map(LinkRow::from).collect(),
    })
}

/// `POST /files/{id}/shares`: `expires_in` and the `variants` ticked. The
/// answer is the file page with the new link, which is never shown again.
pub(super) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    file_id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let fields = form.into_inner();
    let field = |name: &'static str| {
        fields
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    signed_in.check_csrf(&field("csrf_token").next().unwrap_or_default())?;
    let file_id = parse_id(&file_id, "file")?;
    let share = ShareFile {
        request_id: request_id_of(&req),
        user_id: signed_in.user.id,
        file_id,
        expires_in: field("expires_in").next(),
        // Nothing ticked is a refusal (a link that opens nothing), not "everything".
        names: Some(field("variants").collect()),
    };
    match ask(&state.actors.ingest, share).await {
        Ok(made) => {
            let url = share_url(&req, &state, made.token.expose_secret());
            let details = find_file(&state, &req, &signed_in, file_id).await?;
            let sharing = sharing(&state, &req, &signed_in, &details, Some(url)).await?;
            render(&req, &signed_in, details, sharing, None)
        }
        Err(err) => show_refused(&state, &req, &signed_in, file_id, err, "share", None).await,
    }
}

/// `POST /files/{id}/shares/{share_id}/revoke`.
pub(super) async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (file_id, share_id) = path.into_inner();
    let file_id = parse_id(&file_id, "file")?;
    let revoke = RevokeShare {
        request_id: request_id_of(&req),
        user_id: signed_in.user.id,
        share_id: parse_id(&share_id, "share")?,
    };
    ask(&state.actors.ingest, revoke).await?;
    Ok(see_other_with(
        &state.config,
        &format!("/files/{file_id}#share"),
        Notice::ShareRevoked,
    ))
}

/// One thing a link opens, on its page.
#[derive(Serialize)]
struct Download {
    name: String,
    kind: String,
    size: String,
    dimensions: Option<String>,
    href: String,
}

/// `GET /s/{token}`: what the link shows, to anyone who holds it.
pub(super) async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    admit(&state, &req).await?;
    let token = token.into_inner();
    let open = OpenShare {
        request_id: request_id_of(&req),
        token: token.clone(),
    };
    let shared = ask(&state.actors.ingest, open).await?;
    let file = &shared.file;
    let href = |name: &str| format!("/s/{token}/{name}");
    let mut downloads = Vec::new();
    if shared.share.opens(ORIGINAL) {
        downloads.push(Download {
            name: ORIGINAL.to_string(),
            kind: type_label(&file.content_type),
            size: human_bytes(file.size_bytes),
            dimensions: dimensions(file.width, file.height),
            href: href(ORIGINAL),
        });
    }
    for variant in &shared.variants {
        downloads.push(Download {
            name: variant.name.clone(),
            kind: type_label(&variant.content_type),
            size: human_bytes(variant.size_bytes),
            dimensions: dimensions(Some(variant.width), Some(variant.height)),
            href: href(&variant.name),
        });
    }
    // The sharpest small image the link opens, as on the file page.
    let preview = PREVIEW_ORDER
        .iter()
        .chain(&THUMBNAIL_PREVIEWS)
        .find(|name| {
            shared
                .variants
                .iter()
                .any(|v| v.name == **name && v.content_type.starts_with("image/"))
        })
        .map(|name| href(name));
    Page::new("pages/share.html")
        .with("filename", &file.filename)
        .with("thumbhash", &file.thumbhash)
        .with("preview", &preview)
        .with("downloads", &downloads)
        .with("expires", &When::from(shared.share.expires_at))
        .render(&req, None)
}
