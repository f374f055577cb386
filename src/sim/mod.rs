//! The vendor-neutral simulator toolkit: the pieces every simulated vendor server is built
//! from (injected faults, the request log, the accept loop, JSON responses, HTTP Basic and
//! base64, the servers' timestamp format and fixture files).
//!
//! The simulated servers themselves live in their vendor's folder, `src/sources/<vendor>/sim/`
//! (the server in `mod.rs`, its data sets in `fleet.rs`); they are used by the `demo` command,
//! the integration tests and the benchmarks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// `Content-Type` of every response, as the vendor documents show it.
pub const CONTENT_TYPE_JSON: &str = "application/json;charset=UTF-8";

/// Endpoint name recorded for a request to a path the server does not know.
pub const UNKNOWN_ENDPOINT: &str = "unknown";

/// What a misconfigured reverse proxy sends back, with a 200 and the JSON content type.
pub(crate) const GARBAGE_BODY: &str = "<html><head><title>Proxy Error</title></head><body>\
<h1>Proxy Error</h1><p>The proxy server received an invalid response from an upstream server.\
</p></body></html>\n";

pub(crate) type Resp = Response<Full<Bytes>>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Puts `new` in `slot` and frees what was there after the lock is released (freeing a large
/// data set takes a while): how a server swaps the data it serves.
pub(crate) fn swap_served<T>(slot: &Mutex<Arc<T>>, new: T) {
    let old = std::mem::replace(&mut *lock(slot), Arc::new(new));
    drop(old);
}

// ---------------------------------------------------------------------------------------------
// The shape of every simulated server
// ---------------------------------------------------------------------------------------------

/// 127.0.0.1 on an ephemeral port: where [`Simulator::start`] listens.
pub const LOCALHOST_ANY_PORT: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

/// What every simulated vendor server offers: it starts on a data set and a configuration,
/// serves in a background task, records the requests it receives, takes injected [`Faults`],
/// swaps its data set while running and stops on [`Simulator::shutdown`] (or when dropped).
pub trait Simulator: Sized + Send {
    /// The vendor's data, as its server serves it.
    type Dataset;
    /// The accounts and behaviour of the server (credentials, roles, versions, ...).
    type Config;

    /// Binds `addr` and serves `dataset` in a background task (the demo uses fixed ports).
    fn start_on(
        addr: SocketAddr,
        dataset: Self::Dataset,
        config: Self::Config,
    ) -> impl Future<Output = std::io::Result<Self>> + Send;

    /// Like [`Simulator::start_on`], on [`LOCALHOST_ANY_PORT`].
    fn start(
        dataset: Self::Dataset,
        config: Self::Config,
    ) -> impl Future<Output = std::io::Result<Self>> + Send {
        Self::start_on(LOCALHOST_ANY_PORT, dataset, config)
    }

    /// Replaces the data served from the next request on.
    fn set_dataset(&self, dataset: Self::Dataset);

    /// The running server's address, faults, request log and task.
    fn running(&self) -> &Running;

    /// The running server, giving the rest of the handle up (see [`Simulator::shutdown`]).
    fn into_running(self) -> Running;

    /// The address the server listens on.
    fn addr(&self) -> SocketAddr {
        self.running().addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The faults injected into this server.
    fn faults(&self) -> &Faults {
        &self.running().faults
    }

    /// How many requests `endpoint` (one of the vendor's `ENDPOINTS`, or [`UNKNOWN_ENDPOINT`])
    /// received, whatever their outcome.
    fn request_count(&self, endpoint: &str) -> usize {
        self.running().requests.count(endpoint)
    }

    /// Path and query of every request received (sign-in requests included), in order.
    fn requested_paths(&self) -> Vec<String> {
        self.running().requests.paths()
    }

    /// Forgets the requests received so far.
    fn clear_requests(&self) {
        self.running().requests.clear();
    }

    /// Stops accepting, drops open connections (and requests being delayed) and waits for the
    /// server task to end.
    fn shutdown(self) -> impl Future<Output = ()> + Send {
        self.into_running().task.shutdown()
    }
}

/// What a simulated server's request handler shares with its [`Running`] handle: the server's
/// URL, its faults and its request log.
pub(crate) struct Bound {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    pub faults: Arc<Faults>,
    pub requests: Arc<RequestLog>,
}

/// A running simulated server: its address, its faults, its request log and its background task
/// (dropping it stops the server).
pub struct Running {
    addr: SocketAddr,
    faults: Arc<Faults>,
    requests: Arc<RequestLog>,
    task: ServerTask,
}

impl Running {
    /// Binds `addr`, makes the handler's state with `make` and serves every request with
    /// `handler(state, request)` in a background task.
    pub(crate) async fn start<S, H, F>(
        addr: SocketAddr,
        make: impl FnOnce(Bound) -> S,
        handler: H,
    ) -> std::io::Result<(Running, Arc<S>)>
    where
        S: Send + Sync + 'static,
        H: Fn(Arc<S>, Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Resp> + Send + 'static,
    {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(Faults::default());
        let requests = Arc::new(RequestLog::default());
        let shared = Arc::new(make(Bound {
            base_url: format!("http://{addr}"),
            faults: Arc::clone(&faults),
            requests: Arc::clone(&requests),
        }));
        let handler_shared = Arc::clone(&shared);
        let task = serve(listener, move |req| {
            handler(Arc::clone(&handler_shared), req)
        });
        let running = Running {
            addr,
            faults,
            requests,
            task,
        };
        Ok((running, shared))
    }
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

/// A misbehaviour injected into one endpoint.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Answer with this HTTP status and a small JSON error body.
    pub status: Option<u16>,
    /// Sleep this long before answering (long enough for a client timeout to fire).
    pub delay: Option<Duration>,
    /// Answer 200 with the JSON body cut off roughly in half.
    pub truncate: bool,
    /// Answer 200 with a body that is not JSON (an HTML proxy error page), still labelled JSON.
    pub garbage: bool,
    /// Answer with this 3xx status and `Location` (a server, or something in front of it,
    /// sending the client elsewhere), before authentication is checked.
    pub redirect: Option<(u16, String)>,
    /// Answer 200 with a JSON document of about this many bytes (a long string value).
    pub oversize: Option<usize>,
    /// Answer 200 with `Content-Encoding: gzip` and a body that inflates to this many bytes of
    /// JSON whitespace before `{}`: a gzip bomb (1 GiB is about 1 MiB on the wire).
    pub gzip_bomb: Option<usize>,
    /// Answer this status with an error body of about this many bytes.
    pub huge_error: Option<(u16, usize)>,
}

#[derive(Debug, Clone)]
struct ArmedFault {
    fault: Fault,
    /// `None` = until cleared; `Some(n)` = the next `n` requests.
    remaining: Option<usize>,
    /// Requests still answered normally before the fault applies.
    after: usize,
}

#[derive(Debug, Default)]
struct FaultState {
    by_endpoint: HashMap<String, ArmedFault>,
    ignore_paging: bool,
    ignore_offset: bool,
    count_off_by: i64,
}

/// What applies to one request: its endpoint's fault (or the `"*"` one) and the list
/// misbehaviours.
#[derive(Debug, Clone, Default)]
pub(crate) struct Taken {
    pub fault: Fault,
    pub ignore_paging: bool,
    pub ignore_offset: bool,
    pub count_off_by: i64,
}

/// Faults injected at run time, shared with the running server.
///
/// Faults are keyed by endpoint name (each simulator lists its names in `ENDPOINTS`); the name
/// `"*"` applies to every endpoint that has no fault of its own.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<FaultState>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.state)
    }

    /// Injects `fault` into `endpoint` until cleared.
    pub fn set(&self, endpoint: &str, fault: Fault) {
        self.set_after(endpoint, 0, fault);
    }

    /// Injects `fault` into `endpoint` once its next `after` requests have been answered
    /// normally, until cleared: the first pages of a list come, the rest (say) hang.
    pub fn set_after(&self, endpoint: &str, after: usize, fault: Fault) {
        self.lock().by_endpoint.insert(
            endpoint.to_owned(),
            ArmedFault {
                fault,
                remaining: None,
                after,
            },
        );
    }

    /// Injects `fault` into the next `times` requests to `endpoint` only.
    pub fn set_times(&self, endpoint: &str, fault: Fault, times: usize) {
        let mut state = self.lock();
        if times == 0 {
            state.by_endpoint.remove(endpoint);
        } else {
            state.by_endpoint.insert(
                endpoint.to_owned(),
                ArmedFault {
                    fault,
                    remaining: Some(times),
                    after: 0,
                },
            );
        }
    }

    /// The fault currently injected into `endpoint` (its own, not the `"*"` one), if any.
    pub fn get(&self, endpoint: &str) -> Option<Fault> {
        self.lock()
            .by_endpoint
            .get(endpoint)
            .map(|a| a.fault.clone())
    }

    /// Removes the fault of `endpoint`.
    pub fn clear(&self, endpoint: &str) {
        self.lock().by_endpoint.remove(endpoint);
    }

    /// Removes every fault and resets every list misbehaviour.
    pub fn clear_all(&self) {
        *self.lock() = FaultState::default();
    }

    /// When on, list endpoints return the whole list whatever the paging parameters say.
    pub fn set_ignore_paging(&self, on: bool) {
        self.lock().ignore_paging = on;
    }

    /// See [`Faults::set_ignore_paging`].
    pub fn ignore_paging(&self) -> bool {
        self.lock().ignore_paging
    }

    /// When on, list endpoints honour the page size but always return the first page.
    pub fn set_ignore_offset(&self, on: bool) {
        self.lock().ignore_offset = on;
    }

    /// See [`Faults::set_ignore_offset`].
    pub fn ignore_offset(&self) -> bool {
        self.lock().ignore_offset
    }

    /// Makes the count a list response announces lie by `n` (negative = fewer; never below 0):
    /// Code42's `data.totalCount`, CrashPlan PRO's `metadata.count`. The items are unchanged.
    pub fn set_count_off_by(&self, n: i64) {
        self.lock().count_off_by = n;
    }

    /// See [`Faults::set_count_off_by`].
    pub fn count_off_by(&self) -> i64 {
        self.lock().count_off_by
    }

    /// What applies to one request to `endpoint`, counting a limited fault down.
    pub(crate) fn take(&self, endpoint: &str) -> Taken {
        let mut state = self.lock();
        let key = if state.by_endpoint.contains_key(endpoint) {
            Some(endpoint)
        } else if state.by_endpoint.contains_key("*") {
            Some("*")
        } else {
            None
        };
        let mut fault = Fault::default();
        if let Some(key) = key {
            let mut exhausted = false;
            if let Some(armed) = state.by_endpoint.get_mut(key) {
                if armed.after > 0 {
                    // Answered normally, as the fault's first requests are.
                    armed.after -= 1;
                } else {
                    fault = armed.fault.clone();
                    if let Some(n) = armed.remaining.as_mut() {
                        *n = n.saturating_sub(1);
                        exhausted = *n == 0;
                    }
                }
            }
            if exhausted {
                state.by_endpoint.remove(key);
            }
        }
        Taken {
            fault,
            ignore_paging: state.ignore_paging,
            ignore_offset: state.ignore_offset,
            count_off_by: state.count_off_by,
        }
    }
}

/// The answer of a hostile server under `fault` (a redirect, an oversized or bomb body, a huge
/// error body), if the fault is one of those: every simulator sends it before anything else.
pub(crate) fn hostile_answer(fault: &Fault) -> Option<Resp> {
    let build = |status: u16, body: Bytes| {
        let mut resp = Response::new(Full::new(body));
        *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
        resp
    };
    if let Some((status, location)) = &fault.redirect {
        let mut resp = build(*status, Bytes::new());
        if let Ok(v) = HeaderValue::from_str(location) {
            resp.headers_mut().insert(hyper::header::LOCATION, v);
        }
        return Some(resp);
    }
    if let Some(size) = fault.oversize {
        let mut body = Vec::with_capacity(size + 16);
        body.extend_from_slice(b"{\"padding\": \"");
        body.resize(size.saturating_sub(3).max(body.len()), b'x');
        body.extend_from_slice(b"\"}\n");
        return Some(build(200, Bytes::from(body)));
    }
    if let Some(size) = fault.gzip_bomb {
        let mut resp = build(200, gzip_bomb(size));
        resp.headers_mut().insert(
            hyper::header::CONTENT_ENCODING,
            HeaderValue::from_static("gzip"),
        );
        return Some(resp);
    }
    if let Some((status, size)) = fault.huge_error {
        return Some(build(status, Bytes::from(vec![b'e'; size])));
    }
    None
}

/// A gzip member inflating to `size` spaces and `{}`, made once per size.
fn gzip_bomb(size: usize) -> Bytes {
    static MADE: Mutex<Vec<(usize, Bytes)>> = Mutex::new(Vec::new());
    let mut made = lock(&MADE);
    if let Some((_, b)) = made.iter().find(|(s, _)| *s == size) {
        return b.clone();
    }
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![b' '; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        let _ = gz.write_all(&block[..n]);
        left -= n;
    }
    let _ = gz.write_all(b"{}");
    let body = Bytes::from(gz.finish().unwrap_or_default());
    made.push((size, body.clone()));
    body
}

/// A count as announced under [`Faults::set_count_off_by`].
pub(crate) fn lying_count(count: usize, off_by: i64) -> u64 {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    u64::try_from(count.saturating_add(off_by)).unwrap_or(0)
}

/// The body actually sent for a 200 under `fault`: an HTML page instead, or cut in half.
pub(crate) fn apply_body_fault(fault: &Fault, mut body: Vec<u8>) -> Vec<u8> {
    if fault.garbage {
        GARBAGE_BODY.as_bytes().to_vec()
    } else {
        if fault.truncate {
            body.truncate(body.len() / 2);
        }
        body
    }
}

// ---------------------------------------------------------------------------------------------
// Request log
// ---------------------------------------------------------------------------------------------

struct Logged {
    endpoint: &'static str,
    path_and_query: String,
}

/// Every request a simulated server received: its endpoint name and its path and query.
#[derive(Default)]
pub(crate) struct RequestLog {
    entries: Mutex<Vec<Logged>>,
}

impl RequestLog {
    pub fn record<B>(&self, endpoint: &'static str, req: &Request<B>) {
        let uri = req.uri();
        let path_and_query = uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| uri.path().to_owned());
        lock(&self.entries).push(Logged {
            endpoint,
            path_and_query,
        });
    }

    pub fn count(&self, endpoint: &str) -> usize {
        lock(&self.entries)
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .count()
    }

    pub fn paths(&self) -> Vec<String> {
        lock(&self.entries)
            .iter()
            .map(|r| r.path_and_query.clone())
            .collect()
    }

    pub fn clear(&self) {
        lock(&self.entries).clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Accept loop
// ---------------------------------------------------------------------------------------------

/// The background task of a running server. Dropping it stops the server.
struct ServerTask {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServerTask {
    /// Stops accepting, drops open connections (and requests being delayed) and waits for the
    /// task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves HTTP/1.1 on `listener` in a background task, answering every request with `handler`.
fn serve<H, F>(listener: TcpListener, handler: H) -> ServerTask
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, handler, stopped));
    ServerTask {
        stop: Some(stop),
        task: Some(task),
    }
}

async fn accept_loop<H, F>(listener: TcpListener, handler: H, mut stopped: oneshot::Receiver<()>)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // A send or a dropped sender both mean stop.
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let handler = handler.clone();
                    connections.spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let answer = handler(req);
                            async move { Ok::<_, Infallible>(answer.await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Responses and requests
// ---------------------------------------------------------------------------------------------

/// A response with `body` labelled [`CONTENT_TYPE_JSON`].
pub(crate) fn json_bytes_response(status: StatusCode, body: Vec<u8>) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_JSON));
    resp
}

