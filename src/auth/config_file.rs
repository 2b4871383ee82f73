//! The shared MCP config file (`LOOP_MCP_CONFIG`, else `~/.mcp.json`): read it, lock
//! it, and replace it atomically. Other programs own most of this file, so a write
//! changes only what we were asked to change and keeps every other key and its order.
//!
//! Locking follows auth-notes.md: an advisory lock on a sidecar `<config>.lock` that
//! is created once and never deleted (the kernel drops the lock when a process dies,
//! so it cannot go stale), never on the config itself, whose inode the rename replaces.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
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
        if text.trim().is_empty() {
            return Ok(Some(Value::Object(Map::new())));
        }
        // Another program's entry may hold a lone surrogate, which Node accepts.
        let parsed = serde_json::from_str::<Value>(&text).or_else(|e| {
            config_splice::lenient_text(&text)
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
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|error| ConfigError::Lock {
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
        let target = self.real_path();
        let werr = |error: io::Error| ConfigError::Write {
            path: target.clone(),
            error,
        };
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
        let tmp = dir.join(format!("{prefix}{}", std::process::id()));
        let text = match spliced(&target, doc) {
            Some(t) => t,
            None => {
                let mut t = serde_json::to_string_pretty(doc).map_err(|e| werr(io::Error::other(e)))?;
                t.push('\n');
                t
            }
        };
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &target)?;
            // The rename is durable only once the directory is.
            File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(werr)
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

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("loopops-cfg-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn write_keeps_order_and_sets_mode() {
        use std::os::unix::fs::PermissionsExt;
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
        let mode = fs::metadata(&cfg.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}"); // the config and its lock
    }

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
