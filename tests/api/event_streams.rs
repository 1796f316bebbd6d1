//! The cap on the event streams one user holds open
//! (`MAX_EVENT_STREAMS_PER_USER`): both `/api/events` and
//! `/api/files/{id}/events` count, one more is a 429, and a closed stream
//! gives its place back.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::api::{error_code, file_id};
use crate::support::app::spawn_app_with;
use crate::support::wait::wait_until;

#[actix_rt::test]
async fn a_user_holds_at_most_the_allowed_event_streams_and_closed_ones_free_their_places() {
    let app = spawn_app_with(&[("MAX_EVENT_STREAMS_PER_USER", "3")]).await;
    let token = app.signed_in_user("ada@example.com").await;
    let other = app.signed_in_user("bob@example.com").await;
    let file = file_id(&app.upload_fixture(&token, "small.jpg").await);
    let file_events = format!("/api/files/{file}/events");

    let mut open = Vec::new();
    for path in ["/api/events", "/api/events", file_events.as_str()] {
        open.push(app.event_stream(&token, path).await);
    }
    for path in ["/api/events", file_events.as_str()] {
        let refused = app.get(path, Some(&token)).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert!(refused.headers().contains_key("retry-after"));
        assert_eq!(error_code(refused).await, "too_many_streams");
    }
    // Another user's streams are counted apart.
    let _theirs = app.event_stream(&other, "/api/events").await;

    // Closing the streams (the client goes away) gives every place back.
    drop(open);
    wait_until(Duration::from_secs(10), || async {
        app.get("/api/events", Some(&token)).await.status() == StatusCode::OK
    })
    .await;
    let mut reopened = Vec::new();
    for path in ["/api/events", file_events.as_str(), file_events.as_str()] {
        reopened.push(app.event_stream(&token, path).await);
    }
}
