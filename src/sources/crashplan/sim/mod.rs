//! A simulated CrashPlan PRO server: the legacy REST API (release 3.08.2010 and later) as the
//! vendor documents it, read-only.
//!
//! Used by the `demo` command (with [`fleet::demo_fleet`]) and by the
//! integration tests (with fixture payloads and injected [`Fault`]s).
//!
//! What is simulated, following the vendor document:
//!
//! * `GET /rest/orgs`, `/rest/orgs/{id}`, `/rest/users`, `/rest/users/{id}`, `/rest/computers`,
//!   `/rest/computers/{id}`, `/rest/usages`, `/rest/computerUsage`, `/rest/mountPoints`,
//!   `/rest/mountPoints/{id}` and `/rest/serverStats`. Any other method on a known path is a 405
//!   with an `Allow: GET` header; an unknown path (or a detail id that does not exist) is a 404.
//! * List responses are wrapped in the envelope
//!   `{"metadata": {"count": N, "params": {..}, "timestamp": ".."}, "<key>": [..]}`, where `count`
//!   is the number of items in *this* response (the document gives no total), `params` echoes the
//!   query parameters and `timestamp` is ISO 8601 with a `-05:00` offset and milliseconds. The
//!   document echoes parameters as strings (`computerUsage`, `archiveRecords`) except for
//!   `usages`, where `{"orgId": 23}` is a number; the simulator does the same.
//! * List views leave out the detail-only keys (see [`ORG_DETAIL_KEYS`], [`USER_DETAIL_KEYS`],
//!   [`COMPUTER_DETAIL_KEYS`], [`MOUNT_POINT_DETAIL_KEYS`]); a detail view returns the stored
//!   object as it is.
//! * Paging: `offset`/`limit` (limit 0 or absent = unlimited) or `page`/`pageSize` (page starts at
//!   1, pageSize 0 = unlimited). `offset`/`limit` win when both styles are given. Without either,
//!   the whole list is returned. A non-numeric paging value is a 400.
//! * Constraints: orgs `name`, `status`, `parentId`; users `id`, `status`, `email`, `firstName`,
//!   `lastName`, `orgId`; computers `id`, `status`, `name`, `guid`, `userId`; usages `orgId`,
//!   `userId`; computerUsage `sourceId`, `sourceGuid`, `targetId`, `targetGuid`; mountPoints `id`,
//!   `name`, `status`, `type`, `volumeLabel`, `note`. Other parameters are echoed and ignored.
//! * HTTP Basic authentication on every request (401 with
//!   `WWW-Authenticate: Basic realm="CrashPlan PRO Server"`), and 403 on mount points and
//!   serverStats for a non-administrator ("Only administrators can access ...").
//! * JSON is the only representation: an `Accept` header that admits neither `application/json`
//!   nor a wildcard is a 406. Responses are `Content-Type: application/json;charset=UTF-8`.
//!
//! JSON numbers are kept as `serde_json` integers end to end, so GUIDs above 2^53 (such as
//! `343195742699662015`) are written digit for digit. Key order within objects is not preserved
//! (serde_json's default map is sorted), which JSON clients must not depend on anyway.

pub mod fleet;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, ALLOW, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

use crate::sim::{
    apply_body_fault, first_param, json_bytes_response, lock, lying_count, parse_basic_auth,
    query_params, read_json, read_list, swap_served, RequestLog, Resp, Running, Taken,
};
pub use crate::sim::{
    basic_auth_header, server_timestamp, Fault, Faults, Simulator, CONTENT_TYPE_JSON,
    UNKNOWN_ENDPOINT,
};
/// `WWW-Authenticate` challenge sent with a 401.
pub const AUTH_CHALLENGE: &str = "Basic realm=\"CrashPlan PRO Server\"";

/// Org keys present only in the detail view (aggregates from the nightly ArchiveRecord report).
pub const ORG_DETAIL_KEYS: &[&str] = &[
    "selectedFiles",
    "selectedBytes",
    "todoFiles",
    "todoBytes",
    "archiveBytes",
    "archiveBytesDelta",
    "archiveBytesDeltaMonth",
    "dailyChange",
    "quota",
];
/// User keys present only in the detail view (same aggregates as orgs).
pub const USER_DETAIL_KEYS: &[&str] = ORG_DETAIL_KEYS;
/// Computer keys present only in the detail view.
pub const COMPUTER_DETAIL_KEYS: &[&str] = &[
    "osName",
    "osVersion",
    "osArch",
    "remoteAddress",
    "javaVersion",
    "timeZone",
    "version",
    "serverBackupStats",
];
/// Mount point keys present only in the detail view.
pub const MOUNT_POINT_DETAIL_KEYS: &[&str] =
    &["bytesTotal", "bytesUsed", "bytesFree", "percentFree"];
/// The keys of a usage object, exactly as documented (note `targetGuId`).
pub const USAGE_KEYS: &[&str] = &[
    "sourceId",
    "sourceGuid",
    "sourceConnectedToServer",
    "sourceLastConnectedToServer",
    "sourceStatus",
    "sourceUserId",
    "sourceOrgId",
    "targetId",
    "targetGuId",
    "selectedFiles",
    "selectedBytes",
    "todoFiles",
    "todoBytes",
    "archiveBytes",
    "lastConnected",
    "lastActivity",
    "isUsing",
    "alertStates",
];

/// Endpoint names, as used by [`Faults`] and [`SimServer::request_count`].
pub const ENDPOINTS: &[&str] = &[
    "orgs",
    "org",
    "users",
    "user",
    "computers",
    "computer",
    "usages",
    "computerUsage",
    "mountPoints",
    "mountPoint",
    "serverStats",
];

// ---------------------------------------------------------------------------------------------
// Dataset
// ---------------------------------------------------------------------------------------------

/// The server's data: raw JSON items exactly as the server emits them.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Org detail objects; the list view drops [`ORG_DETAIL_KEYS`].
    pub orgs: Vec<Value>,
    /// User detail objects; the list view drops [`USER_DETAIL_KEYS`].
    pub users: Vec<Value>,
    /// Computer detail objects; the list view drops [`COMPUTER_DETAIL_KEYS`].
    pub computers: Vec<Value>,
    /// Usage objects (a list-only resource).
    pub usages: Vec<Value>,
    /// Mount point detail objects; the list view drops [`MOUNT_POINT_DETAIL_KEYS`].
    pub mount_points: Vec<Value>,
    /// The serverStats object; `None` answers 404.
    pub server_stats: Option<Value>,
}

