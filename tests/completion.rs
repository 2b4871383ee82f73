//! `completion/complete` for the prompts' arguments, against the fake API: at most one
//! API call per completion, answers kept for the session, the org's fiscal calendar,
//! and a useful answer when not signed in.

mod support;

use serde_json::{Value, json};
use support::fake::{Fault, Route};
use support::{assert_no_secrets, session, setup};

use loopops_mcp::mcp::completion::quarters_around;

fn complete(s: &mut support::Session, prompt: &str, arg: &str, value: &str) -> Value {
    s.request(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": prompt}, "argument": {"name": arg, "value": value}}),
    )
}

fn values(answer: &Value) -> Vec<String> {
    answer["result"]["completion"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no values: {answer}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// (year, month) today, UTC, as the server computes it (civil date from the days
/// since 1970, Howard Hinnant's algorithm; no `date` command, which Windows lacks).
fn today() -> (i64, u32) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

#[test]
fn not_signed_in_still_completes_periods_and_makes_no_call() {
    // The API is the fake, which sees any call; no Okta is set, so no sign-in starts.
    let fake = support::fake::Fake::start();
    let mut s = support::Session::start(&["serve"], &[("API_URL", &fake.api_url())]);
    let init = s.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}}),
    );
    assert_eq!(init["result"]["capabilities"]["completions"], json!({}));
    let all = values(&complete(&mut s, "pipeline_review", "period", ""));
    let mut expected: Vec<String> = [
        "current_quarter",
        "next_quarter",
        "previous_quarter",
        "current_month",
    ]
    .map(String::from)
    .to_vec();
    expected.extend(quarters_around(today(), 1, 4));
    assert_eq!(all, expected);
    assert_eq!(
        values(&complete(&mut s, "forecast_call_prep", "period", "next")),
        ["next_quarter"]
    );
    let this_quarter = quarters_around(today(), 1, 0).remove(0);
    let q = &this_quarter[5..]; // "Qn"
    assert!(values(&complete(&mut s, "pipeline_review", "period", q)).contains(&this_quarter));
    let owners = complete(&mut s, "pipeline_review", "owner", "a");
    assert_eq!(values(&owners), Vec::<String>::new());
    assert_eq!(owners["result"]["completion"]["hasMore"], false);
    s.finish();
    assert!(fake.log().is_empty(), "{:?}", fake.log());
}

#[test]
fn an_org_that_names_no_fiscal_calendar_is_asked_once() {
    let (fake, cfg) = setup("complete-no-fiscal");
    let viewer = json!({"result": {"data": {"json": {
        "user": {"id": "usr_100", "name": "Dana Analyst", "email": "d@acme.example", "role": "analyst"},
        "org": {"id": "org_acme", "name": "Acme Corp", "currency": "USD"},
        "permissions": []
    }}}});
    fake.push_fault(Route::Api("viewer.get"), Fault::json_200(viewer.to_string()));
    let mut s = session(&cfg, &[]);
    // Calendar quarters, the most common calendar, and no second lookup for them.
    let got = values(&complete(&mut s, "pipeline_review", "period", "20"));
    assert_eq!(got, quarters_around(today(), 1, 4));
    values(&complete(&mut s, "forecast_call_prep", "period", ""));
    values(&complete(&mut s, "pipeline_review", "period", "next"));
    assert_eq!(fake.requests(Route::Api("viewer.get")), 1);
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
}

#[test]
fn names_come_from_one_search_each_and_are_kept_for_the_session() {
    let (fake, cfg) = setup("complete-names");
    let mut s = session(&cfg, &[]);
    let a = complete(&mut s, "pipeline_review", "owner", "av");
    assert_eq!(values(&a), ["Ava Chen"]);
    assert_eq!(fake.requests(Route::Api("owners.list")), 1);
    // A longer prefix of a complete answer needs no call; neither does a repeat.
    assert_eq!(
        values(&complete(&mut s, "pipeline_review", "owner", "ava c")),
        ["Ava Chen"]
    );
    assert_eq!(
        values(&complete(&mut s, "forecast_call_prep", "owner", "av")),
        ["Ava Chen"]
    );
    assert_eq!(fake.requests(Route::Api("owners.list")), 1);
    // Every owner for an empty value, at most 100.
    let everyone = values(&complete(&mut s, "pipeline_review", "owner", ""));
    assert!(everyone.len() >= 5 && everyone.len() <= 100, "{everyone:?}");
    assert_eq!(fake.requests(Route::Api("owners.list")), 2);

    let deals = values(&complete(&mut s, "deal_risk_review", "deal", "globex"));
    assert!(!deals.is_empty(), "{deals:?}");
    assert!(
        deals.iter().all(|d| d.to_lowercase().contains("globex")),
        "{deals:?}"
    );
    assert_eq!(fake.requests(Route::Api("deals.list")), 1);
    let accounts = values(&complete(&mut s, "account_brief", "account", "ini"));
    assert_eq!(accounts, ["Initech"]);
    assert_eq!(fake.requests(Route::Api("accounts.list")), 1);
    // The search is by the typed text, not a local filter over one page.
    let log = fake.log();
    assert!(
        log.iter()
            .any(|r| r.body.contains("Initech") || r.query.contains("ini"))
    );
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
}

#[test]
fn periods_follow_the_orgs_fiscal_calendar_with_one_lookup() {
    let (fake, cfg) = setup("complete-fiscal");
    let viewer = json!({"result": {"data": {"json": {
        "user": {"id": "usr_100", "name": "Dana Analyst", "email": "d@acme.example", "role": "analyst"},
        "org": {"id": "org_acme", "name": "Acme Corp", "currency": "USD", "fiscalYearStartMonth": 2},
        "permissions": []
    }}}});
    fake.push_fault(Route::Api("viewer.get"), Fault::json_200(viewer.to_string()));
    let mut s = session(&cfg, &[]);
    let got = values(&complete(&mut s, "pipeline_review", "period", "20"));
    assert_eq!(got, quarters_around(today(), 2, 4));
    assert_ne!(quarters_around(today(), 2, 4), quarters_around(today(), 1, 4));
    values(&complete(&mut s, "forecast_call_prep", "period", ""));
    assert_eq!(fake.requests(Route::Api("viewer.get")), 1);
    let out = s.finish();
    assert_no_secrets(&out, &fake.issued_secrets());
}

#[test]
fn bad_references_are_invalid_params_in_both_eras() {
    let mut s = support::Session::start(&["serve"], &[]);
    let modern = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    for meta in [json!({}), modern.clone()] {
        for params in [
            json!({"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "period", "value": ""}}),
            json!({"ref": {"type": "ref/prompt", "name": "account_brief"}, "argument": {"name": "period", "value": ""}}),
            json!({"ref": {"type": "ref/resource", "uri": "skill://{x}"}, "argument": {"name": "x", "value": ""}}),
            json!({"ref": {"type": "ref/prompt", "name": "account_brief"}}),
            json!({"ref": {"type": "ref/prompt", "name": "account_brief"}, "argument": {"name": "account", "value": 5}}),
        ] {
            let mut p = params.clone();
            p["_meta"] = meta.clone();
            let a = s.request("completion/complete", p);
            assert_eq!(a["error"]["code"], -32602, "{params}: {a}");
        }
    }
    let mut p = json!({"ref": {"type": "ref/prompt", "name": "pipeline_review"}, "argument": {"name": "period", "value": "cur"}});
    p["_meta"] = modern;
    let a = s.request("completion/complete", p);
    assert_eq!(a["result"]["resultType"], "complete");
    assert_eq!(values(&a), ["current_quarter", "current_month"]);
    s.finish();
}
