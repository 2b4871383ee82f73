//! Scratch directories for tests, removed when the test is done with them: a full
//! suite used to leave ~300 directories (and, with the README test's binary copies,
//! 250 MB) behind per run, which filled CI's disk. A failing test keeps its directory
//! and says where, since that is when it is read. Test builds only: the unit tests
//! use it as `crate::test_dir`, the integration tests include this file
//! (`tests/support/mod.rs`), so there is one copy.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Every test directory's name starts with this (`.ci/run` looks for leftovers).
pub const PREFIX: &str = "loopops-test-";

pub struct TestDir(PathBuf);

impl TestDir {
    /// A fresh, empty directory under the system temp dir, unique per call.
    pub fn new(tag: &str) -> TestDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "{PREFIX}{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TestDir(d)
    }

    /// Keep the directory past this value's life (a directory a static holds).
    pub fn keep(self) -> PathBuf {
        let path = self.0.clone();
        std::mem::forget(self);
        path
    }
}

impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TestDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test directory kept for inspection: {}", self.0.display());
        } else {
            remove_all(&self.0);
        }
    }
}

/// Remove a test directory, retrying briefly: on Windows a child that was just
/// killed may hold a file in it for a moment.
pub fn remove_all(dir: &Path) {
    for _ in 0..50 {
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => return,
        }
    }
}