impl Dataset {
    /// Reads `orgs.json`, `users.json`, `computers.json`, `usages.json`, `mountPoints.json` and
    /// `serverStats.json` from `path`. A missing file is an empty list (or no serverStats).
    ///
    /// A list file holds a JSON array of items, or a whole list response as the server sends it
    /// (the envelope with `metadata` and the resource key), or a single object (one item, e.g. a
    /// detail response pasted as is).
    pub fn from_dir(path: &Path) -> anyhow::Result<Dataset> {
        Ok(Dataset {
            orgs: read_list(path, "orgs.json", "orgs")?,
            users: read_list(path, "users.json", "users")?,
            computers: read_list(path, "computers.json", "computers")?,
            usages: read_list(path, "usages.json", "usages")?,
            mount_points: read_list(path, "mountPoints.json", "mountPoints")?,
            server_stats: read_json(path, "serverStats.json")?,
        })
    }

    /// The example payloads of the vendor document, copied verbatim: orgs 2, 3, 42 (list view
    /// only, as the document gives no detail for them) and 43 (detail), users 67 and 68 (list
    /// view) and 69 (detail), computer 2 (detail), the one usage, mount point 1 (detail) and the
    /// serverStats object.
    ///
    /// The usage example in the document is not valid JSON (the closing quotes of
    /// `lastConnected` and `lastActivity` are missing); they are restored here, nothing else is
    /// changed.
    pub fn document_examples() -> Dataset {
        let parse = |s: &str| -> Value { serde_json::from_str(s).unwrap_or(Value::Null) };
        // A list response's items, with the one item the document also shows in detail view
        // replaced by that detail.
        let list_with_detail = |list: &str, key: &str, detail: &str| -> Vec<Value> {
            let detail = parse(detail);
            let mut items: Vec<Value> = parse(list)
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in &mut items {
                if item.get("id") == detail.get("id") {
                    *item = detail.clone();
                }
            }
            items
        };
        let orgs = list_with_detail(DOC_ORG_LIST, "orgs", DOC_ORG_43);
        let users = list_with_detail(DOC_USER_LIST, "users", DOC_USER_69);
        let usage_list = parse(DOC_USAGE_LIST);
        Dataset {
            orgs,
            users,
            computers: vec![parse(DOC_COMPUTER_2)],
            usages: usage_list
                .get("usages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            mount_points: vec![parse(DOC_MOUNT_POINT_1)],
            server_stats: Some(parse(DOC_SERVER_STATS)),
        }
    }

    /// The items of a resource, borrowed where they are stored (so a page clones only itself).
    fn items(&self, resource: Resource) -> std::borrow::Cow<'_, [Value]> {
        use std::borrow::Cow;
        match resource {
            Resource::Orgs => Cow::Borrowed(&self.orgs),
            Resource::Users => Cow::Borrowed(&self.users),
            Resource::Computers => Cow::Borrowed(&self.computers),
            Resource::Usages => Cow::Borrowed(&self.usages),
            Resource::MountPoints => Cow::Borrowed(&self.mount_points),
            Resource::ComputerUsage => {
                Cow::Owned(self.usages.iter().map(computer_usage_of).collect())
            }
        }
    }
}

