//! A simulated OpenStack deployment for the Freezer source: a keystone v3 identity service
//! (password and application credential sign-in, scoped tokens, a service catalog) and the
//! Freezer API (v2, and optionally v1), both served by one HTTP server on 127.0.0.1, with the
//! wire format of freezer-api 19.0.0.
//!
//! Used by the demo (with [`fleet::demo_deployment`]), by tests (with the
//! builders of [`fleet`] and injected [`Fault`]s) and by benchmarks (with
//! [`fleet::large_deployment`]).
//!
//! # Keystone (`{url}/identity`, only when [`SimConfig::keystone`] is set; endpoint `auth`)
//!
//! `POST /identity/v3/auth/tokens` takes the keystone v3 body: `identity.methods`
//! `["password"]` with `password.user` `{"id", "password"}` or `{"name", "domain": {"id"} |
//! {"name"}, "password"}` and an optional `scope.project` (`{"id"}` or `{"name", "domain"}`), or
//! `["application_credential"]` with `application_credential` `{"id", "secret"}` or `{"name",
//! "secret", "user": {"id"} | {"name", "domain"}}` and no scope (the credential's project).
//!
//! * Success: 201, header `X-Subject-Token` (64 hex digits), body `{"token": {"methods",
//!   "user", "audit_ids", "expires_at", "issued_at", "project", "is_domain", "roles",
//!   "catalog"}}` (times `2026-11-23T13:00:00.000000Z`; `application_credential` added for that
//!   method). Without a scope: an unscoped token (no project, roles or catalog), which the
//!   Freezer API refuses (403: no role).
//! * Every project is in the domain `Default` (id `default`). A user whose
//!   [`KeystoneUser::projects`] is empty may scope to every project of the data set served.
//! * The catalog lists identity (`keystone`), compute (`nova`), the backup service (type
//!   [`KeystoneConfig::service_type`], name `freezer`), object-store (`swift`) and image
//!   (`glance`), each with a `public`, `internal` and `admin` endpoint per region. Freezer's are
//!   `{url}/freezer`, `{url}/freezer-internal` and `{url}/freezer-admin` in the first region;
//!   the n-th region (n ≥ 2) has `/r<n>` before them (`{url}/r2/freezer`). Every one serves the
//!   same API (and so does `{url}` itself).
//! * Wrong credentials, an unknown user, a project the user may not scope to, an unsupported
//!   method or scope: 401 `{"error": {"code": 401, "message": "The request you have made
//!   requires authentication.", "title": "Unauthorized"}}`. A body that is not JSON or lacks a
//!   required part: 400. Other methods: 405.
//! * `GET /identity` (300) and `GET /identity/v3` (200) answer version documents (endpoint
//!   `identity`).
//! * Tokens expire after [`KeystoneConfig::token_lifetime`]; [`SimServer::expire_tokens`]
//!   invalidates every issued one; [`KeystoneConfig::static_tokens`] are always valid.
//!
//! # Freezer (under `""`, `/freezer`, `/freezer-internal`, `/freezer-admin`, `/r<n>/...`)
//!
//! With keystone, every request needs a valid `X-Auth-Token` (else 401 with keystonemiddleware's
//! body and `WWW-Authenticate: Keystone uri="<identity>"`); the token gives the caller's project
//! and roles. Without keystone, the caller's project is the `X-Project-Id` header, else the URL's
//! project (v1: the data set's first project), its roles the `X-Roles` header (comma separated),
//! else `member,reader`.
//!
//! | Path (after the prefix) | Endpoint | Answer |
//! |---|---|---|
//! | `/` | `versions` | 300, `{"versions": [..]}`: the v2 entry (href `http://<Host><prefix>/v2/`) and/or the v1 entry (href `/v1/`) per [`ApiVersions`] |
//! | `/v2`, `/v2/` | `home` | 200 `application/json-home` |
//! | `/v2/{project}/{backups,jobs,clients,sessions,actions}` | the collection | 200 `{"<collection>": [..]}` page |
//! | `/v2/{project}/{collection}/{id}` | the collection | 200 the item, or 404 with an empty body |
//! | `/v1`, `/v1/{backups,jobs,clients,sessions}`, `/v1/{collection}/{id}` | `home`, the collection | the same for the caller's project, when v1 is served |
//! | anything else | `unknown` | 404 `{"title": "404 Not Found"}` |
//!
//! * Paging: `limit` missing, empty or 0 → 10; negative → everything; not an integer → 400
//!   `{"title": "Invalid parameter", ..}` (so is `offset`); `offset` default 0, negative → 0. No
//!   total; the data set's order; an exact multiple of `limit` ends with an empty page. An
//!   unknown project lists nothing.
//! * Single items are found by `backup_id`, `job_id`, `client.client_id`, `session_id`,
//!   `action_id`. A single action has no top-level `timeout`/`mandatory` (the list has them).
//! * Policy (v2): reads need the `admin` or `service` role, or `member`/`reader` with the
//!   caller's project equal to the URL's; else 403 `{"title": "Access Forbidden",
//!   "description": "You are not allowed to access this resource"}`. With `admin`/`service`, the
//!   jobs list holds every project's jobs (project order, then the data set's), and
//!   `job_schedule.current_pid` is dropped from jobs whose client belongs to another project
//!   than the caller's. `clients` lists also hold the `is_central` clients of other projects.
//! * `OPTIONS` → 200 with `allow`; any method other than `GET`, `HEAD`, `OPTIONS` → 405 with
//!   `allow: GET, HEAD, OPTIONS`; an `Accept` without JSON → 406, empty. A trailing slash is
//!   ignored. Every answer but `/`, the 401 and injected statuses carries
//!   `x-openstack-request-id: req-<uuid>`.
//! * Note: the real pipeline answers `/` before keystonemiddleware; here `/` needs a token
//!   too when keystone is on.
//!
//! # Faults, latency, request log
//!
//! [`Faults`] are keyed by the [`ENDPOINTS`] names (or `"*"`): `delay` first, then `status`
//! (answered at once, before the token check, with a small JSON body), then `truncate`/`garbage`
//! on a successful body (200, 201, 300). The list misbehaviours `ignore_paging` and
//! `ignore_offset` apply to every list. [`SimConfig::latency`] is added before every answer.
//! Every request is recorded with its endpoint name ([`SimServer::request_count`]).
//!
//! Items are rendered once per data set ([`SimServer::set_dataset`]); pages are concatenations
//! of those bytes.

pub mod fleet;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderName, HeaderValue, ACCEPT, ALLOW, CONTENT_TYPE, HOST, VARY, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

use crate::sim::{
    apply_body_fault, base64url_encode, first_param, json_bytes_response, lock, query_params,
    swap_served, RequestLog, Resp, Running, Taken,
};
pub use crate::sim::{Fault, Faults, Simulator, UNKNOWN_ENDPOINT};

/// Endpoint names, as used by [`Faults`] and [`SimServer::request_count`].
pub const ENDPOINTS: &[&str] = &[
    "auth", "identity", "versions", "home", "backups", "jobs", "clients", "sessions", "actions",
];
/// The header carrying a token to the Freezer API.
pub const AUTH_TOKEN_HEADER: &str = "X-Auth-Token";
/// The header carrying a new token in keystone's answer.
pub const SUBJECT_TOKEN_HEADER: &str = "X-Subject-Token";
/// The header carrying a request id on Freezer answers.
pub const REQUEST_ID_HEADER: &str = "x-openstack-request-id";
/// Id of keystone's default domain (every project's domain here).
pub const DEFAULT_DOMAIN_ID: &str = "default";
/// Name of keystone's default domain.
pub const DEFAULT_DOMAIN_NAME: &str = "Default";
/// `updated` of the v2 entry of the versions document.
pub const V2_UPDATED: &str = "2018-02-21T13:30:00";
/// `updated` of the v1 entry of the versions document.
pub const V1_UPDATED: &str = "2015-03-23T13:45:00";
/// Keystone user id of the default reader.
pub const READER_USER_ID: &str = "8c6659668804f7d172d7be8db218df19";
/// Keystone user name of the default reader.
pub const READER_USER_NAME: &str = "backup-reader";
/// Password of [`READER_USER_NAME`].
pub const DEMO_PASSWORD: &str = "demo-password";
/// Keystone user id of the default admin.
pub const ADMIN_USER_ID: &str = "d6e2d41fbca01f0d31ba6bd6953af98f";
/// Keystone user name of the default admin.
pub const ADMIN_USER_NAME: &str = "backup-admin";
/// Password of [`ADMIN_USER_NAME`].
pub const DEMO_ADMIN_PASSWORD: &str = "demo-admin-password";
/// Id of the default application credential (the reader's, on the demo's prod project).
pub const DEMO_APP_CREDENTIAL_ID: &str = "701e9618e511948aca6a6c5286365cd9";
/// Name of the default application credential.
pub const DEMO_APP_CREDENTIAL_NAME: &str = "backup-exporter";
/// Secret of the default application credential.
pub const DEMO_APP_CREDENTIAL_SECRET: &str = "demo-app-credential-secret";
/// A static token of the default configuration: the demo's prod project, role `reader`.
pub const DEMO_STATIC_TOKEN: &str = "demo-static-token";
/// keystone's (and keystonemiddleware's) 401 message.
pub const UNAUTHORIZED_MESSAGE: &str = "The request you have made requires authentication.";

/// The demo's production project (`ops-prod`).
pub const PROD_PROJECT_ID: &str = "837b2b6399113bc3f3e3d5e0bd9d0177";
/// Name of [`PROD_PROJECT_ID`].
pub const PROD_PROJECT_NAME: &str = "ops-prod";
/// The demo's development project (`ops-dev`).
pub const DEV_PROJECT_ID: &str = "bbee5f8bb024683b2733d819ee39a8e7";
/// Name of [`DEV_PROJECT_ID`].
pub const DEV_PROJECT_NAME: &str = "ops-dev";

/// A deterministic 32-hex-digit id (like a uuid4 `.hex`) derived from `seed`.
pub fn hex_id(seed: &str) -> String {
    let fnv = |basis: u64| {
        seed.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142));
    // One more mixing round so that similar seeds give unrelated ids.
    let mix = |mut x: u64| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    };
    format!("{:016x}{:016x}", mix(a), mix(b ^ a.rotate_left(17)))
}

