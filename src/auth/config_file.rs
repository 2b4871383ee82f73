//! The shared MCP config file (`LOOP_MCP_CONFIG`, else `~/.mcp.json`): read it, lock
//! it, and replace it atomically. Other programs own most of this file, so a write
//! changes only what we were asked to change and keeps every other key and its order.
//!
//! Locking follows auth-notes.md: an advisory lock on a sidecar `<config>.lock` that
//! is created once and never deleted (the kernel drops the lock when a process dies,
//! so it cannot go stale), never on the config itself, whose inode the rename replaces.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::auth::config_splice;
pub use crate::error::ConfigError;

/// The name of our stanza under `mcpServers` unless told otherwise.
pub const DEFAULT_SERVER_NAME: &str = "loop-operations";

#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The path as given (may be a symlink).
    pub path: PathBuf,
}

impl ConfigFile {
    pub fn new(path: impl Into<PathBuf>) -> ConfigFile {
        ConfigFile { path: path.into() }
    }

    /// `given` (a `--config` flag), else `LOOP_MCP_CONFIG`, else `~/.mcp.json`.
    pub fn locate(given: Option<&Path>) -> Result<ConfigFile, ConfigError> {
        if let Some(p) = given {
            return Ok(ConfigFile::new(p));
        }
        match std::env::var_os("LOOP_MCP_CONFIG").filter(|v| !v.is_empty()) {
            Some(p) => Ok(ConfigFile::new(p)),
            None => dirs::home_dir()
                .map(|h| ConfigFile::new(h.join(".mcp.json")))
                .ok_or(ConfigError::NoHome),
        }
    }

    /// The file writes go to: the symlink's target, so that the link survives.
    fn real_path(&self) -> PathBuf {
        let mut path = self.path.clone();
        // Follow a bounded chain of links, resolving relative targets.
        for _ in 0..16 {
            match fs::read_link(&path) {
                Ok(target) => {
                    path = match path.parent() {
                        Some(dir) if target.is_relative() => dir.join(target),
                        _ => target,
                    }
                }
                Err(_) => break,
            }
        }
        path
    }

