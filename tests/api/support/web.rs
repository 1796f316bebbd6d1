//! [`WebClient`]: a browser-like client for the web UI's pages, over plain
//! HTTP. It keeps the cookies Kiln sets (and sends them to Kiln only), reads
//! the CSRF token from a signed-in page and sends it with every form, and
//! makes the API requests the pages' scripts make, like a browser on Kiln's
//! own pages would. (The real-browser tests use [`Browser`](super::browser);
//! these check the server's side exactly.)

use std::collections::BTreeMap;

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde_json::Value;
use uuid::Uuid;

use super::api::{until_processed, upload_form};
use super::app::{PASSWORD, TestApp};
use super::fixtures::fixture;

/// The session cookie's name (`__Host-` prefixed on an https site).
const SESSION: &str = "kiln_session";
/// The cookie a redirect leaves to show a notice on the next page.
const NOTICE: &str = "kiln_notice";

pub struct WebClient<'a> {
    pub app: &'a TestApp,
    /// Kiln's cookies this browser holds, by name.
    pub cookies: BTreeMap<String, String>,
    /// The CSRF token of the last signed-in page loaded.
    pub csrf_token: Option<String>,
    /// The `X-Forwarded-For` every request carries, as a proxy in front of
    /// Kiln would add it (for apps with `TRUSTED_PROXIES` covering 127.0.0.1).
    pub forwarded_for: Option<String>,
}

/// One `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// What follows `name=value`: `; HttpOnly; Path=/ ...`.
    pub attributes: String,
    /// The whole header.
    pub line: String,
}

impl SetCookie {
    /// Whether the cookie is being cleared rather than set.
    fn clears(&self) -> bool {
        self.value.is_empty() || self.attributes.contains("Max-Age=0")
    }
}

/// The cookies a response sets (or clears).
pub fn set_cookies(response: &Response) -> Vec<SetCookie> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .map(|line| {
            let (pair, attributes) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            SetCookie {
                name: name.to_string(),
                value: value.to_string(),
                attributes: attributes.to_string(),
                line: line.clone(),
            }
        })
        .collect()
}

/// The session cookie's `name=value`, when `response` sets one (an empty
/// value when it clears it).
pub fn session_cookie(response: &Response) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|cookie| cookie.name.ends_with(SESSION))
        .map(|cookie| format!("{}={}", cookie.name, cookie.value))
}

