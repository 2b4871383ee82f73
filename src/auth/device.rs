//! In-chat sign-in: Okta's device flow (RFC 8628) driven one tool call at a time.
//! A call with no usable refresh token starts the flow and answers with the link;
//! the next call polls once (respecting `interval` and `slow_down`) and, once the
//! user approved, stores the token through the same store and lineage as a
//! rotation. The flow in progress lives in the sign-in store, so that every process
//! shows the same link and only one of them ever redeems the device code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::auth::digest::token_digest;
use crate::auth::okta::{self, DeviceStart};
use crate::error::SignInLink;
use crate::secret::Secret;

/// A flow in progress, as the store keeps it. Times are epoch milliseconds: they
/// are shared between processes.
pub struct Pending {
    device_code: Secret,
    user_code: String,
    verification_uri: String,
    complete: Option<String>,
    expires_at: u64,
    interval_s: u64,
    next_poll: u64,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Pending {
    /// Okta's numbers are already clamped (`okta::device_authorize`); the sums are
    /// saturating all the same.
    pub fn from_start(start: &DeviceStart, now: u64) -> Pending {
        Pending {
            device_code: start.device_code.clone(),
            user_code: start.user_code.clone(),
            verification_uri: start.verification_uri.clone(),
            complete: start.verification_uri_complete.clone(),
            expires_at: now.saturating_add(start.expires_in.saturating_mul(1000)),
            interval_s: start.interval,
            next_poll: now.saturating_add(start.interval.saturating_mul(1000)),
        }
    }

    pub fn from_json(v: &Value) -> Option<Pending> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(Pending {
            device_code: Secret::new(s("deviceCode")?),
            user_code: s("userCode")?.to_string(),
            verification_uri: s("verificationUri")?.to_string(),
            complete: s("verificationUriComplete").map(str::to_string),
            expires_at: n("expiresAt")?,
            interval_s: n("interval")?.clamp(1, okta::MAX_INTERVAL),
            next_poll: n("nextPoll")?,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "deviceCode": self.device_code.expose(),
            "userCode": self.user_code,
            "verificationUri": self.verification_uri,
            "verificationUriComplete": self.complete,
            "expiresAt": self.expires_at,
            "interval": self.interval_s,
            "nextPoll": self.next_poll,
        })
    }

    pub fn device_code(&self) -> &Secret {
        &self.device_code
    }

    pub fn expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// How long until the next poll is allowed.
    pub fn wait(&self, now: u64) -> Duration {
        Duration::from_millis(self.next_poll.saturating_sub(now))
    }

    pub fn polled(&mut self, now: u64) {
        self.next_poll = now.saturating_add(self.interval_s.saturating_mul(1000));
    }

    /// RFC 8628 §3.5: five seconds more, for the rest of the flow.
    pub fn slow_down(&mut self) {
        self.interval_s = (self.interval_s + 5).min(okta::MAX_INTERVAL);
    }

    pub fn link(&self, now: u64, started: bool) -> SignInLink {
        SignInLink {
            url: self
                .complete
                .clone()
                .unwrap_or_else(|| self.verification_uri.clone()),
            verification_uri: self.verification_uri.clone(),
            user_code: self.user_code.clone(),
            valid_for: Duration::from_millis(self.expires_at.saturating_sub(now)),
            elicitation_id: format!(
                "loopops-sign-in-{}",
                &token_digest(self.device_code.expose())["sha256:".len()..]
            ),
            started,
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_flow_round_trips_and_never_shows_its_device_code() {
        let start = DeviceStart {
            device_code: Secret::new("dc-secret-device-code-0001"),
            user_code: "WDJB-MJHT".into(),
            verification_uri: "https://o/activate".into(),
            verification_uri_complete: Some("https://o/activate?user_code=WDJB-MJHT".into()),
            expires_in: 600,
            interval: 5,
        };
        let mut p = Pending::from_start(&start, 1_000);
        p.slow_down();
        p.polled(2_000);
        let back = Pending::from_json(&p.to_json()).unwrap();
        assert_eq!(back.wait(2_000), Duration::from_secs(10));
        assert!(!back.expired(600_999));
        assert!(back.expired(601_000));
        let link = back.link(301_000, false);
        assert_eq!(link.valid_for, Duration::from_secs(300));
        assert_eq!(link.url, "https://o/activate?user_code=WDJB-MJHT");
        assert!(!format!("{link:?}").contains("dc-secret"));
        assert!(link.elicitation_id.starts_with("loopops-sign-in-"));
    }
}
