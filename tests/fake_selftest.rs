//! Self-tests of the fake Okta + tRPC server (tests/support/fake.rs).

#[path = "support/fake.rs"]
mod fake;

use fake::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .max_redirects(0)
        .proxy(None)
        .build()
        .into()
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> (u16, String) {
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(8 * 1024 * 1024)
        .read_to_string()
        .expect("body");
    (status, body)
}

fn post_form(a: &ureq::Agent, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = a.post(url).send_form(form.iter().copied()).expect("post form");
    let (status, body) = read(resp);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn refresh(a: &ureq::Agent, token_url: &str, rt: &str) -> (u16, Value) {
    post_form(
        a,
        token_url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", Fake::CLIENT_ID),
            ("refresh_token", rt),
        ],
    )
}

fn access_token(f: &Fake, a: &ureq::Agent) -> String {
    let rt = f.new_refresh_token();
    let (status, v) = refresh(a, &format!("{}/v1/token", f.custom_issuer()), &rt);
    assert_eq!(status, 200, "{v}");
    v["access_token"].as_str().expect("access_token").to_string()
}

fn query(f: &Fake, a: &ureq::Agent, at: Option<&str>, proc_name: &str, input: Option<Value>) -> (u16, Value) {
    let mut url = format!("{}/{proc_name}", f.api_url());
    if let Some(i) = input {
        url.push_str("?input=");
        url.push_str(&percent_encode(&json!({ "json": i }).to_string()));
    }
    let mut req = a.get(&url);
    if let Some(at) = at {
        req = req.header("Authorization", format!("Bearer {at}"));
    }
    let (status, body) = read(req.call().expect("get"));
    (status, serde_json::from_str(&body).expect("json body"))
}

fn mutate(f: &Fake, a: &ureq::Agent, at: &str, proc_name: &str, input: Value) -> (u16, Value) {
    let resp = a
        .post(format!("{}/{proc_name}", f.api_url()))
        .header("Authorization", format!("Bearer {at}"))
        .header("Content-Type", "application/json")
        .send(json!({ "json": input }).to_string())
        .expect("post");
    let (status, body) = read(resp);
    (status, serde_json::from_str(&body).expect("json body"))
}

#[test]
fn refresh_rotates_and_reuse_is_detected_after_grace() {
    let f = Fake::start();
    let a = agent();
    for token_url in [
        format!("{}/v1/token", f.custom_issuer()),
        format!("{}/oauth2/v1/token", f.org_issuer()),
    ] {
        let rt0 = f.new_refresh_token();
        assert_eq!(f.current_refresh_token().as_deref(), Some(rt0.as_str()));
        let (status, v) = refresh(&a, &token_url, &rt0);
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_in"], 3600);
        assert_eq!(v["scope"], "openid offline_access");
        let rt1 = v["refresh_token"].as_str().unwrap().to_string();
        let at1 = v["access_token"].as_str().unwrap().to_string();
        assert_ne!(rt1, rt0);
        assert_eq!(f.current_refresh_token().as_deref(), Some(rt1.as_str()));
        assert!(f.issued_secrets().contains(&rt1) && f.issued_secrets().contains(&at1));
        assert_eq!(query(&f, &a, Some(&at1), "viewer.get", None).0, 200);

        // Grace is 0: presenting the rotated token is reuse, and kills the family.
        let before = f.reuse_detections();
        let (status, v) = refresh(&a, &token_url, &rt0);
        assert_eq!(status, 400);
        assert_eq!(v["error"], "invalid_grant");
        assert_eq!(v["error_description"], "The refresh token is invalid or expired.");
        assert_eq!(f.reuse_detections(), before + 1);
        assert_eq!(refresh(&a, &token_url, &rt1).0, 400);
        assert_eq!(f.current_refresh_token(), None);
        assert_eq!(query(&f, &a, Some(&at1), "viewer.get", None).0, 401);
    }

    // Wrong client, unknown token, missing parameter.
    let token_url = format!("{}/v1/token", f.custom_issuer());
    let rt = f.new_refresh_token();
    let (status, v) = post_form(
        &a,
        &token_url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "other"),
            ("refresh_token", &rt),
        ],
    );
    assert_eq!((status, v["error"].as_str()), (401, Some("invalid_client")));
    assert_eq!(refresh(&a, &token_url, "rt-unknown").1["error"], "invalid_grant");
    let (status, v) = post_form(
        &a,
        &token_url,
        &[("grant_type", "refresh_token"), ("client_id", Fake::CLIENT_ID)],
    );
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(f.requests(Route::Token), 9);
}

