//! Notification of progress (DESIGN.md section 7 item 6): the log end and
//! flushed offsets are published through a condition variable, so long-poll
//! readers and `durable` readers wait without busy-looping.

use std::sync::atomic::{AtomicUsize, Ordering, fence};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// A generation counter bumped on every append and flush.
#[derive(Debug, Default)]
pub(super) struct Watch {
    generation: Mutex<u64>,
    changed: Condvar,
    /// Threads inside `wait_until`; appends skip the lock when there is none.
    waiters: AtomicUsize,
}

impl Watch {
    /// Wakes every waiter. The caller has published its change (an atomic
    /// store) before calling; the fence pairs with the waiter's increment,
    /// so either the waiter sees the change or this sees the waiter.
    pub fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) == 0 {
            return;
        }
        *self.generation.lock() += 1;
        self.changed.notify_all();
    }

    /// Waits until `ready()` holds or `timeout` passes; returns `ready()`.
    pub fn wait_until(&self, timeout: Duration, ready: impl FnMut() -> bool) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let result = self.wait_registered(timeout, ready);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }

    fn wait_registered(&self, timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
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
