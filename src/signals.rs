//! SIGTERM and SIGINT end the process at once: every answer is written as soon as it
//! is ready and config writes are atomic renames, so there is nothing to flush.
//! `serve` exits 0 (a client ending the session is normal); the one-shot commands
//! die of the signal, as shells expect. One exception: between the refresh POST that
//! spends the old refresh token and the write that saves the new one, a signal waits
//! until the write is done, or the only live token would be lost.
//! std already links the C library, so a few declarations save a dependency.
//!
//! Windows has no signals: a client ends the server by closing stdin or by killing it
//! outright (TerminateProcess, which nothing can hold back), so persistence is
//! crash-safe by construction (`auth/replace.rs`). What remains is the console: Ctrl-C,
//! Ctrl-Break and closing the window reach a console handler (SetConsoleCtrlHandler),
//! which gets the same treatment as SIGINT, critical section included.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static EXIT_ZERO: AtomicBool = AtomicBool::new(false);
static CRITICAL: AtomicBool = AtomicBool::new(false);
/// A signal that arrived during a critical section (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

/// Install the handler for SIGTERM and SIGINT (on Windows: console control events).
pub fn install(exit_zero: bool) {
    EXIT_ZERO.store(exit_zero, Ordering::SeqCst);
    imp::install();
}

fn die(signum: i32) {
    imp::die(signum, EXIT_ZERO.load(Ordering::SeqCst))
}

#[cfg(unix)]
mod imp {
    use super::{CRITICAL, PENDING};
    use std::sync::atomic::Ordering;

    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
        fn raise(signum: i32) -> i32;
        fn _exit(status: i32) -> !;
    }

    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    const SIG_DFL: usize = 0;

    extern "C" fn on_signal(signum: i32) {
        // Only atomics, `signal`, `raise` and `_exit` here: all async-signal-safe.
        if CRITICAL.load(Ordering::SeqCst) {
            PENDING.store(signum, Ordering::SeqCst);
            return;
        }
        super::die(signum);
    }

    pub fn die(signum: i32, exit_zero: bool) {
        if exit_zero {
            // SAFETY: `_exit` is async-signal-safe.
            unsafe { _exit(0) }
        }
        // SAFETY: restore the default action and re-raise: the process dies of the signal.
        unsafe {
            signal(signum, SIG_DFL);
            raise(signum);
        }
    }

    pub fn install() {
        let handler: extern "C" fn(i32) = on_signal;
        // SAFETY: the handler only uses async-signal-safe calls.
        unsafe {
            signal(SIGTERM, handler as usize);
            signal(SIGINT, handler as usize);
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::{CRITICAL, PENDING};
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn SetConsoleCtrlHandler(handler: Option<extern "system" fn(u32) -> i32>, add: i32) -> i32;
        fn ExitProcess(code: u32) -> !;
    }

    const CTRL_C_EVENT: u32 = 0;
    const CTRL_BREAK_EVENT: u32 = 1;
    /// What cmd.exe and PowerShell show for a program ended by Ctrl-C.
    const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;

    /// Runs on a thread the system creates for the event.
    pub(super) extern "system" fn on_event(event: u32) -> i32 {
        // Stored as event + 1 so that 0 still means "none".
        let code = event as i32 + 1;
        if CRITICAL.load(Ordering::SeqCst) {
            PENDING.store(code, Ordering::SeqCst);
            if matches!(event, CTRL_C_EVENT | CTRL_BREAK_EVENT) {
                // Handled: the main thread dies when the critical section ends.
                return 1;
            }
            // Close, logoff, shutdown: the process ends when this returns (or after
            // a few seconds), so wait here for the save, within that time.
            let start = Instant::now();
            while CRITICAL.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(4) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return 1;
        }
        super::die(code);
        1
    }

    pub fn die(_code: i32, exit_zero: bool) {
        // SAFETY: ends the process; the config is never left half-written (renames).
        unsafe { ExitProcess(if exit_zero { 0 } else { STATUS_CONTROL_C_EXIT }) }
    }

    pub fn install() {
        // SAFETY: registers a handler with the signature the system expects. Without
        // a console this fails harmlessly: there is no Ctrl-C to catch.
        unsafe {
            SetConsoleCtrlHandler(Some(on_event), 1);
        }
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

#[cfg(all(test, windows))]
mod tests {
    use super::*;

    /// Ctrl-C between the refresh POST and the save: the handler reports the event
    /// handled and leaves it pending for the end of the critical section (which would
    /// then end the process; the test clears it first).
    #[test]
    fn ctrl_c_in_a_critical_section_waits_for_its_end() {
        let guard = critical_section();
        assert_eq!(imp::on_event(0), 1);
        assert_eq!(PENDING.load(Ordering::SeqCst), 1);
        PENDING.store(0, Ordering::SeqCst);
        drop(guard);
        assert!(!CRITICAL.load(Ordering::SeqCst));
    }
}
