//! The MCP server: one incoming line in, its answer (if any) out. The flow for a
//! line reads top to bottom: parse → classify → dispatch → answer.

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};

use serde_json::{Map, Value, json};

use crate::api::tools::{self, Executor};
use crate::api::trpc::Output;
use crate::catalog::toolsets::Selection;
use crate::catalog::{self, Tool};
use crate::log::{self, Level};
use crate::mcp::completion::Completer;
use crate::mcp::confirm::{self, Asker, Choice};
use crate::mcp::era::{self, Envelope};
use crate::mcp::framing::Frame;
use crate::mcp::jsonrpc::{self, Incoming, RpcError};
use crate::mcp::limits;
use crate::mcp::listing::{self, Prebuilt, no_cursor};
use crate::mcp::mrtr::{Elicited, InputRequired, StateError, StateSeal};
use crate::mcp::protocol::Version;
use crate::mcp::resources;
use crate::mcp::roundtrip::{Channel, Event, Reply, Source};
use crate::mcp::sign_in;

/// Where answers and notifications go.
pub trait Sink {
    fn send(&mut self, message: &Value) -> io::Result<()>;
    /// Push buffered messages out (before blocking on input or on the network).
    fn flush(&mut self) -> io::Result<()>;
    /// The answer to request `id` with a result that never changes.
    fn send_prebuilt(&mut self, id: &Value, result: &Prebuilt) -> io::Result<()> {
        self.send(&jsonrpc::result(id.clone(), result.value.clone()))
    }
    /// The answer to request `id` with a result already serialized.
    fn send_json(&mut self, id: &Value, result: &str) -> io::Result<()> {
        self.send(&jsonrpc::result(id.clone(), parse_ours(result)))
    }
}

/// A result we serialized ourselves, as a value again (batches, captures).
fn parse_ours(json: &str) -> Value {
    serde_json::from_str(json).expect("a result we serialized parses")
}

/// Compact JSON, one message per line.
pub struct LineSink<W: Write> {
    out: W,
    buf: Vec<u8>,
    /// A spliced line: text already, so that its scan needs no UTF-8 check first.
    line: String,
}

impl<W: Write> LineSink<W> {
    pub fn new(out: W) -> Self {
        LineSink {
            out,
            buf: Vec::with_capacity(4096),
            line: String::with_capacity(4096),
        }
    }
}

impl<W: Write> LineSink<W> {
    /// The answer line to request `id_json` with a result already serialized, in
    /// `line`: what `jsonrpc::result` would serialize, and its newline.
    fn splice(&mut self, id_json: &str, result: &str) {
        self.line.clear();
        self.line.push_str("{\"jsonrpc\":\"2.0\",\"id\":");
        self.line.push_str(id_json);
        self.line.push_str(",\"result\":");
        self.line.push_str(result);
        self.line.push_str("}\n");
    }
}