/// What every 405 allows: the simulator only reads.
const ALLOWED: &str = "GET, HEAD, OPTIONS";
const JSON: &str = "application/json";
const JSON_HOME: &str = "application/json-home";

// ---------------------------------------------------------------------------------------------
// Data set and configuration
// ---------------------------------------------------------------------------------------------

/// One project's Freezer documents, each exactly as the wire shows it, served in this order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Project {
    /// The project's name (keystone scope by name, token bodies).
    pub name: String,
    pub backups: Vec<Value>,
    pub jobs: Vec<Value>,
    pub clients: Vec<Value>,
    pub sessions: Vec<Value>,
    pub actions: Vec<Value>,
}

/// Every project's documents, by project id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub projects: BTreeMap<String, Project>,
}

/// Which Freezer API versions the server serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ApiVersions {
    /// `/v2` only (freezer-api 19.0.0).
    #[default]
    V2,
    /// `/v1` only (old freezer-api).
    V1,
    /// Both.
    Both,
}

impl ApiVersions {
    fn v2(self) -> bool {
        matches!(self, ApiVersions::V2 | ApiVersions::Both)
    }

    fn v1(self) -> bool {
        matches!(self, ApiVersions::V1 | ApiVersions::Both)
    }
}

/// A keystone user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoneUser {
    pub id: String,
    pub name: String,
    pub domain_id: String,
    pub domain_name: String,
    pub password: String,
    /// Project ids the user may scope to; empty: every project of the data set.
    pub projects: Vec<String>,
    /// Roles of every token the user gets.
    pub roles: Vec<String>,
}

/// A keystone application credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCredential {
    pub id: String,
    pub name: String,
    pub secret: String,
    /// Its user (a [`KeystoneUser::id`]; another id works, with the id as name).
    pub user_id: String,
    /// The project every token of the credential is scoped to.
    pub project_id: String,
    pub roles: Vec<String>,
}

/// The keystone part of the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoneConfig {
    pub users: Vec<KeystoneUser>,
    pub app_credentials: Vec<AppCredential>,
    /// Tokens valid without sign-in: (token, project id, roles).
    pub static_tokens: Vec<(String, String, Vec<String>)>,
    /// How long an issued token stays valid.
    pub token_lifetime: Duration,
    /// Catalog regions, in order.
    pub regions: Vec<String>,
    /// Catalog type of the Freezer service; `None`: no Freezer in the catalog.
    pub service_type: Option<String>,
}

impl Default for KeystoneConfig {
    /// Users [`READER_USER_NAME`] (password [`DEMO_PASSWORD`], role `reader`) and
    /// [`ADMIN_USER_NAME`] ([`DEMO_ADMIN_PASSWORD`], role `admin`), both in domain `Default` and
    /// allowed every project of the data set; application credential [`DEMO_APP_CREDENTIAL_ID`]
    /// (name [`DEMO_APP_CREDENTIAL_NAME`], secret [`DEMO_APP_CREDENTIAL_SECRET`]) of the reader
    /// on the demo's prod project, role `reader`; static token [`DEMO_STATIC_TOKEN`] (prod,
    /// `reader`); tokens valid 1 hour; region `RegionOne`; service type `backup`.
    fn default() -> Self {
        let user = |id: &str, name: &str, password: &str, role: &str| KeystoneUser {
            id: id.to_owned(),
            name: name.to_owned(),
            domain_id: DEFAULT_DOMAIN_ID.to_owned(),
            domain_name: DEFAULT_DOMAIN_NAME.to_owned(),
            password: password.to_owned(),
            projects: Vec::new(),
            roles: vec![role.to_owned()],
        };
        KeystoneConfig {
            users: vec![
                user(READER_USER_ID, READER_USER_NAME, DEMO_PASSWORD, "reader"),
                user(ADMIN_USER_ID, ADMIN_USER_NAME, DEMO_ADMIN_PASSWORD, "admin"),
            ],
            app_credentials: vec![AppCredential {
                id: DEMO_APP_CREDENTIAL_ID.to_owned(),
                name: DEMO_APP_CREDENTIAL_NAME.to_owned(),
                secret: DEMO_APP_CREDENTIAL_SECRET.to_owned(),
                user_id: READER_USER_ID.to_owned(),
                project_id: PROD_PROJECT_ID.to_owned(),
                roles: vec!["reader".to_owned()],
            }],
            static_tokens: vec![(
                DEMO_STATIC_TOKEN.to_owned(),
                PROD_PROJECT_ID.to_owned(),
                vec!["reader".to_owned()],
            )],
            token_lifetime: Duration::from_secs(3600),
            regions: vec!["RegionOne".to_owned()],
            service_type: Some("backup".to_owned()),
        }
    }
}

/// The simulator's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// `None`: no keystone and no token needed (like a no-auth pipeline).
    pub keystone: Option<KeystoneConfig>,
    pub versions: ApiVersions,
    /// Added before every answer (benchmarks).
    pub latency: Duration,
}