    pub fn lock_path(&self) -> PathBuf {
        let mut p = self.real_path().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// The parsed file, or `None` if it does not exist.
    pub fn read(&self) -> Result<Option<Value>, ConfigError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(ConfigError::Read {
                    path: self.path.clone(),
                    error,
                });
            }
        };
        // Notepad and PowerShell 5 save UTF-8 with a byte-order mark; CRLF line ends
        // are JSON whitespace already.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        if text.trim().is_empty() {
            return Ok(Some(Value::Object(Map::new())));
        }
        // Another program's entry may hold a lone surrogate, which Node accepts.
        let parsed = serde_json::from_str::<Value>(text).or_else(|e| {
            config_splice::lenient_text(text)
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .ok_or(e)
        });
        match parsed {
            Ok(v @ Value::Object(_)) => Ok(Some(v)),
            Ok(_) => Err(ConfigError::Invalid {
                path: self.path.clone(),
                detail: "the top level is not an object".into(),
            }),
            Err(e) => Err(ConfigError::Invalid {
                path: self.path.clone(),
                detail: format!(
                    "line {} column {}: {}",
                    e.line(),
                    e.column(),
                    classify_json_error(&e)
                ),
            }),
        }
    }

    /// Run `f` holding the sidecar lock, waiting at most `wait` for it.
    pub fn with_lock<T>(&self, wait: Duration, f: impl FnOnce() -> T) -> Result<T, ConfigError> {
        let lock_path = self.lock_path();
        let file = platform::open_lock_file(&lock_path).map_err(|error| ConfigError::Lock {
            path: lock_path.clone(),
            error,
        })?;
        let mut lock = fd_lock::RwLock::new(file);
        let start = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match lock.try_write() {
                Ok(_guard) => return Ok(f()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if start.elapsed() >= wait {
                        return Err(ConfigError::LockTimeout {
                            path: lock_path,
                            waited: wait,
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(error) => {
                    return Err(ConfigError::Lock {
                        path: lock_path,
                        error,
                    });
                }
            }
        }
    }

    /// Replace the file atomically: a 0600 temp file in the same directory, written,
    /// fsynced, renamed over the target, then the directory fsynced. Call it holding
    /// the lock: leftovers of writers that died mid-write are removed here.
    pub fn write(&self, doc: &Value) -> Result<(), ConfigError> {
        let text = spliced(&self.real_path(), doc).unwrap_or_else(|| render(doc));
        let prepared = self.prepare(text.len()).map_err(|e| match e {
            ConfigError::NotWritable { path, error } => ConfigError::Write { path, error },
            other => other,
        })?;
        prepared.commit_text(&text)
    }

    /// Prove that the file can be replaced before doing anything that cannot be
    /// undone (auth-notes rule 7): create the temp file, fill it with `reserve`
    /// bytes and fsync it, so that a read-only directory, a full disk or a taken
    /// name shows up now. Call it holding the lock.
    pub fn prepare(&self, reserve: usize) -> Result<PreparedWrite, ConfigError> {
        let target = self.real_path();
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "mcp.json".into());
        let prefix = format!(".{file_name}.tmp.");
        remove_leftovers(&dir, &prefix);
        let not_writable = |path: &Path, error: io::Error| ConfigError::NotWritable {
            path: path.to_path_buf(),
            error,
        };
        let (tmp, mut file) = create_temp(&dir, &prefix).map_err(|e| not_writable(&dir, e))?;
        let mut prepared = PreparedWrite {
            tmp,
            file: None,
            target: target.clone(),
            dir,
        };
        let filled = (|| {
            platform::keep_owner(&file, &target, &prepared.dir)?;
            write_filler(&mut file, reserve)?;
            file.sync_all()
        })();
        match filled {
            Ok(()) => {
                prepared.file = Some(file);
                Ok(prepared)
            }
            Err(e) => Err(not_writable(&prepared.tmp.clone(), e)),
        }
    }
}

/// A temp file proven writable, waiting for the content that replaces the target.
/// Dropped without a commit, it is removed.
pub struct PreparedWrite {
    tmp: PathBuf,
    file: Option<File>,
    target: PathBuf,
    dir: PathBuf,
}

impl PreparedWrite {
    pub fn commit(self, doc: &Value) -> Result<(), ConfigError> {
        let text = spliced(&self.target, doc).unwrap_or_else(|| render(doc));
        self.commit_text(&text)
    }

    fn commit_text(mut self, text: &str) -> Result<(), ConfigError> {
        let mut file = self.file.take().expect("a prepared write has its file");
        let result = (|| {
            // Overwrite the reserved bytes in place: no new blocks are needed for a
            // text no longer than the reservation, so a disk that filled up since
            // cannot fail us now.
            file.seek(SeekFrom::Start(0))?;
            file.write_all(text.as_bytes())?;
            file.set_len(text.len() as u64)?;
            file.sync_all()?;
            drop(file);
            platform::replace(&self.tmp, &self.target)?;
            // The rename is durable only once the directory is.
            platform::sync_dir(&self.dir)
        })();
        result.map_err(|error| ConfigError::Write {
            path: self.target.clone(),
            error,
        })
    }
}

impl Drop for PreparedWrite {
    fn drop(&mut self) {
        // Committed: the temp name is gone (renamed); otherwise remove it.
        let _ = fs::remove_file(&self.tmp);
    }
}

fn render(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(doc).expect("a JSON value serializes");
    text.push('\n');
    text
}

/// A new 0600 file named `<prefix><pid>[.n]`: a name another program took in a
/// shared directory is skipped, never opened.
fn create_temp(dir: &Path, prefix: &str) -> io::Result<(PathBuf, File)> {
    let mut last = None;
    for n in 0..16 {
        let name = match n {
            0 => format!("{prefix}{}", std::process::id()),
            n => format!("{prefix}{}.{n}", std::process::id()),
        };
        let path = dir.join(name);
        match platform::create_new_private(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temp name")))
}

fn write_filler(file: &mut File, len: usize) -> io::Result<()> {
    let chunk = [b' '; 4096];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        file.write_all(&chunk[..n])?;
        left -= n;
    }
    Ok(())
}

/// Create `dir` and any missing parents as 0700 whatever the umask, owned (when
/// run as root) by the owner of the nearest existing parent, so that `sudo` never
/// leaves a user with a directory of their own they cannot enter.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_private_dir_all(parent)?;
    }
    match platform::create_private_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// What differs between operating systems, kept small so that each has its own.
#[cfg(unix)]
mod platform {
    use std::fs::{self, File, OpenOptions};
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    // Not in std; the values differ per OS (and per Linux architecture).
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    const FLAGS: i32 = 0x0100 /* O_NOFOLLOW */ | 0x0004 /* O_NONBLOCK */;
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "x86",
            target_arch = "x86_64",
            target_arch = "riscv64",
            target_arch = "s390x"
        )
    ))]
    const FLAGS: i32 = 0o400000 /* O_NOFOLLOW */ | 0o4000 /* O_NONBLOCK */;
    #[cfg(all(target_os = "linux", any(target_arch = "aarch64", target_arch = "arm")))]
    const FLAGS: i32 = 0o100000 /* O_NOFOLLOW */ | 0o4000 /* O_NONBLOCK */;
    #[cfg(not(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        all(
            target_os = "linux",
            any(
                target_arch = "x86",
                target_arch = "x86_64",
                target_arch = "riscv64",
                target_arch = "s390x",
                target_arch = "aarch64",
                target_arch = "arm"
            )
        )
    )))]
    const FLAGS: i32 = 0;

    /// The lock sidecar: never through a symlink, never blocking on a FIFO, and
    /// only a regular file.
    pub fn open_lock_file(path: &Path) -> io::Result<File> {
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(io::Error::other("it is a symbolic link; remove it"));
        }
        let existed = path.exists();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(FLAGS)
            .open(path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::other("it is not a regular file; remove it"));
        }
        if !existed {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            if let Some(dir) = path.parent() {
                keep_owner(&file, dir, dir)?;
            }
        }
        Ok(file)
    }

    pub fn create_new_private(path: &Path) -> io::Result<File> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(FLAGS)
            .open(path)?;
        // The umask may have taken bits away (or left none): set them exactly.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }

    /// Run as root over a user's file (or in a user's directory), give what we
    /// created to that user; a file we cannot give away is refused, not written.
    pub fn keep_owner(created: &File, target: &Path, dir: &Path) -> io::Result<()> {
        let ours = created.metadata()?;
        let like = fs::metadata(target).or_else(|_| fs::metadata(dir))?;
        if ours.uid() == 0 && like.uid() != 0 {
            std::os::unix::fs::fchown(created, Some(like.uid()), Some(like.gid())).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "running as root, and {} belongs to uid {}: cannot keep that owner ({e})",
                        target.display(),
                        like.uid()
                    ),
                )
            })?;
        }
        Ok(())
    }

    pub fn create_private_dir(dir: &Path) -> io::Result<()> {
        fs::DirBuilder::new().mode(0o700).create(dir)?;
        // The umask may have taken bits away (or left none): set them exactly.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        if let Some(parent) = dir.parent() {
            let made = fs::metadata(dir)?;
            let like = fs::metadata(parent)?;
            if made.uid() == 0 && like.uid() != 0 {
                std::os::unix::fs::chown(dir, Some(like.uid()), Some(like.gid()))?;
            }
        }
        Ok(())
    }

    pub fn replace(tmp: &Path, target: &Path) -> io::Result<()> {
        fs::rename(tmp, target)
    }

    pub fn sync_dir(dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// Windows: the same operations through `replace.rs` (owner-only DACL, MoveFileEx
/// with write-through and a bounded retry on sharing violations, no directory fsync).
#[cfg(windows)]
mod platform {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    use crate::auth::replace;

    pub fn open_lock_file(path: &Path) -> io::Result<File> {
        replace::open_lock_file(path)
    }

    pub fn create_new_private(path: &Path) -> io::Result<File> {
        replace::create_private(path)
    }

    /// No root here; the owner of a new file is its creator, as the DACL says.
    pub fn keep_owner(_created: &File, _target: &Path, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    /// A folder in the profile inherits the profile's owner-only ACL.
    pub fn create_private_dir(dir: &Path) -> io::Result<()> {
        std::fs::create_dir(dir)
    }

    pub fn replace(tmp: &Path, target: &Path) -> io::Result<()> {
        replace::rename_over(tmp, target)
    }

    pub fn sync_dir(dir: &Path) -> io::Result<()> {
        replace::sync_dir(dir)
    }
}

/// A file that serde_json alone cannot read (lone surrogates) is rewritten by
/// splicing, so that the other entries keep every byte.
fn spliced(target: &Path, doc: &Value) -> Option<String> {
    let current = fs::read_to_string(target).ok()?;
    let old: Value = serde_json::from_str(&config_splice::lenient_text(&current)?).ok()?;
    config_splice::splice(&current, &old, doc)
}

fn remove_leftovers(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn classify_json_error(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "the file ends too early",
        serde_json::error::Category::Syntax => "syntax error",
        _ => "not valid JSON",
    }
}

/// `mcpServers.<name>.env` of a parsed config.
pub fn stanza_env<'a>(doc: &'a Value, name: &str) -> Option<&'a Map<String, Value>> {
    doc.get("mcpServers")?.get(name)?.get("env")?.as_object()
}

