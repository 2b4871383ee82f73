//! Access tokens for the API, minted from the shared rotating refresh token.
//!
//! The refresh cycle follows auth-notes.md: holding the sidecar lock, re-read the
//! config and adopt a refresh token another process stored; refresh; store the
//! rotated token; unlock. So processes sharing one config take turns and each uses
//! the newest token: no reuse detection, no one signed out.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::auth::config_file::{self, ConfigFile};
use crate::auth::okta::{self, Endpoints, RefreshFailure, Tokens};
use crate::auth::settings::{OKTA_CLIENT_ID, OKTA_ISSUER, OKTA_REFRESH_TOKEN};
use crate::error::{ApiError, OktaError};
use crate::log;
use crate::net::http::Http;
use crate::secret::Secret;
use crate::signals;

pub struct Auth {
    endpoints: Endpoints,
    client_id: String,
    refresh_token: Secret,
    access: Option<Access>,
    config: ConfigFile,
    server_name: String,
    lock_wait: Duration,
    warned_unsaved: bool,
    /// Digests of every refresh token we have sent to Okta (spent, or about to be):
    /// never evicted, since the oldest is the one a stale file would hold.
    spent: HashSet<u64>,
    /// Whether our entry in the file has held a token: if it then has none, the user
    /// signed out with `loopops-mcp logout` and we must not write one back.
    saw_token_in_file: bool,
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
            spent: HashSet::new(),
            saw_token_in_file: false,
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
        if let Stored::SignedOut = self.adopt_stored_token() {
            return Err(ApiError::SignedOut {
                config: self.config.path.clone(),
            });
        }
        // From the POST that spends the old token until the new one is on disk, a
        // signal waits: exiting in between would lose the only live token.
        let _critical = signals::critical_section();
        let sent = self.refresh_token.clone();
        let tokens = match self.send_refresh(http, &sent) {
            Ok(t) => t,
            // Sent, unanswered: the token may be spent. Retry at once, inside Okta's
            // rotation grace period, with the same token.
            Err(RefreshFailure::NoAnswer(_)) => {
                log::warn("Okta did not answer the token refresh; retrying once with the same token");
                self.send_refresh(http, &sent)
                    .map_err(|f| ApiError::Okta(f.into_error()))?
            }
            Err(RefreshFailure::NotSent(_)) => {
                log::warn("could not connect to Okta for the token refresh; retrying once");
                self.send_refresh(http, &sent)
                    .map_err(|f| ApiError::Okta(f.into_error()))?
            }
            Err(RefreshFailure::Rejected(OktaError::SignInAgain { detail })) => {
                // A writer that does not lock (another tool) may have stored a newer one.
                match self.adopt_stored_token() {
                    Stored::Adopted => {
                        let newer = self.refresh_token.clone();
                        self.send_refresh(http, &newer)
                            .map_err(|f| ApiError::Okta(f.into_error()))?
                    }
                    _ => return Err(ApiError::Okta(OktaError::SignInAgain { detail })),
                }
            }
            Err(RefreshFailure::Rejected(e)) => return Err(ApiError::Okta(e)),
        };
        Ok(self.accept(tokens))
    }

    fn send_refresh(&mut self, http: &Http, token: &Secret) -> Result<Tokens, RefreshFailure> {
        self.spent.insert(digest(token.expose()));
        okta::refresh(http, &self.endpoints, &self.client_id, token)
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

    /// What our entry in the config holds, and whether the file is shared with us at
    /// all: an entry for another issuer or client is someone else's.
    fn read_entry(&self) -> Entry {
        let doc = match self.config.read() {
            Ok(Some(doc)) => doc,
            Ok(None) => return Entry::NotShared(format!("{} does not exist", self.config.path.display())),
            Err(e) => return Entry::NotShared(e.to_string()),
        };
        if !doc
            .get("mcpServers")
            .and_then(|s| s.get(&self.server_name))
            .is_some_and(Value::is_object)
        {
            return Entry::NotShared(format!("it has no `{}` entry under mcpServers", self.server_name));
        }
        let var = |k: &str| config_file::stanza_var(&doc, &self.server_name, k);
        let same_issuer = var(OKTA_ISSUER).is_none_or(|i| okta::endpoints(&i) == self.endpoints);
        let same_client = var(OKTA_CLIENT_ID).is_none_or(|c| c == self.client_id);
        if !(same_issuer && same_client) {
            return Entry::NotShared(format!(
                "its `{}` entry is for another Okta issuer or client than the one in use",
                self.server_name
            ));
        }
        let token = match doc["mcpServers"][&self.server_name]["env"].get(OKTA_REFRESH_TOKEN) {
            None | Some(Value::Null) => StoredToken::Absent,
            Some(_) => var(OKTA_REFRESH_TOKEN).map_or(StoredToken::Blank, StoredToken::Present),
        };
        Entry::Ours(doc, token)
    }

    /// Adopt the token in the config file if another process stored a newer one:
    /// one that differs from ours and that we have not already spent ourselves (the
    /// file can lag behind us if saving our rotation failed).
    fn adopt_stored_token(&mut self) -> Stored {
        match self.read_entry() {
            Entry::Ours(_, StoredToken::Present(t)) => {
                self.saw_token_in_file = true;
                if t == self.refresh_token.expose() || self.spent.contains(&digest(&t)) {
                    return Stored::Kept;
                }
                log::debug("adopting the refresh token another process stored");
                self.refresh_token = Secret::new(t);
                Stored::Adopted
            }
            // `loopops-mcp logout` blanks the token; an entry whose token we have seen
            // and that now has none was signed out too.
            Entry::Ours(_, StoredToken::Blank) => Stored::SignedOut,
            Entry::Ours(_, StoredToken::Absent) if self.saw_token_in_file => Stored::SignedOut,
            _ => Stored::Kept,
        }
    }

    /// Store the rotated token. Re-read right before writing so that edits made by
    /// other programs since our read are kept.
    fn persist(&mut self) {
        let result = match self.read_entry() {
            Entry::Ours(mut doc, _) => {
                let stanza = config_file::stanza_mut(&mut doc, &self.server_name).expect("the entry exists");
                let env = stanza
                    .entry("env")
                    .or_insert_with(|| Value::Object(Default::default()));
                match env.as_object_mut() {
                    Some(env) => {
                        env.insert(
                            OKTA_REFRESH_TOKEN.into(),
                            Value::String(self.refresh_token.expose().to_string()),
                        );
                        let written = self.config.write(&doc).map_err(|e| e.to_string());
                        self.saw_token_in_file |= written.is_ok();
                        written
                    }
                    None => Err("its `env` is not an object".to_string()),
                }
            }
            Entry::NotShared(why) => Err(why),
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

/// Our entry in the config file, read under the lock.
enum Entry {
    /// The parsed file and our entry's refresh token.
    Ours(Value, StoredToken),
    /// The file does not share a token with us, and why.
    NotShared(String),
}

enum StoredToken {
    Present(String),
    /// The key is there with an empty value: signed out with `loopops-mcp logout`.
    Blank,
    Absent,
}

fn digest(token: &str) -> u64 {
    let mut h = DefaultHasher::new();
    token.hash(&mut h);
    h.finish()
}

/// What `adopt_stored_token` found.
enum Stored {
    Adopted,
    Kept,
    SignedOut,
}