/// The computerUsage record derived from a usage: same pair of computers, same counters, with
/// the document's spelling `targetGuid` for this resource.
fn computer_usage_of(usage: &Value) -> Value {
    let mut out = Map::new();
    for (from, to) in [
        ("sourceId", "sourceId"),
        ("sourceGuid", "sourceGuid"),
        ("targetId", "targetId"),
        ("targetGuId", "targetGuid"),
        ("selectedFiles", "selectedFiles"),
        ("selectedBytes", "selectedBytes"),
        ("todoFiles", "todoFiles"),
        ("todoBytes", "todoBytes"),
        ("archiveBytes", "archiveBytes"),
        ("lastActivity", "lastActivity"),
        ("lastConnected", "lastConnected"),
        ("isUsing", "isUsing"),
    ] {
        if let Some(v) = usage.get(from) {
            out.insert(to.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/// Credentials and role of the account the simulated server accepts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub username: String,
    pub password: String,
    /// `false` answers 403 on mountPoints and serverStats (administrators only).
    pub admin: bool,
}

impl Default for SimConfig {
    /// `admin`/`admin`, an administrator: the account of the document's examples
    /// (`Authorization: Basic YWRtaW46YWRtaW4=`).
    fn default() -> Self {
        SimConfig {
            username: "admin".to_owned(),
            password: "admin".to_owned(),
            admin: true,
        }
    }
}

struct Shared {
    config: SimConfig,
    dataset: Mutex<Arc<Dataset>>,
    faults: Arc<Faults>,
    requests: Arc<RequestLog>,
    /// Largest page served, whatever `limit`/`pageSize` asks for (see
    /// [`SimServer::set_max_page_size`]).
    max_page_size: Mutex<Option<usize>>,
}

/// A running simulated server, listening on 127.0.0.1. It stops when [`Simulator::shutdown`] is
/// called or when the `SimServer` is dropped.
pub struct SimServer {
    running: Running,
    shared: Arc<Shared>,
}

impl Simulator for SimServer {
    type Dataset = Dataset;
    type Config = SimConfig;

    async fn start_on(
        addr: SocketAddr,
        dataset: Dataset,
        config: SimConfig,
    ) -> std::io::Result<SimServer> {
        let (running, shared) = Running::start(
            addr,
            |bound| Shared {
                config,
                dataset: Mutex::new(Arc::new(dataset)),
                faults: bound.faults,
                requests: bound.requests,
                max_page_size: Mutex::new(None),
            },
            |shared, req| async move { handle(&shared, req).await },
        )
        .await?;
        Ok(SimServer { running, shared })
    }

    fn set_dataset(&self, dataset: Dataset) {
        swap_served(&self.shared.dataset, dataset);
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
        Arc::clone(&lock(&self.shared.dataset))
    }

    /// Serves at most `max` items per list page, whatever `limit` or `pageSize` asks for (an
    /// unlimited request included), as servers that cap the page size do; `metadata.count`
    /// still counts the items of the answer. `None` lifts the cap.
    pub fn set_max_page_size(&self, max: Option<usize>) {
        *lock(&self.shared.max_page_size) = max;
    }
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Orgs,
    Users,
    Computers,
    Usages,
    ComputerUsage,
    MountPoints,
}

impl Resource {
    /// The list endpoint name, which is also the key of the items in a list response.
    fn list_name(self) -> &'static str {
        match self {
            Resource::Orgs => "orgs",
            Resource::Users => "users",
            Resource::Computers => "computers",
            Resource::Usages => "usages",
            Resource::ComputerUsage => "computerUsage",
            Resource::MountPoints => "mountPoints",
        }
    }

    fn list_key(self) -> &'static str {
        match self {
            Resource::ComputerUsage => "computerUsages",
            other => other.list_name(),
        }
    }

    fn detail_name(self) -> &'static str {
        match self {
            Resource::Orgs => "org",
            Resource::Users => "user",
            Resource::Computers => "computer",
            Resource::MountPoints => "mountPoint",
            // No detail view for these (routing never produces one).
            Resource::Usages => "usages",
            Resource::ComputerUsage => "computerUsage",
        }
    }

    fn detail_only_keys(self) -> &'static [&'static str] {
        match self {
            Resource::Orgs => ORG_DETAIL_KEYS,
            Resource::Users => USER_DETAIL_KEYS,
            Resource::Computers => COMPUTER_DETAIL_KEYS,
            Resource::MountPoints => MOUNT_POINT_DETAIL_KEYS,
            Resource::Usages | Resource::ComputerUsage => &[],
        }
    }

    /// Constraint parameter -> key of the item it is matched against.
    fn constraints(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Resource::Orgs => &[
                ("name", "name"),
                ("status", "status"),
                ("parentId", "parentId"),
            ],
            Resource::Users => &[
                ("id", "id"),
                ("status", "status"),
                ("email", "email"),
                ("firstName", "firstName"),
                ("lastName", "lastName"),
                ("orgId", "orgId"),
            ],
            Resource::Computers => &[
                ("id", "id"),
                ("status", "status"),
                ("name", "name"),
                ("guid", "guid"),
                ("userId", "userId"),
            ],
            Resource::Usages => &[("orgId", "sourceOrgId"), ("userId", "sourceUserId")],
            Resource::ComputerUsage => &[
                ("sourceId", "sourceId"),
                ("sourceGuid", "sourceGuid"),
                ("targetId", "targetId"),
                ("targetGuid", "targetGuid"),
            ],
            Resource::MountPoints => &[
                ("id", "id"),
                ("name", "name"),
                ("status", "status"),
                ("type", "type"),
                ("volumeLabel", "volumeLabel"),
                ("note", "note"),
            ],
        }
    }

    fn admin_only(self) -> bool {
        self == Resource::MountPoints
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    List(Resource),
    Detail(Resource, String),
    ServerStats,
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let rest = path.strip_prefix("/rest/")?;
        let mut segments = rest.split('/');
        let name = segments.next()?;
        let id = segments.next();
        if segments.next().is_some() {
            return None;
        }
        let resource = match name {
            "orgs" => Resource::Orgs,
            "users" => Resource::Users,
            "computers" => Resource::Computers,
            "usages" => Resource::Usages,
            "computerUsage" => Resource::ComputerUsage,
            "mountPoints" => Resource::MountPoints,
            "serverStats" if id.is_none() => return Some(Route::ServerStats),
            _ => return None,
        };
        match id {
            None => Some(Route::List(resource)),
            Some(_) if matches!(resource, Resource::Usages | Resource::ComputerUsage) => None,
            Some("") => None,
            Some(id) => Some(Route::Detail(resource, id.to_owned())),
        }
    }

    fn endpoint(&self) -> &'static str {
        match self {
            Route::List(r) => r.list_name(),
            Route::Detail(r, _) => r.detail_name(),
            Route::ServerStats => "serverStats",
        }
    }

    fn admin_only(&self) -> bool {
        match self {
            Route::List(r) | Route::Detail(r, _) => r.admin_only(),
            Route::ServerStats => true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let route = Route::parse(req.uri().path());
    let endpoint = route.as_ref().map_or(UNKNOWN_ENDPOINT, Route::endpoint);
    shared.requests.record(endpoint, &req);

    let taken = shared.faults.take(endpoint);
    if let Some(delay) = taken.fault.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(resp) = crate::sim::hostile_answer(&taken.fault) {
        return resp;
    }

    if !authorized(&req, &shared.config) {
        let mut resp = error_response(StatusCode::UNAUTHORIZED, "Authentication required");
        resp.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(AUTH_CHALLENGE));
        return resp;
    }
    let Some(route) = route else {
        return error_response(StatusCode::NOT_FOUND, "No such resource");
    };
    if req.method() != Method::GET {
        let mut resp = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only GET is supported by this server",
        );
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return resp;
    }
    if !accepts_json(&req) {
        return error_response(
            StatusCode::NOT_ACCEPTABLE,
            "Only application/json responses are available",
        );
    }
    if let Some(code) = taken.fault.status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error_response(status, "Injected fault");
    }
    if route.admin_only() && !shared.config.admin {
        return error_response(
            StatusCode::FORBIDDEN,
            "Only administrators can access this resource",
        );
    }

    let params = query_params(&req);
    let dataset = Arc::clone(&lock(&shared.dataset));
    let cap = *lock(&shared.max_page_size);
    let body = match answer(&dataset, &route, &params, &taken, cap) {
        Ok(value) => value,
        Err((status, message)) => return error_response(status, &message),
    };
    let bytes = serde_json::to_vec_pretty(&body).unwrap_or_default();
    json_bytes_response(StatusCode::OK, apply_body_fault(&taken.fault, bytes))
}

fn answer(
    dataset: &Dataset,
    route: &Route,
    params: &[(String, String)],
    taken: &Taken,
    cap: Option<usize>,
) -> Result<Value, (StatusCode, String)> {
    match route {
        Route::ServerStats => dataset
            .server_stats
            .clone()
            .ok_or((StatusCode::NOT_FOUND, "No server statistics".to_owned())),
        Route::Detail(resource, id) => dataset
            .items(*resource)
            .iter()
            .find(|item| item.get("id").is_some_and(|v| scalar_matches(v, id)))
            .cloned()
            .ok_or_else(|| {
                (
                    StatusCode::NOT_FOUND,
                    format!("No {} with id {id}", resource.detail_name()),
                )
            }),
        Route::List(resource) => list(dataset, *resource, params, taken, cap),
    }
}

