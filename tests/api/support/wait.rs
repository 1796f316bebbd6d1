//! Bounded waits. A test that waits for something polls for it here, with a
//! deadline, and never sleeps a fixed time: the wait ends as soon as the
//! condition holds, and a condition that never holds fails the test saying
//! what was seen instead.

use std::time::Duration;

/// How often a condition is looked at again.
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` until it gives `Ok` and returns that value. After `timeout`
/// the test fails with the last `Err` the probe gave (what it saw instead).
pub async fn wait_for<T>(
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                tokio::time::Instant::now() < deadline,
                "not within {timeout:?}: {seen}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `condition` until it holds, failing the test after `timeout`.
pub async fn wait_until(timeout: Duration, mut condition: impl AsyncFnMut() -> bool) {
    wait_for(timeout, async || match condition().await {
        true => Ok(()),
        false => Err("the condition never held".to_string()),
    })
    .await
}
