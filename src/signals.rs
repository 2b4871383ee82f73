//! SIGTERM and SIGINT end the process at once: every answer is written as soon as it
//! is ready and config writes are atomic renames, so there is nothing to flush.
//! `serve` exits 0 (a client ending the session is normal); the one-shot commands
//! die of the signal, as shells expect. One exception: between the refresh POST that
//! spends the old refresh token and the write that saves the new one, a signal waits
//! until the write is done, or the only live token would be lost.
//! std already links the C library, so a few declarations save a dependency.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn raise(signum: i32) -> i32;
    fn _exit(status: i32) -> !;
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;
const SIG_DFL: usize = 0;

static EXIT_ZERO: AtomicBool = AtomicBool::new(false);
static CRITICAL: AtomicBool = AtomicBool::new(false);
/// A signal that arrived during a critical section (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signum: i32) {
    // Only atomics, `signal`, `raise` and `_exit` here: all async-signal-safe.
    if CRITICAL.load(Ordering::SeqCst) {
        PENDING.store(signum, Ordering::SeqCst);
        return;
    }
    die(signum);
}

fn die(signum: i32) {
    if EXIT_ZERO.load(Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe.
        unsafe { _exit(0) }
    }
    // SAFETY: restore the default action and re-raise: the process dies of the signal.
    unsafe {
        signal(signum, SIG_DFL);
        raise(signum);
    }
}

/// Install the handler for SIGTERM and SIGINT.
pub fn install(exit_zero: bool) {
    EXIT_ZERO.store(exit_zero, Ordering::SeqCst);
    let handler: extern "C" fn(i32) = on_signal;
    // SAFETY: the handler only uses async-signal-safe calls.
    unsafe {
        signal(SIGTERM, handler as usize);
        signal(SIGINT, handler as usize);
    }
}

/// While the returned guard lives, a signal is held back; it takes effect when the
/// guard drops.
pub fn critical_section() -> Critical {
    CRITICAL.store(true, Ordering::SeqCst);
    Critical
}

pub struct Critical;

impl Drop for Critical {
    fn drop(&mut self) {
        CRITICAL.store(false, Ordering::SeqCst);
        let pending = PENDING.swap(0, Ordering::SeqCst);
        if pending != 0 {
            die(pending);
        }
    }
}