fn list(
    dataset: &Dataset,
    resource: Resource,
    params: &[(String, String)],
    taken: &Taken,
    cap: Option<usize>,
) -> Result<Value, (StatusCode, String)> {
    let window = Window::from_params(params).map_err(|m| (StatusCode::BAD_REQUEST, m))?;
    let mut window = if taken.ignore_paging {
        Window::ALL
    } else if taken.ignore_offset {
        Window { start: 0, ..window }
    } else {
        window
    };
    if let Some(cap) = cap {
        window.limit = Some(window.limit.map_or(cap, |l| l.min(cap)));
    }
    let constraints = resource.constraints();
    let detail_only = resource.detail_only_keys();
    let items: Vec<Value> = dataset
        .items(resource)
        .iter()
        .filter(|item| {
            constraints
                .iter()
                .all(|(param, key)| match first_param(params, param) {
                    None => true,
                    Some(wanted) => item.get(*key).is_some_and(|v| scalar_matches(v, wanted)),
                })
        })
        .skip(window.start)
        .take(window.limit.unwrap_or(usize::MAX))
        .cloned()
        .map(|mut item| {
            if let Value::Object(map) = &mut item {
                for key in detail_only {
                    map.remove(*key);
                }
            }
            item
        })
        .collect();

    let mut echoed = Map::new();
    for (k, v) in params {
        if echoed.contains_key(k) {
            continue;
        }
        let value = match (resource, v.parse::<i64>()) {
            (Resource::Usages, Ok(n)) => Value::from(n),
            _ => Value::String(v.clone()),
        };
        echoed.insert(k.clone(), value);
    }
    let mut envelope = Map::new();
    envelope.insert(
        "metadata".to_owned(),
        json!({
            "count": lying_count(items.len(), taken.count_off_by),
            "params": echoed,
            "timestamp": server_timestamp(chrono::Utc::now()),
        }),
    );
    envelope.insert(resource.list_key().to_owned(), Value::Array(items));
    Ok(Value::Object(envelope))
}

/// The slice of a list one request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    start: usize,
    /// `None` = unlimited.
    limit: Option<usize>,
}

impl Window {
    const ALL: Window = Window {
        start: 0,
        limit: None,
    };

    fn from_params(params: &[(String, String)]) -> Result<Window, String> {
        let number = |name: &str| -> Result<Option<usize>, String> {
            match first_param(params, name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| format!("Invalid value for {name}: {v:?}")),
            }
        };
        let (offset, limit) = (number("offset")?, number("limit")?);
        let (page, page_size) = (number("page")?, number("pageSize")?);
        let nonzero = |n: Option<usize>| n.filter(|&n| n > 0);
        if offset.is_some() || limit.is_some() {
            Ok(Window {
                start: offset.unwrap_or(0),
                limit: nonzero(limit),
            })
        } else if page.is_some() || page_size.is_some() {
            let size = page_size.unwrap_or(0);
            let page = page.unwrap_or(1).max(1);
            Ok(Window {
                start: (page - 1).saturating_mul(size),
                limit: nonzero(page_size),
            })
        } else {
            Ok(Window::ALL)
        }
    }
}

/// Whether a JSON scalar equals a query-string value: numbers digit for digit, strings without
/// regard to ASCII case, `null` as the word `null`.
fn scalar_matches(value: &Value, wanted: &str) -> bool {
    match value {
        Value::Number(n) => n.to_string() == wanted,
        Value::String(s) => s.eq_ignore_ascii_case(wanted),
        Value::Bool(b) => b.to_string() == wanted,
        Value::Null => wanted == "null",
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn authorized(req: &Request<Incoming>, config: &SimConfig) -> bool {
    match parse_basic_auth(req.headers().get(AUTHORIZATION)) {
        Some((user, password)) => user == config.username && password == config.password,
        None => false,
    }
}

fn accepts_json(req: &Request<Incoming>) -> bool {
    let mut headers = req.headers().get_all(ACCEPT).iter().peekable();
    if headers.peek().is_none() {
        return true;
    }
    headers.any(|value| {
        let Ok(value) = value.to_str() else {
            return true;
        };
        value.split(',').any(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            ["application/json", "application/*", "*/*", ""]
                .iter()
                .any(|ok| media.eq_ignore_ascii_case(ok))
        })
    })
}

fn error_response(status: StatusCode, message: &str) -> Resp {
    let body = json!({
        "error": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "message": message,
    });
    json_bytes_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// The vendor document's example payloads (verbatim, see `Dataset::document_examples`)
// ---------------------------------------------------------------------------------------------

/// `GET /rest/orgs/43`.
pub const DOC_ORG_43: &str = include_str!("../fixtures/org_43.json");

/// `GET /rest/orgs` (the document elides the other four of its eight orgs with `...`).
pub const DOC_ORG_LIST: &str = r#"{
  "metadata": {
    "count": 8,
    "params": {},
    "timestamp": "2008-10-28T14:49:00.676-05:00"
  },
  "orgs": [
    {
      "id": 2,
      "name": "PROServer Demo",
      "status": "Active",
      "parentId": null,
      "registrationKey": "H9RH-JWCT-SJCM-WS8T",
      "masterGuid": null,
      "creationDate": "2008-10-28T10:51:47.000-05:00",
      "modificationDate": "2008-10-28T10:51:47.000-05:00"
    },
    {
      "id": 3,
      "name": "PROServer Customer",
      "status": "Active",
      "parentId": null,
      "registrationKey": "8HJ4-92H4-W9PW-8498",
      "masterGuid": null,
      "creationDate": "2008-10-28T10:51:47.000-05:00",
      "modificationDate": "2008-10-28T10:51:47.000-05:00"
    },
    {
      "id": 42,
      "name": "CrashPlan",
      "status": "Active",
      "parentId": null,
      "registrationKey": "2RU9-49RR-9K7T-R9TT",
      "masterGuid": null,
      "creationDate": "2008-10-28T10:51:47.000-05:00",
      "modificationDate": "2008-10-28T10:51:47.000-05:00"
    },
    {
      "id": 43,
      "name": "SubOrg1",
      "status": "Active",
      "parentId": 2,
      "registrationKey": "M9WP-2MH7-H8PJ-7SW4",
      "masterGuid": null,
      "creationDate": "2008-10-28T10:58:47.632-05:00",
      "modificationDate": "2008-10-28T10:58:47.654-05:00"
    }
  ]
}"#;

/// `GET /rest/users/69`.
pub const DOC_USER_69: &str = include_str!("../fixtures/user_69.json");

/// `GET /rest/users`.
pub const DOC_USER_LIST: &str = r#"{
  "metadata": {
    "count": 3,
    "params": {},
    "timestamp": "2008-10-29T14:39:44.825-05:00"
  },
  "users": [
    {
      "id": 67,
      "status": "Active",
      "email": "userone@testorg.org",
      "firstName": "User",
      "lastName": "One",
      "orgId": 43,
      "creationDate": "2008-10-29T13:46:40.242-05:00",
      "modificationDate": "2008-10-29T14:06:02.123-05:00"
    },
    {
      "id": 68,
      "status": "Active",
      "email": "usertwo@testorg.org",
      "firstName": "User",
      "lastName": "Two",
      "orgId": 43,
      "creationDate": "2008-10-29T13:47:11.796-05:00",
      "modificationDate": "2008-10-29T13:51:06.943-05:00"
    },
    {
      "id": 69,
      "status": "Active",
      "email": "userthree@testorg.org",
      "firstName": "User",
      "lastName": "Three",
      "orgId": 43,
      "creationDate": "2008-10-29T14:08:06.141-05:00",
      "modificationDate": "2008-10-29T14:08:06.172-05:00"
    }
  ]
}"#;