impl Default for SimConfig {
    /// The default keystone, v2 only, no latency.
    fn default() -> Self {
        SimConfig {
            keystone: Some(KeystoneConfig::default()),
            versions: ApiVersions::V2,
            latency: Duration::ZERO,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pre-rendered data
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coll {
    Backups,
    Jobs,
    Clients,
    Sessions,
    Actions,
}

impl Coll {
    const ALL: [Coll; 5] = [
        Coll::Backups,
        Coll::Jobs,
        Coll::Clients,
        Coll::Sessions,
        Coll::Actions,
    ];

    fn parse(s: &str) -> Option<Coll> {
        Coll::ALL.into_iter().find(|c| c.name() == s)
    }

    fn name(self) -> &'static str {
        match self {
            Coll::Backups => "backups",
            Coll::Jobs => "jobs",
            Coll::Clients => "clients",
            Coll::Sessions => "sessions",
            Coll::Actions => "actions",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn items_mut(self, p: &mut Project) -> &mut Vec<Value> {
        match self {
            Coll::Backups => &mut p.backups,
            Coll::Jobs => &mut p.jobs,
            Coll::Clients => &mut p.clients,
            Coll::Sessions => &mut p.sessions,
            Coll::Actions => &mut p.actions,
        }
    }

    fn id_of(self, item: &Value) -> Option<&str> {
        match self {
            Coll::Backups => item.get("backup_id"),
            Coll::Jobs => item.get("job_id"),
            Coll::Clients => item.get("client").and_then(|c| c.get("client_id")),
            Coll::Sessions => item.get("session_id"),
            Coll::Actions => item.get("action_id"),
        }
        .and_then(Value::as_str)
    }
}

/// One item's bytes.
struct Rendered {
    /// As lists show it.
    list: Vec<u8>,
    /// As a single GET shows it, when different (actions).
    single: Option<Vec<u8>>,
    /// Without `job_schedule.current_pid` (jobs that have one).
    no_pid: Option<Vec<u8>>,
    /// Jobs: the project of the job's client.
    client_project: String,
}

impl Rendered {
    /// The list bytes as `caller` (a project) sees them.
    fn for_caller(&self, caller: Option<&str>) -> &[u8] {
        match &self.no_pid {
            Some(no_pid) if caller != Some(self.client_project.as_str()) => no_pid,
            _ => &self.list,
        }
    }
}

#[derive(Default)]
struct Listing {
    items: Vec<Rendered>,
    index: HashMap<String, usize>,
}

impl Listing {
    fn push(&mut self, id: Option<&str>, rendered: Rendered) {
        if let Some(id) = id {
            self.index.entry(id.to_owned()).or_insert(self.items.len());
        }
        self.items.push(rendered);
    }

    fn get(&self, id: &str) -> Option<&Rendered> {
        self.index.get(id).map(|&i| &self.items[i])
    }
}

struct ServedProject {
    name: String,
    lists: [Listing; 5],
}

struct Served {
    projects: BTreeMap<String, ServedProject>,
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn without(value: &Value, path: &[&str], keys: &[&str]) -> Option<Vec<u8>> {
    let mut copy = value.clone();
    let mut target = &mut copy;
    for p in path {
        target = target.get_mut(*p)?;
    }
    let map = target.as_object_mut()?;
    let mut removed = false;
    for k in keys {
        removed |= map.remove(*k).is_some();
    }
    removed.then(|| to_bytes(&copy))
}

impl Served {
    /// Renders `dataset`, dropping each item once rendered (a large data set is not held twice).
    fn new(dataset: Dataset) -> Served {
        let mut client_owner: HashMap<String, String> = HashMap::new();
        let mut central: Vec<(String, Value)> = Vec::new();
        for (pid, project) in &dataset.projects {
            for c in &project.clients {
                if let Some(id) = Coll::Clients.id_of(c) {
                    client_owner
                        .entry(id.to_owned())
                        .or_insert_with(|| pid.clone());
                }
                if c.get("client").and_then(|c| c.get("is_central")) == Some(&Value::Bool(true)) {
                    central.push((pid.clone(), c.clone()));
                }
            }
        }
        let render = |coll: Coll, item: &Value, pid: &str| -> Rendered {
            let mut rendered = Rendered {
                list: to_bytes(item),
                single: None,
                no_pid: None,
                client_project: String::new(),
            };
            match coll {
                Coll::Actions => rendered.single = without(item, &[], &["timeout", "mandatory"]),
                Coll::Jobs => {
                    rendered.no_pid = without(item, &["job_schedule"], &["current_pid"]);
                    if rendered.no_pid.is_some() {
                        let owner = item
                            .get("client_id")
                            .and_then(Value::as_str)
                            .and_then(|c| client_owner.get(c).map(String::as_str))
                            .or_else(|| item.get("project_id").and_then(Value::as_str))
                            .unwrap_or(pid);
                        rendered.client_project = owner.to_owned();
                    }
                }
                _ => {}
            }
            rendered
        };
        let mut projects = BTreeMap::new();
        for (pid, mut project) in dataset.projects {
            let mut lists: [Listing; 5] = Default::default();
            for coll in Coll::ALL {
                let items = std::mem::take(coll.items_mut(&mut project));
                let listing = &mut lists[coll.index()];
                listing.items.reserve(items.len());
                for item in items {
                    listing.push(coll.id_of(&item), render(coll, &item, &pid));
                }
            }
            for (owner, c) in &central {
                if *owner != pid {
                    lists[Coll::Clients.index()]
                        .push(Coll::Clients.id_of(c), render(Coll::Clients, c, owner));
                }
            }
            let served = ServedProject {
                name: project.name,
                lists,
            };
            projects.insert(pid, served);
        }
        Served { projects }
    }

    fn listing(&self, project: &str, coll: Coll) -> Option<&Listing> {
        self.projects.get(project).map(|p| &p.lists[coll.index()])
    }

    fn project_name<'a>(&'a self, id: &'a str) -> &'a str {
        match self.projects.get(id) {
            Some(p) if !p.name.is_empty() => &p.name,
            _ => id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

struct Token {
    project: Option<String>,
    roles: Vec<String>,
    expires: Instant,
}

/// Who is calling the Freezer API.
struct Caller {
    project: Option<String>,
    roles: Vec<String>,
}

impl Caller {
    fn has(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|r| roles.contains(&r.as_str()))
    }

    fn privileged(&self) -> bool {
        self.has(&["admin", "service"])
    }

    /// oslo.policy's read rule: admin/service, or member/reader of the URL's project.
    fn may_read(&self, project: &str) -> bool {
        self.privileged()
            || (self.has(&["member", "reader"]) && self.project.as_deref() == Some(project))
    }
}

struct Shared {
    config: SimConfig,
    /// `http://127.0.0.1:PORT`.
    base_url: String,
    served: Mutex<Arc<Served>>,
    faults: Arc<Faults>,
    requests: Arc<RequestLog>,
    tokens: Mutex<HashMap<String, Token>>,
    issued: AtomicUsize,
}

/// A running simulated keystone and Freezer API on 127.0.0.1. It stops when
/// [`Simulator::shutdown`] is called or when the `SimServer` is dropped.
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
                base_url: bound.base_url,
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
    /// Keystone's v3 base URL, `{url}/identity/v3` (tokens at `/auth/tokens` under it).
    pub fn identity_url(&self) -> String {
        format!("{}/identity/v3", self.shared.base_url)
    }

    /// The Freezer URL the catalog announces as the first region's public endpoint,
    /// `{url}/freezer`.
    pub fn freezer_url(&self) -> String {
        format!("{}/freezer", self.shared.base_url)
    }

    /// Invalidates every token issued so far (static tokens stay valid).
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// A valid token for `project` with `roles`, as if issued by keystone, without counting in
    /// [`SimServer::auth_count`].
    pub fn mint_token(&self, project: &str, roles: &[&str]) -> String {
        self.shared.new_token(
            Some(project.to_owned()),
            roles.iter().map(|r| (*r).to_owned()).collect(),
        )
    }

    /// How many tokens `POST /identity/v3/auth/tokens` issued so far.
    pub fn auth_count(&self) -> usize {
        self.shared.issued.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn new_token(&self, project: Option<String>, roles: Vec<String>) -> String {
        let token = (0..4)
            .map(|_| format!("{:016x}", fastrand::u64(..)))
            .collect::<String>();
        let lifetime = self
            .config
            .keystone
            .as_ref()
            .map_or(Duration::from_secs(3600), |k| k.token_lifetime);
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, t| t.expires > now);
        tokens.insert(
            token.clone(),
            Token {
                project,
                roles,
                expires: now + lifetime,
            },
        );
        token
    }

    /// The caller of a Freezer request: from its token with keystone (`None`: refused), from
    /// the `X-Project-Id` / `X-Roles` headers without.
    fn caller<B>(&self, req: &Request<B>) -> Option<Caller> {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let Some(keystone) = &self.config.keystone else {
            let roles = header("X-Roles").unwrap_or("member,reader");
            return Some(Caller {
                project: header("X-Project-Id").map(str::to_owned),
                roles: roles
                    .split(',')
                    .map(|r| r.trim().to_owned())
                    .filter(|r| !r.is_empty())
                    .collect(),
            });
        };
        let token = header(AUTH_TOKEN_HEADER)?;
        if let Some((_, project, roles)) = keystone.static_tokens.iter().find(|(t, ..)| t == token)
        {
            return Some(Caller {
                project: Some(project.clone()),
                roles: roles.clone(),
            });
        }
        let mut tokens = lock(&self.tokens);
        match tokens.get(token) {
            Some(t) if t.expires > Instant::now() => Some(Caller {
                project: t.project.clone(),
                roles: t.roles.clone(),
            }),
            Some(_) => {
                tokens.remove(token);
                None
            }
            None => None,
        }
    }

    /// The service catalog of a token scoped to `project`.
    fn catalog(&self, keystone: &KeystoneConfig, project: &str) -> Value {
        let base = &self.base_url;
        let endpoints = |service: &str, url: &dyn Fn(&str, &str) -> String| -> Vec<Value> {
            let mut out = Vec::new();
            for (i, region) in keystone.regions.iter().enumerate() {
                let r = if i == 0 {
                    String::new()
                } else {
                    format!("/r{}", i + 1)
                };
                for interface in ["public", "internal", "admin"] {
                    out.push(json!({
                        "id": hex_id(&format!("endpoint:{service}:{region}:{interface}")),
                        "interface": interface,
                        "region": region,
                        "region_id": region,
                        "url": url(&r, interface),
                    }));
                }
            }
            out
        };
        let service = |kind: &str, name: &str, eps: Vec<Value>| {
            json!({
                "endpoints": eps,
                "id": hex_id(&format!("service:{kind}:{name}")),
                "type": kind,
                "name": name,
            })
        };
        let mut catalog = vec![
            service(
                "identity",
                "keystone",
                endpoints("keystone", &|r, _| format!("{base}{r}/identity")),
            ),
            service(
                "compute",
                "nova",
                endpoints("nova", &|r, _| format!("{base}{r}/compute/v2.1")),
            ),
        ];
        if let Some(kind) = &keystone.service_type {
            catalog.push(service(
                kind,
                "freezer",
                endpoints("freezer", &|r, interface| match interface {
                    "public" => format!("{base}{r}/freezer"),
                    other => format!("{base}{r}/freezer-{other}"),
                }),
            ));
        }
        catalog.push(service(
            "object-store",
            "swift",
            endpoints("swift", &|r, interface| match interface {
                "admin" => format!("{base}{r}/object-store"),
                _ => format!("{base}{r}/object-store/v1/AUTH_{project}"),
            }),
        ));
        catalog.push(service(
            "image",
            "glance",
            endpoints("glance", &|r, _| format!("{base}{r}/image")),
        ));
        Value::Array(catalog)
    }
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Versions,
    Home(u8),
    List {
        version: u8,
        project: Option<String>,
        coll: Coll,
    },
    Single {
        version: u8,
        project: Option<String>,
        coll: Coll,
        id: String,
    },
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// `/identity/v3/auth/tokens`.
    Auth,
    /// `/identity` (`false`) or `/identity/v3` (`true`).
    IdentityDoc(bool),
    IdentityNotFound,
    Freezer {
        prefix: String,
        target: Target,
    },
}

impl Route {
    fn endpoint(&self) -> &'static str {
        match self {
            Route::Auth => "auth",
            Route::IdentityDoc(_) => "identity",
            Route::IdentityNotFound => UNKNOWN_ENDPOINT,
            Route::Freezer { target, .. } => match target {
                Target::Versions => "versions",
                Target::Home(_) => "home",
                Target::List { coll, .. } | Target::Single { coll, .. } => coll.name(),
                Target::NotFound => UNKNOWN_ENDPOINT,
            },
        }
    }
}

/// The length of a `/r<n>` region prefix (n ≥ 2) followed by `/`.
fn region_prefix(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("/r")?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && rest[digits..].starts_with('/')).then_some(2 + digits)
}

/// The Freezer prefix of `path` (`""` when none) and the rest.
fn split_prefix(path: &str) -> (&str, &str) {
    let region = region_prefix(path).unwrap_or(0);
    let after = &path[region..];
    for service in ["/freezer-internal", "/freezer-admin", "/freezer"] {
        if let Some(rest) = after.strip_prefix(service) {
            if rest.is_empty() || rest.starts_with('/') {
                return (&path[..region + service.len()], rest);
            }
        }
    }
    ("", path)
}

fn route(path: &str, config: &SimConfig) -> Route {
    if config.keystone.is_some() {
        if let Some(rest) = path.strip_prefix("/identity") {
            if rest.is_empty() || rest.starts_with('/') {
                return match rest.trim_end_matches('/') {
                    "" => Route::IdentityDoc(false),
                    "/v3" => Route::IdentityDoc(true),
                    "/v3/auth/tokens" => Route::Auth,
                    _ => Route::IdentityNotFound,
                };
            }
        }
    }
    let (prefix, rest) = split_prefix(path);
    let rest = rest.trim_end_matches('/');
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').skip(1).collect()
    };
    let versions = config.versions;
    let target = match segments.as_slice() {
        [] => Target::Versions,
        ["v2"] if versions.v2() => Target::Home(2),
        ["v1"] if versions.v1() => Target::Home(1),
        ["v2", project, coll] if versions.v2() && !project.is_empty() => match Coll::parse(coll) {
            Some(coll) => Target::List {
                version: 2,
                project: Some((*project).to_owned()),
                coll,
            },
            None => Target::NotFound,
        },
        ["v2", project, coll, id] if versions.v2() && !project.is_empty() && !id.is_empty() => {
            match Coll::parse(coll) {
                Some(coll) => Target::Single {
                    version: 2,
                    project: Some((*project).to_owned()),
                    coll,
                    id: (*id).to_owned(),
                },
                None => Target::NotFound,
            }
        }
        ["v1", coll] if versions.v1() => match Coll::parse(coll) {
            Some(coll) if coll != Coll::Actions => Target::List {
                version: 1,
                project: None,
                coll,
            },
            _ => Target::NotFound,
        },
        ["v1", coll, id] if versions.v1() && !id.is_empty() => match Coll::parse(coll) {
            Some(coll) if coll != Coll::Actions => Target::Single {
                version: 1,
                project: None,
                coll,
                id: (*id).to_owned(),
            },
            _ => Target::NotFound,
        },
        _ => Target::NotFound,
    };
    Route::Freezer {
        prefix: prefix.to_owned(),
        target,
    }
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Resp {
    let mut resp = json_bytes_response(status, body);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A successful answer, with the body faults applied.
fn success(status: StatusCode, content_type: &'static str, taken: &Taken, body: Vec<u8>) -> Resp {
    respond(status, content_type, apply_body_fault(&taken.fault, body))
}

/// falcon's error body `{"title": .., "description": ..}`, with `vary: Accept`.
fn falcon_error(status: StatusCode, title: &str, description: Option<&str>) -> Resp {
    let mut body = Map::new();
    body.insert("title".to_owned(), json!(title));
    if let Some(d) = description {
        body.insert("description".to_owned(), json!(d));
    }
    let mut resp = respond(status, JSON, to_bytes(&Value::Object(body)));
    resp.headers_mut()
        .insert(VARY, HeaderValue::from_static("Accept"));
    resp
}

/// keystone's error body `{"error": {"code", "message", "title"}}`.
fn keystone_error(status: StatusCode, message: &str) -> Resp {
    let title = status.canonical_reason().unwrap_or("Error");
    respond(
        status,
        JSON,
        to_bytes(&json!({"error": {"code": status.as_u16(), "message": message, "title": title}})),
    )
}

fn with_allow(mut resp: Resp, allow: &'static str) -> Resp {
    resp.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    resp
}

fn request_id() -> String {
    let hex = |n: usize| {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
            .collect::<String>()
    };
    format!(
        "req-{}-{}-4{}-{}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        ['8', '9', 'a', 'b'][fastrand::usize(..4)],
        hex(3),
        hex(12)
    )
}

fn accepts_json<B>(req: &Request<B>) -> bool {
    let Some(accept) = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    accept.trim().is_empty()
        || accept.split(',').any(|part| {
            let media = part
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            media == "*/*" || media == "application/*" || media.contains("json")
        })
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let route = route(req.uri().path(), &shared.config);
    let endpoint = route.endpoint();
    shared.requests.record(endpoint, &req);
    let taken = shared.faults.take(endpoint);
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    if let Some(delay) = taken.fault.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(resp) = crate::sim::hostile_answer(&taken.fault) {
        return resp;
    }
    if let Some(code) = taken.fault.status {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return match route {
            Route::Freezer { .. } => falcon_error(
                status,
                status.canonical_reason().unwrap_or("Error"),
                Some("Injected fault"),
            ),
            _ => keystone_error(status, "Injected fault"),
        };
    }
    match route {
        Route::Auth => auth(shared, req, &taken).await,
        Route::IdentityDoc(v3) => identity_doc(shared, &req, v3, &taken),
        Route::IdentityNotFound => {
            keystone_error(StatusCode::NOT_FOUND, "The resource could not be found.")
        }
        Route::Freezer { prefix, target } => freezer(shared, &req, &prefix, target, &taken),
    }
}

fn identity_doc<B>(shared: &Shared, req: &Request<B>, v3: bool, taken: &Taken) -> Resp {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return with_allow(
            keystone_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "The request method is not allowed.",
            ),
            "GET, HEAD",
        );
    }
    let version = json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/identity/v3/", shared.base_url)}],
        "media-types": [{"base": JSON, "type": "application/vnd.openstack.identity-v3+json"}],
    });
    if v3 {
        success(
            StatusCode::OK,
            JSON,
            taken,
            to_bytes(&json!({"version": version})),
        )
    } else {
        success(
            StatusCode::MULTIPLE_CHOICES,
            JSON,
            taken,
            to_bytes(&json!({"versions": {"values": [version]}})),
        )
    }
}

/// What a successful sign-in grants.
struct Grant {
    method: &'static str,
    user: KeystoneUser,
    /// `(id, name)`.
    project: Option<(String, String)>,
    roles: Vec<String>,
    app_credential: Option<AppCredential>,
}

enum AuthError {
    BadRequest(String),
    Unauthorized,
}

fn bad(message: &str) -> AuthError {
    AuthError::BadRequest(message.to_owned())
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Whether a `domain` object (`{"id"}` or `{"name"}`) names the domain `(id, name)`.
fn domain_matches(domain: &Value, id: &str, name: &str) -> Result<bool, AuthError> {
    match (str_of(domain, "id"), str_of(domain, "name")) {
        (Some(d), _) => Ok(d == id),
        (None, Some(d)) => Ok(d == name),
        (None, None) => Err(bad("Expecting to find id or name in domain.")),
    }
}

/// The user named by a `user` object (`{"id"}` or `{"name", "domain"}`).
fn find_user<'a>(
    keystone: &'a KeystoneConfig,
    user: &Value,
) -> Result<Option<&'a KeystoneUser>, AuthError> {
    if let Some(id) = str_of(user, "id") {
        return Ok(keystone.users.iter().find(|u| u.id == id));
    }
    let name = str_of(user, "name").ok_or_else(|| bad("Expecting to find id or name in user."))?;
    let domain = user
        .get("domain")
        .ok_or_else(|| bad("Expecting to find domain in user."))?;
    for u in &keystone.users {
        if u.name == name && domain_matches(domain, &u.domain_id, &u.domain_name)? {
            return Ok(Some(u));
        }
    }
    Ok(None)
}

