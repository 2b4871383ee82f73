//! SIGTERM (and SIGINT) end the process at once, like end of input: every answer is
//! written as soon as it is ready and config writes are atomic renames, so there is
//! nothing to flush. One exception: between the refresh POST that spends the old
//! refresh token and the write that saves the new one, a signal waits until the
//! write is done, or the only live token would be lost.
//! std already links the C library, so three declarations save a dependency.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn _exit(status: i32) -> !;
}

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

static EXIT_CODE: AtomicI32 = AtomicI32::new(0);
static CRITICAL: AtomicBool = AtomicBool::new(false);
static PENDING: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signum: i32) {
    // Only atomics and `_exit` here: both async-signal-safe.
    if CRITICAL.load(Ordering::SeqCst) {
        PENDING.store(true, Ordering::SeqCst);
        return;
    }
    let code = EXIT_CODE.load(Ordering::SeqCst);
    unsafe { _exit(if code < 0 { 128 + signum } else { code }) }
}

/// Install the handler. `serve` exits 0 (a client ending the session is normal);
/// the one-shot commands exit 128 + the signal number, as shells expect.
pub fn install(exit_zero: bool) {
    EXIT_CODE.store(if exit_zero { 0 } else { -1 }, Ordering::SeqCst);
    let handler: extern "C" fn(i32) = on_signal;
    // SAFETY: the handler only touches atomics and calls `_exit`.
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
        if PENDING.swap(false, Ordering::SeqCst) {
            let code = EXIT_CODE.load(Ordering::SeqCst);
            let code = if code < 0 { 128 + SIGTERM } else { code };
            // SAFETY: plain `_exit` outside a signal handler.
            unsafe { _exit(code) }
        }
    }
}
