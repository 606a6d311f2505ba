//! Who may move the simulated clock (`affilia::db::simulate_clock`).
//!
//! The clock is one for the whole test process, and `cargo test` runs the tests as threads
//! of one process: while one test moves it, every other test's server would read that
//! time (its events dated weeks ago, its tokens expired). So a test that moves the clock
//! holds [`Exclusive`], and every test app holds a [`Share`] while it lives; the two never
//! overlap. Shares never wait for a test waiting to move the clock (only for one moving
//! it), so a test holding a share can always start another app; the mover runs in a gap
//! between other tests. Under nextest (one process per test) nothing ever waits.

use std::cell::Cell;
use std::sync::Mutex;

use tokio::sync::Notify;

/// (apps alive, a test moving the clock).
static STATE: Mutex<(usize, bool)> = Mutex::new((0, false));
static CHANGED: Notify = Notify::const_new();

thread_local! {
    /// This thread's test holds [`Exclusive`]: its own apps take no share. A
    /// `#[tokio::test]` runs on one thread.
    static MOVING: Cell<bool> = const { Cell::new(false) };
}

/// Waits until `take` succeeds on the state, re-checking after every change.
async fn until(take: impl Fn(&mut (usize, bool)) -> bool) {
    loop {
        let changed = CHANGED.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if take(&mut STATE.lock().expect("clock state")) {
            return;
        }
        changed.await;
    }
}

fn release(f: impl Fn(&mut (usize, bool))) {
    f(&mut STATE.lock().expect("clock state"));
    CHANGED.notify_waiters();
}

/// Held by a test app: the clock is real while it lives.
pub struct Share(bool);

/// A share for a new app (none when this thread's test moves the clock itself).
pub async fn share() -> Share {
    if MOVING.get() {
        return Share(false);
    }
    until(|s| {
        let free = !s.1;
        if free {
            s.0 += 1;
        }
        free
    })
    .await;
    Share(true)
}

impl Drop for Share {
    fn drop(&mut self) {
        if self.0 {
            release(|s| s.0 -= 1);
        }
    }
}

/// Held by a test that moves the clock: no other test's app is alive meanwhile. Take it
/// before starting the test's apps; dropping it sets the clock back to real time.
pub struct Exclusive(());

/// Waits until no other test's app is alive, then keeps new ones from starting.
pub async fn exclusive() -> Exclusive {
    until(|s| {
        let free = s.0 == 0 && !s.1;
        if free {
            s.1 = true;
        }
        free
    })
    .await;
    MOVING.set(true);
    Exclusive(())
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        affilia::db::simulate_clock(None);
        MOVING.set(false);
        release(|s| s.1 = false);
    }
}