fn authenticate(
    keystone: &KeystoneConfig,
    served: &Served,
    body: &Value,
) -> Result<Grant, AuthError> {
    let auth = body
        .get("auth")
        .filter(|a| a.is_object())
        .ok_or_else(|| bad("Expecting to find auth in request body."))?;
    let identity = auth
        .get("identity")
        .filter(|a| a.is_object())
        .ok_or_else(|| bad("Expecting to find identity in auth."))?;
    let methods: Vec<&str> = identity
        .get("methods")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if methods.is_empty() {
        return Err(bad("Expecting to find methods in identity."));
    }
    let scope = auth.get("scope");
    if methods.contains(&"password") {
        let user = identity
            .get("password")
            .and_then(|p| p.get("user"))
            .filter(|u| u.is_object())
            .ok_or_else(|| bad("Expecting to find user in password."))?;
        let password =
            str_of(user, "password").ok_or_else(|| bad("Expecting to find password in user."))?;
        let found = find_user(keystone, user)?;
        let Some(found) = found.filter(|u| u.password == password) else {
            return Err(AuthError::Unauthorized);
        };
        let project = match scope {
            None | Some(Value::Null) => None,
            Some(scope) => Some(scoped_project(found, served, scope)?),
        };
        let roles = if project.is_some() {
            found.roles.clone()
        } else {
            Vec::new()
        };
        return Ok(Grant {
            method: "password",
            user: found.clone(),
            project,
            roles,
            app_credential: None,
        });
    }
    if methods.contains(&"application_credential") {
        let cred = identity
            .get("application_credential")
            .filter(|c| c.is_object())
            .ok_or_else(|| bad("Expecting to find application_credential in identity."))?;
        let secret = str_of(cred, "secret")
            .ok_or_else(|| bad("Expecting to find secret in application_credential."))?;
        let found = if let Some(id) = str_of(cred, "id") {
            keystone.app_credentials.iter().find(|c| c.id == id)
        } else {
            let name = str_of(cred, "name")
                .ok_or_else(|| bad("Expecting to find id or name in application_credential."))?;
            let user = cred
                .get("user")
                .ok_or_else(|| bad("Expecting to find user in application_credential."))?;
            let user_id = find_user(keystone, user)?.map(|u| u.id.clone());
            let user_id = user_id.or_else(|| str_of(user, "id").map(str::to_owned));
            keystone
                .app_credentials
                .iter()
                .find(|c| c.name == name && Some(&c.user_id) == user_id.as_ref())
        };
        let Some(cred) = found.filter(|c| c.secret == secret) else {
            return Err(AuthError::Unauthorized);
        };
        if scope.is_some_and(|s| !s.is_null()) {
            return Err(AuthError::Unauthorized);
        }
        let user = keystone
            .users
            .iter()
            .find(|u| u.id == cred.user_id)
            .cloned()
            .unwrap_or_else(|| KeystoneUser {
                id: cred.user_id.clone(),
                name: cred.user_id.clone(),
                domain_id: DEFAULT_DOMAIN_ID.to_owned(),
                domain_name: DEFAULT_DOMAIN_NAME.to_owned(),
                password: String::new(),
                projects: Vec::new(),
                roles: Vec::new(),
            });
        return Ok(Grant {
            method: "application_credential",
            user,
            project: Some((
                cred.project_id.clone(),
                served.project_name(&cred.project_id).to_owned(),
            )),
            roles: cred.roles.clone(),
            app_credential: Some(cred.clone()),
        });
    }
    Err(AuthError::Unauthorized)
}

/// The project `(id, name)` of a `scope` the user may have.
fn scoped_project(
    user: &KeystoneUser,
    served: &Served,
    scope: &Value,
) -> Result<(String, String), AuthError> {
    if !scope.is_object() {
        return Err(bad("Expecting scope to be an object."));
    }
    let Some(project) = scope.get("project") else {
        // Domain and system scopes are not offered.
        return Err(AuthError::Unauthorized);
    };
    let allowed: Vec<&str> = if user.projects.is_empty() {
        served.projects.keys().map(String::as_str).collect()
    } else {
        user.projects.iter().map(String::as_str).collect()
    };
    let id = if let Some(id) = str_of(project, "id") {
        id.to_owned()
    } else {
        let name = str_of(project, "name")
            .ok_or_else(|| bad("Expecting to find id or name in project."))?;
        let domain = project
            .get("domain")
            .ok_or_else(|| bad("Expecting to find domain in project."))?;
        if !domain_matches(domain, DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME)? {
            return Err(AuthError::Unauthorized);
        }
        allowed
            .iter()
            .find(|id| served.project_name(id) == name)
            .map(|id| (*id).to_owned())
            .ok_or(AuthError::Unauthorized)?
    };
    if !allowed.contains(&id.as_str()) {
        return Err(AuthError::Unauthorized);
    }
    let name = served.project_name(&id).to_owned();
    Ok((id, name))
}

