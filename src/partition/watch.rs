//! Notification of progress (DESIGN.md section 7 item 6): the log end and
//! flushed offsets are published through a condition variable, so long-poll
//! readers and `durable` readers wait without busy-looping.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// A generation counter bumped on every append and flush.
#[derive(Debug, Default)]
pub(super) struct Watch {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Watch {
    /// Wakes every waiter.
    pub fn notify(&self) {
        *self.generation.lock() += 1;
        self.changed.notify_all();
    }

    /// Waits until `ready()` holds or `timeout` passes; returns `ready()`.
    pub fn wait_until(&self, timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut generation = self.generation.lock();
        loop {
            if ready() {
                return true;
            }
            if self
                .changed
                .wait_until(&mut generation, deadline)
                .timed_out()
            {
                return ready();
            }
        }
    }
}
