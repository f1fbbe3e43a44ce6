//! A scripted HTTP/1.1 server on 127.0.0.1 for tests and benchmarks: real sockets, one thread
//! per connection, keep-alive, every request recorded. A handler (or a script) chooses each
//! reply, which may be delayed to provoke client timeouts without holding up other
//! connections. Malformed requests get a plain-text 400 (505 for other HTTP versions) and
//! are not recorded; `Expect: 100-continue` is honoured. Dropping the server stops it: the
//! accept loop is joined, open connections are shut down and pending delays end at once.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest request line, header line or chunk-size line accepted.
const MAX_LINE: u64 = 64 << 10;
const MAX_REQUEST_BODY: usize = 32 << 20;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// In arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// The first message's text of a Chat Completions request ("" when there is none).
    pub fn prompt(&self) -> String {
        self.json()["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.body))
    }
}

/// What the server answers. `Content-Length` is added (except on 204 and 304); `headers`
/// holds the rest.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Waited before answering (the request is recorded first).
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply::text(status, "application/json", &value.to_string())
    }

    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            body: body.into(),
            ..Reply::empty(status).with_header("Content-Type", content_type)
        }
    }

    /// No body and no content type (e.g. 204 after a DELETE).
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// A Chat Completions answer with usage 10 prompt / 5 completion tokens.
    pub fn openai(text: &str) -> Reply {
        Reply::json(
            200,
            serde_json::json!({
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": "test-model",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop"
                }],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            }),
        )
    }

    /// A Messages API answer with usage 10 input / 5 output tokens.
    pub fn anthropic(text: &str) -> Reply {
        Reply::json(
            200,
            serde_json::json!({
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": "test-model",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 10, "output_tokens": 5}
            }),
        )
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct Server {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// What the accept loop and the connection threads share.
struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<Recorded>>,
    stopped: Mutex<bool>,
    /// Signalled on stop, so delayed replies end early.
    stop_signal: Condvar,
    /// A handle on every open connection, so stopping can shut down idle keep-alive reads.
    open: Mutex<HashMap<u64, TcpStream>>,
}

impl Server {
    /// Serves every request with `handler`.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::default(),
            stopped: Mutex::new(false),
            stop_signal: Condvar::new(),
            open: Mutex::default(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(listener, shared))
        };
        Server {
            url: format!("http://{addr}"),
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Answers with `replies` in order, then repeats the last one.
    pub fn script(replies: Vec<Reply>) -> Server {
        assert!(!replies.is_empty(), "a script needs at least one reply");
        let next = AtomicUsize::new(0);
        Server::start(move |_| {
            let index = next.fetch_add(1, Ordering::SeqCst).min(replies.len() - 1);
            replies[index].clone()
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order (malformed ones excepted).
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        *lock(&self.shared.stopped) = true;
        self.shared.stop_signal.notify_all();
        // Wake the blocking accept so the loop sees the flag.
        let _ = TcpStream::connect(self.addr);
        for stream in lock(&self.shared.open).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl Shared {
    fn is_stopped(&self) -> bool {
        *lock(&self.stopped)
    }

    /// Sleeps for `delay` unless the server stops first; true if it stopped.
    fn sleep(&self, delay: Duration) -> bool {
        let stopped = lock(&self.stopped);
        let (stopped, _) = self
            .stop_signal
            .wait_timeout_while(stopped, delay, |stopped| !*stopped)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *stopped
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for (id, stream) in (0u64..).zip(listener.incoming()) {
        let Ok(stream) = stream else {
            // Out of descriptors or similar: back off rather than spin.
            std::thread::sleep(Duration::from_millis(10));
            if shared.is_stopped() {
                return;
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        {
            // Checked under the `open` lock, so `drop` either sees this connection and shuts
            // it down, or this loop sees the flag: no connection outlives the server.
            let mut open = lock(&shared.open);
            if shared.is_stopped() {
                return;
            }
            open.insert(id, handle);
        }
        let connection = Connection {
            shared: Arc::clone(&shared),
            id,
        };
        std::thread::spawn(move || connection.serve(stream));
    }
}

/// One client connection; unregisters (and closes) itself when done, even if the handler
/// panics, so the client sees the connection close instead of hanging.
struct Connection {
    shared: Arc<Shared>,
    id: u64,
}

impl Connection {
    fn serve(&self, stream: TcpStream) {
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        loop {
            let (request, client_keeps_alive) = match read_request(&mut reader, &mut writer) {
                Incoming::Request(request, keep_alive) => (request, keep_alive),
                Incoming::Closed => return,
                Incoming::Rejected(status, why) => {
                    let reply = Reply::text(status, "text/plain; charset=utf-8", why);
                    let _ = write_reply(&mut writer, &reply, false);
                    return;
                }
            };
            lock(&self.shared.requests).push(request.clone());
            let reply = (self.shared.handler)(&request);
            if !reply.delay.is_zero() && self.shared.sleep(reply.delay) {
                return;
            }
            let reply_closes = reply
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("connection") && has_token(Some(v), "close"));
            let keep_alive = client_keeps_alive && !reply_closes;
            if write_reply(&mut writer, &reply, keep_alive).is_err() || !keep_alive {
                return;
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(stream) = lock(&self.shared.open).remove(&self.id) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

enum Incoming {
    /// The request and whether the client keeps the connection open after the reply.
    Request(Recorded, bool),
    /// End of stream (or a read error) before a whole request.
    Closed,
    /// Answered with this status and reason, then the connection is closed; not recorded.
    Rejected(u16, &'static str),
}

/// Reads one request, answering `Expect: 100-continue` on `writer` before its body.
fn read_request(reader: &mut impl BufRead, writer: &mut impl Write) -> Incoming {
    const MALFORMED: Incoming = Incoming::Rejected(400, "Bad Request: malformed request line");
    let mut request_line = match read_line(reader) {
        Line::Text(line) => line,
        Line::End => return Incoming::Closed,
        Line::TooLong => return Incoming::Rejected(400, "Bad Request: request line too long"),
    };
    // RFC 9112: ignore at least one empty line before the request line.
    if request_line.is_empty() {
        request_line = match read_line(reader) {
            Line::Text(line) => line,
            Line::End => return Incoming::Closed,
            Line::TooLong => return Incoming::Rejected(400, "Bad Request: request line too long"),
        };
    }
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, path, version] = parts.as_slice() else {
        return MALFORMED;
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) || path.is_empty() {
        return MALFORMED;
    }
    let http10 = match *version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => {
            return Incoming::Rejected(505, "HTTP Version Not Supported")
        }
        _ => return MALFORMED,
    };
    let mut headers = Vec::new();
    loop {
        let line = match read_line(reader) {
            Line::Text(line) => line,
            Line::End => return Incoming::Closed,
            Line::TooLong => return Incoming::Rejected(400, "Bad Request: header line too long"),
        };
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Incoming::Rejected(400, "Bad Request: header line without a colon");
        };
        if name.is_empty() || name.trim() != name || headers.len() >= 200 {
            return Incoming::Rejected(400, "Bad Request: bad header");
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = Recorded {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body: String::new(),
    };
    let chunked = has_token(request.header("transfer-encoding"), "chunked");
    let length = if chunked {
        None
    } else {
        match request.header("content-length").map(str::parse::<usize>) {
            None => Some(0),
            Some(Ok(n)) if n <= MAX_REQUEST_BODY => Some(n),
            Some(_) => return Incoming::Rejected(400, "Bad Request: bad content-length"),
        }
    };
    let expects_body = chunked || length.is_some_and(|n| n > 0);
    if expects_body
        && !http10
        && has_token(request.header("expect"), "100-continue")
        && writer
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .and_then(|()| writer.flush())
            .is_err()
    {
        return Incoming::Closed;
    }
    let body = match length {
        Some(n) => read_exactly(reader, n).ok_or(None),
        None => read_chunked(reader),
    };
    let body = match body {
        Ok(body) => body,
        Err(None) => return Incoming::Closed,
        Err(Some(why)) => return Incoming::Rejected(400, why),
    };
    request.body = String::from_utf8_lossy(&body).into_owned();
    let connection = request.header("connection");
    let keep_alive = if http10 {
        has_token(connection, "keep-alive")
    } else {
        !has_token(connection, "close")
    };
    Incoming::Request(request, keep_alive)
}

enum Line {
    Text(String),
    End,
    TooLong,
}

/// A line without its CRLF.
fn read_line(reader: &mut impl BufRead) -> Line {
    let mut line = Vec::new();
    match reader.take(MAX_LINE).read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => Line::End,
        Ok(_) if line.last() != Some(&b'\n') => {
            if line.len() as u64 >= MAX_LINE {
                Line::TooLong
            } else {
                Line::End
            }
        }
        Ok(_) => {
            let text = String::from_utf8_lossy(&line);
            Line::Text(text.trim_end_matches(['\r', '\n']).to_string())
        }
    }
}

fn read_exactly(reader: &mut impl Read, length: usize) -> Option<Vec<u8>> {
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes).ok()?;
    Some(bytes)
}

/// A chunked body; `Err(None)` when the stream ends, `Err(Some(why))` when it is malformed.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, Option<&'static str>> {
    const NO_CRLF: &str = "Bad Request: chunk not followed by CRLF";
    let mut body = Vec::new();
    loop {
        let size_line = match read_line(reader) {
            Line::Text(line) => line,
            Line::End => return Err(None),
            Line::TooLong => return Err(Some("Bad Request: chunk size line too long")),
        };
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| Some("Bad Request: bad chunk size"))?;
        if size == 0 {
            // Skip any trailers up to the blank line.
            loop {
                match read_line(reader) {
                    Line::Text(line) if line.is_empty() => return Ok(body),
                    Line::Text(_) => {}
                    Line::End => return Err(None),
                    Line::TooLong => return Err(Some("Bad Request: trailer too long")),
                }
            }
        }
        if body.len().saturating_add(size) > MAX_REQUEST_BODY {
            return Err(Some("Bad Request: body too large"));
        }
        body.extend(read_exactly(reader, size).ok_or(None)?);
        match read_line(reader) {
            Line::Text(line) if line.is_empty() => {}
            Line::Text(_) | Line::TooLong => return Err(Some(NO_CRLF)),
            Line::End => return Err(None),
        }
    }
}

/// Writes `reply`; 204 and 304 go without `content-length` and body.
fn write_reply(writer: &mut impl Write, reply: &Reply, keep_alive: bool) -> io::Result<()> {
    let bodiless = matches!(reply.status, 204 | 304);
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        reason_phrase(reply.status)
    );
    if !bodiless {
        head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    }
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !keep_alive {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    // One write: head and body in separate small packets would meet Nagle's delay.
    let mut bytes = head.into_bytes();
    if !bodiless {
        bytes.extend_from_slice(reply.body.as_bytes());
    }
    writer.write_all(&bytes)?;
    writer.flush()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

fn has_token(header: Option<&str>, token: &str) -> bool {
    header.is_some_and(|value| {
        value
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

/// Locks, ignoring poisoning: a panicking handler must not take the whole server down.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
