//! The MCP server: one incoming line in, its answer (if any) out. The flow for a
//! line reads top to bottom: parse → classify → dispatch → answer.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};

use serde_json::{Map, Value, json};

use crate::api::tools::{self, Executor};
use crate::catalog::{self, Tool};
use crate::log::{self, Level};
use crate::mcp::framing::Frame;
use crate::mcp::jsonrpc::{self, Incoming, RpcError};
use crate::mcp::listing;
use crate::mcp::protocol::Version;

/// Where answers and notifications go.
pub trait Sink {
    fn send(&mut self, message: &Value) -> io::Result<()>;
    /// Push buffered messages out (before blocking on input or on the network).
    fn flush(&mut self) -> io::Result<()>;
}

/// Compact JSON, one message per line.
pub struct LineSink<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> LineSink<W> {
    pub fn new(out: W) -> Self {
        LineSink {
            out,
            buf: Vec::with_capacity(4096),
        }
    }
}

impl<W: Write> Sink for LineSink<W> {
    fn send(&mut self, message: &Value) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, message).map_err(io::Error::other)?;
        // The last line of defence on the protocol channel: whatever was composed
        // upstream, no known secret leaves in it.
        if crate::secret::contains_known(&String::from_utf8_lossy(&self.buf)) {
            let mut clean = message.clone();
            crate::secret::scrub_value(&mut clean);
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, &clean).map_err(io::Error::other)?;
        }
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

pub struct Options {
    pub read_only: bool,
    pub server_name: String,
    /// `--config`: overrides `LOOP_MCP_CONFIG` and `~/.mcp.json`.
    pub config: Option<std::path::PathBuf>,
}

pub struct Server {
    version: Option<Version>,
    read_only: bool,
    executor: Executor,
}

impl Server {
    pub fn new(opts: Options) -> Server {
        Server {
            version: None,
            read_only: opts.read_only,
            executor: Executor::new(&opts.server_name, opts.config),
        }
    }

    /// Before `initialize`, requests are served as the latest version.
    fn version(&self) -> Version {
        self.version.unwrap_or(Version::LATEST)
    }