/// `GET /rest/computers/2`.
pub const DOC_COMPUTER_2: &str = r#"{
  "id": 2,
  "name": "c42-dhcp-191.c42",
  "guid": 343195742699662015,
  "status": "Active",
  "alertStates": ["OK"],
  "userId": 69,
  "mountPointId": 1,
  "creationDate": "2008-10-29T14:23:58.779-05:00",
  "modificationDate": "2008-10-29T14:23:59.738-05:00",
  "osName": "Linux",
  "osVersion": "2.6.31-14-generic",
  "osArch": "i386",
  "remoteAddress": "127.0.0.1",
  "javaVersion": "1.6.0_0",
  "timeZone": "SystemV/CST6CDT",
  "version": "3.8.2010",
  "serverBackupStats": {
    "numberSelected": 96,
    "selectedBytes": 2247629,
    "percentComplete": 100,
    "archiveBytes": 706201,
    "compressionRate": 68.6,
    "connected": false,
    "lastBackup": "2010-03-30T18:36:10.221Z",
    "lastConnected": "2010-03-30T18:35:50.133Z"
  }
}"#;

/// `GET /rest/usages?orgId=23`, with the two missing closing quotes restored.
pub const DOC_USAGE_LIST: &str = r#"{
  "metadata": {
    "count": 1,
    "params": { "orgId": 23 },
    "timestamp": "2010-09-01T19:28:24.820-05:00"
  },
  "usages": [ {
    "sourceId": 2,
    "sourceGuid": 343195742699662015,
    "sourceConnectedToServer": true,
    "sourceLastConnectedToServer": "2010-09-01T19:20:59.738-05:00",
    "sourceStatus": "Blocked,Active",
    "sourceUserId": 234,
    "sourceOrgId": 23,
    "targetId": 1,
    "targetGuId": 345095742699645987,
    "selectedFiles": 1513,
    "selectedBytes": 19839461229438,
    "todoFiles": 0,
    "todoBytes": 0,
    "archiveBytes": 1828461229332,
    "lastConnected": "2010-09-01T19:23:58.779-05:00",
    "lastActivity": "2010-09-01T19:10:13.450-05:00",
    "isUsing": true,
    "alertStates": []
  }]
}"#;

/// `GET /rest/mountPoints/1`.
pub const DOC_MOUNT_POINT_1: &str = include_str!("../fixtures/mount_point_1.json");

