//! `completion/complete` for the prompts' arguments (Claude Desktop's prompt picker):
//! `period` from the keywords and the quarter keys around today in the org's fiscal
//! calendar, `owner` from `owners.list`, `deal` and `account` by prefix through the
//! search procedures. At most one API call per completion; what the API answered is
//! kept for the session, and a complete answer for a prefix serves every longer one
//! without a call. Not signed in (or the API unreachable): the static part still
//! answers.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::api::tools::Executor;
use crate::catalog::catalog;
use crate::error::CallContext;
use crate::log;
use crate::mcp::jsonrpc::RpcError;

/// The spec's bound on values per answer.
const MAX_VALUES: usize = 100;
/// Remembered lookups (each at most 100 names); the oldest goes first.
const MAX_CACHED: usize = 256;

const PERIOD_KEYWORDS: [&str; 4] = [
    "current_quarter",
    "next_quarter",
    "previous_quarter",
    "current_month",
];

/// One remembered API lookup: the names it gave for a query, and whether they were
/// all there are (then any longer query can be answered from them).
struct Lookup {
    tool: &'static str,
    query: String,
    names: Vec<String>,
    complete: bool,
}

#[derive(Default)]
pub struct Completer {
    /// The fiscal year's first month once `viewer.get` answered (1 if it names none).
    fiscal_start: Option<u32>,
    cache: Vec<Lookup>,
}

impl Completer {
    pub fn new() -> Completer {
        Completer::default()
    }

    pub fn complete(
        &mut self,
        params: &Map<String, Value>,
        executor: &mut Executor,
    ) -> Result<Value, RpcError> {
        let prompt = prompt_ref(params)?;
        let (arg, value) = argument(params)?;
        let p = catalog()
            .prompt(prompt)
            .ok_or_else(|| RpcError::invalid_params(format!("Unknown prompt: {prompt}")))?;
        if !p.arguments.iter().any(|a| a.name == arg) {
            let known: Vec<&str> = p.arguments.iter().map(|a| a.name.as_str()).collect();
            return Err(RpcError::invalid_params(format!(
                "prompt `{prompt}` has no argument `{arg}` (it takes: {})",
                known.join(", ")
            )));
        }
        let candidates = match arg {
            "period" => self.periods(executor),
            "owner" => self.names("list_owners", value, executor),
            "deal" => self.names("search_deals", value, executor),
            "account" => self.names("search_accounts", value, executor),
            _ => Vec::new(),
        };
        Ok(answer(rank(candidates, value)))
    }

    /// The keywords, then quarter keys: this one, the next, the previous, and so on
    /// out to a year either side.
    fn periods(&mut self, executor: &mut Executor) -> Vec<String> {
        // Asked until it answers (the user may sign in meanwhile), then kept: an org
        // that names no fiscal start has calendar quarters, the most common calendar.
        if self.fiscal_start.is_none()
            && let Some(whoami) = self.call(executor, "whoami", json!({}))
        {
            let month = whoami["org"]["fiscalYearStartMonth"]
                .as_u64()
                .filter(|m| (1..=12).contains(m));
            self.fiscal_start = Some(month.map_or(1, |m| m as u32));
        }
        let start = self.fiscal_start.unwrap_or(1);
        let mut out: Vec<String> = PERIOD_KEYWORDS.iter().map(|k| k.to_string()).collect();
        out.extend(quarters_around(today(), start, 4));
        out
    }

    /// Names from a search tool for this prefix, from the cache when it can answer.
    fn names(&mut self, tool: &'static str, value: &str, executor: &mut Executor) -> Vec<String> {
        let query = value.trim().to_lowercase();
        if let Some(hit) = self
            .cache
            .iter()
            .find(|l| l.tool == tool && (l.query == query || (l.complete && query.starts_with(&l.query))))
        {
            return hit.names.clone();
        }
        let mut args = json!({"limit": MAX_VALUES});
        if !query.is_empty() {
            // The search tools take at most 200 characters.
            args["query"] = json!(value.trim().chars().take(200).collect::<String>());
        }
        if tool == "search_deals" {
            args["status"] = json!("all");
        }
        let Some(page) = self.call(executor, tool, args) else {
            return Vec::new();
        };
        let items = page["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut names: Vec<String> = Vec::new();
        for name in items.iter().filter_map(|i| i["name"].as_str()) {
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        let complete =
            page["nextCursor"].is_null() && page["total"].as_u64().is_none_or(|t| t as usize <= items.len());
        if self.cache.len() >= MAX_CACHED {
            self.cache.remove(0);
        }
        self.cache.push(Lookup {
            tool,
            query,
            names: names.clone(),
            complete,
        });
        names
    }

    /// One API call through the tool's own path; a failure (not signed in, offline)
    /// only means fewer suggestions, so it is logged, not returned.
    fn call(&mut self, executor: &mut Executor, tool: &str, args: Value) -> Option<Value> {
        let tool = catalog().tool(tool).expect("completion uses catalog tools");
        match executor.call(tool, &args, &mut |why| log::debug(&format!("completion: {why}"))) {
            Ok(bounded) => Some(bounded.value),
            Err(e) => {
                let ctx = CallContext {
                    tool: &tool.name,
                    procedure: &tool.procedure,
                    is_mutation: false,
                };
                log::debug(&format!(
                    "completion without {}: {}",
                    tool.procedure,
                    e.render(&ctx)
                ));
                None
            }
        }
    }
}

fn prompt_ref(params: &Map<String, Value>) -> Result<&str, RpcError> {
    let r = params
        .get("ref")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("missing `ref` (what to complete)"))?;
    match r.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => r
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("`ref.name` must be a prompt name")),
        Some("ref/resource") => Err(RpcError::invalid_params(format!(
            "no resource template {} (this server has none)",
            r.get("uri").unwrap_or(&Value::Null)
        ))),
        _ => Err(RpcError::invalid_params(
            "`ref.type` must be \"ref/prompt\" or \"ref/resource\"",
        )),
    }
}

