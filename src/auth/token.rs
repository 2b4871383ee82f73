//! Access tokens for the API, minted from the shared rotating refresh token.
//!
//! The refresh cycle follows auth-notes.md: holding the sign-in store's lock, pick
//! the newest usable refresh token by lineage (rule 8), prove that the result can
//! be saved (rule 7), refresh with Okta's own timeout and one immediate same-token
//! retry when the outcome is unknown (rules 4, 9), save the store first and the
//! config entry's copy second, unlock. So processes take turns, each uses the
//! newest token, and a spent token is never sent again: no reuse detection, no one
//! signed out.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::auth::config_file::{self, ConfigError, ConfigFile, PreparedWrite};
use crate::auth::device::{self, Pending};
use crate::auth::digest::token_digest;
use crate::auth::okta::{self, DevicePoll, Endpoints, RefreshFailure, Tokens};
use crate::auth::settings::{OKTA_CLIENT_ID, OKTA_ISSUER, OKTA_REFRESH_TOKEN};
use crate::auth::store::{self, Lineage, Store};
use crate::error::{ApiError, OktaError};
use crate::log;
use crate::net::http::Http;
use crate::secret::Secret;
use crate::signals;

/// How long a tool call waits for another process's renewal: well below clients'
/// tool timeouts (60 s and more), past one slow Okta answer.
pub const LOCK_WAIT: Duration = Duration::from_secs(20);
/// The config entry's copy is a courtesy: its lock is not worth a long wait.
const CONFIG_LOCK_WAIT: Duration = Duration::from_secs(5);
/// The longest a call waits for the device flow's next allowed poll.
const MAX_POLL_WAIT: Duration = Duration::from_secs(10);
/// Candidates tried in one cycle when Okta says a token is dead.
const MAX_CANDIDATES: usize = 4;

pub struct Auth {
    endpoints: Endpoints,
    client_id: String,
    /// The store's key for this issuer and client.
    key: String,
    /// The refresh token the environment gave at start: one source among others.
    env_token: Option<Secret>,
    /// The token this process last adopted or received.
    token: Option<Secret>,
    access: Option<Access>,
    config: ConfigFile,
    store: Option<Store>,
    server_name: String,
    /// Okta's own timeout (rule 9), applied to the API client's connections.
    okta_timeout: Duration,
    lock_wait: Duration,
    /// Start Okta's device flow from a tool call when no usable token exists.
    offer_sign_in: bool,
    /// Digests of the tokens this process sent or saw retired: a second line of
    /// defence should the store be deleted while we run.
    spent: HashSet<String>,
}

struct Access {
    token: Secret,
    refresh_at: Instant,
}

impl Auth {
    pub fn new(
        issuer: &str,
        client_id: &str,
        env_token: Option<Secret>,
        config: ConfigFile,
        server_name: &str,
        okta_timeout: Duration,
    ) -> Auth {
        let endpoints = okta::endpoints(issuer);
        Auth {
            key: store::key(&endpoints.token, client_id),
            endpoints,
            client_id: client_id.to_string(),
            env_token: env_token.filter(|t| !t.expose().trim().is_empty()),
            token: None,
            access: None,
            config,
            store: Store::locate().ok(),
            server_name: server_name.to_string(),
            okta_timeout,
            lock_wait: LOCK_WAIT,
            offer_sign_in: false,
            spent: HashSet::new(),
        }
    }

