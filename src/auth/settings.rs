//! Where each setting comes from: the environment first, else the `env` of our
//! stanza in the config file. So a client entry without `env` works, and
//! `loopops-mcp call` works right after `loopops-mcp login`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::auth::config_file::{self, ConfigError, ConfigFile};
use crate::secret::Secret;

pub const API_URL: &str = "API_URL";
pub const OKTA_ISSUER: &str = "OKTA_ISSUER";
pub const OKTA_CLIENT_ID: &str = "OKTA_CLIENT_ID";
pub const OKTA_REFRESH_TOKEN: &str = "OKTA_REFRESH_TOKEN";
pub const API_TIMEOUT_MS: &str = "API_TIMEOUT_MS";

pub const OKTA_TIMEOUT_MS: &str = "OKTA_TIMEOUT_MS";

pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// `API_TIMEOUT_MS=30` is someone meaning seconds: below a second no call could
/// succeed over a real network, so the value is raised to this.
pub const MIN_TIMEOUT_MS: u64 = 1_000;
pub const MAX_TIMEOUT_MS: u64 = 600_000;
/// Okta's own timeout (auth-notes rule 9): independent of `API_TIMEOUT_MS`, and
/// never so short that a sent refresh goes unanswered on a slow day.
pub const DEFAULT_OKTA_TIMEOUT_MS: u64 = 30_000;
pub const MIN_OKTA_TIMEOUT_MS: u64 = 10_000;
pub const MAX_OKTA_TIMEOUT_MS: u64 = 120_000;

#[derive(Debug, Clone)]
pub struct Settings {
    pub config: ConfigFile,
    pub api_url: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub refresh_token: Option<Secret>,
    /// The refresh token as the environment gave it (lineage treats it apart from
    /// the file's, which the token cycle re-reads itself).
    pub env_refresh_token: Option<Secret>,
    pub timeout: Duration,
    pub okta_timeout: Duration,
}

impl Settings {
    /// Resolve every setting. The config file is read only if the environment
    /// leaves something unset.
    pub fn load(server_name: &str, config: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with(
            server_name,
            &|k| std::env::var(k).ok(),
            ConfigFile::locate(config)?,
        )
    }