fn keystone_time(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

async fn auth(shared: &Shared, req: Request<Incoming>, taken: &Taken) -> Resp {
    let Some(keystone) = &shared.config.keystone else {
        return keystone_error(StatusCode::NOT_FOUND, "The resource could not be found.");
    };
    if req.method() != Method::POST {
        return with_allow(
            keystone_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "The request method is not allowed.",
            ),
            "POST",
        );
    }
    let body = match Limited::new(req.into_body(), 1024 * 1024).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return keystone_error(StatusCode::BAD_REQUEST, "Unable to read the request body.")
        }
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return keystone_error(
            StatusCode::BAD_REQUEST,
            "Malformed JSON in the request body.",
        );
    };
    let served = Arc::clone(&lock(&shared.served));
    let grant = match authenticate(keystone, &served, &body) {
        Ok(grant) => grant,
        Err(AuthError::BadRequest(message)) => {
            return keystone_error(StatusCode::BAD_REQUEST, &message)
        }
        Err(AuthError::Unauthorized) => {
            return keystone_error(StatusCode::UNAUTHORIZED, UNAUTHORIZED_MESSAGE)
        }
    };
    let token = shared.new_token(
        grant.project.as_ref().map(|(id, _)| id.clone()),
        grant.roles.clone(),
    );
    shared.issued.fetch_add(1, Ordering::Relaxed);
    let issued = Utc::now();
    let expires = issued
        + chrono::Duration::from_std(keystone.token_lifetime)
            .unwrap_or_else(|_| chrono::Duration::hours(1));
    let user = &grant.user;
    let mut body = json!({
        "methods": [grant.method],
        "user": {
            "domain": {"id": user.domain_id, "name": user.domain_name},
            "id": user.id,
            "name": user.name,
            "password_expires_at": null,
        },
        "audit_ids": [base64url_encode(&fastrand::u128(..).to_le_bytes())],
        "expires_at": keystone_time(expires),
        "issued_at": keystone_time(issued),
    });
    if let Some((id, name)) = &grant.project {
        body["project"] = json!({
            "domain": {"id": DEFAULT_DOMAIN_ID, "name": DEFAULT_DOMAIN_NAME},
            "id": id,
            "name": name,
        });
        body["is_domain"] = json!(false);
        body["roles"] = grant
            .roles
            .iter()
            .map(|r| json!({"id": hex_id(&format!("role:{r}")), "name": r}))
            .collect();
        body["catalog"] = shared.catalog(keystone, id);
    }
    if let Some(cred) = &grant.app_credential {
        body["application_credential"] =
            json!({"id": cred.id, "name": cred.name, "restricted": true});
    }
    let mut resp = success(
        StatusCode::CREATED,
        JSON,
        taken,
        to_bytes(&json!({"token": body})),
    );
    if let Ok(value) = HeaderValue::from_str(&token) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-subject-token"), value);
    }
    resp
}

fn freezer<B>(
    shared: &Shared,
    req: &Request<B>,
    prefix: &str,
    target: Target,
    taken: &Taken,
) -> Resp {
    let Some(caller) = shared.caller(req) else {
        let mut resp = keystone_error(StatusCode::UNAUTHORIZED, UNAUTHORIZED_MESSAGE);
        let challenge = format!("Keystone uri=\"{}/identity\"", shared.base_url);
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        return resp;
    };
    if target == Target::Versions {
        return versions(shared, req, prefix, taken);
    }
    let mut resp = freezer_app(shared, req, target, caller, taken);
    if let Ok(value) = HeaderValue::from_str(&request_id()) {
        resp.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    resp
}

fn versions<B>(shared: &Shared, req: &Request<B>, prefix: &str, taken: &Taken) -> Resp {
    match *req.method() {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => return with_allow(respond(StatusCode::OK, JSON, Vec::new()), ALLOWED),
        _ => {
            return with_allow(
                falcon_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "405 Method Not Allowed",
                    None,
                ),
                ALLOWED,
            )
        }
    }
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| shared.base_url.trim_start_matches("http://").to_owned());
    let mut entries = Vec::new();
    if shared.config.versions.v2() {
        entries.push(json!({
            "id": "v2",
            "status": "CURRENT",
            "updated": V2_UPDATED,
            "links": [{"href": format!("http://{host}{prefix}/v2/"), "rel": "self"}],
        }));
    }
    if shared.config.versions.v1() {
        entries.push(json!({
            "id": "1",
            "links": [{"href": "/v1/", "rel": "self"}],
            "status": "CURRENT",
            "updated": V1_UPDATED,
        }));
    }
    success(
        StatusCode::MULTIPLE_CHOICES,
        JSON,
        taken,
        to_bytes(&json!({"versions": entries})),
    )
}

/// A JSON-home resource.
fn home_resource(template: &str, vars: &[&str], allow: &[&str]) -> Value {
    let vars: Map<String, Value> = vars
        .iter()
        .map(|v| ((*v).to_owned(), json!(format!("param/{v}"))))
        .collect();
    json!({
        "href-template": template,
        "href-vars": vars,
        "hints": {"allow": allow, "formats": {JSON: {}}},
    })
}

fn home(version: u8) -> Value {
    if version == 1 {
        return json!({"resources": {
            "rel/backups": home_resource("/v1/backups/{backup_id}", &["backup_id"], &["GET"]),
        }});
    }
    json!({"resources": {
        "rel/backups": home_resource(
            "/v2/{project_id}/backups/{backup_id}",
            &["project_id", "backup_id"],
            &["GET"],
        ),
        "rel/jobs": home_resource(
            "/v2/{project_id}/jobs{?all_projects,offset,limit}",
            &["project_id", "all_projects", "offset", "limit"],
            &["GET", "POST"],
        ),
        "rel/job": home_resource(
            "/v2/{project_id}/jobs/{job_id}",
            &["project_id", "job_id"],
            &["GET", "PATCH", "POST", "DELETE"],
        ),
    }})
}

fn freezer_app<B>(
    shared: &Shared,
    req: &Request<B>,
    target: Target,
    caller: Caller,
    taken: &Taken,
) -> Resp {
    if target == Target::NotFound {
        return falcon_error(StatusCode::NOT_FOUND, "404 Not Found", None);
    }
    match *req.method() {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => return with_allow(respond(StatusCode::OK, JSON, Vec::new()), ALLOWED),
        _ => {
            return with_allow(
                falcon_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "405 Method Not Allowed",
                    None,
                ),
                ALLOWED,
            )
        }
    }
    if !accepts_json(req) {
        let mut resp = respond(StatusCode::NOT_ACCEPTABLE, JSON, Vec::new());
        resp.headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept"));
        return resp;
    }
    let served = Arc::clone(&lock(&shared.served));
    let forbidden = || {
        falcon_error(
            StatusCode::FORBIDDEN,
            "Access Forbidden",
            Some("You are not allowed to access this resource"),
        )
    };
    // Without keystone, the caller's project defaults to the URL's (v2) or the first (v1).
    let caller_project = |url_project: Option<&str>| -> Option<String> {
        caller.project.clone().or_else(|| {
            if shared.config.keystone.is_some() {
                None
            } else {
                url_project
                    .map(str::to_owned)
                    .or_else(|| served.projects.keys().next().cloned())
            }
        })
    };
    match target {
        Target::Home(version) => {
            success(StatusCode::OK, JSON_HOME, taken, to_bytes(&home(version)))
        }
        Target::List {
            version,
            project,
            coll,
        } => {
            let params = query_params(req);
            let (limit, offset) = match paging(&params, taken) {
                Ok(paging) => paging,
                Err(name) => {
                    return falcon_error(
                        StatusCode::BAD_REQUEST,
                        "Invalid parameter",
                        Some(&format!(
                            "The \"{name}\" parameter is invalid. The value must be an integer."
                        )),
                    )
                }
            };
            let me = caller_project(project.as_deref());
            let project = match (version, project) {
                (2, Some(project)) => {
                    let caller = Caller {
                        project: me.clone(),
                        roles: caller.roles.clone(),
                    };
                    if !caller.may_read(&project) {
                        return forbidden();
                    }
                    if coll == Coll::Jobs && caller.privileged() {
                        let items = served.projects.values().flat_map(|p| {
                            p.lists[Coll::Jobs.index()]
                                .items
                                .iter()
                                .map(|r| r.for_caller(me.as_deref()))
                        });
                        let body = page_body(coll.name(), items, limit, offset);
                        return success(StatusCode::OK, JSON, taken, body);
                    }
                    project
                }
                _ => match me.clone() {
                    Some(p) => p,
                    None => return forbidden(),
                },
            };
            let items = served
                .listing(&project, coll)
                .map(|l| l.items.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|r| r.for_caller(me.as_deref()));
            let body = page_body(coll.name(), items, limit, offset);
            success(StatusCode::OK, JSON, taken, body)
        }
        Target::Single {
            version,
            project,
            coll,
            id,
        } => {
            let me = caller_project(project.as_deref());
            let project = match (version, project) {
                (2, Some(project)) => {
                    let caller = Caller {
                        project: me.clone(),
                        roles: caller.roles.clone(),
                    };
                    if !caller.may_read(&project) {
                        return forbidden();
                    }
                    project
                }
                _ => match me.clone() {
                    Some(p) => p,
                    None => return forbidden(),
                },
            };
            match served.listing(&project, coll).and_then(|l| l.get(&id)) {
                Some(r) => {
                    let body = match &r.single {
                        Some(single) => single.as_slice(),
                        None => r.for_caller(me.as_deref()),
                    };
                    success(StatusCode::OK, JSON, taken, body.to_vec())
                }
                None => respond(StatusCode::NOT_FOUND, JSON, Vec::new()),
            }
        }
        Target::Versions | Target::NotFound => {
            falcon_error(StatusCode::NOT_FOUND, "404 Not Found", None)
        }
    }
}

/// An integer parameter as Python's `int()` reads it; out-of-range integers saturate.
fn int_param(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| {
        if s.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        }
    })
}

/// `(limit, offset)` of a list request (`None`: no limit), or the name of the invalid
/// parameter.
fn paging(
    params: &[(String, String)],
    taken: &Taken,
) -> Result<(Option<usize>, usize), &'static str> {
    let read = |name: &'static str| -> Result<Option<i64>, &'static str> {
        match first_param(params, name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => int_param(s).map(Some).ok_or(name),
        }
    };
    let limit = match read("limit")? {
        None | Some(0) => Some(10),
        Some(n) if n < 0 => None,
        Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let offset = read("offset")?.map_or(0, |n| usize::try_from(n.max(0)).unwrap_or(usize::MAX));
    if taken.ignore_paging {
        return Ok((None, 0));
    }
    Ok((limit, if taken.ignore_offset { 0 } else { offset }))
}