/// A string variable from the stanza's `env`, if set and non-empty.
pub fn stanza_var(doc: &Value, name: &str, key: &str) -> Option<String> {
    stanza_env(doc, name)?
        .get(key)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The stanza object `mcpServers.<name>`, created (with `mcpServers`) if missing.
/// Returns `None` when something in the way is not an object: we never replace
/// another program's data to make room.
pub fn stanza_mut<'a>(doc: &'a mut Value, name: &str) -> Option<&'a mut Map<String, Value>> {
    let servers = doc
        .as_object_mut()?
        .entry("mcpServers")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()?;
    servers
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tmpdir(tag: &str) -> crate::test_dir::TestDir {
        crate::test_dir::TestDir::new(&format!("cfg-{tag}"))
    }

    #[test]
    fn write_keeps_order_and_sets_mode() {
        let d = tmpdir("order");
        let cfg = ConfigFile::new(d.join("mcp.json"));
        let text = r#"{"zeta":1,"mcpServers":{"other":{"command":"x","big":123456789012345678901234567890},"loop-operations":{"env":{"B":"1","OKTA_REFRESH_TOKEN":"old"}}},"alpha":[1.5,{"q":null}]}"#;
        fs::write(&cfg.path, text).unwrap();
        let mut doc = cfg.read().unwrap().unwrap();
        doc["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"] = json!("new");
        cfg.with_lock(Duration::from_secs(1), || cfg.write(&doc))
            .unwrap()
            .unwrap();
        let back: Value = serde_json::from_str(&fs::read_to_string(&cfg.path).unwrap()).unwrap();
        let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["zeta", "mcpServers", "alpha"]);
        assert_eq!(
            back["mcpServers"]["other"]["big"].to_string(),
            "123456789012345678901234567890"
        );
        assert_eq!(
            back["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"],
            "new"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&cfg.path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        #[cfg(windows)]
        {
            use crate::auth::replace::win32;
            let dacl = win32::dacl_summary(&cfg.path).unwrap();
            assert!(!dacl.others_allowed, "{dacl:?}");
            assert!(win32::is_wine() || dacl.only_current_user, "{dacl:?}");
        }
        let leftovers: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}"); // the config and its lock
    }

    // Windows: creating a symlink needs a privilege users lack; the code follows
    // links the same way there (`fs::read_link`).
    #[cfg(unix)]
    #[test]
    fn symlinked_config_stays_a_symlink() {
        let d = tmpdir("link");
        fs::create_dir_all(d.join("real")).unwrap();
        fs::write(d.join("real/mcp.json"), "{}").unwrap();
        std::os::unix::fs::symlink("real/mcp.json", d.join("link.json")).unwrap();
        let cfg = ConfigFile::new(d.join("link.json"));
        cfg.write(&json!({"a": 1})).unwrap();
        assert!(
            fs::symlink_metadata(d.join("link.json"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::read_to_string(d.join("real/mcp.json")).unwrap(),
            "{\n  \"a\": 1\n}\n"
        );
        assert_eq!(cfg.lock_path(), d.join("real/mcp.json.lock"));
    }

    #[test]
    fn invalid_and_missing_files() {
        let d = tmpdir("invalid");
        let cfg = ConfigFile::new(d.join("mcp.json"));
        assert!(cfg.read().unwrap().is_none());
        fs::write(&cfg.path, "{\"a\": ").unwrap();
        assert!(matches!(cfg.read(), Err(ConfigError::Invalid { .. })));
        fs::write(&cfg.path, "[1]").unwrap();
        assert!(matches!(cfg.read(), Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn crlf_and_byte_order_mark_files_are_read_and_rewritten_without_them() {
        let d = tmpdir("crlf");
        let cfg = ConfigFile::new(d.join("mcp.json"));
        let text = "\u{feff}{\r\n  \"mcpServers\": {\r\n    \"loop-operations\": {\r\n      \"env\": {\"OKTA_REFRESH_TOKEN\": \"old\", \"P\": \"C:\\\\Users\\\\J\u{f6}rg M\u{fc}ller\\\\ca.pem\"}\r\n    }\r\n  },\r\n  \"z\": 1\r\n}\r\n";
        fs::write(&cfg.path, text).unwrap();
        let mut doc = cfg.read().unwrap().unwrap();
        assert_eq!(
            stanza_var(&doc, DEFAULT_SERVER_NAME, "P").as_deref(),
            Some("C:\\Users\\J\u{f6}rg M\u{fc}ller\\ca.pem")
        );
        doc["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"] = json!("new");
        cfg.write(&doc).unwrap();
        let back = fs::read_to_string(&cfg.path).unwrap();
        assert!(!back.starts_with('\u{feff}') && !back.contains('\r'), "{back:?}");
        let back: Value = serde_json::from_str(&back).unwrap();
        assert_eq!(
            back["mcpServers"]["loop-operations"]["env"]["OKTA_REFRESH_TOKEN"],
            "new"
        );
        assert_eq!(back["z"], 1);
    }

    /// The token store is in the user's profile (`%USERPROFILE%\.mcp.json`), never
    /// under `%APPDATA%`, which Claude Desktop's MSIX package redirects for its
    /// children (auth-notes rule 11).
    #[cfg(windows)]
    #[test]
    fn the_default_store_is_in_the_profile_not_appdata() {
        if std::env::var_os("LOOP_MCP_CONFIG").is_some() {
            return;
        }
        let cfg = ConfigFile::locate(None).unwrap();
        let profile = PathBuf::from(std::env::var_os("USERPROFILE").unwrap());
        assert_eq!(cfg.path, profile.join(".mcp.json"));
        let appdata = PathBuf::from(std::env::var_os("APPDATA").unwrap());
        assert!(!cfg.path.starts_with(&appdata), "{}", cfg.path.display());
        let local = PathBuf::from(std::env::var_os("LOCALAPPDATA").unwrap());
        assert!(!cfg.path.starts_with(&local), "{}", cfg.path.display());
        // The sign-in store too: `%USERPROFILE%\.loopops-mcp\tokens.json`.
        let store = crate::auth::store::Store::locate_with(&|_| None).unwrap();
        assert_eq!(store.dir(), profile.join(".loopops-mcp"));
    }

    #[test]
    fn lock_wait_is_bounded() {
        let d = tmpdir("lock");
        let cfg = ConfigFile::new(d.join("mcp.json"));
        let inner = cfg.clone();
        let got = cfg
            .with_lock(Duration::from_secs(1), || {
                inner.with_lock(Duration::from_millis(100), || ())
            })
            .unwrap();
        assert!(matches!(got, Err(ConfigError::LockTimeout { .. })));
    }

    #[test]
    fn stanza_helpers() {
        let mut doc = json!({"mcpServers": {"x": 1}});
        assert!(stanza_mut(&mut doc, "x").is_none());
        stanza_mut(&mut doc, "loop-operations")
            .unwrap()
            .insert("env".into(), json!({"K": "v", "E": ""}));
        assert_eq!(stanza_var(&doc, "loop-operations", "K").as_deref(), Some("v"));
        assert_eq!(stanza_var(&doc, "loop-operations", "E"), None);
    }
}
