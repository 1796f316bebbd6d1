//! A browser-like client for the web UI's pages, over plain HTTP: it keeps the
//! session cookie, reads the CSRF token from each page it loads and sends it
//! with every form, like a browser on Kiln's own pages would. (The real-browser
//! tests are in `browser_*.rs`; these check the server's side exactly.)

use reqwest::{Response, StatusCode, header};

use crate::helpers::{PASSWORD, TestApp};

pub struct WebClient<'a> {
    pub app: &'a TestApp,
    /// `name=value` of the session cookie, once signed in.
    pub session: Option<String>,
    /// The CSRF token of the last page loaded with a session.
    pub csrf_token: Option<String>,
    /// The `X-Forwarded-For` every request carries, as a proxy in front of
    /// Kiln would add it (for apps with `TRUSTED_PROXIES` covering 127.0.0.1).
    pub forwarded_for: Option<String>,
}

/// The session cookie's `name=value`, when `response` sets one (an empty value
/// when it clears it).
pub fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("kiln_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// The value of `<meta name="csrf-token">` on a page.
pub fn csrf_token_of(page: &str) -> Option<String> {
    let start = page.find(r#"<meta name="csrf-token" content=""#)? + 33;
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// Where a redirect points.
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
            session: None,
            csrf_token: None,
            forwarded_for: None,
        }
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
        assert!(web.session.is_some(), "registering signs in");
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

    /// Signs this browser in through the login form.
    pub async fn sign_in_as(&mut self, email: &str, password: &str) {
        let response = self
            .post_form("/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
        self.load_csrf_token().await;
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

    /// Adds what this browser sends with every request: its session cookie,
    /// and the proxy's `X-Forwarded-For`.
    fn with_cookie(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(client) = &self.forwarded_for {
            request = request.header("x-forwarded-for", client);
        }
        match &self.session {
            Some(cookie) => request.header(header::COOKIE, cookie),
            None => request,
        }
    }

    /// Keeps (or forgets) the session a response sets (or clears).
    fn remember(&mut self, response: &Response) {
        if let Some(cookie) = session_cookie(response) {
            self.session = (!cookie.ends_with('=')).then_some(cookie);
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let request = self.with_cookie(self.app.client.get(self.app.url(path)));
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// A page that must load (200); its HTML.
    pub async fn page(&mut self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.text().await.unwrap()
    }

    /// Posts a form as the site's own page would: same origin, with the
    /// session's CSRF token when there is a session.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let token = self.csrf_token.clone();
        if let Some(token) = token.as_deref() {
            fields.push(("csrf_token", token));
        }
        self.post_raw(path, &fields, Some(&self.app.address.clone()))
            .await
    }

    /// Posts exactly `fields`, with `origin` as the Origin header (`None`: no
    /// Origin, like a non-browser client).
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Response {
        let mut request = self
            .with_cookie(self.app.client.post(self.app.url(path)))
            .form(fields);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }
}
