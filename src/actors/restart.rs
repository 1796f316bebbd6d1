//! Exponential backoff between restarts of a supervised child.

use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, fut::wrap_future};

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// A child that ran this long since its last restart counts as healthy again.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// Restart bookkeeping one supervised child keeps across its restarts.
#[derive(Debug, Default)]
pub struct RestartBackoff {
    consecutive: u32,
    last_restart: Option<Instant>,
}

impl RestartBackoff {
    /// The pause before the next restart: 100 ms, doubling up to 30 s, and back
    /// to 100 ms once the child has run for a minute without stopping.
    pub fn next_pause(&mut self, now: Instant) -> Duration {
        if self
            .last_restart
            .is_some_and(|last| now.duration_since(last) >= STABLE_AFTER)
        {
            self.consecutive = 0;
        }
        self.last_restart = Some(now);
        let pause = FIRST_PAUSE.saturating_mul(2u32.saturating_pow(self.consecutive));
        self.consecutive = self.consecutive.saturating_add(1);
        pause.min(LONGEST_PAUSE)
    }

    /// Called from a child's `Supervised::restarting`: logs the restart and keeps
    /// the mailbox closed for the pause (messages wait, none are lost).
    pub fn pause_before_restart<A>(&mut self, actor: &'static str, ctx: &mut Context<A>)
    where
        A: Actor<Context = Context<A>>,
    {
        let pause = self.next_pause(Instant::now());
        crate::telemetry::metrics::actor_restarted(actor);
        tracing::warn!(
            actor,
            restarts = self.consecutive,
            pause_ms = pause.as_millis() as u64,
            "restarting a stopped actor"
        );
        ctx.wait(wrap_future(tokio::time::sleep(pause)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_a_ceiling_and_reset_after_a_stable_minute() {
        let mut backoff = RestartBackoff::default();
        let start = Instant::now();
        let pauses: Vec<_> = (0..12).map(|_| backoff.next_pause(start)).collect();
        assert_eq!(pauses[0], Duration::from_millis(100));
        assert_eq!(pauses[1], Duration::from_millis(200));
        assert_eq!(pauses[2], Duration::from_millis(400));
        assert_eq!(pauses[11], LONGEST_PAUSE);
        assert_eq!(backoff.next_pause(start + STABLE_AFTER), FIRST_PAUSE);
    }

    /// A child that stops itself is started again at the same address.
    #[actix_rt::test]
    async fn a_stopped_child_is_restarted_and_keeps_its_address() {
        use actix::{ActorContext, Handler, Message, Supervised};

        struct Flaky {
            starts: u32,
            backoff: RestartBackoff,
        }
        impl Actor for Flaky {
            type Context = Context<Self>;
            fn started(&mut self, _: &mut Context<Self>) {
                self.starts += 1;
            }
        }
        impl Supervised for Flaky {
            fn restarting(&mut self, ctx: &mut Context<Self>) {
                self.backoff.pause_before_restart("flaky", ctx);
            }
        }
        #[derive(Message)]
        #[rtype(result = "u32")]
        struct Starts;
        #[derive(Message)]
        #[rtype(result = "()")]
        struct Fail;
        impl Handler<Starts> for Flaky {
            type Result = u32;
            fn handle(&mut self, _: Starts, _: &mut Context<Self>) -> u32 {
                self.starts
            }
        }
        impl Handler<Fail> for Flaky {
            type Result = ();
            fn handle(&mut self, _: Fail, ctx: &mut Context<Self>) {
                ctx.stop();
            }
        }

        let addr = actix::Supervisor::start(|_| Flaky {
            starts: 0,
            backoff: RestartBackoff::default(),
        });
        assert_eq!(addr.send(Starts).await.unwrap(), 1);
        addr.send(Fail).await.unwrap();
        addr.send(Fail).await.unwrap();
        // Both restarts happened, each after its pause, and the address still works.
        assert_eq!(addr.send(Starts).await.unwrap(), 3);
    }
}