    /// Offer in-chat sign-in (for the model's audience; terminal commands say
    /// `loopops-mcp login` instead).
    pub fn offer_sign_in(&mut self, on: bool) {
        self.offer_sign_in = on;
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

    fn refresh(&mut self, api: &Http) -> Result<Secret, ApiError> {
        let http = api.with_timeout(self.okta_timeout);
        let store = self.store.clone().ok_or(ApiError::Config(ConfigError::NoHome))?;
        store.ensure_dir().map_err(ApiError::Config)?;
        match store
            .file
            .with_lock(self.lock_wait, || self.refresh_locked(&http, &store))
        {
            Ok(result) => result,
            Err(ConfigError::LockTimeout { waited, .. }) => Err(ApiError::RenewalBusy { waited }),
            Err(e) => Err(ApiError::Config(e)),
        }
    }

    /// Holding the store's lock: also hold the config's while its entry is ours, so
    /// that its copy of the token is written in turn with `login` and `logout`.
    fn refresh_locked(&mut self, http: &Http, store: &Store) -> Result<Secret, ApiError> {
        if !matches!(self.read_entry(), Entry::Ours(..)) {
            return self.cycle(http, store, false);
        }
        let config = self.config.clone();
        match config.with_lock(CONFIG_LOCK_WAIT, || self.cycle(http, store, true)) {
            Ok(result) => result,
            Err(e) => {
                log::debug(&format!(
                    "the config's copy of the token will not be updated: {e}"
                ));
                self.cycle(http, store, false)
            }
        }
    }

    fn cycle(&mut self, http: &Http, store: &Store, copy_to_config: bool) -> Result<Secret, ApiError> {
        let mut dead: Option<String> = None;
        for _ in 0..MAX_CANDIDATES {
            let mut lineage = store.read(&self.key).map_err(ApiError::Config)?;
            let entry = self.read_entry();
            let Some(token) = self.pick(&lineage, &entry) else {
                let why = self.no_token(&entry, dead);
                return self.sign_in(http, store, lineage, why);
            };
            // Rule 7: prove the write path before the token is spent.
            let store_write = store.file.prepare(lineage.reserve()).map_err(ApiError::Config)?;
            let config_write = match (&entry, copy_to_config) {
                (Entry::Ours(doc, _), true) => match self.config.prepare(doc.to_string().len() * 2 + 8192) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        log::debug(&format!(
                            "the config's copy of the token will not be updated: {e}"
                        ));
                        None
                    }
                },
                _ => None,
            };
            // From the POST that spends the old token until the new one is on disk, a
            // signal waits: exiting in between would lose the only live token.
            let _critical = signals::critical_section();
            match self.send_refresh(http, &token) {
                Ok(tokens) => {
                    return self.accept(tokens, token, lineage, store_write, entry, config_write);
                }
                Err(OktaError::SignInAgain { detail }) => {
                    // Dead for good: no process tries it again; the next candidate may live.
                    self.spent.insert(token_digest(token.expose()));
                    lineage.retire(token.expose());
                    if let Err(e) = store_write.commit(lineage.doc()) {
                        log::warn(&format!(
                            "could not record a revoked token in the sign-in store: {e}"
                        ));
                    }
                    dead = Some(detail);
                }
                Err(e) => {
                    // Not spent (or not known to be): it stays ours to try again.
                    self.token = Some(token);
                    return Err(ApiError::Okta(e));
                }
            }
        }
        Err(ApiError::Okta(OktaError::SignInAgain {
            detail: dead.unwrap_or_else(|| "The refresh token is invalid or expired.".into()),
        }))
    }

    /// No usable refresh token: sign in from inside the chat (device flow), one step
    /// per tool call, sharing the flow in progress with every process through the
    /// store. `why` is the answer when in-chat sign-in is off (terminal commands).
    fn sign_in(
        &mut self,
        http: &Http,
        store: &Store,
        mut lineage: Lineage,
        why: ApiError,
    ) -> Result<Secret, ApiError> {
        if !self.offer_sign_in {
            return Err(why);
        }
        // The approved token must be saved: prove it before asking Okta (rule 7).
        let write = store.file.prepare(lineage.reserve()).map_err(ApiError::Config)?;
        let now = device::now_ms();
        let pending = lineage
            .pending_sign_in()
            .and_then(Pending::from_json)
            .filter(|p| !p.expired(now));
        let Some(mut pending) = pending else {
            let start =
                okta::device_authorize(http, &self.endpoints, &self.client_id).map_err(ApiError::Okta)?;
            let pending = Pending::from_start(&start, now);
            lineage.set_pending_sign_in(Some(pending.to_json()));
            write.commit(lineage.doc()).map_err(ApiError::Config)?;
            log::info("no usable sign-in: started a device sign-in for the user to approve");
            let mut link = pending.link(now, true);
            link.reason = why.sign_in_reason();
            return Err(ApiError::SignInNeeded(Box::new(link)));
        };
        // Asked again right after approving: wait for the next allowed poll rather
        // than answer "still waiting".
        let wait = pending.wait(now);
        if wait > MAX_POLL_WAIT {
            return Err(ApiError::SignInNeeded(Box::new(pending.link(now, false))));
        }
        std::thread::sleep(wait);
        let poll = okta::device_poll(http, &self.endpoints, &self.client_id, pending.device_code());
        let now = device::now_ms();
        let save = |lineage: &Lineage| {
            if let Err(e) = write.commit(lineage.doc()) {
                log::warn(&format!("could not update the sign-in store: {e}"));
            }
        };
        match poll {
            DevicePoll::Approved(tokens) => {
                lineage.set_pending_sign_in(None);
                let Some(rt) = tokens.refresh_token else {
                    save(&lineage);
                    return Err(ApiError::Okta(OktaError::ClientConfig {
                        error: "no refresh token".into(),
                        detail: "Okta approved the sign-in but issued no refresh token: the Okta app needs the Refresh Token grant and the offline_access scope".into(),
                    }));
                };
                lineage.set_current(Some(&rt));
                save(&lineage);
                log::info("signed in: the device sign-in was approved");
                self.token = Some(rt);
                self.keep_access(tokens.access_token, tokens.expires_in)
            }
            DevicePoll::Pending | DevicePoll::SlowDown | DevicePoll::Failed(_) => {
                if matches!(poll, DevicePoll::SlowDown) {
                    pending.slow_down();
                }
                pending.polled(now);
                lineage.set_pending_sign_in(Some(pending.to_json()));
                save(&lineage);
                match poll {
                    DevicePoll::Failed(e) => Err(ApiError::Okta(e)),
                    _ => Err(ApiError::SignInNeeded(Box::new(pending.link(now, false)))),
                }
            }
            DevicePoll::Denied | DevicePoll::Expired => {
                lineage.set_pending_sign_in(None);
                save(&lineage);
                Err(ApiError::SignInEnded {
                    denied: matches!(poll, DevicePoll::Denied),
                })
            }
        }
    }

    /// The newest usable token: a source's token the store does not know is a fresh
    /// sign-in and comes first (environment, then the config entry), then the
    /// store's newest, then our own. Spent ones are skipped.
    fn pick(&self, lineage: &Lineage, entry: &Entry) -> Option<Secret> {
        let file_token = match entry {
            Entry::Ours(_, StoredToken::Present(t)) => Some(Secret::new(t.clone())),
            _ => None,
        };
        [
            self.env_token.clone(),
            file_token,
            lineage.current(),
            self.token.clone(),
        ]
        .into_iter()
        .flatten()
        .find(|t| {
            let t = t.expose();
            !t.is_empty() && !lineage.is_spent(t) && !self.spent.contains(&token_digest(t))
        })
    }

    fn no_token(&self, entry: &Entry, dead: Option<String>) -> ApiError {
        if let Some(detail) = dead {
            return ApiError::Okta(OktaError::SignInAgain { detail });
        }
        match entry {
            Entry::Ours(_, StoredToken::Absent) | Entry::NotShared
                if self.env_token.is_none() && self.token.is_none() =>
            {
                ApiError::NotSignedIn {
                    missing: vec![OKTA_REFRESH_TOKEN],
                    config: self.config.path.clone(),
                }
            }
            _ => ApiError::SignedOut {
                config: self.config.path.clone(),
            },
        }
    }

    /// One refresh, retried once at once with the same token when the outcome is
    /// unknown (inside Okta's grace period) or the request never left.
    fn send_refresh(&self, http: &Http, token: &Secret) -> Result<Tokens, OktaError> {
        let again = |me: &Self| {
            okta::refresh(http, &me.endpoints, &me.client_id, token).map_err(RefreshFailure::into_error)
        };
        match okta::refresh(http, &self.endpoints, &self.client_id, token) {
            Ok(t) => Ok(t),
            Err(RefreshFailure::NoAnswer(e)) => {
                log::warn(&format!(
                    "Okta's answer to the token refresh was lost ({}); retrying once with the same token",
                    e.cause()
                ));
                again(self).map_err(|e| match e {
                    // Two unknown outcomes in a row are still unknown.
                    OktaError::Network { cause } => OktaError::OutcomeUnknown { cause },
                    other => other,
                })
            }
            Err(RefreshFailure::NotSent(_)) => {
                log::warn("could not connect to Okta for the token refresh; retrying once");
                again(self)
            }
            Err(RefreshFailure::Rejected(e)) => Err(e),
        }
    }

    /// Save what Okta answered: the store first (the spent digest and the newest
    /// token), then the config entry's copy, then use the access token.
    fn accept(
        &mut self,
        tokens: Tokens,
        sent: Secret,
        mut lineage: Lineage,
        store_write: PreparedWrite,
        entry: Entry,
        config_write: Option<PreparedWrite>,
    ) -> Result<Secret, ApiError> {
        let rotated = tokens.refresh_token.filter(|r| *r != sent);
        let newest = rotated.clone().unwrap_or_else(|| sent.clone());
        if rotated.is_some() {
            self.spent.insert(token_digest(sent.expose()));
            lineage.retire(sent.expose());
        }
        lineage.set_current(Some(&newest));
        if let Err(e) = store_write.commit(lineage.doc()) {
            log::warn(&format!(
                "Okta rotated the refresh token but the sign-in store could not be updated: {e}"
            ));
        }
        if let (Some(rotated), Entry::Ours(mut doc, _), Some(w)) = (&rotated, entry, config_write) {
            self.copy_to_entry(&mut doc, rotated, w);
        }
        self.token = Some(newest);
        self.keep_access(tokens.access_token, tokens.expires_in)
    }

    /// Cache the access token until a margin before it expires.
    fn keep_access(&mut self, access: Option<Secret>, expires_in: u64) -> Result<Secret, ApiError> {
        let Some(access) = access else {
            return Err(ApiError::Okta(OktaError::BadAnswer {
                status: 200,
                detail: "no access_token in the answer (the rotated refresh token was saved)".into(),
            }));
        };
        // Refresh a margin before expiry, but never so early that a short-lived
        // token is refreshed before every call. Checked: the lifetime is clamped,
        // and an overflow means "much later", never a panic.
        let lifetime = Duration::from_secs(expires_in);
        let margin = Duration::from_secs(60).min(lifetime / 2);
        let now = Instant::now();
        self.access = Some(Access {
            token: access.clone(),
            refresh_at: now.checked_add(lifetime.saturating_sub(margin)).unwrap_or(now),
        });
        Ok(access)
    }

    fn copy_to_entry(&self, doc: &mut Value, rotated: &Secret, w: PreparedWrite) {
        let Some(stanza) = config_file::stanza_mut(doc, &self.server_name) else {
            return;
        };
        let Some(env) = stanza.get_mut("env").and_then(Value::as_object_mut) else {
            return;
        };
        env.insert(
            OKTA_REFRESH_TOKEN.into(),
            Value::String(rotated.expose().to_string()),
        );
        if let Err(e) = w.commit(doc) {
            // The store holds the token; lineage knows the file's copy is spent.
            log::debug(&format!("the config's copy of the token was not updated: {e}"));
        }
    }

    /// What our entry in the config holds, and whether the file is shared with us at
    /// all: an entry for another issuer or client is someone else's.
    fn read_entry(&self) -> Entry {
        let doc = match self.config.read() {
            Ok(Some(doc)) => doc,
            Ok(None) => return Entry::NotShared,
            Err(_) => return Entry::NotShared,
        };
        if !doc
            .get("mcpServers")
            .and_then(|s| s.get(&self.server_name))
            .is_some_and(Value::is_object)
        {
            return Entry::NotShared;
        }
        let var = |k: &str| config_file::stanza_var(&doc, &self.server_name, k);
        let same_issuer = var(OKTA_ISSUER).is_none_or(|i| okta::endpoints(&i) == self.endpoints);
        let same_client = var(OKTA_CLIENT_ID).is_none_or(|c| c == self.client_id);
        if !(same_issuer && same_client) {
            return Entry::NotShared;
        }
        let token = match doc["mcpServers"][&self.server_name]["env"].get(OKTA_REFRESH_TOKEN) {
            None | Some(Value::Null) => StoredToken::Absent,
            Some(_) => var(OKTA_REFRESH_TOKEN).map_or(StoredToken::Blank, StoredToken::Present),
        };
        Entry::Ours(doc, token)
    }
}

/// Our entry in the config file, read under the lock.
enum Entry {
    /// The parsed file and our entry's refresh token.
    Ours(Value, StoredToken),
    /// The file does not share a token with us: missing, broken, no entry of ours,
    /// or an entry for another issuer or client.
    NotShared,
}

enum StoredToken {
    Present(String),
    /// The key is there with an empty value: signed out with `loopops-mcp logout`.
    Blank,
    Absent,
}
