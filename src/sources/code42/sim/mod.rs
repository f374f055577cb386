//! A simulated Code42 / modern CrashPlan console: token authentication (`/api/v3`) and the
//! read-only `/api/v1` and `/api` resources the exporter reads, as the vendor documents show
//! them ("Sample uses of the Code42 API", "pycpg Basics").
//!
//! Used by the demo (with [`fleet::demo_console`]), by the integration tests
//! (with [`fleet::document_sample`], fixture payloads and injected
//! [`Fault`]s) and by the benchmark (with [`fleet::large_console`]).
//!
//! # Authentication
//!
//! Every data request needs `Authorization: Bearer <token>`; a missing, unknown or expired token
//! is a 401. Tokens come from:
//!
//! * `GET /api/v3/auth/jwt?useBody=true` with HTTP Basic `username:password` of a
//!   [`LocalAccount`]: `{"data": {"v3_user_token": "<token>"}, "error": null, "warnings": null}`.
//!   An account with a TOTP secret also needs the header `totp-auth: <6-digit code>` (SHA-1,
//!   30 s steps, one step of skew either way); without it the 401 names
//!   [`MFA_REQUIRED_ERROR`], with a wrong code it names [`TOTP_INVALID_ERROR`]. Errors have the
//!   shape `{"data": null, "error": [{"primaryErrorKey": "..", "otherErrors": null,
//!   "description": ".."}], "warnings": null}`.
//! * `POST /api/v3/oauth/token?grant_type=client_credentials` with HTTP Basic
//!   `client_id:secret` of an [`ApiClient`]: `{"access_token": "..", "token_type": "bearer",
//!   "expires_in": <seconds>}`. `grant_type` may also come in an
//!   `application/x-www-form-urlencoded` body; another grant type is a 400
//!   (`{"error": "unsupported_grant_type"}`), wrong credentials a 401 (`{"error":
//!   "invalid_client"}`).
//! * Static tokens listed in [`ConsoleConfig::static_tokens`], always accepted.
//!
//! Any other method on the two auth paths is a 405 with an `Allow` header. Issued tokens look
//! like JWTs (three base64url parts) and expire [`ConsoleConfig::token_lifetime`] after issue;
//! [`SimServer::expire_tokens`] invalidates them all at once, as a console restart does.
//!
//! # Data (read-only)
//!
//! | Path | Endpoint name | Items under `data.` | Parameters |
//! |---|---|---|---|
//! | `GET /api/v1/Computer` | `computers` | `computers` | `active`, `incBackupUsage`, `pgNum`, `pgSize` |
//! | `GET /api/v1/User` | `users` | `users` | `active`, `pgNum`, `pgSize` |
//! | `GET /api/v1/Org` | `orgs` | `orgs` | `pgNum`, `pgSize` |
//! | `GET /api/StorePoint` | `storePoints` | `storePoints` | `pgNum`, `pgSize` (administrators only) |
//! | `GET /api/Server` | `servers` | `servers` | `pgNum`, `pgSize` (administrators only) |
//!
//! * Envelope, as in the document: `{"metadata": {"timestamp": "<now, ISO 8601, -05:00, ms>",
//!   "params": {<every query parameter, as a string>}}, "data": {"totalCount": <matching items>,
//!   "<key>": [<page>]}}`.
//! * `active=true` keeps the items whose `"active"` is `true`, `active=false` those whose
//!   `"active"` is `false` (an item without the key matches neither); another value is a 400.
//! * `incBackupUsage=true` (any case) includes each computer's `backupUsage` (written last in
//!   the object); otherwise the key is left out.
//! * Paging: `pgNum` is 1-based (default 1), `pgSize` defaults to [`DEFAULT_PAGE_SIZE`]; a value
//!   that is not a whole number of at least 1 is a 400. Page N holds the matching items
//!   `(N-1)*pgSize .. N*pgSize`; past the end the list is empty. [`ConsoleConfig::max_page_size`]
//!   caps `pgSize` the way older servers cap it at 250.
//! * Other parameters (`srtKey`, ...) are echoed and ignored.
//! * Data errors are Code42 v1 error lists: `[{"name": "..", "description": "..", "objects": []}]`.
//!   Any method but GET on a data path is a 405 with `Allow: GET`; an unknown path is a 404 (after
//!   the token check, as for every non-auth path). A non-administrator gets a 403 on
//!   `StorePoint` and `Server`.
//!
//! Responses are compact JSON labelled `application/json;charset=UTF-8`. Every item is rendered
//! once when the dataset is set (computers both with and without `backupUsage`), and a page is
//! the concatenation of those bytes, so the simulator is not the bottleneck of a benchmark. JSON
//! numbers stay `serde_json` integers, so a guid above 2^53 is written digit for digit (the
//! document writes guids as strings; whatever the dataset holds is written).
//!
//! Faults ([`Faults`], keyed by [`ENDPOINTS`] names or `"*"`) apply to the auth endpoints too:
//! `delay` first, then `status` (after the 405 check; on data paths after the token, 404 and 405
//! checks), and `truncate`/`garbage` to a 200 body. [`Faults::set_ignore_paging`] makes every
//! page the whole (filtered) list, [`Faults::set_ignore_offset`] every page the first one, and
//! [`Faults::set_count_off_by`] makes `totalCount` lie.

pub mod fleet;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::sim::{
    apply_body_fault, base64url_encode, first_param, json_bytes_response, json_response, lock,
    lying_count, parse_basic_auth, query_params, read_list, swap_served, RequestLog, Resp, Running,
    Taken,
};
pub use crate::sim::{
    basic_auth_header, server_timestamp, Fault, Faults, Simulator, CONTENT_TYPE_JSON,
    UNKNOWN_ENDPOINT,
};
use crate::time::unix_now;

/// Endpoint names, as used by [`Faults`] and [`SimServer::request_count`].
pub const ENDPOINTS: &[&str] = &[
    "jwt",
    "oauth",
    "computers",
    "users",
    "orgs",
    "storePoints",
    "servers",
];
/// `pgSize` when the request gives none.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The header carrying the one-time code of an account with two-factor authentication.
pub const TOTP_HEADER: &str = "totp-auth";
/// `primaryErrorKey` of the 401 for an account that needs a one-time code and sent none (the
/// key pycpg looks for to raise its "MFA required" error).
pub const MFA_REQUIRED_ERROR: &str = "TOTP_AUTH_CONFIGURATION_REQUIRED_FOR_USER";
/// `primaryErrorKey` of the 401 for a wrong one-time code.
pub const TOTP_INVALID_ERROR: &str = "TIME_BASED_ONE_TIME_PASSWORD_INVALID";
/// `primaryErrorKey` of the 401 for an unknown user or a wrong password.
pub const BAD_CREDENTIALS_ERROR: &str = "INVALID_USERNAME_OR_PASSWORD";

/// The keys of a computer in the document's `GET /api/v1/Computer` sample (`backupUsage` only
/// with `incBackupUsage=true`).
pub const COMPUTER_KEYS: &[&str] = &[
    "computerId",
    "name",
    "guid",
    "type",
    "status",
    "active",
    "blocked",
    "alertState",
    "alertStates",
    "userId",
    "orgId",
    "parentComputerId",
    "lastConnected",
    "osName",
    "osVersion",
    "osArch",
    "address",
    "remoteAddress",
    "javaVersion",
    "modelInfo",
    "timeZone",
    "version",
    "productVersion",
    "creationDate",
    "modificationDate",
    "loginDate",
    "backupUsage",
];

