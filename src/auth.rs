//! Access tokens for the API, minted from the shared rotating refresh token.
//!
//! The refresh cycle follows auth-notes.md: holding the sidecar lock, re-read the
//! config and adopt a refresh token another process stored; refresh; store the
//! rotated token; unlock. So processes sharing one config take turns and each uses
//! the newest token: no reuse detection, no one signed out.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config_file::{self, ConfigFile};
use crate::error::{ApiError, OktaError};
use crate::http::Http;
use crate::log;
use crate::okta::{self, Endpoints, RefreshFailure, Tokens};
use crate::secret::Secret;
use crate::settings::OKTA_REFRESH_TOKEN;

pub struct Auth {
    endpoints: Endpoints,
    client_id: String,
    refresh_token: Secret,
    access: Option<Access>,
    config: ConfigFile,
    server_name: String,
    lock_wait: Duration,
    warned_unsaved: bool,
}

struct Access {
    token: Secret,
    refresh_at: Instant,
}

impl Auth {
    pub fn new(
        issuer: &str,
        client_id: &str,
        refresh_token: Secret,
        config: ConfigFile,
        server_name: &str,
        timeout: Duration,
    ) -> Auth {
        Auth {
            endpoints: okta::endpoints(issuer),
            client_id: client_id.to_string(),
            refresh_token,
            access: None,
            config,
            server_name: server_name.to_string(),
            // A peer holding the lock may be in a refresh and its one retry.
            lock_wait: timeout * 2 + Duration::from_secs(5),
            warned_unsaved: false,
        }
    }

    /// A valid access token, from the cache or a refresh.
    pub fn access_token(&mut self, http: &Http) -> Result<Secret, ApiError> {
        if let Some(a) = &self.access
            && Instant::now() < a.refresh_at
        {
            return Ok(a.token.clone());
        }
        self.refresh(http)
    }

    /// The API said 401 to our token: drop it and mint another.
    pub fn refresh_after_rejection(&mut self, http: &Http) -> Result<Secret, ApiError> {
        self.access = None;
        self.refresh(http)
    }

    fn refresh(&mut self, http: &Http) -> Result<Secret, ApiError> {
        let config = self.config.clone();
        let wait = self.lock_wait;
        match config.with_lock(wait, || self.refresh_locked(http)) {
            Ok(result) => result,
            // No directory to put the lock in: the token lives in memory only and
            // no other process can share it through this file.
            Err(config_file::ConfigError::Lock { .. }) if config.read().ok().flatten().is_none() => {
                self.refresh_locked(http)
            }
            Err(e) => Err(ApiError::Config(e)),
        }
    }

    fn refresh_locked(&mut self, http: &Http) -> Result<Secret, ApiError> {
        self.adopt_stored_token();
        let sent = self.refresh_token.clone();
        let tokens = match okta::refresh(http, &self.endpoints, &self.client_id, &sent) {
            Ok(t) => t,
            // Sent, unanswered: the token may be spent. Retry at once, inside Okta's
            // rotation grace period, with the same token.
            Err(RefreshFailure::NoAnswer(_)) | Err(RefreshFailure::NotSent(_)) => {
                log::warn("Okta did not answer the token refresh; retrying once");
                okta::refresh(http, &self.endpoints, &self.client_id, &sent)
                    .map_err(|f| ApiError::Okta(f.into_error()))?
            }
            Err(RefreshFailure::Rejected(OktaError::SignInAgain { detail })) => {
                // A writer that does not lock (another tool) may have stored a newer one.
                if self.adopt_stored_token() {
                    okta::refresh(
                        http,
                        &self.endpoints,
                        &self.client_id,
                        &self.refresh_token.clone(),
                    )
                    .map_err(|f| ApiError::Okta(f.into_error()))?
                } else {
                    return Err(ApiError::Okta(OktaError::SignInAgain { detail }));
                }
            }
            Err(RefreshFailure::Rejected(e)) => return Err(ApiError::Okta(e)),
        };
        Ok(self.accept(tokens))
    }

    fn accept(&mut self, tokens: Tokens) -> Secret {
        if let Some(rotated) = tokens.refresh_token
            && rotated != self.refresh_token
        {
            self.refresh_token = rotated;
            self.persist();
        }
        // Refresh a margin before expiry, but never so early that a short-lived
        // token is refreshed before every call.
        let lifetime = Duration::from_secs(tokens.expires_in);
        let margin = Duration::from_secs(60).min(lifetime / 2);
        self.access = Some(Access {
            token: tokens.access_token.clone(),
            refresh_at: Instant::now() + lifetime - margin,
        });
        tokens.access_token
    }

    /// Use the token in the config file if it differs from ours: another process
    /// rotated it. True if we adopted one.
    fn adopt_stored_token(&mut self) -> bool {
        let stored = match self.config.read() {
            Ok(Some(doc)) => config_file::stanza_var(&doc, &self.server_name, OKTA_REFRESH_TOKEN),
            _ => None,
        };
        match stored {
            Some(t) if t != self.refresh_token.expose() => {
                log::debug("adopting the refresh token another process stored");
                self.refresh_token = Secret::new(t);
                true
            }
            _ => false,
        }
    }

    /// Store the rotated token. Re-read right before writing so that edits made by
    /// other programs since our read are kept.
    fn persist(&mut self) {
        let result = match self.config.read() {
            Ok(Some(mut doc)) if stanza_exists(&doc, &self.server_name) => {
                let stanza = config_file::stanza_mut(&mut doc, &self.server_name).expect("stanza exists");
                let env = stanza
                    .entry("env")
                    .or_insert_with(|| Value::Object(Default::default()));
                match env.as_object_mut() {
                    Some(env) => {
                        env.insert(
                            OKTA_REFRESH_TOKEN.into(),
                            Value::String(self.refresh_token.expose().to_string()),
                        );
                        self.config.write(&doc).map_err(|e| e.to_string())
                    }
                    None => Err("its `env` is not an object".to_string()),
                }
            }
            Ok(_) => Err(format!("it has no `{}` entry under mcpServers", self.server_name)),
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = result
            && !self.warned_unsaved
        {
            self.warned_unsaved = true;
            log::warn(&format!(
                "Okta rotated the refresh token but it could not be saved to {} ({why}); it is kept in memory for this process only. Run `loopops-mcp login` so that it is saved.",
                self.config.path.display()
            ));
        }
    }
}

fn stanza_exists(doc: &Value, name: &str) -> bool {
    doc.get("mcpServers")
        .and_then(|s| s.get(name))
        .is_some_and(Value::is_object)
}