/// A response with `value` serialised compactly.
pub(crate) fn json_response(status: StatusCode, value: &Value) -> Resp {
    json_bytes_response(status, serde_json::to_vec(value).unwrap_or_default())
}

/// The query parameters of a request, decoded, in order.
pub(crate) fn query_params<B>(req: &Request<B>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// The first value of parameter `name`.
pub(crate) fn first_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// ISO 8601 with milliseconds and the `-05:00` offset, as the documents' servers write times.
pub fn server_timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    match chrono::FixedOffset::west_opt(5 * 3600) {
        Some(offset) => t
            .with_timezone(&offset)
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string(),
        None => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP Basic and base64
// ---------------------------------------------------------------------------------------------

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The value of an `Authorization` header for HTTP Basic authentication.
pub fn basic_auth_header(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64_encode(format!("{username}:{password}").as_bytes())
    )
}

/// The user and password of an HTTP Basic `Authorization` header value, if it is one.
pub(crate) fn parse_basic_auth(header: Option<&HeaderValue>) -> Option<(String, String)> {
    let header = header?.to_str().ok()?.trim();
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(token.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn encode_with(alphabet: &[u8; 64], input: &[u8], pad: bool) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding.
pub(crate) fn base64_encode(input: &[u8]) -> String {
    encode_with(B64, input, true)
}

/// URL-safe base64 without padding, as in the parts of a JWT.
pub(crate) fn base64url_encode(input: &[u8]) -> String {
    encode_with(B64_URL, input, false)
}

/// Standard base64, padding optional; `None` on any other character or a dangling sextet.
pub(crate) fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let input = input.trim_end_matches('=');
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in input.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone trailing sextet cannot encode a byte.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Fixture files
// ---------------------------------------------------------------------------------------------

/// The JSON in `dir/file`; `None` when the file does not exist.
pub(crate) fn read_json(dir: &Path, file: &str) -> anyhow::Result<Option<Value>> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Some(value))
}

/// The items in `dir/file`: a JSON array of items, a whole list response (an object holding
/// the array under `key`, directly or under `data`), or a single object (one item). A missing
/// file is an empty list.
pub(crate) fn read_list(dir: &Path, file: &str, key: &str) -> anyhow::Result<Vec<Value>> {
    match read_json(dir, file)? {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Object(mut map)) => {
            if let Some(Value::Object(data)) = map.get_mut("data") {
                if let Some(items) = data.remove(key) {
                    return match items {
                        Value::Array(items) => Ok(items),
                        _ => anyhow::bail!("{file}: \"data.{key}\" is not an array"),
                    };
                }
            }
            match map.remove(key) {
                Some(Value::Array(items)) => Ok(items),
                Some(_) => anyhow::bail!("{file}: \"{key}\" is not an array"),
                None => Ok(vec![Value::Object(map)]),
            }
        }
        Some(_) => anyhow::bail!("{file}: expected a JSON array or object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in [
            "",
            "a",
            "ab",
            "abc",
            "admin:admin",
            "user:pa:ss",
            "\u{e9}t\u{e9}:\u{2603}",
        ] {
            let encoded = base64_encode(s.as_bytes());
            assert_eq!(
                base64_decode(&encoded).as_deref(),
                Some(s.as_bytes()),
                "{s}"
            );
        }
        assert_eq!(base64_encode(b"admin:admin"), "YWRtaW46YWRtaW4=");
        assert_eq!(base64_decode("YQ"), Some(b"a".to_vec()));
        assert_eq!(base64_decode("Y"), None);
        assert_eq!(base64_decode("a b"), None);
    }

    #[test]
    fn base64url_has_no_padding_and_no_plus_or_slash() {
        assert_eq!(base64url_encode(b"\xfb\xff\xbf"), "-_-_");
        assert_eq!(base64url_encode(b"a"), "YQ");
        assert_eq!(
            base64url_encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
        );
    }

    #[test]
    fn basic_auth_parsing() {
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        let header = h(&basic_auth_header("user", "pa:ss"));
        assert_eq!(
            parse_basic_auth(Some(&header)),
            Some(("user".to_owned(), "pa:ss".to_owned()))
        );
        assert_eq!(
            parse_basic_auth(Some(&h("basic YWRtaW46YWRtaW4="))),
            Some(("admin".to_owned(), "admin".to_owned()))
        );
        for bad in ["Bearer YWRtaW46YWRtaW4=", "Basic !!!", "Basic YQ", "Basic"] {
            assert_eq!(parse_basic_auth(Some(&h(bad))), None, "{bad}");
        }
        assert_eq!(parse_basic_auth(None), None);
    }

    #[test]
    fn lying_counts() {
        assert_eq!(lying_count(10, 0), 10);
        assert_eq!(lying_count(10, 5), 15);
        assert_eq!(lying_count(10, -3), 7);
        assert_eq!(lying_count(10, -30), 0);
    }

    #[test]
    fn limited_and_wildcard_faults() {
        let faults = Faults::default();
        let f503 = Fault {
            status: Some(503),
            ..Fault::default()
        };
        faults.set_times("a", f503.clone(), 2);
        assert_eq!(faults.take("a").fault, f503);
        assert_eq!(faults.take("a").fault, f503);
        assert_eq!(faults.take("a").fault, Fault::default());
        faults.set("*", f503.clone());
        faults.set("b", Fault::default());
        assert_eq!(faults.take("a").fault, f503);
        assert_eq!(faults.take("b").fault, Fault::default());
        faults.set_count_off_by(-2);
        faults.set_ignore_paging(true);
        let taken = faults.take("c");
        assert_eq!((taken.count_off_by, taken.ignore_paging), (-2, true));
        faults.clear_all();
        let taken = faults.take("a");
        assert_eq!(taken.fault, Fault::default());
        assert_eq!((taken.count_off_by, taken.ignore_paging), (0, false));
    }

    #[test]
    fn a_fault_after_some_normal_answers() {
        let faults = Faults::default();
        let f503 = Fault {
            status: Some(503),
            ..Fault::default()
        };
        faults.set("*", f503.clone());
        faults.set_after("pages", 2, f503.clone());
        // Its own entry answers normally first (the "*" fault does not stand in), then fails.
        assert_eq!(faults.take("pages").fault, Fault::default());
        assert_eq!(faults.take("pages").fault, Fault::default());
        assert_eq!(faults.take("pages").fault, f503);
        assert_eq!(faults.take("pages").fault, f503);
        assert_eq!(faults.get("pages"), Some(f503));
    }
}