    /// Handle one frame; an `Err` means the output is gone (EPIPE) and we should stop.
    pub fn handle_frame(&mut self, frame: Frame, out: &mut dyn Sink) -> io::Result<()> {
        let line = match frame {
            Frame::TooLong { len } => {
                let err = RpcError::new(
                    jsonrpc::INVALID_REQUEST,
                    format!("message of {len} bytes exceeds the 8 MiB line limit; it was discarded"),
                );
                return out.send(&jsonrpc::error(Value::Null, &err));
            }
            Frame::Line(line) => line,
        };
        let message: Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(e) => {
                let why = if std::str::from_utf8(&line).is_err() {
                    "invalid UTF-8"
                } else {
                    "not valid JSON"
                };
                let err = RpcError::new(jsonrpc::PARSE_ERROR, format!("Parse error: {why} ({e})"));
                return out.send(&jsonrpc::error(Value::Null, &err));
            }
        };
        match message {
            Value::Array(batch) => self.handle_batch(batch, out),
            single => match self.handle_message(single, out)? {
                Some(answer) => out.send(&answer),
                None => Ok(()),
            },
        }
    }

    fn handle_batch(&mut self, batch: Vec<Value>, out: &mut dyn Sink) -> io::Result<()> {
        if !self.version().allows_batches() {
            let err = RpcError::new(
                jsonrpc::INVALID_REQUEST,
                format!(
                    "JSON-RPC batches are only supported in protocol version 2025-03-26 (this session: {})",
                    self.version().as_str()
                ),
            );
            return out.send(&jsonrpc::error(Value::Null, &err));
        }
        if batch.is_empty() {
            let err = RpcError::new(jsonrpc::INVALID_REQUEST, "empty batch");
            return out.send(&jsonrpc::error(Value::Null, &err));
        }
        let mut answers = Vec::new();
        for message in batch {
            if let Some(answer) = self.handle_message(message, out)? {
                answers.push(answer);
            }
        }
        if answers.is_empty() {
            Ok(())
        } else {
            out.send(&Value::Array(answers))
        }
    }

    /// The answer to one message, if it gets one.
    fn handle_message(&mut self, message: Value, out: &mut dyn Sink) -> io::Result<Option<Value>> {
        match jsonrpc::classify(message) {
            Incoming::Request { id, method, params } => {
                // A bug in one handler must not take the session down with it.
                let result = panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(&method, params, out)))
                    .unwrap_or_else(|_| {
                        Err(RpcError::new(
                            jsonrpc::INTERNAL_ERROR,
                            format!("internal error while handling {method}; the server keeps running (please report this)"),
                        ))
                    });
                self.flush_log(out)?;
                Ok(Some(match result {
                    Ok(value) => jsonrpc::result(id, value),
                    Err(err) => jsonrpc::error(id, &err),
                }))
            }
            // initialized, cancelled (we answer in order, so whatever it names has been
            // answered already), roots changes, unknown ones: nothing to do.
            Incoming::Notification => Ok(None),
            Incoming::Response => Ok(None),
            Incoming::Invalid { id, error } => Ok(Some(jsonrpc::error(id, &error))),
        }
    }

    fn dispatch(
        &mut self,
        method: &str,
        params: Map<String, Value>,
        out: &mut dyn Sink,
    ) -> Result<Value, RpcError> {
        match method {
            "initialize" => self.initialize(&params),
            "ping" => Ok(json!({})),
            "tools/list" => self.tools_list(&params),
            "tools/call" => self.tools_call(&params, out),
            "prompts/list" => self.prompts_list(&params),
            "prompts/get" => self.prompts_get(&params),
            "logging/setLevel" => set_level(&params),
            // Clients poll these whatever we declare; we have none.
            "resources/list" => no_cursor(&params).map(|_| json!({"resources": []})),
            "resources/templates/list" => no_cursor(&params).map(|_| json!({"resourceTemplates": []})),
            _ => Err(RpcError::new(
                jsonrpc::METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        }
    }

    fn initialize(&mut self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let requested = match params.get("protocolVersion") {
            Some(Value::String(v)) => v,
            Some(_) => return Err(RpcError::invalid_params("`protocolVersion` must be a string")),
            None => return Err(RpcError::invalid_params("missing `protocolVersion`")),
        };
        if params.get("capabilities").is_some_and(|c| !c.is_object()) {
            return Err(RpcError::invalid_params("`capabilities` must be an object"));
        }
        let version = Version::negotiate(requested);
        self.version = Some(version);
        let mut server_info = json!({"name": "loopops-mcp", "version": env!("CARGO_PKG_VERSION")});
        if version.has_titles_and_structured_output() {
            server_info["title"] = json!("Loop Operations");
        }
        Ok(json!({
            "protocolVersion": version.as_str(),
            "capabilities": {
                "logging": {},
                "prompts": {"listChanged": false},
                "tools": {"listChanged": false}
            },
            "serverInfo": server_info,
            "instructions": catalog::catalog().instructions,
        }))
    }

    fn tools_list(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        no_cursor(params)?;
        Ok(listing::tools_list(self.version(), self.read_only).clone())
    }

    fn tools_call(&mut self, params: &Map<String, Value>, out: &mut dyn Sink) -> Result<Value, RpcError> {
        let name = match params.get("name") {
            Some(Value::String(n)) => n.as_str(),
            Some(_) => return Err(RpcError::invalid_params("`name` must be a string")),
            None => return Err(RpcError::invalid_params("missing `name` (the tool to call)")),
        };
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return Err(RpcError::invalid_params("`arguments` must be an object")),
        };
        let Some(tool) = catalog::catalog().tool(name) else {
            return Err(RpcError::invalid_params(format!("Unknown tool: {name}")));
        };
        if self.read_only && tool.is_mutation() {
            return Ok(tools::failure(format!(
                "{name} is disabled: this server runs read-only (LOOP_MCP_READ_ONLY=1 or `serve --read-only`), so it cannot change Loop Operations records. Tell the user; they can make the change in the Loop Operations app."
            )));
        }
        let version = self.version();
        let problems = tool.check_arguments(&args);
        if !problems.is_empty() {
            let text = format!("Invalid arguments for {name}: {}.", problems.join("; "));
            return if version.invalid_arguments_are_tool_errors() {
                Ok(tools::failure(text))
            } else {
                Err(RpcError::invalid_params(text))
            };
        }
        let progress = progress_token(params);
        let result = self.run_tool(tool, &args, progress, out);
        Ok(match result {
            Ok(value) if value.is_object() => {
                let pageable = tool.input["properties"].get("cursor").is_some();
                tools::success(value, version.has_titles_and_structured_output(), pageable)
            }
            Ok(other) => tools::failure(format!(
                "The Loop API answered {} with {}, not an object; this server cannot use it. Report this to the Loop Operations team.",
                tool.procedure,
                json_kind(&other)
            )),
            Err(e) => tools::api_failure(tool, &e),
        })
    }

    fn run_tool(
        &mut self,
        tool: &Tool,
        args: &Value,
        progress: Option<Value>,
        out: &mut dyn Sink,
    ) -> Result<Value, crate::error::ApiError> {
        // Answers sent before this call must not wait for the network.
        let _ = out.flush();
        let mut step = 0u32;
        // Retries can take seconds: tell a client that asked for progress why.
        let mut on_retry = |why: &str| {
            log::info(&format!("{}: {why}", tool.name));
            if let Some(token) = &progress {
                step += 1;
                let note = jsonrpc::notification(
                    "notifications/progress",
                    json!({"progressToken": token, "progress": step, "message": why}),
                );
                let _ = out.send(&note).and_then(|_| out.flush());
            }
        };
        self.executor.call(tool, args, &mut on_retry)
    }

    fn prompts_list(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        no_cursor(params)?;
        let version = self.version();
        let prompts: Vec<Value> = catalog::catalog()
            .prompts
            .iter()
            .map(|p| listing::prompt_json(p, version))
            .collect();
        Ok(json!({ "prompts": prompts }))
    }

    fn prompts_get(&self, params: &Map<String, Value>) -> Result<Value, RpcError> {
        let name = match params.get("name") {
            Some(Value::String(n)) => n,
            Some(_) => return Err(RpcError::invalid_params("`name` must be a string")),
            None => return Err(RpcError::invalid_params("missing `name` (the prompt to get)")),
        };
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(a)) => a.clone(),
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "`arguments` must be an object of strings",
                ));
            }
        };
        let prompt = catalog::catalog()
            .prompt(name)
            .ok_or_else(|| RpcError::invalid_params(format!("Unknown prompt: {name}")))?;
        let text = prompt.render(&args).map_err(RpcError::invalid_params)?;
        Ok(json!({
            "description": prompt.description,
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}]
        }))
    }

    /// Send queued log messages as `notifications/message`.
    fn flush_log(&self, out: &mut dyn Sink) -> io::Result<()> {
        for (level, text) in log::take_pending() {
            let note = jsonrpc::notification(
                "notifications/message",
                json!({"level": level.as_str(), "logger": "loopops-mcp", "data": text}),
            );
            out.send(&note)?;
        }
        Ok(())
    }
}

fn set_level(params: &Map<String, Value>) -> Result<Value, RpcError> {
    let level = params
        .get("level")
        .and_then(Value::as_str)
        .and_then(|l| Level::ALL_NAMES.contains(&l).then(|| Level::parse(l)).flatten())
        .ok_or_else(|| {
            RpcError::invalid_params(format!("`level` must be one of {}", Level::ALL_NAMES.join(", ")))
        })?;
    log::set_client_level(level);
    Ok(json!({}))
}

/// We answer every list in one page, so any cursor is one we never gave out.
fn no_cursor(params: &Map<String, Value>) -> Result<(), RpcError> {
    match params.get("cursor") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(c)) => Err(RpcError::invalid_params(format!("unknown cursor {c:?}"))),
        Some(_) => Err(RpcError::invalid_params("`cursor` must be a string")),
    }
}

fn progress_token(params: &Map<String, Value>) -> Option<Value> {
    let token = params.get("_meta")?.get("progressToken")?;
    (token.is_string() || token.is_i64() || token.is_u64()).then(|| token.clone())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
