//! The Limiter's counts on the embedded default: a map in the actor's memory,
//! read and written by one message at a time. It does what the Redis scripts
//! in `mod.rs` do, with the clock passed in so tests can move it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::domain::Throttle;

/// One subject's count.
#[derive(Debug)]
struct Count {
    attempts: u32,
    /// No attempt is admitted before this.
    next_at: Option<Instant>,
    /// The count starts over from here.
    forget_at: Instant,
}

#[derive(Debug, Default)]
pub(super) struct MemoryCounts(HashMap<String, Count>);

impl MemoryCounts {
    /// The live count of `counter`, if any.
    fn live(&mut self, counter: &str, now: Instant) -> Option<&mut Count> {
        self.0
            .get_mut(counter)
            .filter(|count| count.forget_at > now)
    }

    /// How long the attempt must wait, or `None` when it was admitted and
    /// counted against every subject.
    pub(super) fn reserve(
        &mut self,
        subjects: &[(String, Throttle)],
        now: Instant,
    ) -> Option<Duration> {
        let wait = subjects
            .iter()
            .filter_map(|(counter, _)| self.live(counter, now)?.next_at)
            .filter_map(|next_at| next_at.checked_duration_since(now))
            .filter(|wait| !wait.is_zero())
            .max();
        if wait.is_some() {
            return wait;
        }
        for (counter, throttle) in subjects {
            let attempts = self.live(counter, now).map_or(0, |count| count.attempts) + 1;
            let wait = throttle.wait_after(attempts);
            self.0.insert(
                counter.clone(),
                Count {
                    attempts,
                    next_at: wait.map(|wait| now + wait),
                    forget_at: now + throttle.keep_for(wait),
                },
            );
        }
        None
    }

    /// Forgets the counts of `forget` and gives `refund` its attempt back
    /// (lifting the wait when that brings it under the free attempts).
    pub(super) fn succeed(&mut self, forget: &[(String, Throttle)], refund: &[(String, Throttle)]) {
        for (counter, _) in forget {
            self.0.remove(counter);
        }
        for (counter, throttle) in refund {
            if let Some(count) = self.0.get_mut(counter) {
                count.attempts = count.attempts.saturating_sub(1);
                if count.attempts < throttle.free {
                    count.next_at = None;
                }
            }
        }
    }

    /// Drops the counts that have started over.
    pub(super) fn prune(&mut self, now: Instant) {
        self.0.retain(|_, count| count.forget_at > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THROTTLE: Throttle = Throttle {
        free: 3,
        first_wait: Duration::from_secs(30),
        longest_wait: Duration::from_secs(300),
        memory: Duration::from_secs(600),
    };

    fn subject(name: &str) -> (String, Throttle) {
        (name.to_string(), THROTTLE)
    }

    #[test]
    fn a_burst_is_admitted_up_to_the_free_attempts_and_then_waits() {
        let mut counts = MemoryCounts::default();
        let now = Instant::now();
        let admitted = (0..100)
            .filter(|_| counts.reserve(&[subject("a")], now).is_none())
            .count();
        assert_eq!(admitted, 3);
        assert_eq!(
            counts.reserve(&[subject("a")], now),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn the_wait_doubles_with_each_attempt_after_the_free_ones() {
        let mut counts = MemoryCounts::default();
        let mut now = Instant::now();
        for _ in 0..3 {
            assert_eq!(counts.reserve(&[subject("a")], now), None);
        }
        for expected in [30, 60, 120, 240, 300, 300] {
            let wait = counts.reserve(&[subject("a")], now).unwrap();
            assert_eq!(wait, Duration::from_secs(expected));
            now += wait;
            assert_eq!(counts.reserve(&[subject("a")], now), None);
        }
    }

    #[test]
    fn a_waiting_subject_refuses_the_attempt_without_counting_it_anywhere() {
        let mut counts = MemoryCounts::default();
        let now = Instant::now();
        for _ in 0..3 {
            counts.reserve(&[subject("account"), subject("address")], now);
        }
        assert!(counts.reserve(&[subject("account")], now).is_some());
        // "other" was not counted by the refused attempts.
        for _ in 0..2 {
            assert!(
                counts
                    .reserve(&[subject("account"), subject("other")], now)
                    .is_some()
            );
        }
        for _ in 0..3 {
            assert_eq!(counts.reserve(&[subject("other")], now), None);
        }
    }

    #[test]
    fn a_count_starts_over_after_its_memory() {
        let mut counts = MemoryCounts::default();
        let now = Instant::now();
        for _ in 0..2 {
            counts.reserve(&[subject("a")], now);
        }
        let later = now + THROTTLE.memory;
        for _ in 0..3 {
            assert_eq!(counts.reserve(&[subject("a")], later), None);
        }
        counts.prune(later + THROTTLE.memory);
        assert!(counts.0.is_empty());
    }

    #[test]
    fn success_forgets_one_count_and_refunds_another() {
        let mut counts = MemoryCounts::default();
        let now = Instant::now();
        for _ in 0..3 {
            counts.reserve(&[subject("account"), subject("address")], now);
        }
        counts.succeed(&[subject("account")], &[subject("address")]);
        assert_eq!(counts.reserve(&[subject("account")], now), None);
        // Back under the free attempts: the wait is lifted, one attempt is left.
        assert_eq!(counts.reserve(&[subject("address")], now), None);
        assert!(counts.reserve(&[subject("address")], now).is_some());
    }
}
