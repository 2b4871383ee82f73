//! The sign-in store (auth-notes rule 8): one small JSON file in the user's home
//! that every loopops-mcp process shares, whatever gave it its token (environment,
//! a client's config entry, a bundle's setting, `~/.mcp.json`). Per Okta issuer and
//! client it holds the newest refresh token and the digests, never the values, of
//! every token that was replaced. A token whose digest is recorded is spent and is
//! never sent again; a token the store does not know is a fresh sign-in and wins.
//!
//! The file is written like the config (lock sidecar, temp file, rename), in a
//! directory created 0700.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::auth::config_file::{self, ConfigError, ConfigFile};
use crate::auth::digest::token_digest;
use crate::secret::Secret;

/// Overrides the store's directory (IT, tests, unusual homes).
pub const LOOP_MCP_STORE: &str = "LOOP_MCP_STORE";

const FILE_NAME: &str = "tokens.json";
/// Digests kept per entry; the oldest go first. A token that old has long expired.
const MAX_SPENT: usize = 512;

#[derive(Debug, Clone)]
pub struct Store {
    pub file: ConfigFile,
}

impl Store {
    /// `LOOP_MCP_STORE`, else `~/.loopops-mcp`.
    pub fn locate() -> Result<Store, ConfigError> {
        Self::locate_with(&|k| std::env::var(k).ok())
    }

    pub fn locate_with(env: &dyn Fn(&str) -> Option<String>) -> Result<Store, ConfigError> {
        let dir = match env(LOOP_MCP_STORE).filter(|v| !v.trim().is_empty()) {
            Some(d) => PathBuf::from(d),
            None => default_dir().ok_or(ConfigError::NoHome)?,
        };
        Ok(Store::at(dir))
    }

