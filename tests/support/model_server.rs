//! `longrun-model-server`: a scripted model server on 127.0.0.1, so the real agent CLIs
//! (Claude Code, Codex, OpenCode) can be driven offline in tests. Built only with
//! `--features fake-agent`; never shipped.
//!
//! Usage: `longrun-model-server <scenario.json> <requests.jsonl>`. It binds port 0, prints
//! the port on stdout, and answers plain HTTP/1.1 with `content-length` bodies (one request
//! per connection) in three dialects, chosen by path:
//!
//! - `POST /v1/messages`: the Anthropic Messages API (Claude Code), SSE events;
//! - `POST /v1/responses`: the OpenAI Responses API (Codex), SSE events;
//! - `POST /v1/chat/completions`: OpenAI Chat Completions (OpenCode), SSE chunks.
//!
//! The scenario is JSON: `{"mode": "script" | "never_finish" | "api_error",
//! "error_status": 500, "steps": [{"write": {"path", "content"}} | {"command": "..."} |
//! {"answer": "..."}], "usage": {"input", "cached_input", "output"}}`. Each request that
//! offers tools takes the next step, translated into that dialect's tool call (`Write` /
//! `Bash`, `apply_patch` / `exec_command`, `write` / `bash`); once the steps are spent every
//! answer is a final text. A request without tools (OpenCode's title request) gets a short
//! text and takes no step. `never_finish` reads the request and then holds the connection
//! without answering; `api_error` answers every request with `error_status` and an error
//! body. Every request is appended to the log as one JSON line (time, path, whether it had
//! tools, the step it got, the body) for the tests to assert on. Test code: it panics on
//! bad input rather than handling it.

// A test-support program: its port goes to stdout, its usage errors to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

struct Server {
    scenario: Value,
    next_step: Mutex<usize>,
    log: Mutex<std::fs::File>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: longrun-model-server <scenario.json> <requests.jsonl>");
        std::process::exit(2);
    }
    let scenario: Value =
        serde_json::from_str(&std::fs::read_to_string(&args[1]).expect("read the scenario"))
            .expect("the scenario is JSON");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args[2])
        .expect("open the request log");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    println!("{port}");
    std::io::stdout().flush().expect("flush stdout");
    let server = Arc::new(Server {
        scenario,
        next_step: Mutex::new(0),
        log: Mutex::new(log),
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let server = Arc::clone(&server);
        std::thread::spawn(move || server.handle(stream));
    }
}

impl Server {
    fn handle(&self, stream: TcpStream) {
        let received_ms = now_ms();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut stream = reader.into_inner();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let path = target.split('?').next().unwrap_or("").to_string();
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let has_tools = request
            .get("tools")
            .and_then(Value::as_array)
            .is_some_and(|tools| !tools.is_empty());
        let mode = self.scenario["mode"].as_str().unwrap_or("script");
        let dialect = match path.as_str() {
            "/v1/messages" => Some(Dialect::Anthropic),
            "/v1/responses" => Some(Dialect::Responses),
            "/v1/chat/completions" => Some(Dialect::Chat),
            _ => None,
        };
        let step = if has_tools && mode == "script" && dialect.is_some() {
            let mut next = self.next_step.lock().expect("step lock");
            *next += 1;
            Some(*next - 1)
        } else {
            None
        };
        self.log_request(json!({
            "at_ms": received_ms,
            "method": method,
            "path": path,
            "has_tools": has_tools,
            "step": step,
            "mode": mode,
            "body": request,
        }));
        let Some(dialect) = dialect.filter(|_| method == "POST") else {
            respond(
                &mut stream,
                404,
                "application/json",
                b"{\"error\":\"not found\"}",
            );
            return;
        };
        match mode {
            "never_finish" => {
                // Read and never answered: the client waits until it is killed.
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            "api_error" => {
                let status = self.scenario["error_status"].as_u64().unwrap_or(500) as u16;
                let body = json!({
                    "type": "error",
                    "error": {"type": "api_error", "message": "scripted model server failure", "code": "server_error"},
                });
                respond(
                    &mut stream,
                    status,
                    "application/json",
                    body.to_string().as_bytes(),
                );
            }
            _ => {
                let action = match step {
                    None => Action::Answer("Scripted title".to_string()),
                    Some(index) => Action::of(self.scenario["steps"].get(index)),
                };
                let usage = Usage::of(&self.scenario["usage"]);
                let model = request["model"].as_str().unwrap_or("fake-model");
                let sse = match dialect {
                    Dialect::Anthropic => anthropic(&action, &usage, model, step.unwrap_or(99)),
                    Dialect::Responses => responses(&action, &usage, step.unwrap_or(99)),
                    Dialect::Chat => chat(&action, &usage, model, step.unwrap_or(99)),
                };
                respond(&mut stream, 200, "text/event-stream", sse.as_bytes());
            }
        }
    }

    fn log_request(&self, entry: Value) {
        let mut log = self.log.lock().expect("log lock");
        let _ = writeln!(log, "{entry}");
        let _ = log.flush();
    }
}

#[derive(Clone, Copy)]
enum Dialect {
    Anthropic,
    Responses,
    Chat,
}

enum Action {
    Write { path: String, content: String },
    Command(String),
    Answer(String),
}

impl Action {
    fn of(step: Option<&Value>) -> Action {
        let Some(step) = step else {
            return Action::Answer("Done: the scripted steps are complete.".to_string());
        };
        if let Some(write) = step.get("write") {
            return Action::Write {
                path: write["path"].as_str().expect("write.path").to_string(),
                content: write["content"].as_str().unwrap_or("").to_string(),
            };
        }
        if let Some(command) = step.get("command").and_then(Value::as_str) {
            return Action::Command(command.to_string());
        }
        Action::Answer(step["answer"].as_str().unwrap_or("Done.").to_string())
    }
}

struct Usage {
    input: u64,
    cached_input: u64,
    output: u64,
}

impl Usage {
    fn of(value: &Value) -> Usage {
        Usage {
            input: value["input"].as_u64().unwrap_or(100),
            cached_input: value["cached_input"].as_u64().unwrap_or(0),
            output: value["output"].as_u64().unwrap_or(20),
        }
    }
}

fn sse_event(out: &mut String, name: &str, data: &Value) {
    out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
}

fn anthropic(action: &Action, usage: &Usage, model: &str, step: usize) -> String {
    let mut out = String::new();
    sse_event(
        &mut out,
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": format!("msg_{step}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": usage.input, "output_tokens": 1,
                      "cache_read_input_tokens": usage.cached_input, "cache_creation_input_tokens": 0}}}),
    );
    let (block, delta, stop_reason) = match action {
        Action::Answer(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
            "end_turn",
        ),
        Action::Write { path, content } => (
            json!({"type": "tool_use", "id": format!("toolu_{step}"), "name": "Write", "input": {}}),
            json!({"type": "input_json_delta",
                   "partial_json": json!({"file_path": path, "content": content}).to_string()}),
            "tool_use",
        ),
        Action::Command(command) => (
            json!({"type": "tool_use", "id": format!("toolu_{step}"), "name": "Bash", "input": {}}),
            json!({"type": "input_json_delta",
                   "partial_json": json!({"command": command, "description": "Run a command"}).to_string()}),
            "tool_use",
        ),
    };
    sse_event(
        &mut out,
        "content_block_start",
        &json!({"type": "content_block_start", "index": 0, "content_block": block}),
    );
    sse_event(
        &mut out,
        "content_block_delta",
        &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
    );
    sse_event(
        &mut out,
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    );
    sse_event(
        &mut out,
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": usage.output}}),
    );
    sse_event(&mut out, "message_stop", &json!({"type": "message_stop"}));
    out
}