/// The value of `<meta name="csrf-token">` on a page.
pub fn csrf_token_of(page: &str) -> Option<String> {
    let start = page.find(r#"<meta name="csrf-token" content=""#)? + 33;
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// Where a redirect points, as the header says it.
/// Checks that a page answered `status` and says `text` somewhere.
pub async fn assert_page_says(response: Response, status: StatusCode, text: &str) {
    assert_eq!(response.status(), status);
    let page = response.text().await.unwrap();
    assert!(page.contains(text), "{text:?} is not on the page:\n{page}");
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

impl<'a> WebClient<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            csrf_token: None,
            forwarded_for: None,
        }
    }

    /// A browser that holds the session cookie `session` (`name=value`).
    pub fn with_session(app: &'a TestApp, session: &str) -> Self {
        let (name, value) = session.split_once('=').expect("a name=value cookie");
        let mut web = Self::new(app);
        web.cookies.insert(name.to_string(), value.to_string());
        web
    }

    /// A browser whose requests reach Kiln through a proxy, from `client`.
    pub fn from_address(app: &'a TestApp, client: &str) -> Self {
        Self {
            forwarded_for: Some(client.to_string()),
            ..Self::new(app)
        }
    }

    /// Registers through the page and keeps the session it starts.
    pub async fn register(app: &'a TestApp, email: &str) -> Self {
        let mut web = Self::new(app);
        let response = web
            .post_form(
                "/register",
                &[
                    ("name", "Web User"),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "registered");
        assert!(web.session().is_some(), "registering signs in");
        web.load_csrf_token().await;
        web
    }

    /// Registers through the page and verifies the address with the link
    /// mailed to it (from an app without SMTP settings).
    pub async fn register_verified(app: &'a TestApp, email: &str) -> Self {
        let mut web = Self::register(app, email).await;
        let token = app.mail_to(email).await.token("verify-email");
        let response = web.post_form("/verify-email", &[("token", &token)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "verified");
        web
    }

    /// Signs in through the login form.
    pub async fn sign_in(app: &'a TestApp, email: &str, password: &str) -> Self {
        let mut web = Self::new(app);
        web.sign_in_as(email, password).await;
        web
    }

    /// Posts the login form, with `next` the place to go afterwards.
    pub async fn post_login(&mut self, email: &str, password: &str, next: &str) -> Response {
        let fields = [("email", email), ("password", password), ("next", next)];
        self.post_form("/login", &fields).await
    }

    /// Signs this browser in through the login form.
    pub async fn sign_in_as(&mut self, email: &str, password: &str) {
        let response = self
            .post_form("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
        self.load_csrf_token().await;
    }

    /// The session cookie's `name=value`, while this browser holds one.
    pub fn session(&self) -> Option<String> {
        self.cookies
            .iter()
            .find(|(name, _)| name.ends_with(SESSION))
            .map(|(name, value)| format!("{name}={value}"))
    }

    /// Loads a signed-in page to learn the session's CSRF token.
    pub async fn load_csrf_token(&mut self) {
        let page = self.page("/verify-email/resend").await;
        self.csrf_token = csrf_token_of(&page);
        assert!(
            self.csrf_token.is_some(),
            "signed-in pages carry a CSRF token"
        );
    }

    fn is_kiln(&self, url: &str) -> bool {
        url.starts_with(&self.app.address)
    }

    /// A request to `url` with what this browser sends along: Kiln's cookies
    /// (to Kiln only), and the proxy's `X-Forwarded-For`.
    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let mut request = self.app.client.request(method, url);
        if let Some(client) = &self.forwarded_for {
            request = request.header("x-forwarded-for", client);
        }
        if self.is_kiln(url) && !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            request = request.header(header::COOKIE, cookies.join("; "));
        }
        request
    }

    /// Keeps (or forgets) the cookies a response of Kiln's sets (or clears).
    fn remember(&mut self, response: &Response) {
        if !self.is_kiln(response.url().as_str()) {
            return;
        }
        for cookie in set_cookies(response) {
            if cookie.clears() {
                self.cookies.remove(&cookie.name);
            } else {
                self.cookies.insert(cookie.name, cookie.value);
            }
        }
    }

    /// Loads `target`: a path on Kiln, or an absolute URL (Kiln's or another
    /// site's, which gets none of Kiln's cookies).
    pub async fn get(&mut self, target: &str) -> Response {
        let url = match target.starts_with("http") {
            true => target.to_string(),
            false => self.app.url(target),
        };
        let response = self.request(Method::GET, &url).send().await.unwrap();
        self.remember(&response);
        response
    }

    /// A page that must load (200); its HTML.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    /// Follows a redirect that left a notice (a one-minute cookie the next
    /// page shows), and returns that page.
    pub async fn follow_with_notice(&mut self, redirect: &Response) -> String {
        assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
        assert!(
            set_cookies(redirect).iter().any(|c| c.name == NOTICE),
            "the redirect leaves a notice"
        );
        self.page(&location(redirect)).await
    }

    /// Posts a form as the site's own page would: same origin, with the
    /// session's CSRF token when there is a session.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf_token.clone();
        if let Some(token) = token.as_deref() {
            fields.push(("csrf_token", token));
        }
        let origin = self.app.address.clone();
        self.post_raw(path, &fields, Some(&origin)).await
    }

    /// Posts exactly `fields`, with `origin` as the Origin header (`None`: no
    /// Origin, like a non-browser client).
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Response {
        let mut request = self.request(Method::POST, &self.app.url(path)).form(fields);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// A request to the API as the pages' script makes it: the session
    /// cookie, and the CSRF header when `csrf` (the API refuses a change made
    /// with a cookie without it).
    pub fn scripted(&self, method: Method, path: &str, csrf: bool) -> RequestBuilder {
        assert!(self.session().is_some(), "signed in");
        let mut request = self.request(method, &self.app.url(path));
        if csrf {
            request = request.header("x-csrf-token", self.csrf_token.clone().unwrap());
        }
        request
    }

    /// A scripted `GET` of the API that must answer 200; its JSON.
    pub async fn api_json(&self, path: &str) -> Value {
        let response = self
            .scripted(Method::GET, path, false)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// Uploads a fixture as the upload page does (the CSRF header only when
    /// `csrf`).
    pub async fn upload_response(&self, name: &str, csrf: bool) -> Response {
        self.scripted(Method::POST, "/api/upload", csrf)
            .multipart(upload_form(name, fixture(name), &[]))
            .send()
            .await
            .unwrap()
    }

    /// Uploads a fixture as the upload page does and returns the new file's id.
    pub async fn upload(&self, name: &str) -> String {
        let response = self.upload_response(name, true).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "upload of {name}");
        let body: Value = response.json().await.unwrap();
        body["file"]["id"].as_str().unwrap().to_string()
    }

    /// Waits until the file is `ready` or `failed`; its `GET /api/files/{id}`.
    pub async fn processed(&self, file_id: &str) -> Value {
        let path = format!("/api/files/{file_id}");
        until_processed(file_id, || self.api_json(&path)).await
    }

    /// The signed-in account's id.
    pub async fn user_id(&self) -> Uuid {
        self.api_json("/api/me").await["user"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}
