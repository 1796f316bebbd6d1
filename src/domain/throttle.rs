//! How attempts are throttled: a number of free attempts, then a wait before
//! each further one that doubles up to a ceiling. The Limiter keeps the counts
//! (in memory or in Redis); this is the rule it applies to them.
//!
//! The wait is set when an attempt is admitted, before the work it guards
//! (a password check, a mail) has run, so a burst of concurrent attempts is
//! cut off at the free ones instead of all passing a check that nothing has
//! counted yet.

use std::time::Duration;

/// One kind of attempt's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Attempts admitted without a wait.
    pub free: u32,
    /// The wait once the free attempts are used up.
    pub first_wait: Duration,
    /// The longest wait: each further attempt doubles the wait up to this.
    pub longest_wait: Duration,
    /// How long the count is kept after the last admitted attempt (or until
    /// its wait ends, when that is later): then it starts over.
    pub memory: Duration,
}

impl Throttle {
    /// The wait imposed by admitting the `attempt`-th attempt (counted from 1):
    /// none before the last free one, then `first_wait`, doubled for each
    /// attempt after it, never more than `longest_wait`.
    pub fn wait_after(&self, attempt: u32) -> Option<Duration> {
        let beyond_free = attempt.checked_sub(self.free)?;
        // 2^20 times any first wait is past every ceiling worth configuring.
        let factor = 1u32 << beyond_free.min(20);
        Some(
            self.first_wait
                .saturating_mul(factor)
                .min(self.longest_wait),
        )
    }

    /// How long a count must be kept once an attempt that imposed `wait` is
    /// admitted.
    pub fn keep_for(&self, wait: Option<Duration>) -> Duration {
        wait.map_or(self.memory, |wait| wait.max(self.memory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGN_IN: Throttle = Throttle {
        free: 5,
        first_wait: Duration::from_secs(30),
        longest_wait: Duration::from_secs(15 * 60),
        memory: Duration::from_secs(15 * 60),
    };

    #[test]
    fn the_free_attempts_cost_no_wait_and_the_last_of_them_starts_one() {
        for attempt in 1..5 {
            assert_eq!(SIGN_IN.wait_after(attempt), None, "attempt {attempt}");
        }
        assert_eq!(SIGN_IN.wait_after(5), Some(Duration::from_secs(30)));
    }

    #[test]
    fn each_further_attempt_doubles_the_wait_up_to_the_longest() {
        let waits: Vec<u64> = (5..=12)
            .map(|attempt| SIGN_IN.wait_after(attempt).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(SIGN_IN.wait_after(u32::MAX), Some(Duration::from_secs(900)));
    }

    #[test]
    fn a_count_is_kept_for_its_memory_or_its_wait_whichever_is_longer() {
        assert_eq!(SIGN_IN.keep_for(None), Duration::from_secs(900));
        let short = Throttle {
            memory: Duration::from_secs(60),
            ..SIGN_IN
        };
        assert_eq!(
            short.keep_for(Some(Duration::from_secs(240))),
            Duration::from_secs(240)
        );
    }
}
