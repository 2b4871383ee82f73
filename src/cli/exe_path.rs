//! The command `login` records in a client's config: this binary's own path, in a
//! form every client can run.

use std::path::{Path, PathBuf};

/// This executable's absolute path, as a client should spawn it.
pub fn current() -> String {
    let exe = std::env::current_exe().ok();
    // On Unix, resolve links (a package manager's shim may move). On Windows the
    // module path is already absolute and canonicalize would return a `\\?\` verbatim
    // path, which some clients cannot spawn.
    #[cfg(unix)]
    let exe = exe.and_then(|p| p.canonicalize().ok());
    match exe {
        Some(p) => without_verbatim_prefix(&p).display().to_string(),
        None => "loopops-mcp".into(),
    }
}

/// `\\?\C:\dir\x.exe` becomes `C:\dir\x.exe`, `\\?\UNC\host\share\x.exe` becomes
/// `\\host\share\x.exe`; any other path is returned as it is. Only drive and UNC
/// forms are shortened: other verbatim paths (`\\?\Volume{…}`) have no plain form.
pub fn without_verbatim_prefix(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
        return PathBuf::from(format!(r"\\{rest}"));
    }
    if let Some(rest) = text.strip_prefix(r"\\?\") {
        let b = rest.as_bytes();
        if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\' {
            return PathBuf::from(rest);
        }
    }
    path.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_prefixes_are_removed() {
        let cases = [
            (
                r"\\?\Z:\home\Jörg Müller\loopops-mcp.exe",
                r"Z:\home\Jörg Müller\loopops-mcp.exe",
            ),
            (
                r"\\?\UNC\fs01\tools\loopops-mcp.exe",
                r"\\fs01\tools\loopops-mcp.exe",
            ),
            (r"\\?\Volume{1234}\x.exe", r"\\?\Volume{1234}\x.exe"),
            (
                r"C:\Program Files\Loop\loopops-mcp.exe",
                r"C:\Program Files\Loop\loopops-mcp.exe",
            ),
            ("/usr/local/bin/loopops-mcp", "/usr/local/bin/loopops-mcp"),
        ];
        for (given, want) in cases {
            assert_eq!(without_verbatim_prefix(Path::new(given)), Path::new(want));
        }
    }

    #[test]
    fn the_current_exe_is_absolute_and_never_verbatim() {
        let p = current();
        assert!(Path::new(&p).is_absolute(), "{p}");
        assert!(!p.starts_with(r"\\?\"), "{p}");
    }
}
