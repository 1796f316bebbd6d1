//! [`EventStream`]: reading Kiln's server-sent events (`/api/events`,
//! `/api/files/{id}/events`) as a page's `EventSource` would, one JSON event
//! per `data:` frame.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// An open event stream and every event read from it so far.
pub struct EventStream {
    response: Response,
    /// What arrived after the last whole frame.
    buffer: String,
    pub events: Vec<Value>,
}

impl EventStream {
    /// Takes the response that opened a stream, checking Kiln accepted it as one.
    pub fn new(response: Response) -> Self {
        assert_eq!(response.status(), StatusCode::OK, "{}", response.url());
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
            events: Vec::new(),
        }
    }

    /// Reads until `done` holds for the events read so far (keep-alive
    /// comments are skipped); fails the test after `timeout`, naming what came.
    pub async fn read_until(&mut self, timeout: Duration, done: impl Fn(&[Value]) -> bool) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(&self.events) {
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "the events awaited did not arrive within {timeout:?}; came: {:?}",
                        self.events
                    )
                })
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                    self.events.push(serde_json::from_str(data).unwrap());
                }
            }
        }
    }
}