fn responses(action: &Action, usage: &Usage, step: usize) -> String {
    let mut out = String::new();
    let id = format!("resp_{step}");
    sse_event(
        &mut out,
        "response.created",
        &json!({"type": "response.created", "response": {"id": id}}),
    );
    let item = match action {
        Action::Answer(text) => {
            json!({"type": "message", "role": "assistant", "id": format!("msg_{step}"),
            "content": [{"type": "output_text", "text": text, "annotations": []}]})
        }
        Action::Write { path, content } => {
            let mut patch = format!("*** Begin Patch\n*** Add File: {path}\n");
            for line in content.lines() {
                patch.push_str(&format!("+{line}\n"));
            }
            patch.push_str("*** End Patch\n");
            json!({"type": "custom_tool_call", "id": format!("ctc_{step}"), "call_id": format!("call_{step}"),
                   "name": "apply_patch", "input": patch})
        }
        Action::Command(command) => json!({"type": "function_call", "id": format!("fc_{step}"),
            "call_id": format!("call_{step}"), "name": "exec_command",
            "arguments": json!({"cmd": command}).to_string()}),
    };
    sse_event(
        &mut out,
        "response.output_item.done",
        &json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    );
    sse_event(
        &mut out,
        "response.completed",
        &json!({"type": "response.completed", "response": {"id": id, "usage": {
            "input_tokens": usage.input + usage.cached_input,
            "input_tokens_details": {"cached_tokens": usage.cached_input},
            "output_tokens": usage.output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.input + usage.cached_input + usage.output}}}),
    );
    out
}

fn chat(action: &Action, usage: &Usage, model: &str, step: usize) -> String {
    let mut out = String::new();
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut chunk = json!({"id": format!("chatcmpl_{step}"), "object": "chat.completion.chunk",
            "created": 1_763_700_000, "model": model, "choices": choices});
        if let Some(usage) = usage {
            chunk["usage"] = usage;
        }
        format!("data: {chunk}\n\n")
    };
    let (delta, finish) = match action {
        Action::Answer(text) => (json!({"role": "assistant", "content": text}), "stop"),
        Action::Write { path, content } => (
            tool_delta(step, "write", json!({"filePath": path, "content": content})),
            "tool_calls",
        ),
        Action::Command(command) => (
            tool_delta(
                step,
                "bash",
                json!({"command": command, "description": "Run a command"}),
            ),
            "tool_calls",
        ),
    };
    out.push_str(&chunk(
        json!([{"index": 0, "delta": delta, "finish_reason": null}]),
        None,
    ));
    out.push_str(&chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish}]),
        None,
    ));
    out.push_str(&chunk(
        json!([]),
        Some(json!({"prompt_tokens": usage.input + usage.cached_input,
                    "completion_tokens": usage.output,
                    "total_tokens": usage.input + usage.cached_input + usage.output,
                    "prompt_tokens_details": {"cached_tokens": usage.cached_input}})),
    ));
    out.push_str("data: [DONE]\n\n");
    out
}

fn tool_delta(step: usize, name: &str, arguments: Value) -> Value {
    json!({"role": "assistant", "tool_calls": [{"index": 0, "id": format!("call_{step}"), "type": "function",
        "function": {"name": name, "arguments": arguments.to_string()}}]})
}

fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_millis() as u64)
        .unwrap_or(0)
}