impl<W: Write> Sink for LineSink<W> {
    fn send(&mut self, message: &Value) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, message).map_err(io::Error::other)?;
        // The last line of defence on the protocol channel: whatever was composed
        // upstream, no known secret leaves in it.
        // serde_json writes UTF-8 only; the lossy form is a fallback that never runs.
        let leaks = match std::str::from_utf8(&self.buf) {
            Ok(text) => crate::secret::contains_known(text),
            Err(_) => crate::secret::contains_known(&String::from_utf8_lossy(&self.buf)),
        };
        if leaks {
            let mut clean = message.clone();
            crate::secret::scrub_value(&mut clean);
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, &clean).map_err(io::Error::other)?;
        }
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    /// Copied from its serialized form. Only the id came from outside: the result is
    /// the catalog, which holds no secret, so the id alone is checked.
    fn send_prebuilt(&mut self, id: &Value, result: &Prebuilt) -> io::Result<()> {
        let id_json = id.to_string();
        if crate::secret::contains_known(&id_json) {
            return self.send(&jsonrpc::result(id.clone(), result.value.clone()));
        }
        self.splice(&id_json, &result.json);
        self.out.write_all(self.line.as_bytes())
    }

    /// Spliced in as it is, unless the line would carry a known secret: then it goes
    /// through `send`, which scrubs it.
    fn send_json(&mut self, id: &Value, result: &str) -> io::Result<()> {
        self.splice(&id.to_string(), result);
        if crate::secret::contains_known(&self.line) {
            return self.send(&jsonrpc::result(id.clone(), parse_ours(result)));
        }
        self.out.write_all(self.line.as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

pub struct Options {
    pub read_only: bool,
    /// `--toolsets` / `LOOP_MCP_TOOLSETS`, parsed (`toolsets::parse`); `None`: all.
    pub toolsets: Option<Vec<String>>,
    pub server_name: String,
    /// `--config`: overrides `LOOP_MCP_CONFIG` and `~/.mcp.json`.
    pub config: Option<std::path::PathBuf>,
    /// How overwriting writes are confirmed with the user (`mcp::confirm`).
    pub confirm: Asker,
}

/// What a handler produced for one request.
#[derive(Debug)]
pub enum Answer {
    /// The result (`resultType: "complete"` in the modern era).
    Complete(Value),
    /// Modern era only: ask the client for input, then expect a retry.
    InputRequired(InputRequired),
    /// No response now: a `subscriptions/listen` stream stays open until cancelled or
    /// until we shut down.
    Later,
    /// A result that never changes, already in its era's envelope.
    Prebuilt(&'static Prebuilt),
    /// `Complete`, already serialized: a tool's answer passed on from the API's bytes.
    CompleteJson(String),
}

/// An answer on its way out.
enum Outgoing {
    Message(Value),
    Prebuilt(Value, &'static Prebuilt),
    Json(Value, String),
}

impl Outgoing {
    fn send(self, out: &mut dyn Sink) -> io::Result<()> {
        match self {
            Outgoing::Message(m) => out.send(&m),
            Outgoing::Prebuilt(id, result) => out.send_prebuilt(&id, result),
            Outgoing::Json(id, result) => out.send_json(&id, &result),
        }
    }

    /// For a batch's array of answers.
    fn into_value(self) -> Value {
        match self {
            Outgoing::Message(m) => m,
            Outgoing::Prebuilt(id, result) => jsonrpc::result(id, result.value.clone()),
            Outgoing::Json(id, result) => jsonrpc::result(id, parse_ours(&result)),
        }
    }
}

/// Bound on open `subscriptions/listen` streams (each costs one id).
const MAX_LISTENS: usize = 64;

pub struct Server {
    /// The legacy session `initialize` opened: its version and the client's capabilities.
    session: Option<(Version, Value)>,
    selection: Selection,
    executor: Executor,
    /// Made on first use: most sessions never ask for input.
    seal: Option<StateSeal>,
    /// Ids of the open `subscriptions/listen` requests.
    listens: Vec<Value>,
    /// `completion/complete`, with what the API told it for this session.
    completer: Completer,
    confirm: Asker,
    /// The session's input, for reading the client's answers while a call runs.
    channel: Channel,
    /// The id of the request being handled.
    current_request: Option<Value>,
    /// The client cancelled the request being handled: it gets no response.
    cancelled: bool,
}

impl Server {
    pub fn new(opts: Options) -> Server {
        Server {
            session: None,
            selection: Selection {
                read_only: opts.read_only,
                toolsets: opts.toolsets,
            },
            executor: Executor::new(&opts.server_name, opts.config),
            seal: None,
            listens: Vec::new(),
            completer: Completer::new(),
            confirm: opts.confirm,
            channel: Channel::default(),
            current_request: None,
            cancelled: false,
        }
    }

    /// Let the server read the session's input itself, so that it can wait for the
    /// client's answer to a request of its own in the middle of a call. The main loop
    /// then takes its frames from `next_frame`.
    pub fn attach_input(&mut self, input: Box<dyn Source>) {
        self.channel = Channel::new(Some(input));
    }

    /// The next frame to handle: any put aside during a wait, then new input.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        self.channel.next_frame()
    }

    /// The bound on waiting for an answer from the client (tests shorten it).
    pub fn set_max_wait(&mut self, max_wait: std::time::Duration) {
        self.channel.set_max_wait(max_wait);
    }

    /// Before `initialize`, requests are served as the latest handshake version.
    fn version(&self) -> Version {
        self.session.as_ref().map_or(Version::LATEST, |s| s.0)
    }

    /// Seals and opens `requestState` for multi round-trip requests (see `mrtr`).
    pub fn state_seal(&mut self) -> &mut StateSeal {
        self.seal.get_or_insert_with(StateSeal::new)
    }

    /// At end of input: close open subscriptions gracefully (their one response).
    pub fn shutdown(&mut self, out: &mut dyn Sink) -> io::Result<()> {
        for id in std::mem::take(&mut self.listens) {
            let mut meta = Map::new();
            meta.insert(era::META_SUBSCRIPTION.into(), id.clone());
            let mut result = Map::new();
            result.insert("resultType".into(), json!("complete"));
            result.insert("_meta".into(), Value::Object(meta));
            era::add_server_info(&mut result);
            out.send(&jsonrpc::result(id, Value::Object(result)))?;
        }
        out.flush()
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
        // What the line would cost once parsed, checked before it is parsed.
        if let Err(why) = limits::check(&line) {
            let err = RpcError::new(jsonrpc::INVALID_REQUEST, why);
            return out.send(&jsonrpc::error(Value::Null, &err));
        }
        if let Some(request) = jsonrpc::plain_request(&line) {
            return match self.handle_incoming(request, out)? {
                Some(answer) => answer.send(out),
                None => Ok(()),
            };
        }
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
                Some(answer) => answer.send(out),
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
        // Answers are bounded together: once they pass the limit, the requests left
        // are not run, and each gets an error saying so.
        let mut answer_bytes = 0usize;
        for message in batch {
            if answer_bytes > limits::MAX_BATCH_ANSWER {
                if let Some(id) = message.get("id").filter(|_| message.get("method").is_some()) {
                    let err = RpcError::new(
                        jsonrpc::INVALID_REQUEST,
                        format!(
                            "not run: the answers to this batch passed {} MB; send this request again on its own",
                            limits::MAX_BATCH_ANSWER / (1024 * 1024)
                        ),
                    );
                    answers.push(jsonrpc::error(id.clone(), &err));
                }
                continue;
            }
            if let Some(answer) = self.handle_message(message, out)? {
                let answer = answer.into_value();
                answer_bytes += crate::api::bound::json_len(&answer);
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
    fn handle_message(&mut self, message: Value, out: &mut dyn Sink) -> io::Result<Option<Outgoing>> {
        self.handle_incoming(jsonrpc::classify(message), out)
    }

    fn handle_incoming(&mut self, incoming: Incoming, out: &mut dyn Sink) -> io::Result<Option<Outgoing>> {
        match incoming {
            Incoming::Request { id, method, params } => self.handle_request(id, &method, params, out),
            Incoming::Notification { method, params } => {
                // A cancelled subscription ends silently. Anything else it names has
                // been answered already (we answer in order); initialized, roots
                // changes and unknown notifications need nothing.
                if method == "notifications/cancelled"
                    && let Some(id) = params.get("requestId")
                {
                    self.listens.retain(|l| l != id);
                }
                Ok(None)
            }
            Incoming::Response => Ok(None),
            Incoming::Invalid { id, error } => Ok(Some(Outgoing::Message(jsonrpc::error(id, &error)))),
        }
    }

    /// One request: its era's envelope, the shared core, the era's answer.
    fn handle_request(
        &mut self,
        id: Value,
        method: &str,
        params: Map<String, Value>,
        out: &mut dyn Sink,
    ) -> io::Result<Option<Outgoing>> {
        let session = self.session.as_ref().map(|(v, c)| (*v, c));
        // `initialize` opens a legacy session whatever else it carries.
        let envelope = if method == "initialize" {
            Envelope::of(&Map::new(), session)
        } else {
            Envelope::of(&params, session)
        };
        let env = match envelope {
            Ok(env) => env,
            Err(err) => return Ok(Some(Outgoing::Message(jsonrpc::error(id, &err)))),
        };
        // A stateless request logs to the client at its own level only.
        let session_level = log::client_threshold();
        if env.stateless {
            log::set_client_threshold(env.log_level);
        }
        self.current_request = Some(id.clone());
        self.cancelled = false;
        // A bug in one handler must not take the session down with it.
        let result = panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(method, &env, &id, params, out)))
            .unwrap_or_else(|_| {
                Err(RpcError::new(
                    jsonrpc::INTERNAL_ERROR,
                    format!("internal error while handling {method}; the server keeps running (please report this)"),
                ))
            });
        let flushed = self.flush_log(out);
        if env.stateless {
            log::set_client_threshold(session_level);
        }
        flushed?;
        if std::mem::take(&mut self.cancelled) {
            return Ok(None);
        }
        Ok(match result {
            Ok(Answer::Complete(value)) => Some(Outgoing::Message(jsonrpc::result(id, env.complete(value)))),
            Ok(Answer::InputRequired(ir)) => Some(Outgoing::Message(match env.input_required(ir) {
                Ok(value) => jsonrpc::result(id, value),
                Err(err) => jsonrpc::error(id, &err),
            })),
            Ok(Answer::Later) => None,
            Ok(Answer::Prebuilt(result)) => Some(Outgoing::Prebuilt(id, result)),
            Ok(Answer::CompleteJson(result)) => Some(Outgoing::Json(id, env.complete_json(result))),
            Err(err) => Some(Outgoing::Message(jsonrpc::error(id, &err))),
        })
    }

    fn dispatch(
        &mut self,
        method: &str,
        env: &Envelope,
        id: &Value,
        params: Map<String, Value>,
        out: &mut dyn Sink,
    ) -> Result<Answer, RpcError> {
        let modern = env.modern();
        let done = Answer::Complete;
        match method {
            "initialize" => self.initialize(&params).map(done),
            "server/discover" => self.discover(env).map(Answer::Prebuilt),
            // Gone from the modern era (spec/2026-07-28/changelog.mdx, major change 5).
            "ping" if !modern => Ok(done(json!({}))),
            "logging/setLevel" if !modern => set_level(&params).map(done),
            "subscriptions/listen" if modern => self.listen(id, &params, out),
            "tools/list" => self.tools_list(env, &params),
            "tools/call" => self.tools_call(env, &params, out),
            "prompts/list" => {
                no_cursor(&params).map(|_| Answer::Prebuilt(listing::prompts_list(env.version)))
            }
            "prompts/get" => self.prompts_get(&params).map(done),
            "completion/complete" => {
                let _ = out.flush();
                self.completer.complete(&params, &mut self.executor).map(done)
            }
            "resources/list" => no_cursor(&params).map(|_| Answer::Prebuilt(resources::list(env))),
            "resources/read" => resources::read(env, &params).map(done),
            "skills/list" => resources::skills_list(env, &params).map(Answer::Prebuilt),
            "skills/get" => resources::skills_get(env, &params).map(done),
            "resources/templates/list" => {
                no_cursor(&params).map(|_| Answer::Prebuilt(listing::templates_list(env.version)))
            }
            _ => Err(RpcError::new(
                jsonrpc::METHOD_NOT_FOUND,
                format!("Method not found: {method}"),
            )),
        }
    }

    /// `server/discover`: only as a modern request (a probe without the version in
    /// `_meta` is not one, so a dual-era client falls back to `initialize`).
    fn discover(&self, env: &Envelope) -> Result<&'static Prebuilt, RpcError> {
        if !env.stateless {
            return Err(RpcError::invalid_params(format!(
                "server/discover needs `_meta[\"{}\"]` (and the client's capabilities) in its params",
                era::META_VERSION
            )));
        }
        Ok(listing::discover(env.has_extension(listing::SKILLS_EXTENSION)))
    }

    /// `subscriptions/listen`: acknowledged at once with the notifications we will
    /// send, which is none, since our lists never change while we run (and we say so
    /// with `listChanged: false`). The stream stays open until cancelled or shutdown.
    fn listen(
        &mut self,
        id: &Value,
        params: &Map<String, Value>,
        out: &mut dyn Sink,
    ) -> Result<Answer, RpcError> {
        if !params.get("notifications").is_some_and(Value::is_object) {
            return Err(RpcError::invalid_params(
                "`notifications` (the filter of notifications to receive) must be an object",
            ));
        }
        if self.listens.contains(id) {
            return Err(RpcError::invalid_params(format!(
                "subscription {id} is already open"
            )));
        }
        if self.listens.len() >= MAX_LISTENS {
            return Err(RpcError::invalid_params(format!(
                "too many open subscriptions ({MAX_LISTENS}); cancel one first"
            )));
        }
        let mut meta = Map::new();
        meta.insert(era::META_SUBSCRIPTION.into(), id.clone());
        let ack = jsonrpc::notification(
            "notifications/subscriptions/acknowledged",
            json!({"_meta": meta, "notifications": {}}),
        );
        out.send(&ack).map_err(|e| {
            RpcError::new(
                jsonrpc::INTERNAL_ERROR,
                format!("writing the acknowledgement failed: {e}"),
            )
        })?;
        self.listens.push(id.clone());
        Ok(Answer::Later)
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
        let capabilities = params.get("capabilities").cloned().unwrap_or_else(|| json!({}));
        let skills = capabilities
            .get("extensions")
            .and_then(|e| e.get(listing::SKILLS_EXTENSION))
            .is_some_and(Value::is_object);
        self.session = Some((version, capabilities));
        Ok(json!({
            "protocolVersion": version.as_str(),
            "capabilities": listing::capabilities(version, skills),
            "serverInfo": era::server_info(version),
            "instructions": catalog::instructions(),
        }))
    }

    /// The list for this process's toolsets, built once.
    fn tools_list(&self, env: &Envelope, params: &Map<String, Value>) -> Result<Answer, RpcError> {
        no_cursor(params)?;
        Ok(Answer::Prebuilt(listing::tools_list_for(
            env.version,
            &self.selection,
        )))
    }

    fn tools_call(
        &mut self,
        env: &Envelope,
        params: &Map<String, Value>,
        out: &mut dyn Sink,
    ) -> Result<Answer, RpcError> {
        let name = match params.get("name") {
            Some(Value::String(n)) => n.as_str(),
            Some(_) => return Err(RpcError::invalid_params("`name` must be a string")),
            None => return Err(RpcError::invalid_params("missing `name` (the tool to call)")),
        };
        let no_arguments;
        let args = match params.get("arguments") {
            None | Some(Value::Null) => {
                no_arguments = Value::Object(Map::new());
                &no_arguments
            }
            Some(v @ Value::Object(_)) => v,
            Some(_) => return Err(RpcError::invalid_params("`arguments` must be an object")),
        };
        let Some(tool) = catalog::catalog().tool(name) else {
            return Err(RpcError::invalid_params(format!("Unknown tool: {name}")));
        };
        if !self.selection.has_toolset(tool) {
            return Ok(Answer::Complete(tools::failure(format!(
                "{name} is not enabled: this server runs with the toolsets {} (LOOP_MCP_TOOLSETS or `serve --toolsets`); {name} is in `{}`. Use the tools in tools/list.",
                self.selection.enabled().join(", "),
                tool.toolset
            ))));
        }
        if self.selection.read_only && tool.is_mutation() {
            return Ok(Answer::Complete(tools::failure(format!(
                "{name} is disabled: this server runs read-only (LOOP_MCP_READ_ONLY=1 or `serve --read-only`), so it cannot change Loop Operations records. Tell the user; they can make the change in the Loop Operations app."
            ))));
        }
        let version = env.version;
        let problems = tool.check_arguments(args);
        if !problems.is_empty() {
            let text = format!("Invalid arguments for {name}: {}.", problems.join("; "));
            return if version.invalid_arguments_are_tool_errors() {
                Ok(Answer::Complete(tools::failure(text)))
            } else {
                Err(RpcError::invalid_params(text))
            };
        }
        if let Some(end) = self.confirm_write(env, tool, args, out)? {
            return Ok(end);
        }
        let progress = progress_token(params);
        let structured = version.has_titles_and_structured_output();
        let result = self.run_tool(tool, args, structured, progress, out);
        if let Err(e) = &result
            && let Some(ask) = sign_in::url_elicitation(env, e)
        {
            return Err(ask);
        }
        if let Err(e) = &result
            && let Some(ask) = sign_in::input_required(env, e)
        {
            return Ok(Answer::InputRequired(ask));
        }
        Ok(Answer::Complete(match result {
            Ok(Output::Compact(c)) => {
                return Ok(Answer::CompleteJson(tools::success_json(&c, structured)));
            }
            Ok(Output::Tree(answer)) if answer.value.is_object() => {
                let pageable = tool.input["properties"].get("cursor").is_some();
                tools::success(answer, structured, pageable)
            }
            Ok(Output::Tree(other)) => tools::failure(format!(
                "The Loop API answered {} with {}, not an object; this server cannot use it. Report this to the Loop Operations team.",
                tool.procedure,
                json_kind(&other.value)
            )),
            Err(e) => tools::api_failure(tool, &e),
        }))
    }

    /// Ask the user before an overwriting write. `Some(answer)` ends the call with
    /// nothing written; `None` lets the write go ahead.
    fn confirm_write(
        &mut self,
        env: &Envelope,
        tool: &Tool,
        args: &Value,
        out: &mut dyn Sink,
    ) -> Result<Option<Answer>, RpcError> {
        if !confirm::needed(tool) {
            return Ok(None);
        }
        match self.confirm {
            Asker::Off => Ok(None),
            Asker::Prompt(_) => Ok(self.confirm_here(tool, args, out).map(Answer::Complete)),
            // Clients without form elicitation keep the old behaviour: the server
            // instructions and the tool description ask the model to confirm.
            Asker::Client if !env.has_form_elicitation() => Ok(None),
            Asker::Client if env.modern() => self.confirm_by_retry(env, tool, args, out),
            Asker::Client if confirm::version_has_elicitation(env.version) => {
                Ok(self.confirm_mid_call(env, tool, args, out).map(Answer::Complete))
            }
            Asker::Client => Ok(None),
        }
    }

    /// The question for this call, after the one read that words it; `Err` is the
    /// call's result when that read fails.
    fn confirmation_question(
        &mut self,
        tool: &Tool,
        args: &Value,
        out: &mut dyn Sink,
    ) -> Result<String, Value> {
        let Some((read, read_args)) = confirm::lookup(tool, args) else {
            return Ok(confirm::question(tool, args, &Value::Null));
        };
        match self.run_tool(read, &read_args, false, None, out) {
            Ok(current) => Ok(confirm::question(tool, args, &current.into_tree().value)),
            Err(e) => Err(confirm::lookup_failed(read, &e)),
        }
    }

    /// `loopops-mcp call` on a terminal: ask there.
    fn confirm_here(&mut self, tool: &Tool, args: &Value, out: &mut dyn Sink) -> Option<Value> {
        let question = match self.confirmation_question(tool, args, out) {
            Ok(q) => q,
            Err(failed) => return Some(failed),
        };
        let Asker::Prompt(ask) = &mut self.confirm else {
            unreachable!("confirm_here is for a prompt");
        };
        match ask(&question) {
            Choice::Accept => None,
            no => Some(confirm::declined(&question, no)),
        }
    }

    /// Handshake era: `elicitation/create` while the call runs.
    fn confirm_mid_call(
        &mut self,
        env: &Envelope,
        tool: &Tool,
        args: &Value,
        out: &mut dyn Sink,
    ) -> Option<Value> {
        let question = match self.confirmation_question(tool, args, out) {
            Ok(q) => q,
            Err(failed) => return Some(failed),
        };
        log::info(&format!("{}: asking the user to confirm", tool.name));
        let params = confirm::elicitation_params(&question, env.version >= Version::V2025_11_25);
        let choice = match self.ask_client("elicitation/create", params, out) {
            Reply::Result(result) => match confirm::parse_answer(&result) {
                Ok(choice) => choice,
                Err(why) => {
                    let why = format!("the client's answer could not be understood ({why})");
                    return Some(confirm::unanswered(&question, &why));
                }
            },
            Reply::Error(error) => {
                let message: String = error["message"]
                    .as_str()
                    .unwrap_or("error")
                    .chars()
                    .take(200)
                    .collect();
                let why = format!("the client could not ask the user ({message})");
                return Some(confirm::unanswered(&question, &why));
            }
            Reply::CallCancelled => {
                self.cancelled = true;
                return Some(Value::Null);
            }
            Reply::Closed => {
                return Some(confirm::unanswered(
                    &question,
                    "the client closed the connection first",
                ));
            }
            Reply::TimedOut => return Some(confirm::unanswered(&question, "no answer came in time")),
        };
        log::info(&format!("{}: the user answered {choice:?}", tool.name));
        match choice {
            Choice::Accept => None,
            no => Some(confirm::declined(&question, no)),
        }
    }

    /// 2026-07-28: answer `input_required` with the question and a state sealed to
    /// this call; write on the retry that brings that state and an "accept".
    fn confirm_by_retry(
        &mut self,
        env: &Envelope,
        tool: &Tool,
        args: &Value,
        out: &mut dyn Sink,
    ) -> Result<Option<Answer>, RpcError> {
        let purpose = confirm::purpose(tool);
        if let Some(state) = env.retry.request_state.as_deref() {
            match self.state_seal().open(&purpose, args, state) {
                Ok(data) => {
                    let question = data["q"].as_str().unwrap_or_default().to_string();
                    match env.retry.elicited(confirm::INPUT_KEY)? {
                        Some(Elicited::Accept(_)) => return Ok(None),
                        Some(Elicited::Decline) => {
                            return Ok(Some(Answer::Complete(confirm::declined(
                                &question,
                                Choice::Decline,
                            ))));
                        }
                        Some(Elicited::Cancel) => {
                            return Ok(Some(Answer::Complete(confirm::declined(
                                &question,
                                Choice::Cancel,
                            ))));
                        }
                        // No answer with the state: ask again (the spec prefers that).
                        None => {}
                    }
                }
                // The user gets a fresh question; an old one is not an answer, nor is
                // one the server before a restart asked.
                Err(StateError::Expired) => {}
                Err(StateError::Foreign) => {
                    log::info(&format!(
                        "{}: the confirmation came from an earlier server process; asking again",
                        tool.name
                    ));
                }
                Err(StateError::Replayed) => {
                    return Ok(Some(Answer::Complete(confirm::refused(
                        "this confirmation was already used once",
                    ))));
                }
                Err(StateError::Mismatch) => {
                    return Ok(Some(Answer::Complete(confirm::refused(
                        "this confirmation was given for different arguments",
                    ))));
                }
                Err(StateError::Invalid) => {
                    return Ok(Some(Answer::Complete(confirm::refused(
                        "the confirmation state was altered or is not one this server issued",
                    ))));
                }
            }
        }
        let question = match self.confirmation_question(tool, args, out) {
            Ok(q) => q,
            Err(failed) => return Ok(Some(Answer::Complete(failed))),
        };
        log::info(&format!("{}: asking the user to confirm", tool.name));
        let state = self
            .state_seal()
            .seal(&purpose, args, &json!({"q": question}), confirm::STATE_TTL);
        Ok(Some(Answer::InputRequired(
            InputRequired::new()
                .elicit_form(confirm::INPUT_KEY, &question, confirm::form_schema())
                .with_state(state),
        )))
    }

    /// Send a request to the client and wait for its answer, serving whatever else
    /// the client sends meanwhile (`mcp::roundtrip`). Handshake era only.
    fn ask_client(&mut self, method: &str, params: Value, out: &mut dyn Sink) -> Reply {
        if !self.channel.can_ask() {
            return Reply::Closed;
        }
        let Ok(ours) = self.channel.send_request(method, params, out) else {
            return Reply::Closed;
        };
        let call = self.current_request.clone();
        let started = std::time::Instant::now();
        // One question at a time: a call that would ask too waits for this answer.
        let must_wait = |m: &Value| {
            m["method"] == "tools/call"
                && m["params"]["name"]
                    .as_str()
                    .and_then(|n| catalog::catalog().tool(n))
                    .is_some_and(confirm::needed)
        };
        loop {
            match self.channel.next_event(&ours, call.as_ref(), started, &must_wait) {
                Event::Reply(reply) => {
                    if matches!(reply, Reply::CallCancelled | Reply::TimedOut) {
                        let _ = self
                            .channel
                            .withdraw(&ours, "the tool call ended without an answer", out);
                    }
                    return reply;
                }
                Event::Incoming(frame) => {
                    let gone = self.handle_frame(frame, out).and_then(|_| out.flush()).is_err();
                    // That was another message: this request is still the one served.
                    self.current_request = call.clone();
                    self.cancelled = false;
                    if gone {
                        return Reply::Closed;
                    }
                }
            }
        }
    }

    fn run_tool(
        &mut self,
        tool: &Tool,
        args: &Value,
        structured: bool,
        progress: Option<Value>,
        out: &mut dyn Sink,
    ) -> Result<Output, crate::error::ApiError> {
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
        self.executor
            .call_for_result(tool, args, structured, &mut on_retry)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prebuilt_answer_is_byte_for_byte_the_answer_it_stands_for() {
        let prebuilt = Prebuilt::new(json!({"tools": [{"name": "x", "description": "ü \"q\""}], "n": 1}));
        for id in [json!(7), json!("a \"b\" ü"), json!(-1)] {
            let mut fast = LineSink::new(Vec::new());
            fast.send_prebuilt(&id, &prebuilt).unwrap();
            let mut slow = LineSink::new(Vec::new());
            slow.send(&jsonrpc::result(id.clone(), prebuilt.value.clone()))
                .unwrap();
            assert_eq!(fast.out, slow.out, "{id}");
        }
    }

    /// `data` as the fast path passes it on.
    fn compact(data: &str) -> crate::api::compact::Compact {
        let body = format!(r#"{{"result":{{"data":{data}}}}}"#);
        crate::api::compact::result_json(body.as_bytes(), 100_000).expect("the fast path takes it")
    }

    /// A tool's answer passed on from the API's bytes is the line the parsed answer
    /// would have made, in both eras, with and without `structuredContent`; and a line
    /// that would carry a secret is scrubbed all the same.
    #[test]
    fn a_compact_result_is_byte_for_byte_the_result_it_stands_for() {
        let data = r#"{"id":"deal_1","name":"Acme \"renewal\" ü\n","amount":1.50,"tags":[],"x":{"y":null}}"#;
        let modern = Envelope::of(
            json!({"_meta": {era::META_VERSION: "2026-07-28", era::META_CAPABILITIES: {}}})
                .as_object()
                .unwrap(),
            None,
        )
        .unwrap();
        let legacy = Envelope::of(&Map::new(), None).unwrap();
        for env in [modern, legacy] {
            for structured in [true, false] {
                let id = json!("call \"1\"");
                let mut fast = LineSink::new(Vec::new());
                let json = env.complete_json(tools::success_json(&compact(data), structured));
                Outgoing::Json(id.clone(), json).send(&mut fast).unwrap();
                let tree = crate::api::bound::Bounded::whole(serde_json::from_str(data).unwrap());
                let mut slow = LineSink::new(Vec::new());
                let result = env.complete(tools::success(tree, structured, true));
                Outgoing::Message(jsonrpc::result(id, result))
                    .send(&mut slow)
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&fast.out),
                    String::from_utf8_lossy(&slow.out),
                    "{:?} structured {structured}",
                    env.version
                );
            }
        }
        let secret = "at-compact-line-0123456789";
        crate::secret::remember(secret);
        let mut sink = LineSink::new(Vec::new());
        let json = tools::success_json(&compact(&format!(r#"{{"note":"{secret}"}}"#)), true);
        sink.send_json(&json!(1), &json).unwrap();
        let line = String::from_utf8(sink.out).unwrap();
        assert!(!line.contains(secret) && line.contains("[redacted]"), "{line}");
    }
}
