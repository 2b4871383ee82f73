//! Requests from the server to the client in the handshake era (`elicitation/create`
//! while a tool call runs), for the session's single, blocking loop: send the request,
//! then keep reading the client's messages until its answer comes. What arrives
//! meanwhile is sorted here; the server answers the rest as it always would. JSON-RPC
//! lets both sides have requests outstanding, so a `ping` or a read-only call is
//! served at once while the user thinks; a call that would itself need the client's
//! answer waits its turn (one question at a time), in arrival order.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::log;
use crate::mcp::framing::{Frame, LineReader};
use crate::mcp::jsonrpc;
use crate::mcp::server::Sink;

/// Where the session's incoming frames come from.
pub trait Source {
    fn next_frame(&mut self) -> io::Result<Option<Frame>>;
}

impl<R: io::BufRead> Source for LineReader<R> {
    fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        LineReader::next_frame(self)
    }
}

/// How long an unanswered request may block the calls queued behind it. A human
/// reads and answers in this time; a client that dropped the question does not.
/// Checked whenever a message arrives (a blocking read cannot time out by itself;
/// an idle client costs nothing while it waits).
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// How a request to the client ended.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// The client's `result`.
    Result(Value),
    /// The client's `error` object.
    Error(Value),
    /// The client cancelled the request we were serving (`notifications/cancelled`).
    CallCancelled,
    /// stdin ended (or failed) before the answer came.
    Closed,
    /// No answer within the bound.
    TimedOut,
}

/// What the waiting loop hands back for one incoming frame.
pub enum Event {
    Reply(Reply),
    /// Anything else: the server handles it now, as in its main loop.
    Incoming(Frame),
}

/// The session's input, with the frames put aside while a request was outstanding.
pub struct Channel {
    input: Option<Box<dyn Source>>,
    deferred: VecDeque<Frame>,
    closed: bool,
    next_id: u64,
    max_wait: Duration,
}

impl Default for Channel {
    fn default() -> Self {
        Channel::new(None)
    }
}

impl Channel {
    pub fn new(input: Option<Box<dyn Source>>) -> Channel {
        Channel {
            input,
            deferred: VecDeque::new(),
            closed: false,
            next_id: 1,
            max_wait: MAX_WAIT,
        }
    }

    pub fn set_max_wait(&mut self, max_wait: Duration) {
        self.max_wait = max_wait;
    }

    /// Whether requests to the client are possible (a one-shot command has no input).
    pub fn can_ask(&self) -> bool {
        self.input.is_some() && !self.closed
    }