#[test]
fn grace_period_and_rotation_off() {
    let f = Fake::start();
    let a = agent();
    let url = format!("{}/v1/token", f.custom_issuer());
    f.set_grace(30);
    let rt0 = f.new_refresh_token();
    let rt1 = refresh(&a, &url, &rt0).1["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, v) = refresh(&a, &url, &rt0);
    assert_eq!(status, 200);
    assert_eq!(v["refresh_token"], rt1.as_str());
    assert_eq!(f.reuse_detections(), 0);
    assert_eq!(f.current_refresh_token(), Some(rt1.clone()));

    f.set_rotate(false);
    f.set_access_ttl(0);
    let (status, v) = refresh(&a, &url, &rt1);
    assert_eq!(status, 200);
    assert!(v.get("refresh_token").is_none());
    assert_eq!(v["expires_in"], 0);
    let at = v["access_token"].as_str().unwrap();
    assert_eq!(
        query(&f, &a, Some(at), "viewer.get", None).0,
        401,
        "ttl 0 expires at once"
    );
    assert_eq!(f.current_refresh_token(), Some(rt1.clone()));

    // Revocation kills the family; unknown tokens are fine too.
    let rurl = format!("{}/v1/revoke", f.custom_issuer());
    for t in [rt1.as_str(), "unknown-token"] {
        let resp = a
            .post(&rurl)
            .send_form([
                ("client_id", Fake::CLIENT_ID),
                ("token", t),
                ("token_type_hint", "refresh_token"),
            ])
            .unwrap();
        assert_eq!(read(resp), (200, String::new()));
    }
    assert_eq!(f.revoked(), vec![rt1.clone(), "unknown-token".to_string()]);
    assert_eq!(refresh(&a, &url, &rt1).0, 400);
}

#[test]
fn api_rejects_missing_bad_and_expired_tokens() {
    let f = Fake::start();
    let a = agent();
    let (status, v) = query(&f, &a, None, "deals.list", None);
    assert_eq!(status, 401);
    assert_eq!(v["error"]["json"]["code"], -32001);
    assert_eq!(v["error"]["json"]["data"]["code"], "UNAUTHORIZED");
    assert_eq!(v["error"]["json"]["data"]["httpStatus"], 401);
    assert_eq!(v["error"]["json"]["data"]["path"], "deals.list");
    assert_eq!(query(&f, &a, Some("at-bogus"), "deals.list", None).0, 401);
    let at = access_token(&f, &a);
    assert_eq!(query(&f, &a, Some(&at), "deals.list", None).0, 200);
    f.expire_access_tokens();
    assert_eq!(query(&f, &a, Some(&at), "deals.list", None).0, 401);
    assert_eq!(f.requests(Route::AnyApi), 4);
    assert_eq!(f.requests(Route::Api("deals.list")), 4);
}

#[test]
fn queries_and_mutations_succeed() {
    let f = Fake::start();
    let a = agent();
    let at = access_token(&f, &a);

    let (status, v) = query(&f, &a, Some(&at), "viewer.get", None);
    assert_eq!(status, 200);
    assert_eq!(v["result"]["data"]["json"]["user"]["name"], "Dana Analyst");
    assert_eq!(v["result"]["data"]["json"]["org"]["currency"], "USD");

    let (status, v) = query(
        &f,
        &a,
        Some(&at),
        "deals.list",
        Some(json!({"status": "all", "limit": 5})),
    );
    assert_eq!(status, 200);
    let list = &v["result"]["data"]["json"];
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    assert_eq!(list["total"], 30);
    assert_eq!(list["nextCursor"], "5");
    let (_, v) = query(
        &f,
        &a,
        Some(&at),
        "deals.list",
        Some(json!({"status": "all", "limit": 100, "cursor": "25"})),
    );
    assert_eq!(v["result"]["data"]["json"]["items"].as_array().unwrap().len(), 5);
    assert_eq!(v["result"]["data"]["json"]["nextCursor"], Value::Null);

    let (status, v) = query(
        &f,
        &a,
        Some(&at),
        "deals.get",
        Some(json!({"dealId": "deal_001"})),
    );
    assert_eq!(status, 200);
    assert_eq!(v["result"]["data"]["json"]["id"], "deal_001");
    assert!(v["result"]["data"]["meta"].is_object());
    for k in [
        "nextStep",
        "createdAt",
        "contacts",
        "stageHistory",
        "riskFlags",
        "forecastCategory",
    ] {
        assert!(v["result"]["data"]["json"].get(k).is_some(), "{k}");
    }
    let (status, v) = query(
        &f,
        &a,
        Some(&at),
        "deals.get",
        Some(json!({"dealId": "deal_xyz"})),
    );
    assert_eq!(status, 404);
    assert_eq!(v["error"]["json"]["message"], "Deal deal_xyz not found");
    assert_eq!(v["error"]["json"]["data"]["code"], "NOT_FOUND");
    let (status, v) = query(&f, &a, Some(&at), "activities.list", Some(json!({})));
    assert_eq!(
        (status, v["error"]["json"]["data"]["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
    assert_eq!(query(&f, &a, Some(&at), "nope.nothing", None).0, 404);
    for p in ["pipeline.summary", "forecast.get", "insights.dealRisks"] {
        let (status, v) = query(&f, &a, Some(&at), p, Some(json!({"period": "current_quarter"})));
        assert_eq!(status, 200, "{p}: {v}");
    }

    let (status, v) = mutate(
        &f,
        &a,
        &at,
        "deals.setNextStep",
        json!({"dealId": "deal_002", "nextStep": "Call CFO"}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"]["data"]["json"]["nextStep"], "Call CFO");
    let (status, v) = mutate(
        &f,
        &a,
        &at,
        "deals.updateStage",
        json!({"dealId": "deal_006", "stage": "proposal"}),
    );
    assert_eq!(status, 412, "deal_006 is closed_won: {v}");
    assert_eq!(v["error"]["json"]["data"]["code"], "PRECONDITION_FAILED");
    assert_eq!(
        f.mutations(),
        vec![(
            "deals.setNextStep".to_string(),
            json!({"dealId": "deal_002", "nextStep": "Call CFO"})
        )]
    );

    // Wrong method for the procedure.
    let (status, v) = read(
        a.get(format!("{}/deals.setNextStep", f.api_url()))
            .header("Authorization", format!("Bearer {at}"))
            .call()
            .unwrap(),
    );
    assert_eq!(status, 405, "{v}");
    assert_eq!(
        mutate(&f, &a, &at, "deals.get", json!({"dealId": "deal_001"})).0,
        405
    );

    let (status, body) = read(
        a.get(format!("{}/test.big", f.api_url()))
            .header("Authorization", format!("Bearer {at}"))
            .call()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert!(body.len() > 1_000_000, "{}", body.len());
}

#[test]
fn fault_is_consumed_once() {
    let f = Fake::start();
    let a = agent();
    let at = access_token(&f, &a);
    f.push_fault(Route::Api("viewer.get"), Fault::Html502);
    f.push_fault(
        Route::AnyApi,
        Fault::TrpcError {
            code: "FORBIDDEN",
            http: 403,
            message: "no".into(),
        },
    );
    let url = format!("{}/viewer.get", f.api_url());
    let get = || {
        read(
            a.get(&url)
                .header("Authorization", format!("Bearer {at}"))
                .call()
                .unwrap(),
        )
    };
    let (status, body) = get();
    assert_eq!(status, 502);
    assert!(body.contains("Bad Gateway"));
    let (status, body) = get();
    assert_eq!(status, 403, "{body}");
    assert_eq!(get().0, 200);
    assert_eq!(f.requests(Route::Api("viewer.get")), 3);

    f.push_fault(Route::Token, Fault::RetryAfter { status: 429, secs: 7 });
    let rt = f.current_refresh_token().unwrap();
    let resp = a
        .post(format!("{}/v1/token", f.custom_issuer()))
        .send_form([
            ("grant_type", "refresh_token"),
            ("client_id", Fake::CLIENT_ID),
            ("refresh_token", rt.as_str()),
        ])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "7");
    assert!(resp.headers().get("x-rate-limit-reset").is_some());
    // The faulted refresh did not rotate: the same token still works.
    assert_eq!(
        refresh(&a, &format!("{}/v1/token", f.custom_issuer()), &rt).0,
        200
    );
}

/// Minimal raw HTTP exchange: returns (status, lowercased headers, body).
fn exchange(
    w: &mut TcpStream,
    r: &mut BufReader<TcpStream>,
    req: &str,
) -> (u16, Vec<(String, String)>, String) {
    w.write_all(req.as_bytes()).unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .unwrap()
        .1
        .parse()
        .unwrap();
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, headers, String::from_utf8(body).unwrap())
}

#[test]
fn keep_alive_chunked_and_connection_close() {
    let f = Fake::start();
    let rt = f.new_refresh_token();
    let mut w = TcpStream::connect(f.base().trim_start_matches("http://")).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(w.try_clone().unwrap());
    let (status, _, body) = exchange(
        &mut w,
        &mut r,
        "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(status, 200);
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["token_endpoint"], format!("{}/oauth2/v1/token", f.base()));

    // Chunked form body on the same connection.
    let form = format!(
        "grant_type=refresh_token&client_id={}&refresh_token={}",
        Fake::CLIENT_ID,
        rt
    );
    let (a, b) = form.split_at(10);
    let req = format!(
        "POST /oauth2/default/v1/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let (status, headers, body) = exchange(&mut w, &mut r, &req);
    assert_eq!(status, 200, "{body}");
    assert!(headers.contains(&("connection".into(), "keep-alive".into())));
    assert_eq!(f.log()[1].body, form);
    assert_eq!(
        f.log()[1].header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );

    let (status, headers, _) = exchange(
        &mut w,
        &mut r,
        "GET /api/trpc/viewer.get HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    assert!(headers.contains(&("connection".into(), "close".into())));
    let mut rest = Vec::new();
    assert_eq!(
        r.read_to_end(&mut rest).unwrap(),
        0,
        "server closed after Connection: close"
    );
    assert_eq!(f.connections(), 1);
    assert_eq!(f.requests(Route::Token), 1);
    assert_eq!(f.requests(Route::Discovery), 1);
}

#[test]
fn device_flow_follows_script() {
    let f = Fake::start();
    let a = agent();
    f.set_device_interval(0);
    f.script_device(vec![
        DeviceStep::Pending,
        DeviceStep::SlowDown,
        DeviceStep::Approve,
    ]);
    let (status, v) = post_form(
        &a,
        &format!("{}/oauth2/v1/device/authorize", f.org_issuer()),
        &[
            ("client_id", Fake::CLIENT_ID),
            ("scope", "openid profile offline_access"),
        ],
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["user_code"], "ABCD-EFGH");
    assert_eq!(v["interval"], 0);
    assert_eq!(v["expires_in"], 600);
    let dc = v["device_code"].as_str().unwrap().to_string();
    let poll = || {
        post_form(
            &a,
            &format!("{}/oauth2/v1/token", f.org_issuer()),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", Fake::CLIENT_ID),
                ("device_code", &dc),
            ],
        )
    };
    assert_eq!(poll().1["error"], "authorization_pending");
    assert_eq!(poll().1["error"], "slow_down");
    let (status, v) = poll();
    assert_eq!(status, 200);
    let rt = v["refresh_token"].as_str().unwrap();
    assert_eq!(f.current_refresh_token().as_deref(), Some(rt));
    assert_eq!(f.device_polls().len(), 3);
    assert!(f.issued_secrets().contains(&dc));
}

#[test]
fn hang_and_close_faults_do_not_block() {
    let t0 = Instant::now();
    let f = Fake::start();
    f.push_fault(Route::Discovery, Fault::Hang);
    f.push_fault(Route::Discovery, Fault::Close);
    let url = format!("{}/.well-known/openid-configuration", f.custom_issuer());
    let quick: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(200)))
        .proxy(None)
        .build()
        .into();
    assert!(quick.get(&url).call().is_err(), "hang times out");
    assert!(quick.get(&url).call().is_err(), "closed without answer");
    assert_eq!(read(agent().get(&url).call().unwrap()).0, 200);
    drop(f);
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}

#[test]
fn decoding_helpers() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Fake>();
    assert_eq!(percent_decode("a%20b+c%2Bd%zz%"), "a b+c+d%zz%");
    assert_eq!(
        form_decode("a=1+2&b=%7B%22x%22%7D&c&=v"),
        vec![
            ("a".into(), "1 2".into()),
            ("b".into(), "{\"x\"}".into()),
            ("c".into(), String::new()),
            (String::new(), "v".into())
        ]
    );
}

#[test]
fn body_faults() {
    let f = Fake::start();
    let a = agent();
    let at = access_token(&f, &a);
    let url = format!("{}/viewer.get", f.api_url());
    let get = || a.get(&url).header("Authorization", format!("Bearer {at}")).call();
    f.push_fault(Route::AnyApi, Fault::Oversized(2_000_000));
    f.push_fault(Route::AnyApi, Fault::TruncatedJson);
    f.push_fault(Route::AnyApi, Fault::ResetMidBody);
    f.push_fault(
        Route::AnyApi,
        Fault::Redirect("http://127.0.0.1:9/elsewhere".into()),
    );
    f.push_fault(
        Route::AnyApi,
        Fault::OldTrpcError {
            http: 500,
            message: "boom".into(),
        },
    );
    f.push_fault(
        Route::AnyApi,
        Fault::BatchTrpcError {
            code: "NOT_FOUND",
            http: 404,
            message: "gone".into(),
        },
    );
    f.push_fault(Route::AnyApi, Fault::Empty(503));
    let (status, body) = read(get().unwrap());
    assert_eq!((status, body.len()), (200, 2_000_000));
    assert!(serde_json::from_str::<Value>(&body).is_ok());
    let (status, body) = read(get().unwrap());
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&body).is_err());
    assert!(get().and_then(|mut r| r.body_mut().read_to_string()).is_err());
    let resp = get().unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(
        resp.headers().get("location").unwrap(),
        "http://127.0.0.1:9/elsewhere"
    );
    let (status, body) = read(get().unwrap());
    assert_eq!((status, body.as_str()), (500, r#"{"error":{"message":"boom"}}"#));
    let (status, body) = read(get().unwrap());
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, &v[0]["error"]["json"]["data"]["code"]),
        (404, &json!("NOT_FOUND"))
    );
    assert_eq!(read(get().unwrap()), (503, String::new()));
    assert_eq!(read(get().unwrap()).0, 200);
    assert_eq!(f.requests(Route::AnyApi), 8);
}
