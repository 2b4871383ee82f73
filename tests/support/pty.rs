//! A pseudo-terminal from the C library's `openpty` (no crate), for tests that run
//! the binary as a person at a terminal would.

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};

unsafe extern "C" {
    fn openpty(
        master: *mut i32,
        slave: *mut i32,
        name: *mut u8,
        termios: *const u8,
        winsize: *const u8,
    ) -> i32;
}

/// The two ends: the test reads and writes `master`; the child gets `slave`.
pub struct Pty {
    pub master: File,
    pub slave: OwnedFd,
}

pub fn pty() -> Pty {
    let (mut m, mut s) = (-1, -1);
    // SAFETY: openpty writes two descriptors we then own; the other pointers may be null.
    let rc = unsafe {
        openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: both descriptors were just opened for us and are owned once here.
    unsafe {
        Pty {
            master: File::from_raw_fd(m),
            slave: OwnedFd::from_raw_fd(s),
        }
    }
}