    pub fn load_with(
        server_name: &str,
        env: &dyn Fn(&str) -> Option<String>,
        config: ConfigFile,
    ) -> Result<Settings, ConfigError> {
        let from_env = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = [API_URL, OKTA_ISSUER, OKTA_CLIENT_ID, OKTA_REFRESH_TOKEN];
        let env_complete = required.iter().all(|k| from_env(k).is_some());
        let doc: Option<Value> = if env_complete && from_env(API_TIMEOUT_MS).is_some() {
            None
        } else {
            match config.read() {
                Ok(doc) => doc,
                // Fully configured by the environment: a broken file only costs the
                // optional API_TIMEOUT_MS it might have held.
                Err(_) if env_complete => None,
                Err(e) => return Err(e),
            }
        };
        let get = |k: &str| {
            from_env(k).or_else(|| {
                doc.as_ref()
                    .and_then(|d| config_file::stanza_var(d, server_name, k))
            })
        };
        let millis = |k: &str, default: u64, min: u64, max: u64| {
            get(k)
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&ms| ms > 0)
                .unwrap_or(default)
                .clamp(min, max)
        };
        let timeout_ms = millis(API_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS);
        let okta_ms = millis(
            OKTA_TIMEOUT_MS,
            DEFAULT_OKTA_TIMEOUT_MS,
            MIN_OKTA_TIMEOUT_MS,
            MAX_OKTA_TIMEOUT_MS,
        );
        Ok(Settings {
            api_url: get(API_URL),
            issuer: get(OKTA_ISSUER),
            client_id: get(OKTA_CLIENT_ID),
            refresh_token: get(OKTA_REFRESH_TOKEN).map(Secret::new),
            env_refresh_token: from_env(OKTA_REFRESH_TOKEN).map(Secret::new),
            timeout: Duration::from_millis(timeout_ms),
            okta_timeout: Duration::from_millis(okta_ms),
            config,
        })
    }

    /// The variables API mode needs that are unset (loop-api.md §1).
    pub fn missing(&self) -> Vec<&'static str> {
        let mut m = Vec::new();
        if self.api_url.is_none() {
            m.push(API_URL);
        }
        if self.issuer.is_none() {
            m.push(OKTA_ISSUER);
        }
        if self.client_id.is_none() {
            m.push(OKTA_CLIENT_ID);
        }
        if self.refresh_token.is_none() {
            m.push(OKTA_REFRESH_TOKEN);
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn environment_first_then_the_stanza() {
        let dir = crate::test_dir::TestDir::new("settings");
        let path = dir.join("mcp.json");
        std::fs::write(
            &path,
            r#"{"mcpServers":{"loop-operations":{"env":{"API_URL":"https://file/api","OKTA_ISSUER":"https://file.okta","OKTA_REFRESH_TOKEN":"rt-from-file-123"}}}}"#,
        )
        .unwrap();
        let env: HashMap<&str, &str> = [("API_URL", "https://env/api"), ("OKTA_ISSUER", "  ")].into();
        let s = Settings::load_with(
            "loop-operations",
            &|k| env.get(k).map(|v| v.to_string()),
            ConfigFile::new(&path),
        )
        .unwrap();
        assert_eq!(s.api_url.as_deref(), Some("https://env/api"));
        assert_eq!(s.issuer.as_deref(), Some("https://file.okta"));
        assert_eq!(
            s.refresh_token.as_ref().map(Secret::expose),
            Some("rt-from-file-123")
        );
        assert_eq!(s.missing(), vec![OKTA_CLIENT_ID]);
        assert_eq!(s.timeout, Duration::from_millis(DEFAULT_TIMEOUT_MS));
        assert_eq!(s.okta_timeout, Duration::from_millis(DEFAULT_OKTA_TIMEOUT_MS));
    }

    #[test]
    fn timeouts_have_sane_bounds() {
        let env: HashMap<&str, &str> = [("API_TIMEOUT_MS", "30"), ("OKTA_TIMEOUT_MS", "50")].into();
        let s = Settings::load_with(
            "loop-operations",
            &|k| env.get(k).map(|v| v.to_string()),
            ConfigFile::new("/nonexistent/x/mcp.json"),
        )
        .unwrap();
        assert_eq!(s.timeout, Duration::from_millis(MIN_TIMEOUT_MS));
        assert_eq!(s.okta_timeout, Duration::from_millis(MIN_OKTA_TIMEOUT_MS));
    }

    #[test]
    fn a_broken_file_does_not_matter_when_the_environment_is_complete() {
        let dir = crate::test_dir::TestDir::new("settings-broken");
        let path = dir.join("mcp.json");
        std::fs::write(&path, "{ // a comment\n }").unwrap();
        let env: HashMap<&str, &str> = [
            ("API_URL", "https://a/api"),
            ("OKTA_ISSUER", "https://o"),
            ("OKTA_CLIENT_ID", "c"),
            ("OKTA_REFRESH_TOKEN", "rt-000000000"),
        ]
        .into();
        let get = |k: &str| env.get(k).map(|v| v.to_string());
        let s = Settings::load_with("loop-operations", &get, ConfigFile::new(&path)).unwrap();
        assert!(s.missing().is_empty());
        let partial = |k: &str| if k == "API_URL" { None } else { get(k) };
        assert!(Settings::load_with("loop-operations", &partial, ConfigFile::new(&path)).is_err());
    }

    #[test]
    fn nothing_configured() {
        let s = Settings::load_with(
            "loop-operations",
            &|_| None,
            ConfigFile::new("/nonexistent/x/mcp.json"),
        )
        .unwrap();
        assert_eq!(s.missing().len(), 4);
    }
}
