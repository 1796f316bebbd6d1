//! Progress of a long operator command (`files purge`, `storage verify`,
//! `jobs retry --all-dead`): a bar on standard error when a person watches a
//! terminal, and otherwise (cron, CI, `2> file`) a log line every
//! [`LOG_EVERY`], which a log collector keeps and a bar's redraws would only
//! garble. Standard output stays free for the command's report.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often progress is logged when standard error is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(2);

pub struct Progress {
    task: &'static str,
    done: u64,
    total: Option<u64>,
    shown: Shown,
}

enum Shown {
    Bar(ProgressBar),
    Log { last: Instant },
}

impl Progress {
    /// Starts counting `task`'s items, out of `total` when it is known.
    pub fn start(task: &'static str, total: Option<u64>) -> Self {
        let shown = match std::io::stderr().is_terminal() {
            true => Shown::Bar(bar(task, total)),
            false => {
                tracing::info!(task, total, "started");
                Shown::Log {
                    last: Instant::now(),
                }
            }
        };
        Self {
            task,
            done: 0,
            total,
            shown,
        }
    }

    pub fn advance(&mut self, items: u64) {
        self.done += items;
        match &mut self.shown {
            Shown::Bar(bar) => bar.inc(items),
            Shown::Log { last } => {
                if last.elapsed() >= LOG_EVERY {
                    *last = Instant::now();
                    tracing::info!(
                        task = self.task,
                        done = self.done,
                        total = self.total,
                        "progress"
                    );
                }
            }
        }
    }

    /// Prints `line` to standard output without tearing the bar.
    pub fn println(&self, line: &str) {
        match &self.shown {
            Shown::Bar(bar) => bar.suspend(|| println!("{line}")),
            Shown::Log { .. } => println!("{line}"),
        }
    }

    pub fn finish(self) {
        match self.shown {
            Shown::Bar(bar) => bar.finish_and_clear(),
            Shown::Log { .. } => {
                tracing::info!(
                    task = self.task,
                    done = self.done,
                    total = self.total,
                    "finished"
                );
            }
        }
    }
}

fn bar(task: &'static str, total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{msg} [{bar:30}] {pos}/{len} ({elapsed}, {eta} left)",
        ),
        None => (
            ProgressBar::no_length(),
            "{spinner} {msg}: {pos} ({elapsed})",
        ),
    };
    // The templates above are fixed and valid; a bad one would be a bug here.
    let style = ProgressStyle::with_template(template)
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_message(task);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
