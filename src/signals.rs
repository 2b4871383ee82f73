//! SIGTERM ends `serve` like end of input: exit 0. Every message is flushed as it is
//! written and config writes are atomic renames, so exiting at once loses nothing.
//! std already links the C library, so two declarations save a dependency.

unsafe extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
    fn _exit(status: i32) -> !;
}

const SIGTERM: i32 = 15;

extern "C" fn on_sigterm(_: i32) {
    // Only async-signal-safe calls here.
    unsafe { _exit(0) }
}

pub fn exit_zero_on_sigterm() {
    let handler: extern "C" fn(i32) = on_sigterm;
    // SAFETY: installing a handler that calls only `_exit`, which is async-signal-safe.
    unsafe {
        signal(SIGTERM, handler as usize);
    }
}