/// The keys of a `backupUsage` element in the document's sample.
pub const BACKUP_USAGE_KEYS: &[&str] = &[
    "targetComputerId",
    "targetComputerParentId",
    "targetComputerGuid",
    "targetComputerName",
    "targetComputerOsName",
    "targetComputerType",
    "selectedFiles",
    "selectedBytes",
    "todoFiles",
    "todoBytes",
    "archiveBytes",
    "billableBytes",
    "sendRateAverage",
    "completionRateAverage",
    "lastBackup",
    "lastCompletedBackup",
    "lastConnected",
    "lastMaintenanceDate",
    "lastCompactDate",
    "modificationDate",
    "creationDate",
    "using",
    "alertState",
    "alertStates",
    "percentComplete",
    "storePointId",
    "storePointName",
    "serverId",
    "serverName",
    "serverHostName",
    "isProvider",
];

// ---------------------------------------------------------------------------------------------
// Dataset and configuration
// ---------------------------------------------------------------------------------------------

/// The console's data: raw JSON items exactly as the console emits them.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Computer objects, each with its `backupUsage` list (served only on request).
    pub computers: Vec<Value>,
    /// User objects.
    pub users: Vec<Value>,
    /// Org objects.
    pub orgs: Vec<Value>,
    /// Store point objects.
    pub store_points: Vec<Value>,
    /// Server objects.
    pub servers: Vec<Value>,
}

impl Dataset {
    /// Reads `computers.json`, `users.json`, `orgs.json`, `storePoints.json` and `servers.json`
    /// from `path`. A missing file is an empty list. A file holds a JSON array of items, or a
    /// whole list response as the console sends it (the items under `data.<key>`), or a single
    /// object (one item).
    pub fn from_dir(path: &Path) -> anyhow::Result<Dataset> {
        Ok(Dataset {
            computers: read_list(path, "computers.json", "computers")?,
            users: read_list(path, "users.json", "users")?,
            orgs: read_list(path, "orgs.json", "orgs")?,
            store_points: read_list(path, "storePoints.json", "storePoints")?,
            servers: read_list(path, "servers.json", "servers")?,
        })
    }
}

/// A local account, for `GET /api/v3/auth/jwt`.
#[derive(Debug, Clone)]
pub struct LocalAccount {
    pub username: String,
    pub password: String,
    /// Base32 TOTP secret (spaces, `=` padding and case are ignored); `Some` requires the
    /// `totp-auth` header.
    pub totp_secret: Option<String>,
    /// `false` answers 403 on `StorePoint` and `Server`.
    pub admin: bool,
}

/// An API client, for `POST /api/v3/oauth/token`.
#[derive(Debug, Clone)]
pub struct ApiClient {
    pub client_id: String,
    pub secret: String,
    pub admin: bool,
}

/// Who may call the console, and how it pages.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    pub accounts: Vec<LocalAccount>,
    pub api_clients: Vec<ApiClient>,
    /// Tokens accepted as they are, with the administrator flag of their account (a token an
    /// operator pasted into a file).
    pub static_tokens: Vec<(String, bool)>,
    /// How long an issued token stays valid.
    pub token_lifetime: Duration,
    /// The largest `pgSize` honoured (`Some(250)` for older servers); `None` = no cap.
    pub max_page_size: Option<usize>,
}

impl Default for ConsoleConfig {
    /// One administrator `admin`/`admin` without TOTP, no API client, no static token, tokens
    /// valid for an hour, no page size cap.
    fn default() -> Self {
        ConsoleConfig {
            accounts: vec![LocalAccount {
                username: "admin".to_owned(),
                password: "admin".to_owned(),
                totp_secret: None,
                admin: true,
            }],
            api_clients: Vec::new(),
            static_tokens: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            max_page_size: None,
        }
    }
}

fn totp_of(secret_base32: &str) -> Option<Totp> {
    let cleaned: String = secret_base32
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let secret = Secret::try_from_base32(cleaned).ok()?;
    Some(
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(30)
            .with_secret(secret)
            .build_noncompliant(),
    )
}