    /// The next frame for the main loop: what was put aside first, then new input.
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        if let Some(frame) = self.deferred.pop_front() {
            return Ok(Some(frame));
        }
        self.read()
    }

    /// A frame put aside during a wait, to be handled before new input.
    pub fn take_deferred(&mut self) -> Option<Frame> {
        self.deferred.pop_front()
    }

    fn read(&mut self) -> io::Result<Option<Frame>> {
        let Some(input) = self.input.as_mut().filter(|_| !self.closed) else {
            return Ok(None);
        };
        match input.next_frame() {
            Ok(Some(frame)) => Ok(Some(frame)),
            other => {
                self.closed = true;
                other
            }
        }
    }

    /// Send a request to the client; its id is ours alone (a string the client
    /// never uses for its own requests would not matter: ids are per direction).
    pub fn send_request(&mut self, method: &str, params: Value, out: &mut dyn Sink) -> io::Result<Value> {
        let id = json!(format!("loopops-{}", self.next_id));
        self.next_id += 1;
        let mut request = jsonrpc::notification(method, params);
        request["id"] = id.clone();
        out.send(&request)?;
        out.flush()?;
        Ok(id)
    }

    /// Tell the client we no longer want the answer to `id`.
    pub fn withdraw(&mut self, id: &Value, reason: &str, out: &mut dyn Sink) -> io::Result<()> {
        let note = jsonrpc::notification(
            "notifications/cancelled",
            json!({"requestId": id, "reason": reason}),
        );
        out.send(&note)?;
        out.flush()
    }

    /// Read until something the waiting server must act on. `call` is the id of the
    /// request being served (whose cancellation ends the wait); `must_wait` says which
    /// incoming requests are put aside until the wait is over.
    pub fn next_event(
        &mut self,
        ours: &Value,
        call: Option<&Value>,
        started: Instant,
        must_wait: &dyn Fn(&Value) -> bool,
    ) -> Event {
        loop {
            let frame = match self.read() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Event::Reply(Reply::Closed),
                Err(e) => {
                    log::log(log::Level::Error, &format!("reading stdin failed: {e}"));
                    return Event::Reply(Reply::Closed);
                }
            };
            let event = self.sort(frame, ours, call, must_wait);
            if let Some(Event::Reply(reply)) = event {
                // A late answer still counts: the user did answer.
                return Event::Reply(reply);
            }
            if started.elapsed() > self.max_wait {
                // Whatever came is handled after the wait, in order.
                if let Some(Event::Incoming(frame)) = event {
                    self.deferred.push_back(frame);
                }
                return Event::Reply(Reply::TimedOut);
            }
            if let Some(event) = event {
                return event;
            }
        }
    }

    /// What to do with one frame; `None`: nothing now (put aside, or ignored).
    fn sort(
        &mut self,
        frame: Frame,
        ours: &Value,
        call: Option<&Value>,
        must_wait: &dyn Fn(&Value) -> bool,
    ) -> Option<Event> {
        let Frame::Line(line) = &frame else {
            return Some(Event::Incoming(frame));
        };
        let Ok(message) = serde_json::from_slice::<Value>(line) else {
            return Some(Event::Incoming(frame));
        };
        if message.is_array() {
            self.deferred.push_back(frame);
            return None;
        }
        let is_response = message.get("method").is_none()
            && (message.get("result").is_some() || message.get("error").is_some());
        if is_response {
            if message.get("id") == Some(ours) {
                return Some(Event::Reply(match message.get("error") {
                    Some(error) => Reply::Error(error.clone()),
                    None => Reply::Result(message["result"].clone()),
                }));
            }
            // Not ours, or no longer awaited: nothing to do with it.
            log::debug(&format!(
                "ignoring a response to request {} that is not awaited",
                message.get("id").cloned().unwrap_or(Value::Null)
            ));
            return None;
        }
        if message["method"] == "notifications/cancelled"
            && call.is_some_and(|c| message["params"]["requestId"] == *c)
        {
            return Some(Event::Reply(Reply::CallCancelled));
        }
        if message.get("id").is_some() && must_wait(&message) {
            self.deferred.push_back(frame);
            return None;
        }
        Some(Event::Incoming(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Script(VecDeque<Frame>);

    impl Source for Script {
        fn next_frame(&mut self) -> io::Result<Option<Frame>> {
            Ok(self.0.pop_front())
        }
    }

    fn channel(lines: &[Value]) -> Channel {
        let frames = lines
            .iter()
            .map(|l| Frame::Line(serde_json::to_vec(l).unwrap()))
            .collect();
        Channel::new(Some(Box::new(Script(frames))))
    }

    fn line(frame: &Frame) -> Value {
        match frame {
            Frame::Line(l) => serde_json::from_slice(l).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    const OURS: &str = "loopops-1";

    fn never(_: &Value) -> bool {
        false
    }

    #[test]
    fn sorts_what_arrives_while_waiting() {
        let ping = json!({"jsonrpc": "2.0", "id": 5, "method": "ping"});
        let write = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "w"}});
        let mut ch = channel(&[
            json!({"jsonrpc": "2.0", "id": "other", "result": {}}),
            ping.clone(),
            write.clone(),
            json!([ping.clone()]),
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}}),
            json!({"jsonrpc": "2.0", "id": OURS, "result": {"action": "decline"}}),
        ]);
        let ours = json!(OURS);
        let call = json!(1);
        let started = Instant::now();
        let must_wait = |m: &Value| m["params"]["name"] == "w";
        // The stray response is dropped; the ping comes back to be served.
        match ch.next_event(&ours, Some(&call), started, &must_wait) {
            Event::Incoming(f) => assert_eq!(line(&f), ping),
            Event::Reply(r) => panic!("{r:?}"),
        }
        // The write and the batch are put aside; the other call's cancellation is served.
        match ch.next_event(&ours, Some(&call), started, &must_wait) {
            Event::Incoming(f) => assert_eq!(line(&f)["method"], "notifications/cancelled"),
            Event::Reply(r) => panic!("{r:?}"),
        }
        match ch.next_event(&ours, Some(&call), started, &must_wait) {
            Event::Reply(r) => assert_eq!(r, Reply::Result(json!({"action": "decline"}))),
            Event::Incoming(f) => panic!("{f:?}"),
        }
        // What was put aside comes first afterwards, in order; then end of input.
        assert_eq!(line(&ch.next_frame().unwrap().unwrap()), write);
        assert_eq!(line(&ch.next_frame().unwrap().unwrap()), json!([ping]));
        assert!(ch.next_frame().unwrap().is_none());
    }

    #[test]
    fn the_cancellation_of_the_served_call_ends_the_wait() {
        let mut ch = channel(&[
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "c-1"}}),
        ]);
        let event = ch.next_event(&json!(OURS), Some(&json!("c-1")), Instant::now(), &never);
        assert!(matches!(event, Event::Reply(Reply::CallCancelled)));
    }

    #[test]
    fn errors_end_of_input_and_the_time_bound_end_the_wait() {
        let mut ch =
            channel(&[json!({"jsonrpc": "2.0", "id": OURS, "error": {"code": -1, "message": "no"}})]);
        let e = ch.next_event(&json!(OURS), None, Instant::now(), &never);
        assert!(matches!(e, Event::Reply(Reply::Error(ref v)) if v["message"] == "no"));
        let e = ch.next_event(&json!(OURS), None, Instant::now(), &never);
        assert!(matches!(e, Event::Reply(Reply::Closed)));
        assert!(!ch.can_ask());

        let ping = json!({"jsonrpc": "2.0", "id": 5, "method": "ping"});
        let mut ch = channel(&[ping.clone(), json!({"jsonrpc": "2.0", "id": OURS, "result": {}})]);
        ch.set_max_wait(Duration::ZERO);
        let long_ago = Instant::now() - Duration::from_millis(10);
        let e = ch.next_event(&json!(OURS), None, long_ago, &never);
        assert!(matches!(e, Event::Reply(Reply::TimedOut)));
        // The message that arrived past the bound is kept for the main loop.
        assert_eq!(line(&ch.next_frame().unwrap().unwrap()), ping);
    }

    #[test]
    fn a_late_answer_still_counts() {
        let mut ch = channel(&[json!({"jsonrpc": "2.0", "id": OURS, "result": {"action": "accept"}})]);
        ch.set_max_wait(Duration::ZERO);
        let long_ago = Instant::now() - Duration::from_millis(10);
        let e = ch.next_event(&json!(OURS), None, long_ago, &never);
        assert!(matches!(e, Event::Reply(Reply::Result(_))));
    }
}