fn argument(params: &Map<String, Value>) -> Result<(&str, &str), RpcError> {
    let a = params
        .get("argument")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::invalid_params("missing `argument` ({name, value})"))?;
    let name = a
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("`argument.name` must be a string"))?;
    let value = match a.get("value") {
        Some(Value::String(v)) => v.as_str(),
        None | Some(Value::Null) => "",
        Some(_) => return Err(RpcError::invalid_params("`argument.value` must be a string")),
    };
    Ok((name, value))
}

/// Those that start with the typed text, then those that contain it elsewhere
/// (so "q3" finds "2026-Q3" and "chen" finds "Ava Chen"), case-insensitively, in
/// their given order.
fn rank(candidates: Vec<String>, typed: &str) -> Vec<String> {
    let t = typed.trim().to_lowercase();
    let (mut first, mut then) = (Vec::new(), Vec::new());
    for c in candidates {
        let l = c.to_lowercase();
        if l.starts_with(&t) {
            first.push(c);
        } else if l.contains(&t) {
            then.push(c);
        }
    }
    first.extend(then);
    first
}

fn answer(values: Vec<String>) -> Value {
    let total = values.len();
    let shown: Vec<String> = values.into_iter().take(MAX_VALUES).collect();
    json!({"completion": {"hasMore": total > shown.len(), "total": total, "values": shown}})
}

/// Today's date (UTC) as (year, month).
fn today() -> (i64, u32) {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let (y, m, _) = civil_from_days(days);
    (y, m)
}

/// Fiscal quarter keys `YYYY-Qn` around `(year, month)`: the current one, then
/// alternately the next and the previous, `reach` each way. A fiscal year starting
/// in another month than January is named by the calendar year it ends in (FY2027
/// starts in February 2026 when the start month is February), as most CRMs do.
pub fn quarters_around((year, month): (i64, u32), start_month: u32, reach: i64) -> Vec<String> {
    // Months since the start of fiscal year 0's naming base.
    let offset = (i64::from(month) - i64::from(start_month)).rem_euclid(12);
    let fiscal_year = if start_month == 1 || i64::from(month) < i64::from(start_month) {
        year
    } else {
        year + 1
    };
    let index = fiscal_year * 4 + offset / 3; // quarters since year 0
    let key = |i: i64| format!("{}-Q{}", i.div_euclid(4), i.rem_euclid(4) + 1);
    let mut out = vec![key(index)];
    for d in 1..=reach {
        out.push(key(index + d));
        out.push(key(index - d));
    }
    out
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_quarters_around_today() {
        assert_eq!(
            quarters_around((2026, 12), 1, 2),
            ["2026-Q4", "2027-Q1", "2026-Q3", "2027-Q2", "2026-Q2"]
        );
        assert_eq!(
            quarters_around((2026, 1), 1, 1),
            ["2026-Q1", "2026-Q2", "2025-Q4"]
        );
        assert_eq!(quarters_around((2026, 3), 1, 0), ["2026-Q1"]);
        assert_eq!(quarters_around((2026, 4), 1, 0), ["2026-Q2"]);
    }

    #[test]
    fn fiscal_quarters_follow_the_start_month() {
        // FY starts in February, named by the year it ends: Feb 2026 opens FY2027.
        assert_eq!(quarters_around((2026, 2), 2, 0), ["2027-Q1"]);
        assert_eq!(quarters_around((2026, 1), 2, 0), ["2026-Q4"]);
        assert_eq!(
            quarters_around((2026, 12), 2, 1),
            ["2027-Q4", "2028-Q1", "2027-Q3"]
        );
        // July start (FY2027 = July 2026 to June 2027).
        assert_eq!(quarters_around((2026, 7), 7, 0), ["2027-Q1"]);
        assert_eq!(quarters_around((2026, 6), 7, 0), ["2026-Q4"]);
        assert_eq!(quarters_around((2026, 10), 7, 0), ["2027-Q2"]);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn ranking_puts_prefixes_first_and_drops_the_rest() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rank(c(&["Ava Chen", "Ben Ortiz", "Chen Li"]), "chen"),
            c(&["Chen Li", "Ava Chen"])
        );
        assert_eq!(
            rank(c(&["current_quarter", "2026-Q3"]), ""),
            c(&["current_quarter", "2026-Q3"])
        );
        assert_eq!(rank(c(&["2026-Q3", "2026-Q4"]), "q3"), c(&["2026-Q3"]));
    }

    #[test]
    fn answers_are_bounded() {
        let many: Vec<String> = (0..150).map(|i| format!("v{i}")).collect();
        let a = answer(many);
        assert_eq!(a["completion"]["values"].as_array().unwrap().len(), 100);
        assert_eq!(a["completion"]["total"], 150);
        assert_eq!(a["completion"]["hasMore"], true);
        let a = answer(vec!["x".into()]);
        assert_eq!(a["completion"]["hasMore"], false);
    }
}