/// `GET /rest/serverStats`.
pub const DOC_SERVER_STATS: &str = include_str!("../fixtures/server_stats.json");

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A minimal HTTP/1.1 client: one request per connection, the whole response read.
    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|e| {
                panic!("not JSON ({e}): {}", self.body);
            })
        }
    }

    async fn request(
        addr: SocketAddr,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
    ) -> Reply {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if let Some((user, password)) = auth {
            head.push_str(&format!(
                "Authorization: {}\r\n",
                basic_auth_header(user, password)
            ));
        }
        head.push_str("Accept: application/json\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    async fn get(server: &SimServer, path: &str) -> Reply {
        request(server.addr(), "GET", path, Some(("admin", "admin"))).await
    }

    fn usage(n: u64) -> Value {
        json!({
            "sourceId": n,
            "sourceGuid": 343195742699662015u64 + n,
            "sourceConnectedToServer": true,
            "sourceLastConnectedToServer": "2010-09-01T19:20:59.738-05:00",
            "sourceStatus": "Active",
            "sourceUserId": 100 + n % 2,
            "sourceOrgId": 20 + n % 3,
            "targetId": 1,
            "targetGuId": 345095742699645987u64,
            "selectedFiles": 10,
            "selectedBytes": 1000,
            "todoFiles": 0,
            "todoBytes": 0,
            "archiveBytes": 900,
            "lastConnected": "2010-09-01T19:23:58.779-05:00",
            "lastActivity": "2010-09-01T19:10:13.450-05:00",
            "isUsing": true,
            "alertStates": []
        })
    }

    fn with_usages(n: u64) -> Dataset {
        Dataset {
            usages: (1..=n).map(usage).collect(),
            ..Dataset::document_examples()
        }
    }

    fn source_ids(reply: &Reply) -> Vec<u64> {
        reply.json()["usages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["sourceId"].as_u64().unwrap())
            .collect()
    }

    async fn start(dataset: Dataset) -> SimServer {
        SimServer::start(dataset, SimConfig::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn offset_limit_paging_with_a_short_last_page() {
        let server = start(with_usages(7)).await;
        let mut pages = Vec::new();
        for offset in [0, 3, 6, 9] {
            let reply = get(&server, &format!("/rest/usages?offset={offset}&limit=3")).await;
            assert_eq!(reply.status, 200);
            let body = reply.json();
            assert_eq!(body["metadata"]["count"], json!(source_ids(&reply).len()));
            pages.push(source_ids(&reply));
        }
        assert_eq!(pages, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7], vec![]]);
        // limit 0 / absent = unlimited.
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?offset=2&limit=0").await).len(),
            5
        );
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?offset=5").await),
            vec![6, 7]
        );
        assert_eq!(source_ids(&get(&server, "/rest/usages").await).len(), 7);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn page_page_size_paging_with_an_exact_multiple() {
        let server = start(with_usages(6)).await;
        let mut pages = Vec::new();
        for page in 1..=3 {
            pages.push(source_ids(
                &get(&server, &format!("/rest/usages?page={page}&pageSize=3")).await,
            ));
        }
        assert_eq!(pages, vec![vec![1, 2, 3], vec![4, 5, 6], vec![]]);
        // The same objects as offset/limit, as the document promises.
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?page=2&pageSize=2").await),
            source_ids(&get(&server, "/rest/usages?offset=2&limit=2").await)
        );
        // pageSize 0 = unlimited; page defaults to 1.
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?page=1&pageSize=0").await).len(),
            6
        );
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?pageSize=4").await),
            vec![1, 2, 3, 4]
        );
        // A short last page.
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?page=2&pageSize=4").await),
            vec![5, 6]
        );
        // Nonsense is a 400, not a panic.
        assert_eq!(get(&server, "/rest/usages?limit=ten").await.status, 400);
        assert_eq!(
            get(&server, "/rest/usages?page=-1&pageSize=2").await.status,
            400
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn envelope_echoes_params_and_counts_the_page() {
        let server = start(with_usages(6)).await;
        let body = get(&server, "/rest/usages?orgId=21&limit=1").await.json();
        assert_eq!(body["metadata"]["count"], json!(1));
        // usages echo numbers as numbers, as in the document ({"orgId": 23}).
        assert_eq!(body["metadata"]["params"], json!({"orgId": 21, "limit": 1}));
        assert_eq!(body["usages"][0]["sourceOrgId"], json!(21));
        let ts = body["metadata"]["timestamp"].as_str().unwrap();
        assert!(ts.ends_with("-05:00"), "{ts}");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
        // Other resources echo strings.
        let body = get(&server, "/rest/users?orgId=43").await.json();
        assert_eq!(body["metadata"]["params"], json!({"orgId": "43"}));
        assert_eq!(body["metadata"]["count"], json!(3));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn constraints_filter_lists() {
        let server = start(with_usages(6)).await;
        let ids = source_ids(&get(&server, "/rest/usages?userId=101").await);
        assert_eq!(ids, vec![1, 3, 5]);
        let ids = source_ids(&get(&server, "/rest/usages?userId=101&orgId=21").await);
        assert_eq!(ids, vec![1]);
        let body = get(&server, "/rest/orgs?status=Active").await.json();
        assert_eq!(body["orgs"].as_array().unwrap().len(), 4);
        let body = get(&server, "/rest/orgs?status=Deactivated").await.json();
        assert_eq!(body["metadata"]["count"], json!(0));
        let body = get(&server, "/rest/computers?status=Active&userId=69")
            .await
            .json();
        assert_eq!(body["computers"].as_array().unwrap().len(), 1);
        let body = get(&server, "/rest/computers?userId=70").await.json();
        assert_eq!(body["computers"], json!([]));
        let body = get(&server, "/rest/users?orgId=42").await.json();
        assert_eq!(body["users"], json!([]));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn list_views_drop_detail_keys_and_details_keep_them() {
        let server = start(Dataset::document_examples()).await;
        for (list, key, detail, dropped) in [
            ("/rest/orgs", "orgs", "/rest/orgs/43", ORG_DETAIL_KEYS),
            ("/rest/users", "users", "/rest/users/69", USER_DETAIL_KEYS),
            (
                "/rest/computers",
                "computers",
                "/rest/computers/2",
                COMPUTER_DETAIL_KEYS,
            ),
            (
                "/rest/mountPoints",
                "mountPoints",
                "/rest/mountPoints/1",
                MOUNT_POINT_DETAIL_KEYS,
            ),
        ] {
            let body = get(&server, list).await.json();
            for item in body[key].as_array().unwrap() {
                for k in dropped {
                    assert!(item.get(*k).is_none(), "{list}: {k} in the list view");
                }
                assert!(item.get("id").is_some());
            }
            let item = get(&server, detail).await.json();
            for k in dropped {
                assert!(item.get(*k).is_some(), "{detail}: {k} missing");
            }
        }
        let org = get(&server, "/rest/orgs/43").await.json();
        assert_eq!(org["quota"], json!({"seats": 10, "bytes": 250}));
        let mp = get(&server, "/rest/mountPoints/1").await.json();
        assert_eq!(mp["percentFree"], json!(1.9));
        // Org 2 has no detail in the document: its detail is what is stored.
        let org = get(&server, "/rest/orgs/2").await.json();
        assert_eq!(org["name"], json!("PROServer Demo"));
        assert!(org.get("quota").is_none());
        server.shutdown().await;
    }

    #[tokio::test]
    async fn guids_keep_every_digit() {
        let server = start(Dataset::document_examples()).await;
        for path in [
            "/rest/usages",
            "/rest/computers",
            "/rest/computers/2",
            "/rest/computerUsage",
        ] {
            let reply = get(&server, path).await;
            assert!(
                reply.body.contains("343195742699662015"),
                "{path}: {}",
                reply.body
            );
            assert!(!reply.body.contains("343195742699662000"), "{path}");
            assert!(!reply.body.contains("e17"), "{path}");
        }
        let reply = get(&server, "/rest/usages").await;
        assert!(reply.body.contains("345095742699645987"));
        assert!(reply.body.contains("\"targetGuId\""));
        let body = reply.json();
        assert_eq!(
            body["usages"][0]["sourceGuid"].as_u64(),
            Some(343195742699662015)
        );
        assert_eq!(body["usages"][0]["sourceStatus"], json!("Blocked,Active"));
        // computerUsage spells it targetGuid and is constrained by sourceGuid.
        let body = get(&server, "/rest/computerUsage?sourceGuid=343195742699662015")
            .await
            .json();
        assert_eq!(
            body["computerUsages"][0]["targetGuid"].as_u64(),
            Some(345095742699645987)
        );
        assert_eq!(
            body["metadata"]["params"],
            json!({"sourceGuid": "343195742699662015"})
        );
        let body = get(&server, "/rest/computers?guid=343195742699662016")
            .await
            .json();
        assert_eq!(body["metadata"]["count"], json!(0));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn basic_auth_is_required() {
        let server = start(Dataset::document_examples()).await;
        for auth in [None, Some(("admin", "wrong")), Some(("root", "admin"))] {
            let reply = request(server.addr(), "GET", "/rest/usages", auth).await;
            assert_eq!(reply.status, 401);
            assert_eq!(reply.header("www-authenticate"), Some(AUTH_CHALLENGE));
            assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE_JSON));
            assert_eq!(reply.json()["status"], json!(401));
        }
        // The document's own header: admin/admin.
        assert_eq!(
            basic_auth_header("admin", "admin"),
            "Basic YWRtaW46YWRtaW4="
        );
        let reply = request(
            server.addr(),
            "GET",
            "/rest/usages",
            Some(("admin", "admin")),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE_JSON));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn non_admins_get_403_on_mount_points_and_server_stats() {
        let config = SimConfig {
            username: "monitor".into(),
            password: "s3cret:with colon".into(),
            admin: false,
        };
        let server = SimServer::start(Dataset::document_examples(), config)
            .await
            .unwrap();
        let auth = Some(("monitor", "s3cret:with colon"));
        for path in [
            "/rest/serverStats",
            "/rest/mountPoints",
            "/rest/mountPoints/1",
        ] {
            let reply = request(server.addr(), "GET", path, auth).await;
            assert_eq!(reply.status, 403, "{path}");
            assert_eq!(reply.json()["status"], json!(403));
        }
        for path in ["/rest/usages", "/rest/computers", "/rest/orgs/43"] {
            assert_eq!(
                request(server.addr(), "GET", path, auth).await.status,
                200,
                "{path}"
            );
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn server_stats_as_documented() {
        let server = start(Dataset::document_examples()).await;
        let reply = get(&server, "/rest/serverStats").await;
        assert_eq!(reply.status, 200);
        let stats = reply.json();
        assert_eq!(stats["hostMemoryFree"], json!("44.3 MB"));
        assert_eq!(stats["load"], json!("5.14, 4.38, 3.95"));
        assert_eq!(stats["cpuUtilization"], json!("29%"));
        assert_eq!(stats["uptimeMilliseconds"], json!(1225806954620u64));
        server.set_dataset(Dataset::default());
        assert_eq!(get(&server, "/rest/serverStats").await.status, 404);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn unknown_paths_ids_and_methods() {
        let server = start(Dataset::document_examples()).await;
        for path in [
            "/rest/orgs/999",
            "/rest/orgs/abc",
            "/rest/orgs/043",
            "/rest/computers/3",
            "/rest/nothing",
            "/rest/usages/2",
            "/rest/orgs/43/users",
            "/",
            "/rest/",
            "/rest/orgs/%ff%00",
        ] {
            let reply = get(&server, path).await;
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.json()["status"], json!(404));
        }
        assert_eq!(get(&server, "/rest/orgs/").await.status, 200);
        for method in ["POST", "PUT", "DELETE"] {
            let reply = request(
                server.addr(),
                method,
                "/rest/orgs/43",
                Some(("admin", "admin")),
            )
            .await;
            assert_eq!(reply.status, 405, "{method}");
            assert_eq!(reply.header("allow"), Some("GET"));
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn faults_status_truncate_garbage_and_counted_faults() {
        let server = start(with_usages(4)).await;
        server.faults().set(
            "usages",
            Fault {
                status: Some(503),
                ..Fault::default()
            },
        );
        let reply = get(&server, "/rest/usages").await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.json()["status"], json!(503));
        // Other endpoints are unaffected.
        assert_eq!(get(&server, "/rest/computers").await.status, 200);

        server.faults().clear("usages");
        let whole = get(&server, "/rest/usages").await.body;
        server.faults().set(
            "usages",
            Fault {
                truncate: true,
                ..Fault::default()
            },
        );
        let reply = get(&server, "/rest/usages").await;
        assert_eq!(reply.status, 200);
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());
        assert!(reply.body.len() < whole.len() * 2 / 3);
        // The same document cut off (the metadata timestamp may differ by a millisecond).
        let tail = |s: &str| s.split_once("\"usages\"").map(|(_, t)| t.to_owned());
        if let (Some(cut), Some(full)) = (tail(&reply.body), tail(&whole)) {
            assert!(full.starts_with(&cut));
        }

        server.faults().set(
            "serverStats",
            Fault {
                garbage: true,
                ..Fault::default()
            },
        );
        let reply = get(&server, "/rest/serverStats").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE_JSON));
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());

        // A fault for the next request only, then back to normal.
        server.faults().clear_all();
        server.faults().set_times(
            "org",
            Fault {
                status: Some(500),
                ..Fault::default()
            },
            1,
        );
        assert_eq!(get(&server, "/rest/orgs/43").await.status, 500);
        assert_eq!(get(&server, "/rest/orgs/43").await.status, 200);
        assert_eq!(server.faults().get("org"), None);

        // "*" applies everywhere without a fault of its own.
        server.faults().set(
            "*",
            Fault {
                status: Some(502),
                ..Fault::default()
            },
        );
        server.faults().set("users", Fault::default());
        assert_eq!(get(&server, "/rest/mountPoints/1").await.status, 502);
        assert_eq!(get(&server, "/rest/users").await.status, 200);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn delay_lets_a_client_timeout_fire() {
        let server = start(with_usages(2)).await;
        server.faults().set(
            "computers",
            Fault {
                delay: Some(Duration::from_secs(30)),
                ..Fault::default()
            },
        );
        let started = std::time::Instant::now();
        let outcome =
            tokio::time::timeout(Duration::from_millis(200), get(&server, "/rest/computers")).await;
        assert!(outcome.is_err(), "the request should still be pending");
        assert!(started.elapsed() < Duration::from_secs(5));
        server.faults().set(
            "usages",
            Fault {
                delay: Some(Duration::from_millis(150)),
                ..Fault::default()
            },
        );
        let started = std::time::Instant::now();
        assert_eq!(get(&server, "/rest/usages").await.status, 200);
        assert!(started.elapsed() >= Duration::from_millis(150));
        // Shutting down does not wait for the delayed request.
        tokio::time::timeout(Duration::from_secs(5), server.shutdown())
            .await
            .expect("shutdown hangs");
    }

    #[tokio::test]
    async fn paging_misbehaviours() {
        let server = start(with_usages(5)).await;
        server.faults().set_ignore_paging(true);
        assert!(server.faults().ignore_paging());
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?offset=2&limit=2").await).len(),
            5
        );
        let body = get(&server, "/rest/usages?page=3&pageSize=2").await.json();
        assert_eq!(body["metadata"]["count"], json!(5));
        server.faults().set_ignore_paging(false);
        server.faults().set_ignore_offset(true);
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?offset=2&limit=2").await),
            vec![1, 2]
        );
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?page=3&pageSize=2").await),
            vec![1, 2]
        );
        server.faults().clear_all();
        assert!(!server.faults().ignore_offset());
        assert_eq!(
            source_ids(&get(&server, "/rest/usages?offset=2&limit=2").await),
            vec![3, 4]
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_capped_page_size_serves_fewer_than_asked() {
        let server = start(Dataset::document_examples()).await;
        server.set_max_page_size(Some(1));
        for path in [
            "/rest/orgs?offset=0&limit=3",
            "/rest/orgs",
            "/rest/orgs?page=1&pageSize=5",
        ] {
            let body = get(&server, path).await.json();
            assert_eq!(body["orgs"].as_array().unwrap().len(), 1, "{path}");
            assert_eq!(body["metadata"]["count"], json!(1), "{path}");
        }
        let second = get(&server, "/rest/orgs?offset=1&limit=3").await.json();
        assert_eq!(second["orgs"][0]["id"], json!(3));
        server.set_max_page_size(None);
        let body = get(&server, "/rest/orgs?offset=0&limit=3").await.json();
        assert_eq!(body["orgs"].as_array().unwrap().len(), 3);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn count_can_lie() {
        let server = start(with_usages(5)).await;
        server.faults().set_count_off_by(3);
        let reply = get(&server, "/rest/usages?offset=0&limit=2").await;
        assert_eq!(reply.json()["metadata"]["count"], json!(5));
        assert_eq!(source_ids(&reply), vec![1, 2]);
        server.faults().set_count_off_by(-10);
        let reply = get(&server, "/rest/usages").await;
        assert_eq!(reply.json()["metadata"]["count"], json!(0));
        assert_eq!(source_ids(&reply).len(), 5);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn requests_are_recorded_and_data_can_change() {
        let server = start(with_usages(3)).await;
        get(&server, "/rest/usages?offset=0&limit=2").await;
        get(&server, "/rest/usages?offset=2&limit=2").await;
        get(&server, "/rest/orgs/43").await;
        get(&server, "/rest/mountPoints").await;
        request(server.addr(), "GET", "/rest/serverStats", None).await;
        get(&server, "/nope").await;
        assert_eq!(server.request_count("usages"), 2);
        assert_eq!(server.request_count("org"), 1);
        assert_eq!(server.request_count("orgs"), 0);
        assert_eq!(server.request_count("mountPoints"), 1);
        assert_eq!(server.request_count("serverStats"), 1);
        assert_eq!(server.request_count(UNKNOWN_ENDPOINT), 1);
        assert_eq!(
            server.requested_paths(),
            vec![
                "/rest/usages?offset=0&limit=2",
                "/rest/usages?offset=2&limit=2",
                "/rest/orgs/43",
                "/rest/mountPoints",
                "/rest/serverStats",
                "/nope",
            ]
        );
        server.clear_requests();
        assert!(server.requested_paths().is_empty());

        server.set_dataset(with_usages(1));
        assert_eq!(source_ids(&get(&server, "/rest/usages").await), vec![1]);
        assert_eq!(server.dataset().usages.len(), 1);
        assert!(server.url().starts_with("http://127.0.0.1:"));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn dropping_the_server_stops_it() {
        let server = start(with_usages(1)).await;
        let addr = server.addr();
        drop(server);
        let mut refused = false;
        for _ in 0..50 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(refused);
    }

    #[tokio::test]
    async fn survives_malformed_requests() {
        let server = start(with_usages(1)).await;
        for junk in [
            "GARBAGE\r\n\r\n".as_bytes(),
            b"GET /rest/usages HTTP/1.1\r\nAuthorization: Basic !!!!\r\n\r\n",
            b"GET /rest/usages HTTP/1.1\r\nAuthorization: Basic YQ\r\n\r\n",
            b"GET /rest/usages HTTP/1.1\r\nAuthorization: Basic \xff\xfe\r\n\r\n",
            b"GET /rest/usages?limit=99999999999999999999999&offset=18446744073709551615 HTTP/1.1\r\n\r\n",
        ] {
            let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
            let _ = stream.write_all(junk).await;
            let _ = stream.shutdown().await;
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink).await;
        }
        let reply = get(&server, "/rest/usages?offset=18446744073709551615&limit=1").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["metadata"]["count"], json!(0));
        let reply = get(
            &server,
            "/rest/usages?page=18446744073709551615&pageSize=18446744073709551615",
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(get(&server, "/rest/usages").await.status, 200);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn accept_header_other_than_json_is_406() {
        let server = start(with_usages(1)).await;
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let req = format!(
            "GET /rest/usages HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {}\r\nAccept: text/xml\r\n\r\n",
            basic_auth_header("admin", "admin")
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 406"), "{raw}");
        server.shutdown().await;
    }

    #[test]
    fn windows_from_params() {
        let p = |q: &str| -> Vec<(String, String)> {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        };
        let w = |q: &str| Window::from_params(&p(q));
        assert_eq!(w(""), Ok(Window::ALL));
        assert_eq!(
            w("offset=10"),
            Ok(Window {
                start: 10,
                limit: None
            })
        );
        assert_eq!(
            w("limit=5"),
            Ok(Window {
                start: 0,
                limit: Some(5)
            })
        );
        assert_eq!(
            w("page=3&pageSize=100"),
            Ok(Window {
                start: 200,
                limit: Some(100)
            })
        );
        assert_eq!(
            w("page=0&pageSize=10"),
            Ok(Window {
                start: 0,
                limit: Some(10)
            })
        );
        assert_eq!(w("page=5"), Ok(Window::ALL));
        // offset/limit win over page/pageSize.
        assert_eq!(
            w("page=3&pageSize=10&offset=1&limit=2"),
            Ok(Window {
                start: 1,
                limit: Some(2)
            })
        );
        assert!(w("offset=x").is_err());
    }

    #[test]
    fn document_examples_are_complete() {
        let d = Dataset::document_examples();
        assert_eq!(d.orgs.len(), 4);
        assert_eq!(d.users.len(), 3);
        assert_eq!(d.computers.len(), 1);
        assert_eq!(d.usages.len(), 1);
        assert_eq!(d.mount_points.len(), 1);
        assert!(d.server_stats.is_some());
        assert_eq!(d.orgs[3]["archiveBytes"], json!(78213557));
        assert_eq!(d.users[2]["quota"], json!({"bytes": 150}));
        let keys: Vec<&str> = d.usages[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = USAGE_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn from_dir_reads_arrays_envelopes_and_single_objects() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("orgs.json"), DOC_ORG_LIST).unwrap();
        std::fs::write(dir.path().join("computers.json"), DOC_COMPUTER_2).unwrap();
        std::fs::write(
            dir.path().join("usages.json"),
            serde_json::to_string(&vec![usage(1), usage(2)]).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("serverStats.json"), DOC_SERVER_STATS).unwrap();
        let d = Dataset::from_dir(dir.path()).unwrap();
        assert_eq!(d.orgs.len(), 4);
        assert_eq!(d.computers.len(), 1);
        assert_eq!(d.computers[0]["guid"].as_u64(), Some(343195742699662015));
        assert_eq!(d.usages.len(), 2);
        assert!(d.users.is_empty());
        assert!(d.mount_points.is_empty());
        assert_eq!(d.server_stats.unwrap()["seatCount"], json!(18642));

        std::fs::write(dir.path().join("users.json"), "[{\"id\": 1,}]").unwrap();
        let err = Dataset::from_dir(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("users.json"), "{err:#}");

        let empty = tempfile::tempdir().unwrap();
        let d = Dataset::from_dir(empty.path()).unwrap();
        assert!(d.orgs.is_empty() && d.server_stats.is_none());
    }
}