/// `{"<key>": [<items>]}` for the page `offset`, `limit` of `items`.
fn page_body<'a>(
    key: &str,
    items: impl Iterator<Item = &'a [u8]>,
    limit: Option<usize>,
    offset: usize,
) -> Vec<u8> {
    let page: Vec<&[u8]> = items
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect();
    let size = page.iter().map(|i| i.len() + 1).sum::<usize>() + key.len() + 8;
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":[");
    for (i, item) in page.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::fleet::{
        demo_deployment, v1_deployment, JOB_APP01_NIGHTLY, JOB_WEB01_NIGHTLY, V1_PROJECT_ID,
    };
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn client() -> reqwest::Client {
        crate::tls::install_crypto_provider();
        reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    }

    #[derive(Debug)]
    struct Reply {
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: String,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
        }

        fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }
    }

    async fn send(rb: reqwest::RequestBuilder) -> Reply {
        let resp = rb.send().await.unwrap();
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    async fn login(server: &SimServer, body: Value) -> Reply {
        send(
            client()
                .post(format!("{}/auth/tokens", server.identity_url()))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    fn password_body(user: &str, password: &str, scope: Option<Value>) -> Value {
        let mut body = json!({"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"name": "Default"}, "password": password}
        }}}});
        if let Some(scope) = scope {
            body["auth"]["scope"] = scope;
        }
        body
    }

    fn project_scope(id: &str) -> Option<Value> {
        Some(json!({"project": {"id": id}}))
    }

    async fn token(server: &SimServer, user: &str, password: &str, project: &str) -> String {
        let reply = login(
            server,
            password_body(user, password, project_scope(project)),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.header("x-subject-token").unwrap().to_owned()
    }

    async fn get(url: &str, token: Option<&str>) -> Reply {
        let mut rb = client().get(url);
        if let Some(token) = token {
            rb = rb.header(AUTH_TOKEN_HEADER, token);
        }
        send(rb).await
    }

    async fn start(dataset: Dataset, config: SimConfig) -> SimServer {
        SimServer::start(dataset, config).await.unwrap()
    }

    fn no_keystone() -> SimConfig {
        SimConfig {
            keystone: None,
            ..SimConfig::default()
        }
    }

    /// A project with `n` backups of one host.
    fn backups_dataset(project: &str, n: usize) -> Dataset {
        let mut p = Project {
            name: "p".to_owned(),
            ..Project::default()
        };
        for i in 0..n {
            p.backups.push(fleet::backup(
                project,
                "h",
                "h-data",
                NOW - i as i64 * 3600,
                0,
                "available",
                None,
                None,
            ));
        }
        let mut d = Dataset::default();
        d.projects.insert(project.to_owned(), p);
        d
    }

    fn ids(reply: &Reply, key: &str, id: &str) -> Vec<String> {
        reply.json()[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key}: {}", reply.body))
            .iter()
            .map(|i| i[id].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn paging_semantics() {
        let server = start(backups_dataset("p1", 25), no_keystone()).await;
        let url = |q: &str| format!("{}/v2/p1/backups{q}", server.freezer_url());
        let count = |r: &Reply| r.json()["backups"].as_array().unwrap().len();
        for (q, n) in [
            ("", 10),
            ("?limit=0", 10),
            ("?limit=", 10),
            ("?limit=-1", 25),
            ("?limit=7", 7),
            ("?limit=1000000", 25),
            ("?limit=99999999999999999999999", 25),
            ("?limit=10&offset=20", 5),
            ("?limit=10&offset=-5", 10),
            ("?limit=5&offset=25", 0),
            ("?offset=24", 1),
        ] {
            let reply = get(&url(q), None).await;
            assert_eq!(reply.status, 200, "{q}: {}", reply.body);
            assert_eq!(count(&reply), n, "{q}");
            assert_eq!(
                reply.json().as_object().unwrap().keys().collect::<Vec<_>>(),
                ["backups"]
            );
        }
        // Pages follow the data set order and cover it exactly.
        let all = ids(&get(&url("?limit=-1"), None).await, "backups", "backup_id");
        let mut paged = Vec::new();
        for offset in (0..=25).step_by(5) {
            let page = get(&url(&format!("?limit=5&offset={offset}")), None).await;
            paged.extend(ids(&page, "backups", "backup_id"));
        }
        assert_eq!(paged, all);
        for q in ["?limit=abc", "?limit=2.5", "?offset=x"] {
            let reply = get(&url(q), None).await;
            assert_eq!(reply.status, 400, "{q}");
            assert_eq!(reply.json()["title"], "Invalid parameter");
        }
        // Trailing slash, unknown project, request id.
        let reply = get(&format!("{}/", url("")), None).await;
        assert_eq!(count(&reply), 10);
        assert!(reply
            .header(REQUEST_ID_HEADER)
            .is_some_and(|r| r.starts_with("req-") && r.len() == 40));
        let reply = get(&format!("{}/v2/nobody/backups", server.url()), None).await;
        assert_eq!(reply.body, r#"{"backups":[]}"#);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn token_issue_expiry_and_refusal() {
        let server = start(demo_deployment(NOW), SimConfig::default()).await;
        let list = format!("{}/v2/{PROD_PROJECT_ID}/jobs", server.freezer_url());
        // No token, unknown token.
        for token in [None, Some("nope")] {
            let reply = get(&list, token).await;
            assert_eq!(reply.status, 401);
            assert_eq!(reply.json()["error"]["message"], UNAUTHORIZED_MESSAGE);
            assert!(reply
                .header("www-authenticate")
                .unwrap()
                .starts_with("Keystone uri="));
            assert!(reply.header(REQUEST_ID_HEADER).is_none());
        }
        let reply = login(
            &server,
            password_body(
                READER_USER_NAME,
                DEMO_PASSWORD,
                project_scope(PROD_PROJECT_ID),
            ),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let token = reply.header("x-subject-token").unwrap().to_owned();
        assert_eq!(token.len(), 64);
        let body = reply.json();
        let t = &body["token"];
        assert_eq!(t["methods"], json!(["password"]));
        assert_eq!(t["project"]["id"], PROD_PROJECT_ID);
        assert_eq!(t["project"]["name"], PROD_PROJECT_NAME);
        assert_eq!(t["user"]["id"], READER_USER_ID);
        assert_eq!(t["roles"][0]["name"], "reader");
        let expires = t["expires_at"].as_str().unwrap();
        assert!(
            expires.len() == 27 && expires.ends_with('Z') && expires.as_bytes()[19] == b'.',
            "{expires}"
        );
        assert_eq!(server.auth_count(), 1);
        assert_eq!(get(&list, Some(&token)).await.status, 200);
        server.expire_tokens();
        assert_eq!(get(&list, Some(&token)).await.status, 401);
        // Static tokens survive.
        assert_eq!(get(&list, Some(DEMO_STATIC_TOKEN)).await.status, 200);

        // Bad credentials, unknown user, wrong domain, forbidden project, bad bodies.
        for body in [
            password_body(READER_USER_NAME, "wrong", project_scope(PROD_PROJECT_ID)),
            password_body("nobody", DEMO_PASSWORD, None),
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": READER_USER_NAME, "domain": {"id": "other"}, "password": DEMO_PASSWORD}}}}}),
            password_body(READER_USER_NAME, DEMO_PASSWORD, project_scope("elsewhere")),
            json!({"auth": {"identity": {"methods": ["totp"], "totp": {}}}}),
        ] {
            let reply = login(&server, body.clone()).await;
            assert_eq!(reply.status, 401, "{body}");
            assert_eq!(
                reply.json(),
                json!({"error": {"code": 401, "message": UNAUTHORIZED_MESSAGE, "title": "Unauthorized"}})
            );
        }
        for body in [
            json!({}),
            json!({"auth": {"identity": {"methods": []}}}),
            json!([1]),
        ] {
            assert_eq!(login(&server, body).await.status, 400);
        }
        let reply = send(
            client()
                .post(format!("{}/auth/tokens", server.identity_url()))
                .body("{not json"),
        )
        .await;
        assert_eq!(reply.status, 400);
        assert_eq!(server.auth_count(), 1);

        // User by id, project by name; unscoped tokens are refused by Freezer.
        let reply = login(
            &server,
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {"id": READER_USER_ID, "password": DEMO_PASSWORD}}},
                "scope": {"project": {"name": "ops-dev", "domain": {"id": "default"}}},
            }}),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(reply.json()["token"]["project"]["id"], DEV_PROJECT_ID);
        let reply = login(
            &server,
            password_body(READER_USER_NAME, DEMO_PASSWORD, None),
        )
        .await;
        assert_eq!(reply.status, 201);
        assert!(reply.json()["token"].get("catalog").is_none());
        let unscoped = reply.header("x-subject-token").unwrap().to_owned();
        assert_eq!(get(&list, Some(&unscoped)).await.status, 403);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn token_lifetime_passes() {
        let config = SimConfig {
            keystone: Some(KeystoneConfig {
                token_lifetime: Duration::from_millis(150),
                ..KeystoneConfig::default()
            }),
            ..SimConfig::default()
        };
        let server = start(demo_deployment(NOW), config).await;
        let token = token(&server, READER_USER_NAME, DEMO_PASSWORD, PROD_PROJECT_ID).await;
        let list = format!("{}/v2/{PROD_PROJECT_ID}/clients", server.freezer_url());
        assert_eq!(get(&list, Some(&token)).await.status, 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(get(&list, Some(&token)).await.status, 401);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn application_credentials() {
        let server = start(demo_deployment(NOW), SimConfig::default()).await;
        let by_id = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": DEMO_APP_CREDENTIAL_ID, "secret": DEMO_APP_CREDENTIAL_SECRET}}}});
        let reply = login(&server, by_id).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let t = &reply.json()["token"];
        assert_eq!(t["methods"], json!(["application_credential"]));
        assert_eq!(t["project"]["id"], PROD_PROJECT_ID);
        assert_eq!(t["application_credential"]["id"], DEMO_APP_CREDENTIAL_ID);
        let by_name = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"name": DEMO_APP_CREDENTIAL_NAME, "secret": DEMO_APP_CREDENTIAL_SECRET,
                "user": {"name": READER_USER_NAME, "domain": {"name": "Default"}}}}}});
        assert_eq!(login(&server, by_name).await.status, 201);
        let wrong = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": DEMO_APP_CREDENTIAL_ID, "secret": "nope"}}}});
        assert_eq!(login(&server, wrong).await.status, 401);
        let scoped = json!({"auth": {"identity": {"methods": ["application_credential"],
            "application_credential": {"id": DEMO_APP_CREDENTIAL_ID, "secret": DEMO_APP_CREDENTIAL_SECRET}},
            "scope": {"project": {"id": PROD_PROJECT_ID}}}});
        assert_eq!(login(&server, scoped).await.status, 401);
        assert_eq!(server.auth_count(), 2);
        server.shutdown().await;
    }

    fn freezer_endpoints(token_body: &Value, kind: &str) -> Vec<Value> {
        token_body["token"]["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["type"] == kind)
            .flat_map(|s| s["endpoints"].as_array().unwrap().clone())
            .collect()
    }

    #[tokio::test]
    async fn catalog_regions_and_interfaces() {
        let config = SimConfig {
            keystone: Some(KeystoneConfig {
                regions: vec!["RegionOne".to_owned(), "RegionTwo".to_owned()],
                ..KeystoneConfig::default()
            }),
            ..SimConfig::default()
        };
        let server = start(demo_deployment(NOW), config).await;
        let reply = login(
            &server,
            password_body(
                READER_USER_NAME,
                DEMO_PASSWORD,
                project_scope(PROD_PROJECT_ID),
            ),
        )
        .await;
        let token = reply.header("x-subject-token").unwrap().to_owned();
        let body = reply.json();
        let kinds: Vec<&str> = body["token"]["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["identity", "compute", "backup", "object-store", "image"]
        );
        let eps = freezer_endpoints(&body, "backup");
        assert_eq!(eps.len(), 6);
        let url = server.url();
        let find = |region: &str, interface: &str| {
            eps.iter()
                .find(|e| e["region"] == region && e["interface"] == interface)
                .unwrap_or_else(|| panic!("{region} {interface}"))["url"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(find("RegionOne", "public"), server.freezer_url());
        assert_eq!(
            find("RegionOne", "internal"),
            format!("{url}/freezer-internal")
        );
        assert_eq!(find("RegionOne", "admin"), format!("{url}/freezer-admin"));
        assert_eq!(find("RegionTwo", "public"), format!("{url}/r2/freezer"));
        assert_eq!(
            find("RegionTwo", "admin"),
            format!("{url}/r2/freezer-admin")
        );
        for e in &eps {
            assert_eq!(e["region_id"], e["region"]);
            assert_eq!(e["id"].as_str().unwrap().len(), 32);
            // Every endpoint serves the API.
            let reply = get(
                &format!(
                    "{}/v2/{PROD_PROJECT_ID}/clients?limit=1",
                    e["url"].as_str().unwrap()
                ),
                Some(&token),
            )
            .await;
            assert_eq!(reply.status, 200, "{e}");
            assert_eq!(reply.json()["clients"].as_array().unwrap().len(), 1);
        }
        let paths = server.requested_paths();
        assert!(paths.contains(&format!(
            "/r2/freezer-internal/v2/{PROD_PROJECT_ID}/clients?limit=1"
        )));
        assert_eq!(server.request_count("clients"), 6);
        server.shutdown().await;

        // Another service type, or none.
        for service_type in [Some("data-protection"), None] {
            let config = SimConfig {
                keystone: Some(KeystoneConfig {
                    service_type: service_type.map(str::to_owned),
                    ..KeystoneConfig::default()
                }),
                ..SimConfig::default()
            };
            let server = start(demo_deployment(NOW), config).await;
            let reply = login(
                &server,
                password_body(
                    READER_USER_NAME,
                    DEMO_PASSWORD,
                    project_scope(PROD_PROJECT_ID),
                ),
            )
            .await;
            let body = reply.json();
            assert_eq!(freezer_endpoints(&body, "backup").len(), 0);
            assert_eq!(
                freezer_endpoints(&body, "data-protection").len(),
                if service_type.is_some() { 3 } else { 0 }
            );
            server.shutdown().await;
        }
    }

    #[tokio::test]
    async fn policy_and_admin_jobs() {
        let server = start(demo_deployment(NOW), SimConfig::default()).await;
        let base = server.freezer_url();
        let reader = token(&server, READER_USER_NAME, DEMO_PASSWORD, PROD_PROJECT_ID).await;
        let admin = token(
            &server,
            ADMIN_USER_NAME,
            DEMO_ADMIN_PASSWORD,
            PROD_PROJECT_ID,
        )
        .await;
        let dev_jobs = format!("{base}/v2/{DEV_PROJECT_ID}/jobs?limit=-1");
        let prod_jobs = format!("{base}/v2/{PROD_PROJECT_ID}/jobs?limit=-1");
        let reply = get(&dev_jobs, Some(&reader)).await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.json(),
            json!({"title": "Access Forbidden", "description": "You are not allowed to access this resource"})
        );
        let backup = get(
            &format!("{base}/v2/{DEV_PROJECT_ID}/backups/x"),
            Some(&reader),
        )
        .await;
        assert_eq!(backup.status, 403);
        let no_role = server.mint_token(PROD_PROJECT_ID, &["somebody"]);
        assert_eq!(get(&prod_jobs, Some(&no_role)).await.status, 403);

        // The reader sees its project's jobs, the admin every project's.
        let own = get(&prod_jobs, Some(&reader)).await;
        let own_jobs = own.json()["jobs"].as_array().unwrap().clone();
        assert_eq!(own_jobs.len(), 8);
        assert!(own_jobs.iter().all(|j| j["project_id"] == PROD_PROJECT_ID));
        let running = own_jobs
            .iter()
            .find(|j| j["job_id"] == JOB_APP01_NIGHTLY)
            .unwrap();
        assert_eq!(running["job_schedule"]["current_pid"], fleet::RUNNING_PID);
        let all = get(&prod_jobs, Some(&admin)).await.json()["jobs"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(all.len(), 12);
        assert_eq!(
            all.iter()
                .filter(|j| j["project_id"] == DEV_PROJECT_ID)
                .count(),
            4
        );
        let from_dev = get(&dev_jobs, Some(&admin)).await.json()["jobs"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(from_dev.len(), 12);
        // The admin's project is prod's: the running job keeps its pid.
        let running = from_dev
            .iter()
            .find(|j| j["job_id"] == JOB_APP01_NIGHTLY)
            .unwrap();
        assert_eq!(running["job_schedule"]["current_pid"], fleet::RUNNING_PID);
        // Seen by an admin of dev, prod's running job loses its pid.
        let dev_admin = server.mint_token(DEV_PROJECT_ID, &["admin"]);
        let from_dev = get(&prod_jobs, Some(&dev_admin)).await.json()["jobs"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(from_dev.len(), 12);
        let running = from_dev
            .iter()
            .find(|j| j["job_id"] == JOB_APP01_NIGHTLY)
            .unwrap();
        assert!(running["job_schedule"].get("current_pid").is_none());
        assert_eq!(running["job_schedule"]["status"], "running");
        // Admin paging over the union.
        let page = get(
            &format!("{base}/v2/{PROD_PROJECT_ID}/jobs?limit=5&offset=10"),
            Some(&admin),
        )
        .await;
        assert_eq!(page.json()["jobs"].as_array().unwrap().len(), 2);
        // Backups are never cross-project.
        let backups = get(
            &format!("{base}/v2/{PROD_PROJECT_ID}/backups?limit=-1"),
            Some(&admin),
        )
        .await;
        assert_eq!(backups.json()["backups"].as_array().unwrap().len(), 28);
        server.shutdown().await;

        // Without keystone: X-Project-Id and X-Roles.
        let server = start(demo_deployment(NOW), no_keystone()).await;
        let url = format!("{}/v2/{PROD_PROJECT_ID}/jobs", server.url());
        assert_eq!(send(client().get(&url)).await.status, 200);
        let other = send(client().get(&url).header("X-Project-Id", DEV_PROJECT_ID)).await;
        assert_eq!(other.status, 403);
        assert_eq!(
            send(client().get(&url).header("X-Roles", "somebody"))
                .await
                .status,
            403
        );
        let admin = send(
            client()
                .get(format!("{url}?limit=-1"))
                .header("X-Roles", "admin"),
        )
        .await;
        assert_eq!(admin.json()["jobs"].as_array().unwrap().len(), 12);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn single_items_and_errors() {
        let server = start(demo_deployment(NOW), no_keystone()).await;
        let base = format!("{}/v2/{PROD_PROJECT_ID}", server.freezer_url());
        let job = get(&format!("{base}/jobs/{JOB_WEB01_NIGHTLY}"), None).await;
        assert_eq!(job.status, 200);
        assert_eq!(job.json()["job_id"], JOB_WEB01_NIGHTLY);
        let client_id = format!("{PROD_PROJECT_ID}_web-01");
        let c = get(&format!("{base}/clients/{client_id}/"), None).await;
        assert_eq!(c.json()["client"]["hostname"], "web-01");
        assert!(c.json().get("project_id").is_some());
        let list = get(&format!("{base}/actions?limit=1"), None).await.json();
        let action = &list["actions"][0];
        assert_eq!(action["mandatory"], false);
        let id = action["action_id"].as_str().unwrap();
        let single = get(&format!("{base}/actions/{id}"), None).await.json();
        assert!(single.get("mandatory").is_none() && single.get("timeout").is_none());
        assert_eq!(single["freezer_action"], action["freezer_action"]);
        let backups = get(&format!("{base}/backups?limit=1"), None).await.json();
        let backup_id = backups["backups"][0]["backup_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let b = get(&format!("{base}/backups/{backup_id}"), None).await;
        assert_eq!(b.json(), backups["backups"][0]);
        let session = get(
            &format!("{base}/sessions/{}", fleet::SESSION_PROD_WEB),
            None,
        )
        .await;
        assert_eq!(session.json()["status"], "completed");

        let missing = get(&format!("{base}/backups/0123456789abcdef"), None).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body, "");
        assert_eq!(missing.header("content-type"), Some("application/json"));
        assert!(missing.header(REQUEST_ID_HEADER).is_some());
        for path in [
            format!("{base}/nothing"),
            base.clone(),
            format!("{}/v3", server.url()),
        ] {
            let reply = get(&path, None).await;
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.json(), json!({"title": "404 Not Found"}));
        }
        let put = send(client().put(format!("{base}/backups"))).await;
        assert_eq!(put.status, 405);
        assert_eq!(put.header("allow"), Some(ALLOWED));
        assert_eq!(put.json()["title"], "405 Method Not Allowed");
        let options = send(client().request(Method::OPTIONS, format!("{base}/backups"))).await;
        assert_eq!(options.status, 200);
        assert_eq!(options.header("allow"), Some(ALLOWED));
        let html = send(
            client()
                .get(format!("{base}/backups"))
                .header("accept", "text/html"),
        )
        .await;
        assert_eq!((html.status, html.body.as_str()), (406, ""));
        let head = send(client().head(format!("{base}/backups"))).await;
        assert_eq!(head.status, 200);
        let home = get(&format!("{}/v2/", server.freezer_url()), None).await;
        assert_eq!(home.status, 200);
        assert_eq!(home.header("content-type"), Some("application/json-home"));
        assert!(home.json()["resources"]["rel/backups"].is_object());
        assert_eq!(server.request_count("home"), 1);
        assert_eq!(server.request_count(UNKNOWN_ENDPOINT), 3);
        server.clear_requests();
        assert!(server.requested_paths().is_empty());
        server.shutdown().await;
    }

    #[tokio::test]
    async fn versions_documents() {
        for (versions, ids) in [
            (ApiVersions::V2, vec!["v2"]),
            (ApiVersions::V1, vec!["1"]),
            (ApiVersions::Both, vec!["v2", "1"]),
        ] {
            let config = SimConfig {
                versions,
                ..SimConfig::default()
            };
            let server = start(demo_deployment(NOW), config).await;
            let token = server.mint_token(PROD_PROJECT_ID, &["reader"]);
            // The token is needed at the root too.
            assert_eq!(
                get(&format!("{}/", server.freezer_url()), None)
                    .await
                    .status,
                401
            );
            let reply = get(&format!("{}/", server.freezer_url()), Some(&token)).await;
            assert_eq!(reply.status, 300);
            assert!(reply.header(REQUEST_ID_HEADER).is_none());
            let doc = reply.json();
            let got: Vec<&str> = doc["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].as_str().unwrap())
                .collect();
            assert_eq!(got, ids, "{versions:?}");
            for v in doc["versions"].as_array().unwrap() {
                assert_eq!(v["status"], "CURRENT");
                let href = v["links"][0]["href"].as_str().unwrap();
                if v["id"] == "v2" {
                    assert_eq!(href, format!("{}/v2/", server.freezer_url()));
                    assert_eq!(v["updated"], V2_UPDATED);
                } else {
                    assert_eq!(href, "/v1/");
                }
            }
            let v2 = get(
                &format!("{}/v2/{PROD_PROJECT_ID}/backups", server.freezer_url()),
                Some(&token),
            )
            .await;
            assert_eq!(v2.status, if versions.v2() { 200 } else { 404 });
            let v1 = get(
                &format!("{}/v1/backups", server.freezer_url()),
                Some(&token),
            )
            .await;
            assert_eq!(v1.status, if versions.v1() { 200 } else { 404 });
            // Region prefix and root: same document, own href.
            let r2 = get(&format!("{}/r2/freezer-admin", server.url()), Some(&token)).await;
            assert_eq!(r2.status, 300);
            if versions.v2() {
                assert_eq!(
                    r2.json()["versions"][0]["links"][0]["href"],
                    format!("{}/r2/freezer-admin/v2/", server.url())
                );
            }
            assert_eq!(server.request_count("versions"), 3);
            server.shutdown().await;
        }
    }

    #[tokio::test]
    async fn v1_routes() {
        let config = SimConfig {
            versions: ApiVersions::V1,
            ..SimConfig::default()
        };
        let server = start(v1_deployment(NOW), config).await;
        let token = token(&server, READER_USER_NAME, DEMO_PASSWORD, V1_PROJECT_ID).await;
        let base = format!("{}/v1", server.freezer_url());
        let backups = get(&format!("{base}/backups?limit=-1"), Some(&token)).await;
        assert_eq!(backups.status, 200, "{}", backups.body);
        let items = backups.json()["backups"].as_array().unwrap().clone();
        assert_eq!(items.len(), 7);
        assert!(items[0]["backup_metadata"]["host_name"].is_string());
        let page = get(&format!("{base}/backups?limit=5&offset=5"), Some(&token)).await;
        assert_eq!(page.json()["backups"].as_array().unwrap().len(), 2);
        let jobs = get(&format!("{base}/jobs"), Some(&token)).await.json();
        assert_eq!(jobs["jobs"].as_array().unwrap().len(), 3);
        assert!(jobs["jobs"][0]["job_action"].is_object());
        let clients = get(&format!("{base}/clients"), Some(&token)).await.json();
        assert_eq!(clients["clients"].as_array().unwrap().len(), 3);
        let sessions = get(&format!("{base}/sessions"), Some(&token)).await;
        assert_eq!(sessions.status, 200);
        let job = get(
            &format!("{base}/jobs/{}", fleet::V1_JOB_GAMMA),
            Some(&token),
        )
        .await;
        assert_eq!(job.json()["job_schedule"]["result"], "fail");
        assert_eq!(
            get(&format!("{base}/actions"), Some(&token)).await.status,
            404
        );
        let home = get(&base, Some(&token)).await;
        assert_eq!(home.header("content-type"), Some("application/json-home"));
        assert_eq!(
            get(&format!("{base}/backups?limit=x"), Some(&token))
                .await
                .status,
            400
        );
        server.shutdown().await;

        // Without keystone: the data set's first project.
        let config = SimConfig {
            keystone: None,
            versions: ApiVersions::Both,
            latency: Duration::ZERO,
        };
        let server = start(v1_deployment(NOW), config).await;
        let reply = get(&format!("{}/v1/clients", server.url()), None).await;
        assert_eq!(reply.json()["clients"].as_array().unwrap().len(), 3);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn faults_and_dataset_swap() {
        let server = start(demo_deployment(NOW), SimConfig::default()).await;
        let token = server.mint_token(PROD_PROJECT_ID, &["reader"]);
        let url = format!("{}/v2/{PROD_PROJECT_ID}/backups", server.freezer_url());
        let fault = |f: Fault| f;
        server.faults().set_times(
            "backups",
            fault(Fault {
                status: Some(503),
                ..Fault::default()
            }),
            1,
        );
        let reply = get(&url, Some(&token)).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.json()["title"], "Service Unavailable");
        assert_eq!(get(&url, Some(&token)).await.status, 200);
        server.faults().set(
            "backups",
            Fault {
                truncate: true,
                ..Fault::default()
            },
        );
        let reply = get(&url, Some(&token)).await;
        assert_eq!(reply.status, 200);
        assert!(serde_json::from_str::<Value>(&reply.body).is_err());
        server.faults().set(
            "backups",
            Fault {
                garbage: true,
                ..Fault::default()
            },
        );
        assert!(get(&url, Some(&token)).await.body.starts_with("<html>"));
        server.faults().set(
            "backups",
            Fault {
                delay: Some(Duration::from_millis(100)),
                ..Fault::default()
            },
        );
        let started = Instant::now();
        assert_eq!(get(&url, Some(&token)).await.status, 200);
        assert!(started.elapsed() >= Duration::from_millis(100));
        server.faults().clear_all();

        server.faults().set_ignore_paging(true);
        let all = get(&format!("{url}?limit=2"), Some(&token)).await;
        assert_eq!(all.json()["backups"].as_array().unwrap().len(), 28);
        server.faults().set_ignore_paging(false);
        server.faults().set_ignore_offset(true);
        let first = get(&format!("{url}?limit=3"), Some(&token)).await.json();
        let again = get(&format!("{url}?limit=3&offset=6"), Some(&token))
            .await
            .json();
        assert_eq!(first, again);
        server.faults().clear_all();

        // Keystone faults.
        server.faults().set_times(
            "auth",
            Fault {
                status: Some(500),
                ..Fault::default()
            },
            1,
        );
        let body = password_body(
            READER_USER_NAME,
            DEMO_PASSWORD,
            project_scope(PROD_PROJECT_ID),
        );
        let reply = login(&server, body.clone()).await;
        assert_eq!(reply.status, 500);
        assert_eq!(reply.json()["error"]["code"], 500);
        assert_eq!(login(&server, body).await.status, 201);
        assert_eq!(server.request_count("auth"), 2);
        assert_eq!(server.auth_count(), 1);

        // A new data set is served at once.
        server.set_dataset(backups_dataset(PROD_PROJECT_ID, 3));
        let reply = get(&format!("{url}?limit=-1"), Some(&token)).await;
        assert_eq!(reply.json()["backups"].as_array().unwrap().len(), 3);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn latency_is_added() {
        let config = SimConfig {
            keystone: None,
            latency: Duration::from_millis(60),
            ..SimConfig::default()
        };
        let server = start(backups_dataset("p", 1), config).await;
        let started = Instant::now();
        assert_eq!(
            get(&format!("{}/v2/p/backups", server.url()), None)
                .await
                .status,
            200
        );
        assert!(started.elapsed() >= Duration::from_millis(60));
        server.shutdown().await;
    }

    #[test]
    fn routes() {
        let config = SimConfig {
            versions: ApiVersions::Both,
            ..SimConfig::default()
        };
        let f = |path: &str| match route(path, &config) {
            Route::Freezer { prefix, target } => (prefix, target),
            other => panic!("{path}: {other:?}"),
        };
        assert_eq!(f("/freezer"), ("/freezer".to_owned(), Target::Versions));
        assert_eq!(f("/"), (String::new(), Target::Versions));
        assert_eq!(
            f("/r12/freezer-internal/v2/"),
            ("/r12/freezer-internal".to_owned(), Target::Home(2))
        );
        assert_eq!(f("/freezerx/v2").1, Target::NotFound);
        assert_eq!(f("/r2/other").1, Target::NotFound);
        assert_eq!(
            f("/freezer/v2/p/jobs/j/").1,
            Target::Single {
                version: 2,
                project: Some("p".to_owned()),
                coll: Coll::Jobs,
                id: "j".to_owned()
            }
        );
        assert_eq!(f("/v2/p").1, Target::NotFound);
        assert_eq!(f("/v2//backups").1, Target::NotFound);
        assert_eq!(route("/identity/v3/auth/tokens/", &config), Route::Auth);
        assert_eq!(route("/identity/", &config), Route::IdentityDoc(false));
        assert_eq!(route("/identity/v2.0", &config), Route::IdentityNotFound);
        let no_keystone = no_keystone();
        assert!(matches!(
            route("/identity/v3/auth/tokens", &no_keystone),
            Route::Freezer {
                target: Target::NotFound,
                ..
            }
        ));
        assert_eq!(int_param("12"), Some(12));
        assert_eq!(int_param("-3"), Some(-3));
        assert_eq!(int_param("+99999999999999999999"), Some(i64::MAX));
        assert_eq!(int_param("2.5"), None);
        assert_eq!(int_param("abc"), None);
    }
}