/// The 6-digit code an authenticator app shows at `unix_time` for `secret_base32` (as the
/// server checks it). An invalid secret gives an empty string, which no server accepts.
pub fn totp_code(secret_base32: &str, unix_time: u64) -> String {
    totp_of(secret_base32)
        .map(|t| t.generate(unix_time).to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Pre-rendered items
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Entry {
    /// The object without `backupUsage`.
    base: Range<usize>,
    /// The `backupUsage` value, when the object has one.
    usage: Option<Range<usize>>,
    /// The item's `"active"`, when it is a boolean.
    active: Option<bool>,
}

impl Entry {
    fn len(&self, with_usage: bool) -> usize {
        let usage = match (&self.usage, with_usage) {
            (Some(u), true) => u.len() + 16,
            _ => 0,
        };
        self.base.len() + usage
    }
}

/// The items of one resource, rendered once into one buffer.
#[derive(Debug, Default)]
struct Rendered {
    buf: Vec<u8>,
    entries: Vec<Entry>,
}

impl Rendered {
    fn new(items: &[Value], split_usage: bool) -> Rendered {
        let mut buf = Vec::new();
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if i == 8 {
                // Room for everything, judging by the first items, to spare the copies of a
                // growing buffer.
                buf.reserve((buf.len() / 8 + 64) * (items.len() - 8) * 21 / 20);
            }
            let active = item.get("active").and_then(Value::as_bool);
            let start = buf.len();
            let mut usage = None;
            match item {
                Value::Object(map) => {
                    buf.push(b'{');
                    let mut first = true;
                    for (key, value) in map {
                        if split_usage && key == "backupUsage" {
                            continue;
                        }
                        if !first {
                            buf.push(b',');
                        }
                        first = false;
                        let _ = serde_json::to_writer(&mut buf, key);
                        buf.push(b':');
                        let _ = serde_json::to_writer(&mut buf, value);
                    }
                    buf.push(b'}');
                    if let Some(value) = map.get("backupUsage").filter(|_| split_usage) {
                        let usage_start = buf.len();
                        let _ = serde_json::to_writer(&mut buf, value);
                        usage = Some(usage_start..buf.len());
                        entries.push(Entry {
                            base: start..usage_start,
                            usage,
                            active,
                        });
                        continue;
                    }
                }
                other => {
                    let _ = serde_json::to_writer(&mut buf, other);
                }
            }
            entries.push(Entry {
                base: start..buf.len(),
                usage,
                active,
            });
        }
        Rendered { buf, entries }
    }

    fn write(&self, entry: &Entry, with_usage: bool, out: &mut Vec<u8>) {
        let base = &self.buf[entry.base.clone()];
        match (&entry.usage, with_usage) {
            (Some(usage), true) if base.len() >= 2 => {
                out.extend_from_slice(&base[..base.len() - 1]);
                if base.len() > 2 {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"backupUsage\":");
                out.extend_from_slice(&self.buf[usage.clone()]);
                out.push(b'}');
            }
            _ => out.extend_from_slice(base),
        }
    }
}

/// A dataset as served: the items and their rendering.
struct Served {
    dataset: Arc<Dataset>,
    computers: Rendered,
    users: Rendered,
    orgs: Rendered,
    store_points: Rendered,
    servers: Rendered,
}

impl Served {
    fn new(dataset: Dataset) -> Served {
        Served {
            computers: Rendered::new(&dataset.computers, true),
            users: Rendered::new(&dataset.users, false),
            orgs: Rendered::new(&dataset.orgs, false),
            store_points: Rendered::new(&dataset.store_points, false),
            servers: Rendered::new(&dataset.servers, false),
            dataset: Arc::new(dataset),
        }
    }

    fn rendered(&self, resource: Resource) -> &Rendered {
        match resource {
            Resource::Computers => &self.computers,
            Resource::Users => &self.users,
            Resource::Orgs => &self.orgs,
            Resource::StorePoints => &self.store_points,
            Resource::Servers => &self.servers,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

struct Issued {
    admin: bool,
    expires: Instant,
}

struct Shared {
    config: ConsoleConfig,
    /// One per entry of `config.accounts`.
    totps: Vec<Option<Totp>>,
    served: Mutex<Arc<Served>>,
    faults: Arc<Faults>,
    requests: Arc<RequestLog>,
    tokens: Mutex<HashMap<String, Issued>>,
    issued: AtomicUsize,
}

/// A running simulated console, listening on 127.0.0.1. It stops when [`Simulator::shutdown`]
/// is called or when the `SimServer` is dropped.
pub struct SimServer {
    running: Running,
    shared: Arc<Shared>,
}

impl Simulator for SimServer {
    type Dataset = Dataset;
    type Config = ConsoleConfig;

    /// Fails when an account's TOTP secret is not base32.
    async fn start_on(
        addr: SocketAddr,
        dataset: Dataset,
        config: ConsoleConfig,
    ) -> std::io::Result<SimServer> {
        let mut totps = Vec::with_capacity(config.accounts.len());
        for account in &config.accounts {
            match &account.totp_secret {
                None => totps.push(None),
                Some(secret) => match totp_of(secret) {
                    Some(totp) => totps.push(Some(totp)),
                    None => {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!(
                                "the TOTP secret of account {:?} is not base32",
                                account.username
                            ),
                        ))
                    }
                },
            }
        }
        let (running, shared) = Running::start(
            addr,
            |bound| Shared {
                config,
                totps,
                served: Mutex::new(Arc::new(Served::new(dataset))),
                faults: bound.faults,
                requests: bound.requests,
                tokens: Mutex::new(HashMap::new()),
                issued: AtomicUsize::new(0),
            },
            |shared, req| async move { handle(&shared, req).await },
        )
        .await?;
        Ok(SimServer { running, shared })
    }

    /// Renders `dataset` first.
    fn set_dataset(&self, dataset: Dataset) {
        swap_served(&self.shared.served, Served::new(dataset));
    }

    fn running(&self) -> &Running {
        &self.running
    }

    fn into_running(self) -> Running {
        self.running
    }
}

impl SimServer {
    /// The data currently served.
    pub fn dataset(&self) -> Arc<Dataset> {
        Arc::clone(&lock(&self.shared.served).dataset)
    }

    /// Invalidates every token issued so far (static tokens stay valid), as a console restart
    /// does.
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// How many tokens the auth endpoints issued so far.
    pub fn auth_count(&self) -> usize {
        self.shared.issued.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn issue_token(&self, subject: &str, admin: bool) -> String {
        let lifetime = self.config.token_lifetime;
        let iat = unix_now() as u64;
        let header = base64url_encode(br#"{"alg":"RS256","kid":"c42-sim","typ":"JWT"}"#);
        let payload = json!({
            "sub": subject,
            "iat": iat,
            "exp": iat.saturating_add(lifetime.as_secs()),
            "jti": format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
        });
        let payload = base64url_encode(payload.to_string().as_bytes());
        let signature: Vec<u8> = (0..64).map(|_| fastrand::u8(..)).collect();
        let token = format!("{header}.{payload}.{}", base64url_encode(&signature));
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, t| t.expires > now);
        tokens.insert(
            token.clone(),
            Issued {
                admin,
                expires: now + lifetime,
            },
        );
        self.issued.fetch_add(1, Ordering::Relaxed);
        token
    }

    /// The administrator flag of the account behind the request's bearer token, if the token
    /// is valid.
    fn bearer_account(&self, req: &Request<Incoming>) -> Option<bool> {
        let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, token) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim();
        if let Some((_, admin)) = self.config.static_tokens.iter().find(|(t, _)| t == token) {
            return Some(*admin);
        }
        let mut tokens = lock(&self.tokens);
        let issued = tokens.get(token)?;
        if issued.expires > Instant::now() {
            Some(issued.admin)
        } else {
            tokens.remove(token);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Computers,
    Users,
    Orgs,
    StorePoints,
    Servers,
}

impl Resource {
    /// The endpoint name, which is also the key of the items under `data`.
    fn name(self) -> &'static str {
        match self {
            Resource::Computers => "computers",
            Resource::Users => "users",
            Resource::Orgs => "orgs",
            Resource::StorePoints => "storePoints",
            Resource::Servers => "servers",
        }
    }

    fn admin_only(self) -> bool {
        matches!(self, Resource::StorePoints | Resource::Servers)
    }

    fn has_active_filter(self) -> bool {
        matches!(self, Resource::Computers | Resource::Users)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Jwt,
    OAuth,
    List(Resource),
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let path = path.strip_suffix('/').unwrap_or(path);
        Some(match path {
            "/api/v3/auth/jwt" => Route::Jwt,
            "/api/v3/oauth/token" => Route::OAuth,
            "/api/v1/Computer" => Route::List(Resource::Computers),
            "/api/v1/User" => Route::List(Resource::Users),
            "/api/v1/Org" => Route::List(Resource::Orgs),
            "/api/StorePoint" => Route::List(Resource::StorePoints),
            "/api/Server" => Route::List(Resource::Servers),
            _ => return None,
        })
    }

    fn endpoint(self) -> &'static str {
        match self {
            Route::Jwt => "jwt",
            Route::OAuth => "oauth",
            Route::List(resource) => resource.name(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let route = Route::parse(req.uri().path());
    let endpoint = route.map_or(UNKNOWN_ENDPOINT, Route::endpoint);
    shared.requests.record(endpoint, &req);

    let taken = shared.faults.take(endpoint);
    if let Some(delay) = taken.fault.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(resp) = crate::sim::hostile_answer(&taken.fault) {
        return resp;
    }
    match route {
        Some(Route::Jwt) => jwt(shared, &req, &taken),
        Some(Route::OAuth) => oauth(shared, req, &taken).await,
        Some(Route::List(resource)) => data(shared, &req, Some(resource), &taken),
        None => data(shared, &req, None, &taken),
    }
}

fn injected_status(taken: &Taken) -> Option<StatusCode> {
    taken
        .fault
        .status
        .map(|code| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
}

fn method_not_allowed(allow: &'static str, body: Resp) -> Resp {
    let mut resp = body;
    *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

/// A `/api/v3/auth` error: `{"data": null, "error": [{"primaryErrorKey": ..}], ..}`.
fn v3_error(status: StatusCode, key: &str, description: &str) -> Resp {
    json_response(
        status,
        &json!({
            "data": null,
            "error": [{
                "primaryErrorKey": key,
                "otherErrors": null,
                "description": description,
            }],
            "warnings": null,
        }),
    )
}

/// An OAuth 2 token endpoint error.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Resp {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// A `/api/v1` error list.
fn v1_error(status: StatusCode, name: &str, description: &str) -> Resp {
    json_response(
        status,
        &json!([{"name": name, "description": description, "objects": []}]),
    )
}

fn jwt(shared: &Shared, req: &Request<Incoming>, taken: &Taken) -> Resp {
    if req.method() != Method::GET {
        return method_not_allowed(
            "GET",
            v3_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Use GET",
            ),
        );
    }
    if let Some(status) = injected_status(taken) {
        return v3_error(status, "SYSTEM", "Injected fault");
    }
    let credentials = parse_basic_auth(req.headers().get(AUTHORIZATION));
    let found = credentials.as_ref().and_then(|(user, password)| {
        shared
            .config
            .accounts
            .iter()
            .zip(&shared.totps)
            .find(|(a, _)| &a.username == user && &a.password == password)
    });
    let Some((account, totp)) = found else {
        return v3_error(
            StatusCode::UNAUTHORIZED,
            BAD_CREDENTIALS_ERROR,
            "Invalid username or password",
        );
    };
    if let Some(totp) = totp {
        let code = req
            .headers()
            .get(TOTP_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let Some(code) = code else {
            return v3_error(
                StatusCode::UNAUTHORIZED,
                MFA_REQUIRED_ERROR,
                "This user requires a time-based one-time password (totp-auth header)",
            );
        };
        if totp.check(code, unix_now() as u64).is_none() {
            return v3_error(
                StatusCode::UNAUTHORIZED,
                TOTP_INVALID_ERROR,
                "Invalid time-based one-time password",
            );
        }
    }
    let token = shared.issue_token(&account.username, account.admin);
    let body = json!({"data": {"v3_user_token": token}, "error": null, "warnings": null});
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    json_bytes_response(StatusCode::OK, apply_body_fault(&taken.fault, bytes))
}

async fn oauth(shared: &Shared, req: Request<Incoming>, taken: &Taken) -> Resp {
    if req.method() != Method::POST {
        return method_not_allowed(
            "POST",
            oauth_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "Use POST",
            ),
        );
    }
    if let Some(status) = injected_status(taken) {
        return oauth_error(status, "server_error", "Injected fault");
    }
    let credentials = parse_basic_auth(req.headers().get(AUTHORIZATION));
    let mut grant_type = first_param(&query_params(&req), "grant_type").map(str::to_owned);
    if grant_type.is_none() {
        // The standard place: an application/x-www-form-urlencoded body.
        if let Ok(body) = Limited::new(req.into_body(), 64 * 1024).collect().await {
            let body = body.to_bytes();
            grant_type = url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == "grant_type")
                .map(|(_, v)| v.into_owned());
        }
    }
    if grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let client = credentials.as_ref().and_then(|(id, secret)| {
        shared
            .config
            .api_clients
            .iter()
            .find(|c| &c.client_id == id && &c.secret == secret)
    });
    let Some(client) = client else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client or wrong secret",
        );
    };
    let token = shared.issue_token(&client.client_id, client.admin);
    let body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": shared.config.token_lifetime.as_secs(),
    });
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    json_bytes_response(StatusCode::OK, apply_body_fault(&taken.fault, bytes))
}

fn data(
    shared: &Shared,
    req: &Request<Incoming>,
    resource: Option<Resource>,
    taken: &Taken,
) -> Resp {
    let Some(admin) = shared.bearer_account(req) else {
        return v1_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "A valid bearer token is required",
        );
    };
    let Some(resource) = resource else {
        return v1_error(StatusCode::NOT_FOUND, "NOT_FOUND", "No such resource");
    };
    if req.method() != Method::GET {
        return method_not_allowed(
            "GET",
            v1_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "This resource is read-only here",
            ),
        );
    }
    if let Some(status) = injected_status(taken) {
        return v1_error(status, "SYSTEM", "Injected fault");
    }
    if resource.admin_only() && !admin {
        return v1_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "Only administrators can access this resource",
        );
    }
    let params = query_params(req);
    let query = match ListQuery::from_params(&params, resource, shared.config.max_page_size) {
        Ok(query) => query,
        Err(message) => return v1_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &message),
    };
    let served = Arc::clone(&lock(&shared.served));
    let body = page(&served, resource, &query, &params, taken);
    json_bytes_response(StatusCode::OK, apply_body_fault(&taken.fault, body))
}

