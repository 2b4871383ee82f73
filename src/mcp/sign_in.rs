//! How an in-chat sign-in (`ApiError::SignInNeeded`, started by the token cycle)
//! reaches the client. A 2025-11-25 client that declared URL-mode elicitation gets
//! the error the spec made for it, `URLElicitationRequiredError` (-32042), so that
//! it shows the link itself and retries the call once the user is done; everyone
//! else gets the `isError` text with the link, the code and "then ask me again".
//! A 2026-07-28 request that declared URL-mode elicitation gets an `input_required`
//! result sending the user to the link; its retry runs the call again, which finishes
//! the sign-in (or asks again while the approval is pending). No `requestState`: the
//! retry needs nothing from the first attempt, and nothing in it could be misused.

use serde_json::json;

use crate::error::{ApiError, SignInLink};
use crate::mcp::era::Envelope;
use crate::mcp::jsonrpc::RpcError;
use crate::mcp::mrtr::InputRequired;
use crate::mcp::protocol::Version;

pub const URL_ELICITATION_REQUIRED: i64 = -32042;

/// The -32042 error for this call, if this client takes one.
pub fn url_elicitation(env: &Envelope, err: &ApiError) -> Option<RpcError> {
    let ApiError::SignInNeeded(link) = err else {
        return None;
    };
    (env.version == Version::V2025_11_25 && env.has_url_elicitation()).then(|| url_elicitation_error(link))
}

pub fn url_elicitation_error(link: &SignInLink) -> RpcError {
    RpcError::with_data(
        URL_ELICITATION_REQUIRED,
        "Sign-in required: the user must approve the Loop Operations sign-in at the URL, then the call can be retried.",
        json!({"elicitations": [{
            "mode": "url",
            "elicitationId": link.elicitation_id,
            "url": link.url,
            "message": link.message(),
        }]}),
    )
}

/// The key of the sign-in in `inputRequests` (and of its answer in `inputResponses`).
pub const SIGN_IN_KEY: &str = "loopops_sign_in";

/// The modern era's way to the link, if this request declared URL elicitation.
pub fn input_required(env: &Envelope, err: &ApiError) -> Option<InputRequired> {
    let ApiError::SignInNeeded(link) = err else {
        return None;
    };
    (env.modern() && env.has_url_elicitation())
        .then(|| InputRequired::new().elicit_url(SIGN_IN_KEY, &link.message(), &link.url))
}