    pub fn at(dir: impl Into<PathBuf>) -> Store {
        Store {
            file: ConfigFile::new(dir.into().join(FILE_NAME)),
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.file
            .path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Create the directory (0700) so that its lock can be taken.
    pub fn ensure_dir(&self) -> Result<(), ConfigError> {
        let dir = self.dir();
        config_file::create_private_dir_all(&dir)
            .map_err(|error| ConfigError::NotWritable { path: dir, error })
    }

    /// The lineage of one issuer and client. A missing file is an empty store; a
    /// broken one is an error, never overwritten.
    pub fn read(&self, key: &str) -> Result<Lineage, ConfigError> {
        let doc = self.file.read()?.unwrap_or_else(|| json!({}));
        Ok(Lineage {
            doc,
            key: key.to_string(),
        })
    }
}

impl Store {
    /// Change one entry under the store's lock and write the store back: `login`
    /// records its fresh token, `logout` retires the ones it revoked.
    pub fn update<T>(
        &self,
        key: &str,
        wait: std::time::Duration,
        change: impl FnOnce(&mut Lineage) -> T,
    ) -> Result<T, ConfigError> {
        self.ensure_dir()?;
        self.file.with_lock(wait, || {
            let mut lineage = self.read(key)?;
            let out = change(&mut lineage);
            self.file.write(lineage.doc())?;
            Ok(out)
        })?
    }
}

/// Where the store lives by default: beside `~/.mcp.json`, in the user's home, the
/// one place every client's child process sees (auth-notes rule 11).
fn default_dir() -> Option<PathBuf> {
    dirs::home_dir().map(|h| h.join(".loopops-mcp"))
}

/// The store's key for an issuer (by its token endpoint) and a client id.
pub fn key(token_endpoint: &str, client_id: &str) -> String {
    format!("{token_endpoint} {client_id}")
}

/// One entry of the store, with the whole document so that it can be written back.
pub struct Lineage {
    doc: Value,
    key: String,
}

impl Lineage {
    fn entry(&self) -> Option<&Map<String, Value>> {
        self.doc.get("entries")?.get(&self.key)?.as_object()
    }

    fn entry_mut(&mut self) -> &mut Map<String, Value> {
        if !self.doc.is_object() {
            self.doc = json!({});
        }
        let root = self.doc.as_object_mut().expect("just made an object");
        root.entry("about").or_insert_with(|| {
            json!("loopops-mcp sign-in store. Replaced tokens are kept only as digests. Do not edit; `loopops-mcp logout` signs out.")
        });
        root.insert("version".into(), json!(1));
        let entries = root.entry("entries").or_insert_with(|| json!({}));
        if !entries.is_object() {
            *entries = json!({});
        }
        let entry = entries
            .as_object_mut()
            .expect("just made an object")
            .entry(self.key.clone())
            .or_insert_with(|| json!({}));
        if !entry.is_object() {
            *entry = json!({});
        }
        entry.as_object_mut().expect("just made an object")
    }

    fn spent_list(&self) -> Vec<&str> {
        self.entry()
            .and_then(|e| e.get("spent"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The token was replaced or revoked: never send it again.
    pub fn is_spent(&self, token: &str) -> bool {
        let d = token_digest(token);
        self.spent_list().contains(&d.as_str())
    }

    /// The newest token, unless it is spent.
    pub fn current(&self) -> Option<Secret> {
        let t = self.entry()?.get("refreshToken")?.as_str()?;
        (!t.is_empty() && !self.is_spent(t)).then(|| Secret::new(t))
    }

    /// Record a token as spent.
    pub fn retire(&mut self, token: &str) {
        if token.is_empty() || self.is_spent(token) {
            return;
        }
        let d = token_digest(token);
        let entry = self.entry_mut();
        let spent = entry.entry("spent").or_insert_with(|| json!([]));
        if !spent.is_array() {
            *spent = json!([]);
        }
        let list = spent.as_array_mut().expect("just made an array");
        list.push(Value::String(d));
        if list.len() > MAX_SPENT {
            let extra = list.len() - MAX_SPENT;
            list.drain(..extra);
        }
    }

    /// Make `token` the newest; the one it replaces is spent. `None` signs out.
    pub fn set_current(&mut self, token: Option<&Secret>) {
        if let Some(old) = self
            .entry()
            .and_then(|e| e.get("refreshToken"))
            .and_then(Value::as_str)
            && token.is_none_or(|t| t.expose() != old)
        {
            let old = old.to_string();
            self.retire(&old);
        }
        let entry = self.entry_mut();
        match token {
            Some(t) => entry.insert("refreshToken".into(), Value::String(t.expose().to_string())),
            None => entry.remove("refreshToken"),
        };
    }

    /// The device sign-in in progress for this issuer and client, shared by every
    /// process (its device code is a secret, like the tokens beside it).
    pub fn pending_sign_in(&self) -> Option<&Value> {
        self.entry()?.get("pendingSignIn").filter(|v| v.is_object())
    }

    pub fn set_pending_sign_in(&mut self, pending: Option<Value>) {
        let entry = self.entry_mut();
        match pending {
            Some(p) => entry.insert("pendingSignIn".into(), p),
            None => entry.remove("pendingSignIn"),
        };
    }

    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// Bytes to reserve for writing this store back with one more token.
    pub fn reserve(&self) -> usize {
        self.doc.to_string().len() * 2 + 8192
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_records_digests_not_tokens() {
        let mut l = Lineage {
            doc: json!({}),
            key: key("https://o/oauth2/default/v1/token", "c"),
        };
        assert!(l.current().is_none());
        l.set_current(Some(&Secret::new("rt-first-000000")));
        assert_eq!(l.current().unwrap().expose(), "rt-first-000000");
        l.set_current(Some(&Secret::new("rt-second-00000")));
        assert!(l.is_spent("rt-first-000000"));
        assert!(!l.is_spent("rt-second-00000"));
        let text = l.doc().to_string();
        assert!(!text.contains("rt-first-000000"), "{text}");
        assert!(text.contains("rt-second-00000"));
        l.set_current(None);
        assert!(l.current().is_none());
        assert!(l.is_spent("rt-second-00000"));
        for n in 0..(MAX_SPENT + 10) {
            l.retire(&format!("rt-{n}"));
        }
        assert_eq!(l.spent_list().len(), MAX_SPENT);
    }
}