/// What one list request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ListQuery {
    /// 1-based.
    page: usize,
    size: usize,
    active: Option<bool>,
    with_usage: bool,
}

impl ListQuery {
    fn from_params(
        params: &[(String, String)],
        resource: Resource,
        max_page_size: Option<usize>,
    ) -> Result<ListQuery, String> {
        let positive = |name: &str, default: usize| -> Result<usize, String> {
            match first_param(params, name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(format!("Invalid value for {name}: {v:?}")),
                },
            }
        };
        let page = positive("pgNum", 1)?;
        let mut size = positive("pgSize", DEFAULT_PAGE_SIZE)?;
        if let Some(max) = max_page_size {
            size = size.min(max.max(1));
        }
        let active = match first_param(params, "active") {
            Some(v) if resource.has_active_filter() => {
                if v.trim().eq_ignore_ascii_case("true") {
                    Some(true)
                } else if v.trim().eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    return Err(format!("Invalid value for active: {v:?}"));
                }
            }
            _ => None,
        };
        let with_usage = resource == Resource::Computers
            && first_param(params, "incBackupUsage")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Ok(ListQuery {
            page,
            size,
            active,
            with_usage,
        })
    }
}

/// The whole response body of one list page.
fn page(
    served: &Served,
    resource: Resource,
    query: &ListQuery,
    params: &[(String, String)],
    taken: &Taken,
) -> Vec<u8> {
    let rendered = served.rendered(resource);
    let matching = || {
        rendered
            .entries
            .iter()
            .filter(|e| query.active.is_none_or(|want| e.active == Some(want)))
    };
    let total = matching().count();
    let selected: Vec<&Entry> = if taken.ignore_paging {
        matching().collect()
    } else {
        let start = if taken.ignore_offset {
            0
        } else {
            (query.page - 1).saturating_mul(query.size)
        };
        matching().skip(start).take(query.size).collect()
    };

    let mut echoed = Map::new();
    for (k, v) in params {
        if !echoed.contains_key(k) {
            echoed.insert(k.clone(), Value::String(v.clone()));
        }
    }
    let metadata = json!({
        "timestamp": server_timestamp(chrono::Utc::now()),
        "params": echoed,
    });
    let items_len: usize = selected.iter().map(|e| e.len(query.with_usage) + 1).sum();
    let mut out = Vec::with_capacity(items_len + 512);
    out.extend_from_slice(b"{\"metadata\":");
    let _ = serde_json::to_writer(&mut out, &metadata);
    let _ = write!(
        out,
        ",\"data\":{{\"totalCount\":{},\"{}\":[",
        lying_count(total, taken.count_off_by),
        resource.name()
    );
    for (i, entry) in selected.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        rendered.write(entry, query.with_usage, &mut out);
    }
    out.extend_from_slice(b"]}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::code42::sim::fleet::{document_sample, large_console};

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn config() -> ConsoleConfig {
        ConsoleConfig {
            accounts: vec![
                LocalAccount {
                    username: "admin".into(),
                    password: "admin".into(),
                    totp_secret: None,
                    admin: true,
                },
                LocalAccount {
                    username: "viewer@example.com".into(),
                    password: "view-only".into(),
                    totp_secret: None,
                    admin: false,
                },
                LocalAccount {
                    username: "mfa@example.com".into(),
                    password: "s3cret".into(),
                    totp_secret: Some(SECRET.to_lowercase()),
                    admin: true,
                },
            ],
            api_clients: vec![ApiClient {
                client_id: "key-123".into(),
                secret: "client-secret".into(),
                admin: true,
            }],
            static_tokens: vec![
                ("static-admin".into(), true),
                ("static-viewer".into(), false),
            ],
            ..ConsoleConfig::default()
        }
    }

    async fn start(dataset: Dataset) -> SimServer {
        SimServer::start(dataset, config()).await.unwrap()
    }

    fn client() -> reqwest::Client {
        crate::tls::install_crypto_provider();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    }

    struct Reply {
        status: u16,
        allow: Option<String>,
        content_type: Option<String>,
        body: String,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
        }
    }

    async fn send(rb: reqwest::RequestBuilder) -> Reply {
        let resp = rb.send().await.unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (allow, content_type) = (header("allow"), header("content-type"));
        let status = resp.status().as_u16();
        Reply {
            status,
            allow,
            content_type,
            body: resp.text().await.unwrap(),
        }
    }

    async fn get_with(server: &SimServer, path: &str, token: &str) -> Reply {
        send(
            client()
                .get(format!("{}{path}", server.url()))
                .bearer_auth(token),
        )
        .await
    }

    async fn get(server: &SimServer, path: &str) -> Reply {
        get_with(server, path, "static-admin").await
    }

    async fn jwt_login(
        server: &SimServer,
        user: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Reply {
        let mut rb = client()
            .get(format!("{}/api/v3/auth/jwt?useBody=true", server.url()))
            .basic_auth(user, Some(password));
        if let Some(code) = totp {
            rb = rb.header(TOTP_HEADER, code);
        }
        send(rb).await
    }

    fn names(reply: &Reply) -> Vec<String> {
        reply.json()["data"]["computers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn numbered(n: usize) -> Dataset {
        Dataset {
            computers: (1..=n)
                .map(|i| {
                    json!({
                        "computerId": i,
                        "name": format!("c{i}"),
                        "active": i % 3 != 0,
                        "backupUsage": [{"targetComputerId": 2, "percentComplete": 100}],
                    })
                })
                .collect(),
            ..Dataset::default()
        }
    }

    #[tokio::test]
    async fn jwt_login_then_data() {
        let server = start(document_sample()).await;
        let reply = jwt_login(&server, "admin", "admin", None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type.as_deref(), Some(CONTENT_TYPE_JSON));
        let body = reply.json();
        assert_eq!(body["error"], Value::Null);
        assert_eq!(body["warnings"], Value::Null);
        let token = body["data"]["v3_user_token"].as_str().unwrap().to_owned();
        assert_eq!(token.split('.').count(), 3, "{token}");
        assert!(token.len() > 100);
        assert_eq!(server.auth_count(), 1);

        let reply = get_with(&server, "/api/v1/Computer", &token).await;
        assert_eq!(reply.status, 200);
        assert_eq!(names(&reply), vec!["Alpha", "Beta"]);
        // A second login gives a different token.
        let again = jwt_login(&server, "admin", "admin", None).await.json();
        assert_ne!(
            again["data"]["v3_user_token"].as_str(),
            Some(token.as_str())
        );
        assert_eq!(server.auth_count(), 2);
        assert_eq!(server.request_count("jwt"), 2);
        assert_eq!(server.request_count("computers"), 1);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn bad_credentials_and_wrong_methods() {
        let server = start(document_sample()).await;
        for (user, password) in [("admin", "nope"), ("nobody", "admin"), ("", "")] {
            let reply = jwt_login(&server, user, password, None).await;
            assert_eq!(reply.status, 401, "{user}");
            let body = reply.json();
            assert_eq!(body["data"], Value::Null);
            assert_eq!(
                body["error"][0]["primaryErrorKey"],
                json!(BAD_CREDENTIALS_ERROR)
            );
        }
        // No Authorization at all.
        let reply =
            send(client().get(format!("{}/api/v3/auth/jwt?useBody=true", server.url()))).await;
        assert_eq!(reply.status, 401);
        // The API client's credentials are not a local account.
        assert_eq!(
            jwt_login(&server, "key-123", "client-secret", None)
                .await
                .status,
            401
        );
        assert_eq!(server.auth_count(), 0);

        let reply = send(
            client()
                .post(format!("{}/api/v3/auth/jwt?useBody=true", server.url()))
                .basic_auth("admin", Some("admin")),
        )
        .await;
        assert_eq!(reply.status, 405);
        assert_eq!(reply.allow.as_deref(), Some("GET"));
        let reply = send(
            client()
                .get(format!(
                    "{}/api/v3/oauth/token?grant_type=client_credentials",
                    server.url()
                ))
                .basic_auth("key-123", Some("client-secret")),
        )
        .await;
        assert_eq!(reply.status, 405);
        assert_eq!(reply.allow.as_deref(), Some("POST"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn totp_missing_wrong_and_right() {
        let server = start(document_sample()).await;
        let reply = jwt_login(&server, "mfa@example.com", "s3cret", None).await;
        assert_eq!(reply.status, 401);
        assert!(reply.body.contains(MFA_REQUIRED_ERROR), "{}", reply.body);

        let now = unix_now() as u64;
        let right = totp_code(SECRET, now);
        assert_eq!(right.len(), 6);
        assert!(right.bytes().all(|b| b.is_ascii_digit()));
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        let reply = jwt_login(&server, "mfa@example.com", "s3cret", Some(&wrong)).await;
        assert_eq!(reply.status, 401);
        assert!(reply.body.contains(TOTP_INVALID_ERROR), "{}", reply.body);
        assert!(!reply.body.contains(MFA_REQUIRED_ERROR));
        for junk in ["12345", "abcdef", "1234567"] {
            let reply = jwt_login(&server, "mfa@example.com", "s3cret", Some(junk)).await;
            assert_eq!(reply.status, 401, "{junk}");
        }
        // A right code with a wrong password is still a bad password.
        let reply = jwt_login(&server, "mfa@example.com", "nope", Some(&right)).await;
        assert!(reply.body.contains(BAD_CREDENTIALS_ERROR));
        assert_eq!(server.auth_count(), 0);

        let reply = jwt_login(&server, "mfa@example.com", "s3cret", Some(&right)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        // The previous step's code is still accepted (one step of skew).
        let previous = totp_code(SECRET, now - 30);
        let reply = jwt_login(&server, "mfa@example.com", "s3cret", Some(&previous)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(server.auth_count(), 2);
        server.shutdown().await;
    }

    #[test]
    fn totp_codes_match_rfc_6238() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", last 6 digits.
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(totp_code(secret, 59), "287082");
        assert_eq!(totp_code(secret, 1_111_111_109), "081804");
        assert_eq!(totp_code(secret, 2_000_000_000), "279037");
        assert_eq!(
            totp_code("gezd gnbv gy3t qojq gezd gnbv gy3t qojq", 59),
            "287082"
        );
        assert_eq!(totp_code("not base32!", 59), "");
    }

    #[tokio::test]
    async fn invalid_totp_secret_is_refused_at_start() {
        let mut config = config();
        config.accounts[2].totp_secret = Some("1nv@lid".into());
        assert!(SimServer::start(Dataset::default(), config).await.is_err());
    }

    #[tokio::test]
    async fn oauth_client_credentials() {
        let server = start(document_sample()).await;
        let url = format!("{}/api/v3/oauth/token", server.url());
        let reply = send(
            client()
                .post(format!("{url}?grant_type=client_credentials"))
                .basic_auth("key-123", Some("client-secret")),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["token_type"], json!("bearer"));
        assert_eq!(body["expires_in"], json!(3600));
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(get_with(&server, "/api/Server", &token).await.status, 200);

        // grant_type in a form body.
        let reply = send(
            client()
                .post(&url)
                .basic_auth("key-123", Some("client-secret"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials"),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.body);

        let reply = send(
            client()
                .post(format!("{url}?grant_type=client_credentials"))
                .basic_auth("key-123", Some("wrong")),
        )
        .await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["error"], json!("invalid_client"));
        let reply = send(
            client()
                .post(format!("{url}?grant_type=client_credentials"))
                .basic_auth("admin", Some("admin")),
        )
        .await;
        assert_eq!(reply.status, 401);
        let reply = send(
            client()
                .post(format!("{url}?grant_type=password"))
                .basic_auth("key-123", Some("client-secret")),
        )
        .await;
        assert_eq!(reply.status, 400);
        assert_eq!(server.auth_count(), 2);
        assert_eq!(server.request_count("oauth"), 5);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn tokens_static_missing_unknown_expired() {
        let mut config = config();
        config.token_lifetime = Duration::from_millis(300);
        let server = SimServer::start(document_sample(), config).await.unwrap();
        assert_eq!(get(&server, "/api/v1/Org").await.status, 200);
        assert_eq!(get_with(&server, "/api/v1/Org", "nope").await.status, 401);
        let reply = send(client().get(format!("{}/api/v1/Org", server.url()))).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()[0]["name"], json!("UNAUTHORIZED"));
        // Basic credentials are not a token.
        let reply = send(
            client()
                .get(format!("{}/api/v1/Org", server.url()))
                .basic_auth("admin", Some("admin")),
        )
        .await;
        assert_eq!(reply.status, 401);

        let token = jwt_login(&server, "admin", "admin", None).await.json()["data"]
            ["v3_user_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(get_with(&server, "/api/v1/Org", &token).await.status, 200);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(get_with(&server, "/api/v1/Org", &token).await.status, 401);
        // Static tokens never expire.
        assert_eq!(get(&server, "/api/v1/Org").await.status, 200);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn expire_tokens_invalidates_every_issued_token() {
        let server = start(document_sample()).await;
        let mut tokens = Vec::new();
        for _ in 0..2 {
            let body = jwt_login(&server, "admin", "admin", None).await.json();
            tokens.push(body["data"]["v3_user_token"].as_str().unwrap().to_owned());
        }
        for token in &tokens {
            assert_eq!(get_with(&server, "/api/v1/User", token).await.status, 200);
        }
        server.expire_tokens();
        for token in &tokens {
            assert_eq!(get_with(&server, "/api/v1/User", token).await.status, 401);
        }
        assert_eq!(get(&server, "/api/v1/User").await.status, 200);
        let body = jwt_login(&server, "admin", "admin", None).await.json();
        let fresh = body["data"]["v3_user_token"].as_str().unwrap();
        assert_eq!(get_with(&server, "/api/v1/User", fresh).await.status, 200);
        assert_eq!(server.auth_count(), 3);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn the_document_sample_as_documented() {
        let server = start(document_sample()).await;
        let reply = get(
            &server,
            "/api/v1/Computer?active=true&incBackupUsage=true&srtKey=lastBackup",
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type.as_deref(), Some(CONTENT_TYPE_JSON));
        let body = reply.json();
        assert_eq!(
            body["metadata"]["params"],
            json!({"incBackupUsage": "true", "srtKey": "lastBackup", "active": "true"})
        );
        let ts = body["metadata"]["timestamp"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(ts).unwrap();
        assert!(ts.ends_with("-05:00") && ts.len() == 29, "{ts}");
        let age = chrono::Utc::now().signed_duration_since(parsed);
        assert!(age.num_seconds().abs() < 60);
        assert_eq!(body["data"]["totalCount"], json!(2));
        let computers = body["data"]["computers"].as_array().unwrap();
        // Exactly the document's objects.
        assert_eq!(computers[0], document_sample().computers[0]);
        assert_eq!(computers[1], document_sample().computers[1]);
        assert_eq!(computers[0]["guid"], json!("619174385806213377"));
        assert_eq!(computers[0]["version"], json!(1375333203614u64));
        assert_eq!(
            computers[1]["backupUsage"][0]["lastCompletedBackup"],
            Value::Null
        );
        // backupUsage is written last, as in the document.
        let alpha = reply.body.find("\"name\":\"Alpha\"").unwrap();
        let usage = reply.body.find("\"backupUsage\"").unwrap();
        let beta = reply.body.find("\"name\":\"Beta\"").unwrap();
        assert!(alpha < usage && usage < beta);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn inc_backup_usage_on_and_off() {
        let server = start(document_sample()).await;
        for query in ["", "?incBackupUsage=false", "?incBackupUsage=no"] {
            let reply = get(&server, &format!("/api/v1/Computer{query}")).await;
            assert!(!reply.body.contains("backupUsage"), "{query}");
            let body = reply.json();
            let first = body["data"]["computers"][0].as_object().unwrap();
            assert_eq!(first.len(), COMPUTER_KEYS.len() - 1);
        }
        for query in ["?incBackupUsage=true", "?incBackupUsage=TRUE"] {
            let body = get(&server, &format!("/api/v1/Computer{query}"))
                .await
                .json();
            let first = body["data"]["computers"][0].as_object().unwrap();
            assert_eq!(first.len(), COMPUTER_KEYS.len(), "{query}");
            assert_eq!(first["backupUsage"][0]["percentComplete"], json!(100));
        }
        // Without backupUsage in the data, nothing is added.
        server.set_dataset(Dataset {
            computers: vec![json!({"computerId": 1}), json!({}), json!(7)],
            ..Dataset::default()
        });
        let body = get(&server, "/api/v1/Computer?incBackupUsage=true")
            .await
            .json();
        assert_eq!(body["data"]["computers"], json!([{"computerId": 1}, {}, 7]));
        server.set_dataset(Dataset {
            computers: vec![json!({"backupUsage": []})],
            ..Dataset::default()
        });
        let body = get(&server, "/api/v1/Computer?incBackupUsage=true")
            .await
            .json();
        assert_eq!(body["data"]["computers"], json!([{"backupUsage": []}]));
        let body = get(&server, "/api/v1/Computer").await.json();
        assert_eq!(body["data"]["computers"], json!([{}]));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn paging_and_total_count() {
        let server = start(numbered(7)).await;
        let mut pages = Vec::new();
        for n in 1..=4 {
            let reply = get(&server, &format!("/api/v1/Computer?pgNum={n}&pgSize=3")).await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.json()["data"]["totalCount"], json!(7));
            pages.push(names(&reply));
        }
        assert_eq!(
            pages,
            vec![
                vec!["c1", "c2", "c3"],
                vec!["c4", "c5", "c6"],
                vec!["c7"],
                Vec::<&str>::new(),
            ]
        );
        // Defaults: page 1 of 100.
        server.set_dataset(numbered(250));
        let reply = get(&server, "/api/v1/Computer").await;
        assert_eq!(names(&reply).len(), 100);
        assert_eq!(names(&reply)[0], "c1");
        let reply = get(&server, "/api/v1/Computer?pgNum=3").await;
        assert_eq!(names(&reply).len(), 50);
        assert_eq!(names(&reply)[0], "c201");
        let reply = get(&server, "/api/v1/Computer?pgSize=1000").await;
        assert_eq!(names(&reply).len(), 250);
        let reply = get(
            &server,
            "/api/v1/Computer?pgNum=18446744073709551615&pgSize=1000",
        )
        .await;
        assert_eq!(reply.status, 200);
        assert!(names(&reply).is_empty());
        for bad in [
            "pgNum=0",
            "pgSize=0",
            "pgNum=x",
            "pgSize=-5",
            "pgSize=1.5",
            "pgNum=",
            "pgSize=99999999999999999999999",
        ] {
            let reply = get(&server, &format!("/api/v1/Computer?{bad}")).await;
            assert_eq!(reply.status, 400, "{bad}");
            assert!(reply.json()[0]["description"].is_string());
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn max_page_size_clamps_like_older_servers() {
        let mut config = config();
        config.max_page_size = Some(250);
        let server = SimServer::start(numbered(600), config).await.unwrap();
        let reply = get(&server, "/api/v1/Computer?pgSize=500&pgNum=1").await;
        assert_eq!(names(&reply).len(), 250);
        assert_eq!(reply.json()["data"]["totalCount"], json!(600));
        assert_eq!(reply.json()["metadata"]["params"]["pgSize"], json!("500"));
        let reply = get(&server, "/api/v1/Computer?pgSize=500&pgNum=2").await;
        let page = names(&reply);
        assert_eq!((page.len(), page[0].as_str()), (250, "c251"));
        let reply = get(&server, "/api/v1/Computer?pgSize=500&pgNum=3").await;
        let page = names(&reply);
        assert_eq!((page.len(), page[0].as_str()), (100, "c501"));
        assert_eq!(
            names(&get(&server, "/api/v1/Computer?pgSize=10").await).len(),
            10
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn active_filter() {
        // c3 and c6 are inactive.
        let server = start(numbered(7)).await;
        let reply = get(&server, "/api/v1/Computer?active=true").await;
        assert_eq!(names(&reply), vec!["c1", "c2", "c4", "c5", "c7"]);
        assert_eq!(reply.json()["data"]["totalCount"], json!(5));
        let reply = get(&server, "/api/v1/Computer?active=false").await;
        assert_eq!(names(&reply), vec!["c3", "c6"]);
        assert_eq!(reply.json()["data"]["totalCount"], json!(2));
        let reply = get(&server, "/api/v1/Computer?active=true&pgSize=2&pgNum=2").await;
        assert_eq!(names(&reply), vec!["c4", "c5"]);
        assert_eq!(names(&get(&server, "/api/v1/Computer").await).len(), 7);
        assert_eq!(
            get(&server, "/api/v1/Computer?active=maybe").await.status,
            400
        );

        let server2 = start(document_sample()).await;
        let body = get(&server2, "/api/v1/User?active=true").await.json();
        assert_eq!(body["data"]["totalCount"], json!(2));
        let body = get(&server2, "/api/v1/User?active=false").await.json();
        assert_eq!(body["data"]["users"], json!([]));
        // Orgs take no active filter: echoed and ignored.
        let body = get(&server2, "/api/v1/Org?active=whatever").await.json();
        assert_eq!(body["data"]["totalCount"], json!(1));
        assert_eq!(body["metadata"]["params"]["active"], json!("whatever"));
        server.shutdown().await;
        server2.shutdown().await;
    }

    #[tokio::test]
    async fn every_resource_and_admin_only() {
        let server = start(document_sample()).await;
        for (path, key, count) in [
            ("/api/v1/User", "users", 2),
            ("/api/v1/Org", "orgs", 1),
            ("/api/StorePoint", "storePoints", 1),
            ("/api/Server", "servers", 1),
            ("/api/v1/Computer/", "computers", 2),
        ] {
            let reply = get(&server, path).await;
            assert_eq!(reply.status, 200, "{path}");
            let body = reply.json();
            assert_eq!(body["data"]["totalCount"], json!(count), "{path}");
            assert_eq!(
                body["data"][key].as_array().map(Vec::len),
                Some(count),
                "{path}"
            );
        }
        let servers = get(&server, "/api/Server").await.json();
        assert_eq!(
            servers["data"]["servers"][0]["guid"],
            json!("647903643760066817")
        );

        for path in ["/api/StorePoint", "/api/Server"] {
            let reply = get_with(&server, path, "static-viewer").await;
            assert_eq!(reply.status, 403, "{path}");
        }
        assert_eq!(
            get_with(&server, "/api/v1/Computer", "static-viewer")
                .await
                .status,
            200
        );
        // A non-admin local account, logged in.
        let body = jwt_login(&server, "viewer@example.com", "view-only", None)
            .await
            .json();
        let token = body["data"]["v3_user_token"].as_str().unwrap();
        assert_eq!(get_with(&server, "/api/Server", token).await.status, 403);
        assert_eq!(get_with(&server, "/api/v1/User", token).await.status, 200);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let server = start(document_sample()).await;
        for path in [
            "/",
            "/api/v1/Computer/10",
            "/api/v1/computer",
            "/api/v1/StorePoint",
            "/api/v3/auth",
            "/api/v1/Nothing",
        ] {
            let reply = get(&server, path).await;
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.json()[0]["name"], json!("NOT_FOUND"));
        }
        assert_eq!(server.request_count(UNKNOWN_ENDPOINT), 6);
        for method in [Method::POST, Method::PUT, Method::DELETE] {
            let reply = send(
                client()
                    .request(
                        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
                        format!("{}/api/v1/User", server.url()),
                    )
                    .bearer_auth("static-admin"),
            )
            .await;
            assert_eq!(reply.status, 405, "{method}");
            assert_eq!(reply.allow.as_deref(), Some("GET"));
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn faults_on_data_and_auth_endpoints() {
        let server = start(numbered(5)).await;
        server.faults().set(
            "computers",
            Fault {
                status: Some(503),
                ..Fault::default()
            },
        );
        assert_eq!(get(&server, "/api/v1/Computer").await.status, 503);
        assert_eq!(get(&server, "/api/v1/User").await.status, 200);
        server.faults().clear("computers");
        let whole = get(&server, "/api/v1/Computer").await.body;

        server.faults().set(
            "computers",
            Fault {
                truncate: true,
                ..Fault::default()
            },
        );
        let reply = get(&server, "/api/v1/Computer").await;
        assert_eq!(reply.status, 200);
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());
        assert!(reply.body.len() < whole.len() * 2 / 3);

        server.faults().set(
            "computers",
            Fault {
                garbage: true,
                ..Fault::default()
            },
        );
        let reply = get(&server, "/api/v1/Computer").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type.as_deref(), Some(CONTENT_TYPE_JSON));
        assert!(reply.body.starts_with("<html>"));

        // Auth endpoints: a counted status fault, then a garbled token response.
        server.faults().clear_all();
        server.faults().set_times(
            "jwt",
            Fault {
                status: Some(500),
                ..Fault::default()
            },
            1,
        );
        let reply = jwt_login(&server, "admin", "admin", None).await;
        assert_eq!(reply.status, 500);
        assert!(reply.json()["error"][0]["primaryErrorKey"].is_string());
        assert_eq!(jwt_login(&server, "admin", "admin", None).await.status, 200);
        server.faults().set(
            "oauth",
            Fault {
                truncate: true,
                ..Fault::default()
            },
        );
        let reply = send(
            client()
                .post(format!(
                    "{}/api/v3/oauth/token?grant_type=client_credentials",
                    server.url()
                ))
                .basic_auth("key-123", Some("client-secret")),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());

        // "*" everywhere without a fault of its own.
        server.faults().clear_all();
        server.faults().set(
            "*",
            Fault {
                status: Some(502),
                ..Fault::default()
            },
        );
        server.faults().set("orgs", Fault::default());
        assert_eq!(get(&server, "/api/v1/User").await.status, 502);
        assert_eq!(jwt_login(&server, "admin", "admin", None).await.status, 502);
        assert_eq!(get(&server, "/api/v1/Org").await.status, 200);

        // Delay.
        server.faults().clear_all();
        server.faults().set(
            "users",
            Fault {
                delay: Some(Duration::from_secs(30)),
                ..Fault::default()
            },
        );
        let outcome =
            tokio::time::timeout(Duration::from_millis(200), get(&server, "/api/v1/User")).await;
        assert!(outcome.is_err());
        tokio::time::timeout(Duration::from_secs(5), server.shutdown())
            .await
            .expect("shutdown hangs");
    }

    #[tokio::test]
    async fn paging_misbehaviours_and_lying_total() {
        let server = start(numbered(7)).await;
        server.faults().set_ignore_paging(true);
        let reply = get(&server, "/api/v1/Computer?pgNum=2&pgSize=3").await;
        assert_eq!(names(&reply).len(), 7);
        let reply = get(&server, "/api/v1/Computer?pgNum=2&pgSize=3&active=false").await;
        assert_eq!(names(&reply), vec!["c3", "c6"]);
        server.faults().set_ignore_paging(false);
        server.faults().set_ignore_offset(true);
        let reply = get(&server, "/api/v1/Computer?pgNum=2&pgSize=3").await;
        assert_eq!(names(&reply), vec!["c1", "c2", "c3"]);
        server.faults().clear_all();

        server.faults().set_count_off_by(5);
        let reply = get(&server, "/api/v1/Computer?pgSize=3").await;
        assert_eq!(reply.json()["data"]["totalCount"], json!(12));
        assert_eq!(names(&reply).len(), 3);
        server.faults().set_count_off_by(-3);
        let reply = get(&server, "/api/v1/Computer?pgSize=3&pgNum=3").await;
        assert_eq!(reply.json()["data"]["totalCount"], json!(4));
        assert_eq!(names(&reply), vec!["c7"]);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn big_numbers_are_written_digit_for_digit() {
        let big: u64 = 843195742699662017; // above 2^53, not representable as a double
        assert_ne!((big as f64) as u64, big);
        let server = start(Dataset {
            computers: vec![json!({
                "computerId": 1,
                "guid": big,
                "backupUsage": [{"targetComputerGuid": big + 2, "archiveBytes": u64::MAX}],
            })],
            servers: vec![json!({"serverId": 3, "guid": big + 4})],
            ..Dataset::default()
        })
        .await;
        let reply = get(&server, "/api/v1/Computer?incBackupUsage=true").await;
        assert!(reply.body.contains("\"guid\":843195742699662017"));
        assert!(reply
            .body
            .contains("\"targetComputerGuid\":843195742699662019"));
        assert!(reply.body.contains("\"archiveBytes\":18446744073709551615"));
        assert_eq!(
            reply.json()["data"]["computers"][0]["guid"].as_u64(),
            Some(big)
        );
        let reply = get(&server, "/api/Server").await;
        assert!(reply.body.contains("\"guid\":843195742699662021"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn request_log_and_dataset_swap() {
        let server = start(document_sample()).await;
        jwt_login(&server, "admin", "admin", None).await;
        get(&server, "/api/v1/Computer?pgNum=1&pgSize=500").await;
        get(&server, "/api/StorePoint").await;
        get(&server, "/nope").await;
        assert_eq!(
            server.requested_paths(),
            vec![
                "/api/v3/auth/jwt?useBody=true",
                "/api/v1/Computer?pgNum=1&pgSize=500",
                "/api/StorePoint",
                "/nope",
            ]
        );
        assert_eq!(server.request_count("jwt"), 1);
        assert_eq!(server.request_count("storePoints"), 1);
        assert_eq!(server.request_count("servers"), 0);
        server.clear_requests();
        assert!(server.requested_paths().is_empty());

        server.set_dataset(numbered(3));
        assert_eq!(server.dataset().computers.len(), 3);
        assert_eq!(
            names(&get(&server, "/api/v1/Computer").await),
            vec!["c1", "c2", "c3"]
        );
        assert!(server.url().starts_with("http://127.0.0.1:"));
        server.shutdown().await;
    }

    #[test]
    fn rendering_matches_serde_json() {
        let dataset = large_console(50, 2, chrono::Utc::now());
        let rendered = Rendered::new(&dataset.computers, true);
        for (entry, item) in rendered.entries.iter().zip(&dataset.computers) {
            let mut with = Vec::new();
            rendered.write(entry, true, &mut with);
            assert_eq!(serde_json::from_slice::<Value>(&with).unwrap(), *item);
            let mut without = Vec::new();
            rendered.write(entry, false, &mut without);
            let mut expected = item.clone();
            expected.as_object_mut().unwrap().remove("backupUsage");
            assert_eq!(serde_json::from_slice::<Value>(&without).unwrap(), expected);
            assert!(entry.len(true) >= with.len());
        }
    }

    #[tokio::test]
    async fn from_dir_reads_arrays_envelopes_and_single_objects() {
        let dir = tempfile::tempdir().unwrap();
        let sample = document_sample();
        let envelope = json!({
            "metadata": {"timestamp": "2014-08-07T15:31:21.466-05:00", "params": {}},
            "data": {"totalCount": 2, "computers": sample.computers},
        });
        std::fs::write(dir.path().join("computers.json"), envelope.to_string()).unwrap();
        std::fs::write(
            dir.path().join("users.json"),
            serde_json::to_string(&sample.users).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("servers.json"),
            sample.servers[0].to_string(),
        )
        .unwrap();
        let d = Dataset::from_dir(dir.path()).unwrap();
        assert_eq!(d.computers, sample.computers);
        assert_eq!(d.users, sample.users);
        assert_eq!(d.servers, sample.servers);
        assert!(d.orgs.is_empty() && d.store_points.is_empty());
        std::fs::write(dir.path().join("orgs.json"), "[1,").unwrap();
        let err = Dataset::from_dir(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("orgs.json"), "{err:#}");
    }
}
