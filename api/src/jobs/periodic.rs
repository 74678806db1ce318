//! A job of `relais serve` that runs now, then every interval, on a thread of its own, until it
//! is stopped (or dropped): the retention purge and the follow-up of hand-offs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A periodic job; [`Periodic::stop`] (or dropping it) ends its thread.
pub struct Periodic {
    name: &'static str,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Periodic {
    /// Runs `round` now, then every `interval`, on a thread named `name`.
    pub fn spawn(
        name: &'static str,
        interval: Duration,
        mut round: impl FnMut() + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while !stopping.load(Ordering::SeqCst) {
                    round();
                    // `stop` unparks the thread, so shutting down does not wait for the interval;
                    // other wake-ups (parking may end early) go back to sleep.
                    let next = Instant::now() + interval;
                    while !stopping.load(Ordering::SeqCst) {
                        let left = next.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        std::thread::park_timeout(left);
                    }
                }
            })
            .map_err(|e| log::error!("{name}: cannot start its thread: {e}"))
            .ok();
        Self { name, stop, thread }
    }

    /// Asks the job to stop and waits for a round under way to end.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            if thread.join().is_err() {
                log::error!("{}: its thread panicked", self.name);
            }
        }
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        self.halt();
    }
}
