//! Configuration: built-in defaults < TOML file < `BACKUP_EXPORTER_*` environment.
//!
//! Unknown keys are errors, and every error names the key (and the source) it is about.
//! Secrets are given inline or as `*_file` (file contents, trailing newline stripped); they are
//! never printed: [`Secret`]'s `Debug` is redacted.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use url::Url;

/// Default listen address: port 9871, the exporter's own (README).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9871";
/// Environment variable prefix for overrides of top-level keys.
pub const ENV_PREFIX: &str = "BACKUP_EXPORTER_";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `human` (default) or `json` log lines.
    #[serde(default)]
    pub log_format: LogFormat,
    /// A tracing filter: `info` (default), `debug`, `backup_exporter=debug,warn`, ...
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Default age of a target's last successful backup past which it counts as stale
    /// (`backup_stale_threshold_seconds`); a source's own `stale_threshold` replaces it.
    #[serde(default = "default_stale_threshold")]
    pub stale_threshold: StaleThreshold,
    /// The backup systems to read, one `[[source]]` table each.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// The alerting bridge: where to send the backup alerts (off when absent).
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerConfig>,
    /// The web configuration file protecting every endpoint (TLS, client certificates, basic
    /// auth, headers), in the YAML format node_exporter takes; `--web.config.file` wins over
    /// it. Read again when it changes (docs/security.md, "Protecting the endpoints").
    #[serde(default)]
    pub web_config_file: Option<PathBuf>,
    /// Connections open at once, at most (default 512); above it the stalest idle connection
    /// makes room for a new one (`--web.max-connections` wins over it).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
}

/// `[alertmanager]`: the alerting bridge posts the bundled rules' backup alerts to these
/// Alertmanagers (see `crate::alerting`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// Alertmanager base URLs (a path prefix is kept): alerts go to `{url}/api/v2/alerts`.
    pub urls: Vec<ConfiguredUrl>,
    /// How often firing alerts are sent again (they are sent at once when the set changes).
    #[serde(default = "default_resend_interval", with = "humantime_serde")]
    pub resend_interval: Duration,
    /// Timeout of each POST.
    #[serde(default = "default_alertmanager_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The exporter's own URL as people reach it, for the alerts' `generatorURL` (default:
    /// `http://` the listen address, or this host's name when it listens on every address).
    #[serde(default)]
    pub external_url: Option<Url>,
    /// How long an alert keeps firing after its condition cleared (the bundled rules use
    /// `10m`; 0, the default, resolves it at once).
    #[serde(default, with = "humantime_serde")]
    pub keep_firing_for: Duration,
    /// Basic authentication: `username` with `password` or `password_file`.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A bearer token, read from this file for every send (so a rotated token is picked up).
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    #[serde(default)]
    pub tls: TlsConfig,
}

/// How old a target's last successful backup may get before it counts as stale: a duration
/// (`"3d"`, `"36h"`) or `"off"` (never: no threshold is exported, so no staleness alert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleThreshold {
    After(Duration),
    Off,
}

impl StaleThreshold {
    /// The threshold in seconds; `None` when off.
    pub fn seconds(self) -> Option<f64> {
        match self {
            StaleThreshold::After(d) => Some(d.as_secs_f64()),
            StaleThreshold::Off => None,
        }
    }
}

impl<'de> Deserialize<'de> for StaleThreshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(StaleThreshold::Off);
        }
        match humantime::parse_duration(text.trim()) {
            Ok(d) if !d.is_zero() => Ok(StaleThreshold::After(d)),
            Ok(_) => Err(serde::de::Error::custom(
                "a stale threshold must be more than 0s (or \"off\")",
            )),
            Err(e) => Err(serde::de::Error::custom(format!(
                "{text:?} is not a duration such as \"3d\" or \"36h\", nor \"off\": {e}"
            ))),
        }
    }
}

/// A `[[source.stale_override]]`: the threshold of the targets it matches. The first matching
/// override of a source wins; every pattern given must match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleOverride {
    /// Matches the device name (the `device` label).
    #[serde(default)]
    pub device: Option<Pattern>,
    /// Matches the device id (the `device_id` label).
    #[serde(default)]
    pub device_id: Option<Pattern>,
    /// Matches the target (the `target` label).
    #[serde(default)]
    pub target: Option<Pattern>,
    pub threshold: StaleThreshold,
}

/// A regular expression matched against a whole label value, anchored at both ends as in
/// PromQL (`db-.*` matches `db-01`, not `old-db-01`).
#[derive(Clone)]
pub struct Pattern {
    text: String,
    regex: regex::Regex,
}

impl Pattern {
    pub fn new(text: &str) -> Result<Pattern, String> {
        regex::Regex::new(&format!("^(?:{text})$"))
            .map(|regex| Pattern {
                text: text.to_owned(),
                regex,
            })
            .map_err(|e| format!("{text:?} is not a valid regular expression: {e}"))
    }

    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Pattern::new(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Legacy CrashPlan PRO server, `/rest` API.
    Crashplan,
    /// Modern Code42 / CrashPlan console, `/api/v1` with v3 token authentication.
    Code42,
    /// Rackspace Cloud Backup, `/v1.0/{tenant}` with Rackspace identity v2.0 tokens.
    Rackspace,
    /// OpenStack Freezer, `/v2/{project_id}` (or `/v1`) with keystone v3 tokens.
    Freezer,
}

impl SourceKind {
    /// The `system` label value of the kind's vendor-neutral metrics.
    pub fn system(self) -> &'static str {
        match self {
            SourceKind::Crashplan => "crashplan",
            SourceKind::Code42 => "code42",
            SourceKind::Rackspace => "rackspace",
            SourceKind::Freezer => "freezer",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Becomes the `source` label; unique among sources.
    pub name: String,
    pub kind: SourceKind,
    /// Base URL of the vendor API, e.g. `https://crashplan.example.com:4285` (crashplan,
    /// code42; rackspace finds its endpoint in the identity service catalog).
    #[serde(default)]
    pub url: Option<Url>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// How often the source is read (humantime: `5m`, `90s`).
    #[serde(default = "default_refresh_interval", with = "humantime_serde")]
    pub refresh_interval: Duration,
    /// Timeout of each upstream request.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Items requested per page of a list call.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Upstream requests of this source in flight at once (list pages and detail calls).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Largest upstream answer read, counted after decompression while it streams in
    /// (`"32MiB"`, `"100 MB"` or a number of bytes); a larger one fails the refresh with
    /// reason `too_large`.
    #[serde(default = "default_max_response_size")]
    pub max_response_size: ByteSize,
    /// Also export deactivated devices.
    #[serde(default)]
    pub include_deactivated: bool,
    #[serde(default)]
    pub tls: TlsConfig,

    // ---- code42 ----
    /// How a code42 source signs in: `local` (username, password, optional TOTP),
    /// `api_client` (client_id, client_secret) or `token` (a bearer token read from token_file).
    /// How a freezer source signs in to keystone: `password` (default),
    /// `application_credential`, `token` (token_file) or `none` (no credentials: a trusted
    /// proxy in front of Freezer, or a test server).
    #[serde(default)]
    pub auth: Option<AuthMode>,
    /// Base32 TOTP secret of a two-factor local account (code42, auth `local`).
    #[serde(default)]
    pub totp_secret: Option<Secret>,
    #[serde(default)]
    pub totp_secret_file: Option<PathBuf>,
    /// API client id (code42, auth `api_client`).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// File holding a token (code42 and freezer, auth `token`); read again whenever the token
    /// is refused, so an external process may rotate it.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// A token older than this is renewed before use (the API publishes no lifetime).
    #[serde(default, with = "humantime_serde::option")]
    pub token_max_age: Option<Duration>,
    /// A device counts as connected when it checked in within this long of the server's time.
    #[serde(default, with = "humantime_serde::option")]
    pub connected_within: Option<Duration>,
    /// Read the user and org lists for the `user` and `org` labels (code42; default true).
    #[serde(default)]
    pub resolve_names: Option<bool>,
    /// Per-org roll-ups of devices and bytes (code42; default true).
    #[serde(default)]
    pub org_rollups: Option<bool>,

    // ---- rackspace ----
    /// Rackspace identity service (rackspace; default `https://identity.api.rackspacecloud.com`);
    /// tokens come from `POST {identity_url}/v2.0/tokens`. Keystone (freezer), e.g.
    /// `https://keystone.example.com:5000/v3`; tokens come from `POST .../v3/auth/tokens`.
    #[serde(default)]
    pub identity_url: Option<Url>,
    /// Rackspace API key of `username` (rackspace; or `password`).
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Region whose Cloud Backup endpoint to use (rackspace; default: the account's default
    /// region), or whose Freezer endpoint to use (freezer; needed when the catalog has several).
    #[serde(default)]
    pub region: Option<String>,
    /// Use the catalog's region-less (global) Cloud Backup endpoint when the region has none
    /// (rackspace; default false).
    #[serde(default)]
    pub allow_global_endpoint: Option<bool>,
    /// Cloud Backup endpoint to use instead of the catalog's (rackspace): the catalog form
    /// `https://dfw.backup.api.rackspacecloud.com/v1.0/{tenant}`, or only the host, to which
    /// `/v1.0/{tenant}` of the token's tenant is added. The Freezer API's root (freezer),
    /// e.g. `http://freezer.example.com:9090`, instead of the keystone catalog's.
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// Read the report of each configuration's latest finished backup (errors, bytes,
    /// duration) (rackspace; default true).
    #[serde(default)]
    pub read_reports: Option<bool>,

    // ---- freezer (keystone v3) ----
    /// Domain of `username` by name (freezer; default `Default` unless user_domain_id is given).
    #[serde(default)]
    pub user_domain_name: Option<String>,
    #[serde(default)]
    pub user_domain_id: Option<String>,
    /// Project to scope the token to, by name (with project_domain_name or _id) or by id
    /// (freezer, auth `password`).
    #[serde(default)]
    pub project_name: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub project_domain_name: Option<String>,
    #[serde(default)]
    pub project_domain_id: Option<String>,
    /// Keystone application credential, by id, or by name with username (freezer, auth
    /// `application_credential`).
    #[serde(default)]
    pub application_credential_id: Option<String>,
    #[serde(default)]
    pub application_credential_name: Option<String>,
    #[serde(default)]
    pub application_credential_secret: Option<Secret>,
    #[serde(default)]
    pub application_credential_secret_file: Option<PathBuf>,
    /// Catalog interface of the Freezer endpoint: `public` (default), `internal` or `admin`.
    #[serde(default)]
    pub interface: Option<String>,
    /// Catalog service type of Freezer (default `backup`).
    #[serde(default)]
    pub service_type: Option<String>,
    /// Project ids to read (freezer; default: the token's project).
    #[serde(default)]
    pub projects: Option<Vec<String>>,

    /// This source's stale threshold (default: the top-level `stale_threshold`).
    #[serde(default)]
    pub stale_threshold: Option<StaleThreshold>,
    /// Thresholds for the targets that match, checked in order before `stale_threshold`.
    #[serde(default, rename = "stale_override")]
    pub stale_overrides: Vec<StaleOverride>,
}

/// How a source authenticates: code42 `local`, `api_client`, `token`; freezer `password`,
/// `application_credential`, `token`, `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    Local,
    ApiClient,
    Token,
    Password,
    ApplicationCredential,
    None,
}

impl AuthMode {
    fn name(self) -> &'static str {
        match self {
            AuthMode::Local => "local",
            AuthMode::ApiClient => "api_client",
            AuthMode::Token => "token",
            AuthMode::Password => "password",
            AuthMode::ApplicationCredential => "application_credential",
            AuthMode::None => "none",
        }
    }
}

impl SourceConfig {
    /// "stale after 3d, 2 overrides", for `check-config`.
    pub fn stale_summary(&self) -> String {
        let threshold = match self.stale_threshold.unwrap_or_else(default_stale_threshold) {
            StaleThreshold::After(d) => {
                let secs = d.as_secs();
                let shown = match (d.subsec_nanos(), secs % 86_400, secs % 3600) {
                    (0, 0, _) => format!("{}d", secs / 86_400),
                    (0, _, 0) => format!("{}h", secs / 3600),
                    _ => humantime::format_duration(d).to_string(),
                };
                format!("stale after {shown}")
            }
            StaleThreshold::Off => "never stale".to_owned(),
        };
        match self.stale_overrides.len() {
            0 => threshold,
            1 => format!("{threshold}, 1 override"),
            n => format!("{threshold}, {n} overrides"),
        }
    }

    /// The authentication mode, with the kind's default.
    pub fn auth_mode(&self) -> AuthMode {
        self.auth.unwrap_or(match self.kind {
            SourceKind::Freezer => AuthMode::Password,
            _ => AuthMode::Local,
        })
    }
    /// See [`SourceConfig::token_max_age`]; by default 30 minutes for code42 (whose tokens
    /// carry no lifetime) and 12 hours for rackspace and freezer (whose tokens say when they
    /// expire).
    pub fn token_max_age(&self) -> Duration {
        self.token_max_age.unwrap_or(match self.kind {
            SourceKind::Rackspace | SourceKind::Freezer => Duration::from_secs(12 * 3600),
            _ => Duration::from_secs(30 * 60),
        })
    }
    /// See [`SourceConfig::connected_within`]; 15 minutes by default.
    pub fn connected_within(&self) -> Duration {
        self.connected_within
            .unwrap_or(Duration::from_secs(15 * 60))
    }
    pub fn resolve_names(&self) -> bool {
        self.resolve_names.unwrap_or(true)
    }
    pub fn org_rollups(&self) -> bool {
        self.org_rollups.unwrap_or(true)
    }
    /// The Rackspace identity service.
    pub fn identity_url(&self) -> Url {
        self.identity_url.clone().unwrap_or_else(|| {
            Url::parse(DEFAULT_IDENTITY_URL).expect("the default identity URL parses")
        })
    }
    pub fn allow_global_endpoint(&self) -> bool {
        self.allow_global_endpoint.unwrap_or(false)
    }
    pub fn read_reports(&self) -> bool {
        self.read_reports.unwrap_or(true)
    }
    /// Where requests go first: the vendor API (`url`, or rackspace's `endpoint`), else the
    /// identity service that tells where the API is.
    pub fn base_url(&self) -> Url {
        self.url
            .clone()
            .or_else(|| self.endpoint.clone())
            .unwrap_or_else(|| self.identity_url())
    }
}

/// Rackspace's public identity service.
pub const DEFAULT_IDENTITY_URL: &str = "https://identity.api.rackspacecloud.com";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with CA certificates to trust in addition to the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. For tests and emergencies only.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

impl TlsConfig {
    /// A `ca_file` that is missing or not a file (its certificates are read when the client
    /// is built: `crate::tls::apply`).
    fn ca_file_problem(&self) -> Option<String> {
        let ca = self.ca_file.as_ref()?;
        (!ca.is_file()).then(|| format!("{}: not found or not a file", ca.display()))
    }
}

/// A secret string: never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
        .parse()
        .expect("default listen address parses")
}
fn default_log_level() -> String {
    "info".into()
}
/// Three days: a daily backup may miss two runs.
pub(crate) fn default_stale_threshold() -> StaleThreshold {
    StaleThreshold::After(Duration::from_secs(3 * 86_400))
}
fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_resend_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_alertmanager_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_page_size() -> usize {
    500
}
fn default_max_connections() -> usize {
    crate::web::conns::DEFAULT_MAX_CONNECTIONS
}

fn default_concurrency() -> usize {
    4
}
fn default_max_response_size() -> ByteSize {
    ByteSize(32 << 20)
}

/// A number of bytes: a TOML integer, or text with a unit (`"32MiB"`, `"64 MB"`, `"1GiB"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(ByteSize(n)),
            Raw::Text(t) => parse_size::parse_size(t.trim())
                .map(ByteSize)
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "{t:?} is not a size ({e}); write bytes or a number with a unit, e.g. \"32MiB\""
                    ))
                }),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n >= 1 << 20 && n % (1 << 20) == 0 {
            write!(f, "{}MiB", n >> 20)
        } else if n >= 1 << 10 && n % (1 << 10) == 0 {
            write!(f, "{}KiB", n >> 10)
        } else {
            write!(f, "{n} bytes")
        }
    }
}

/// A configuration error: the message names the key (and source) at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn at(source: &SourceConfig, index: usize, key: &str, msg: impl fmt::Display) -> Self {
        ConfigError(format!(
            "source[{index}] (name {:?}): key `{key}`: {msg}",
            source.name
        ))
    }
}

impl Config {
    /// Loads and validates: defaults, then the TOML file (if any), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            // `Toml::file` would search parent folders and treat a missing file as empty.
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {}: not found or not a file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(env_provider());
        Self::from_figment(figment)
    }

    /// Loads and validates a configuration given as TOML text (demo, tests), with the same
    /// environment overrides as [`Config::load`].
    pub fn from_toml_str(toml: &str) -> Result<Config, ConfigError> {
        Self::from_figment(
            Figment::new()
                .merge(Toml::string(toml))
                .merge(env_provider()),
        )
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let mut config: Config = figment.extract().map_err(|e| {
            // One line per problem; figment names the key and where it came from.
            ConfigError(
                e.into_iter()
                    .map(|e| without_secrets(&e))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// What `run` needs beyond a valid file: at least one source. `check-config` asks the
    /// same, so the two never disagree.
    pub fn check_runnable(&self) -> Result<(), ConfigError> {
        if self.sources.is_empty() {
            return Err(ConfigError(
                "no [[source]] configured: give --config FILE (see README), or try `backup_exporter demo`"
                    .into(),
            ));
        }
        Ok(())
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return Err(ConfigError(format!(
                "key `log_level`: {:?} is not a valid filter (try \"info\" or \"debug\")",
                self.log_level
            )));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError(
                "key `max_connections`: must be 1 to 1000000".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        let stale_threshold = self.stale_threshold;
        for (i, s) in self.sources.iter_mut().enumerate() {
            s.stale_threshold.get_or_insert(stale_threshold);
            for (j, o) in s.stale_overrides.iter().enumerate() {
                if o.device.is_none() && o.device_id.is_none() && o.target.is_none() {
                    return Err(ConfigError::at(
                        s,
                        i,
                        &format!("stale_override[{j}]"),
                        "give at least one of `device`, `device_id`, `target` (a regular expression)",
                    ));
                }
            }
            let texts = [
                ("name", Some(&s.name)),
                ("username", s.username.as_ref()),
                ("client_id", s.client_id.as_ref()),
                ("region", s.region.as_ref()),
                ("user_domain_name", s.user_domain_name.as_ref()),
                ("user_domain_id", s.user_domain_id.as_ref()),
                ("project_name", s.project_name.as_ref()),
                ("project_id", s.project_id.as_ref()),
                ("project_domain_name", s.project_domain_name.as_ref()),
                ("project_domain_id", s.project_domain_id.as_ref()),
                (
                    "application_credential_id",
                    s.application_credential_id.as_ref(),
                ),
                (
                    "application_credential_name",
                    s.application_credential_name.as_ref(),
                ),
                ("interface", s.interface.as_ref()),
                ("service_type", s.service_type.as_ref()),
            ];
            let projects = s.projects.iter().flatten().map(|p| ("projects", Some(p)));
            for (key, text) in texts.into_iter().chain(projects) {
                if text.is_some_and(|t| t.chars().any(char::is_control)) {
                    return Err(ConfigError::at(
                        s,
                        i,
                        key,
                        "contains a control character (a line break, tab, escape, ...): names and labels must be plain text",
                    ));
                }
            }
            if s.name.trim().is_empty() {
                return Err(ConfigError::at(s, i, "name", "must not be empty"));
            }
            if !names.insert(s.name.clone()) {
                return Err(ConfigError::at(
                    s,
                    i,
                    "name",
                    "another source has this name",
                ));
            }
            for (key, url) in [
                ("url", &s.url),
                ("identity_url", &s.identity_url),
                ("endpoint", &s.endpoint),
            ] {
                if let Some(url) = url {
                    check_http_url(s, i, key, url)?;
                }
            }
            if s.refresh_interval < Duration::from_secs(1) {
                return Err(ConfigError::at(
                    s,
                    i,
                    "refresh_interval",
                    "must be at least 1s",
                ));
            }
            if s.timeout.is_zero() {
                return Err(ConfigError::at(s, i, "timeout", "must be more than 0s"));
            }
            if !(1..=100_000).contains(&s.page_size) {
                return Err(ConfigError::at(s, i, "page_size", "must be 1 to 100000"));
            }
            if !(1..=64).contains(&s.concurrency) {
                return Err(ConfigError::at(s, i, "concurrency", "must be 1 to 64"));
            }
            if !(64 << 10..=4 << 30).contains(&s.max_response_size.0) {
                return Err(ConfigError::at(
                    s,
                    i,
                    "max_response_size",
                    "must be 64KiB to 4GiB",
                ));
            }
            if let Some(problem) = s.tls.ca_file_problem() {
                return Err(ConfigError::at(s, i, "tls.ca_file", problem));
            }
            resolve_secret(s, i, "password", |s| (&mut s.password, &s.password_file))?;
            resolve_secret(s, i, "totp_secret", |s| {
                (&mut s.totp_secret, &s.totp_secret_file)
            })?;
            resolve_secret(s, i, "client_secret", |s| {
                (&mut s.client_secret, &s.client_secret_file)
            })?;
            resolve_secret(s, i, "api_key", |s| (&mut s.api_key, &s.api_key_file))?;
            resolve_secret(s, i, "application_credential_secret", |s| {
                (
                    &mut s.application_credential_secret,
                    &s.application_credential_secret_file,
                )
            })?;
            validate_kind(s, i)?;
        }
        if let Some(am) = &mut self.alertmanager {
            am.validate()?;
        }
        Ok(())
    }
}

/// A URL and the text it was configured as (a label value names it as the user wrote it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredUrl {
    pub text: String,
    pub url: Url,
}

impl<'de> Deserialize<'de> for ConfiguredUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let url = Url::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not a URL: {e}")))?;
        Ok(ConfiguredUrl { text, url })
    }
}

impl AlertmanagerConfig {
    fn validate(&mut self) -> Result<(), ConfigError> {
        let err =
            |key: &str, msg: String| ConfigError(format!("[alertmanager] key `{key}`: {msg}"));
        if self.urls.is_empty() {
            return Err(err("urls", "give at least one Alertmanager URL".into()));
        }
        for (i, configured) in self.urls.iter().enumerate() {
            let url = &configured.url;
            if let Some(problem) = http_url_problem(url) {
                return Err(err(&format!("urls[{i}]"), problem));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(err(
                    &format!("urls[{i}]"),
                    format!("{url}: give the base URL, without query or fragment"),
                ));
            }
            if self.urls[..i].iter().any(|u| u.url == *url) {
                return Err(err(&format!("urls[{i}]"), format!("{url} is listed twice")));
            }
        }
        if self.resend_interval < Duration::from_secs(1) {
            return Err(err("resend_interval", "must be at least 1s".into()));
        }
        if self.timeout.is_zero() {
            return Err(err("timeout", "must be more than 0s".into()));
        }
        if let Some(problem) = self.external_url.as_ref().and_then(not_http_with_host) {
            return Err(err("external_url", problem));
        }
        if let Some(path) = &self.password_file {
            if self.password.is_some() {
                return Err(err(
                    "password_file",
                    "give either `password` or `password_file`, not both".into(),
                ));
            }
            let text = read_secret_file(path)
                .map_err(|e| err("password_file", format!("{}: {e}", path.display())))?;
            self.password = Some(Secret(text));
        }
        match (&self.username, &self.password) {
            (Some(_), None) => {
                return Err(err(
                    "password",
                    "`username` needs `password` or `password_file`".into(),
                ))
            }
            (None, Some(_)) => return Err(err("username", "`password` needs `username`".into())),
            _ => {}
        }
        if let Some(path) = &self.bearer_token_file {
            if self.username.is_some() {
                return Err(err(
                    "bearer_token_file",
                    "give either basic authentication (`username`) or a bearer token, not both"
                        .into(),
                ));
            }
            read_secret_file(path)
                .map_err(|e| err("bearer_token_file", format!("{}: {e}", path.display())))?;
        }
        if let Some(problem) = self.tls.ca_file_problem() {
            return Err(err("tls.ca_file", problem));
        }
        Ok(())
    }
}

/// Keys whose values are secrets: an error about one never shows its value.
const SECRET_KEYS: &[&str] = &[
    "password",
    "api_key",
    "client_secret",
    "totp_secret",
    "application_credential_secret",
];

/// A configuration error as shown to the operator, with no secret in it.
///
/// - A TOML syntax error quotes the line it found (which may be `password = "..."`): only the
///   position and the problem are kept, never the quoted source.
/// - An error about a secret key's value (a number where text belongs, ...) names the key and
///   the expected kind, never the value.
fn without_secrets(e: &figment::Error) -> String {
    let where_ = e
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(source) => format!(" in {source}"),
            None => format!(" in {}", m.name),
        })
        .unwrap_or_default();
    let key = e.path.join(".");
    if e.path
        .last()
        .is_some_and(|k| SECRET_KEYS.contains(&k.as_str()))
    {
        return format!(
            "invalid value for key `{key}`{where_}: it must be text (the value is a secret and is not shown)"
        );
    }
    let text = e.to_string();
    if !text.contains('|') {
        return text;
    }
    // A quoted source snippet: lines of `  |`, `6 | password = ...`, `  |    ^`.
    let quoted = regex::Regex::new(r"^\s*\d*\s*\|").expect("static regex");
    text.lines()
        .filter(|l| !quoted.is_match(l))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

fn env_provider() -> Env {
    // BACKUP_EXPORTER_CONFIG names the config file (see the CLI): it is not a key.
    Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"])
}

/// An upstream URL must be http(s), with a host, and carry no credentials.
fn check_http_url(s: &SourceConfig, i: usize, key: &str, url: &Url) -> Result<(), ConfigError> {
    http_url_problem(url).map_or(Ok(()), |msg| Err(ConfigError::at(s, i, key, msg)))
}

/// What is wrong with a URL the exporter calls: not http(s) with a host, or credentials in it.
fn http_url_problem(url: &Url) -> Option<String> {
    not_http_with_host(url).or_else(|| {
        (!url.username().is_empty() || url.password().is_some())
            .then(|| "must not carry credentials: use username and password_file".into())
    })
}

fn not_http_with_host(url: &Url) -> Option<String> {
    (!matches!(url.scheme(), "http" | "https") || url.host().is_none())
        .then(|| format!("{url} is not an http(s) URL with a host"))
}

/// Fills a secret (`key`) from its file (`key_file`); at most one of the two may be given.
fn resolve_secret(
    s: &mut SourceConfig,
    i: usize,
    key: &str,
    fields: impl Fn(&mut SourceConfig) -> (&mut Option<Secret>, &Option<PathBuf>),
) -> Result<(), ConfigError> {
    let file_key = format!("{key}_file");
    let (inline, file) = fields(s);
    let Some(path) = file.clone() else {
        return Ok(());
    };
    let both = inline.is_some();
    let text = read_secret_file(&path);
    if both {
        return Err(ConfigError::at(
            s,
            i,
            &file_key,
            format!("give either `{key}` or `{file_key}`, not both"),
        ));
    }
    let text =
        text.map_err(|e| ConfigError::at(s, i, &file_key, format!("{}: {e}", path.display())))?;
    *fields(s).0 = Some(Secret(text));
    Ok(())
}

/// The keys each kind (and code42 auth mode) requires, and the ones it does not accept.
fn validate_kind(s: &SourceConfig, i: usize) -> Result<(), ConfigError> {
    let kind = s.kind.system();
    let require = |present: bool, key: &str, what: &str| {
        if present {
            Ok(())
        } else {
            Err(ConfigError::at(s, i, key, format!("required for {what}")))
        }
    };
    let refuse = |present: bool, key: &str, what: &str| {
        if present {
            Err(ConfigError::at(
                s,
                i,
                key,
                format!("does not apply to {what}"),
            ))
        } else {
            Ok(())
        }
    };
    let has_user = s.username.as_deref().is_some_and(|u| !u.is_empty());
    let code42_keys = [
        (s.auth.is_some(), "auth"),
        (s.totp_secret.is_some(), "totp_secret"),
        (s.client_id.is_some(), "client_id"),
        (s.client_secret.is_some(), "client_secret"),
        (s.token_file.is_some(), "token_file"),
        (s.token_max_age.is_some(), "token_max_age"),
        (s.connected_within.is_some(), "connected_within"),
        (s.resolve_names.is_some(), "resolve_names"),
        (s.org_rollups.is_some(), "org_rollups"),
    ];
    let rackspace_keys = [
        (s.identity_url.is_some(), "identity_url"),
        (s.api_key.is_some(), "api_key"),
        (s.region.is_some(), "region"),
        (s.allow_global_endpoint.is_some(), "allow_global_endpoint"),
        (s.endpoint.is_some(), "endpoint"),
        (s.read_reports.is_some(), "read_reports"),
    ];
    let freezer_keys = [
        (s.user_domain_name.is_some(), "user_domain_name"),
        (s.user_domain_id.is_some(), "user_domain_id"),
        (s.project_name.is_some(), "project_name"),
        (s.project_id.is_some(), "project_id"),
        (s.project_domain_name.is_some(), "project_domain_name"),
        (s.project_domain_id.is_some(), "project_domain_id"),
        (
            s.application_credential_id.is_some(),
            "application_credential_id",
        ),
        (
            s.application_credential_name.is_some(),
            "application_credential_name",
        ),
        (
            s.application_credential_secret.is_some(),
            "application_credential_secret",
        ),
        (s.interface.is_some(), "interface"),
        (s.service_type.is_some(), "service_type"),
        (s.projects.is_some(), "projects"),
    ];
    if s.kind != SourceKind::Freezer {
        let what = format!("kind {kind:?}");
        for (present, key) in freezer_keys {
            refuse(present, key, &what)?;
        }
    }
    if !matches!(s.kind, SourceKind::Rackspace | SourceKind::Freezer) {
        let what = format!("kind {kind:?}");
        for (present, key) in rackspace_keys {
            refuse(present, key, &what)?;
        }
        require(s.url.is_some(), "url", &what)?;
    }
    match s.kind {
        SourceKind::Crashplan => {
            let what = format!("kind {kind:?}");
            for (present, key) in code42_keys {
                refuse(present, key, &what)?;
            }
            require(has_user, "username", &what)?;
            require(
                s.password.is_some(),
                "password",
                &format!("{what} (give password or password_file)"),
            )?;
        }
        SourceKind::Code42 => {
            let mode = s.auth_mode();
            let what = match mode {
                AuthMode::Local => "kind \"code42\" with auth \"local\"",
                AuthMode::ApiClient => "kind \"code42\" with auth \"api_client\"",
                AuthMode::Token => "kind \"code42\" with auth \"token\"",
                other => {
                    return Err(ConfigError::at(
                        s,
                        i,
                        "auth",
                        format!(
                            "{:?} does not apply to kind \"code42\" (local, api_client or token)",
                            other.name()
                        ),
                    ))
                }
            };
            let local = mode == AuthMode::Local;
            let client = mode == AuthMode::ApiClient;
            let token = mode == AuthMode::Token;
            if local {
                require(has_user, "username", what)?;
                require(
                    s.password.is_some(),
                    "password",
                    &format!("{what} (give password or password_file)"),
                )?;
            } else {
                refuse(s.username.is_some(), "username", what)?;
                refuse(s.password.is_some(), "password", what)?;
                refuse(s.totp_secret.is_some(), "totp_secret", what)?;
            }
            if let Some(secret) = &s.totp_secret {
                if let Err(e) = crate::sources::code42::auth::totp_secret_bytes(secret) {
                    return Err(ConfigError::at(s, i, "totp_secret", e));
                }
            }
            if client {
                require(
                    s.client_id.as_deref().is_some_and(|c| !c.is_empty()),
                    "client_id",
                    what,
                )?;
                require(
                    s.client_secret.is_some(),
                    "client_secret",
                    &format!("{what} (give client_secret or client_secret_file)"),
                )?;
            } else {
                refuse(s.client_id.is_some(), "client_id", what)?;
                refuse(s.client_secret.is_some(), "client_secret", what)?;
            }
            if token {
                let Some(path) = &s.token_file else {
                    return Err(ConfigError::at(
                        s,
                        i,
                        "token_file",
                        format!("required for {what}"),
                    ));
                };
                read_secret_file(path).map_err(|e| {
                    ConfigError::at(s, i, "token_file", format!("{}: {e}", path.display()))
                })?;
            } else {
                refuse(s.token_file.is_some(), "token_file", what)?;
            }
            if s.connected_within.is_some_and(|d| d.is_zero()) {
                return Err(ConfigError::at(
                    s,
                    i,
                    "connected_within",
                    "must be more than 0s",
                ));
            }
        }
        SourceKind::Rackspace => {
            let what = "kind \"rackspace\"";
            if s.url.is_some() {
                return Err(ConfigError::at(
                    s,
                    i,
                    "url",
                    "does not apply to kind \"rackspace\": the Cloud Backup endpoint comes from \
                     the identity service catalog (identity_url, region), or set `endpoint`",
                ));
            }
            for (present, key) in code42_keys {
                if key != "token_max_age" {
                    refuse(present, key, what)?;
                }
            }
            refuse(s.include_deactivated, "include_deactivated", what)?;
            require(has_user, "username", what)?;
            match (s.api_key.is_some(), s.password.is_some()) {
                (true, true) => {
                    return Err(ConfigError::at(
                        s,
                        i,
                        "api_key",
                        "give either an API key (api_key, api_key_file) or a password \
                         (password, password_file), not both",
                    ))
                }
                (false, false) => {
                    return Err(ConfigError::at(
                        s,
                        i,
                        "api_key",
                        "required for kind \"rackspace\" (give api_key or api_key_file, or \
                         password or password_file)",
                    ))
                }
                _ => {}
            }
            if s.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
                return Err(ConfigError::at(s, i, "region", "must not be empty"));
            }
        }
        SourceKind::Freezer => validate_freezer(s, i, &code42_keys)?,
    }
    if s.token_max_age.is_some_and(|a| a < Duration::from_secs(10)) {
        return Err(ConfigError::at(
            s,
            i,
            "token_max_age",
            "must be at least 10s",
        ));
    }
    Ok(())
}

/// The keys of a freezer source: keystone sign-in by mode, catalog, endpoint and projects.
fn validate_freezer(
    s: &SourceConfig,
    i: usize,
    code42_keys: &[(bool, &str)],
) -> Result<(), ConfigError> {
    let mode = s.auth_mode();
    let what = format!("kind \"freezer\" with auth {:?}", mode.name());
    let require = |present: bool, key: &str, how: &str| {
        if present {
            Ok(())
        } else {
            Err(ConfigError::at(
                s,
                i,
                key,
                format!("required for {what}{how}"),
            ))
        }
    };
    let refuse = |present: bool, key: &str| {
        if present {
            Err(ConfigError::at(
                s,
                i,
                key,
                format!("does not apply to {what}"),
            ))
        } else {
            Ok(())
        }
    };
    if s.url.is_some() {
        return Err(ConfigError::at(
            s,
            i,
            "url",
            "does not apply to kind \"freezer\": the Freezer endpoint comes from the keystone \
             catalog (identity_url, interface, region), or set `endpoint`",
        ));
    }
    for (present, key) in code42_keys {
        if !["auth", "token_file", "token_max_age"].contains(key) {
            refuse(*present, key)?;
        }
    }
    refuse(s.api_key.is_some(), "api_key")?;
    refuse(s.allow_global_endpoint.is_some(), "allow_global_endpoint")?;
    refuse(s.read_reports.is_some(), "read_reports")?;
    refuse(s.include_deactivated, "include_deactivated")?;
    let has = |v: &Option<String>| v.as_deref().is_some_and(|t| !t.trim().is_empty());
    let keystone = matches!(mode, AuthMode::Password | AuthMode::ApplicationCredential);
    let user_keys = [
        (s.username.is_some(), "username"),
        (s.user_domain_name.is_some(), "user_domain_name"),
        (s.user_domain_id.is_some(), "user_domain_id"),
    ];
    let scope_keys = [
        (s.project_name.is_some(), "project_name"),
        (s.project_id.is_some(), "project_id"),
        (s.project_domain_name.is_some(), "project_domain_name"),
        (s.project_domain_id.is_some(), "project_domain_id"),
    ];
    let app_keys = [
        (
            s.application_credential_id.is_some(),
            "application_credential_id",
        ),
        (
            s.application_credential_name.is_some(),
            "application_credential_name",
        ),
        (
            s.application_credential_secret.is_some(),
            "application_credential_secret",
        ),
    ];
    match mode {
        AuthMode::Password => {
            require(s.identity_url.is_some(), "identity_url", " (keystone, e.g. https://keystone.example.com:5000/v3)")?;
            require(has(&s.username), "username", "")?;
            require(s.password.is_some(), "password", " (give password or password_file)")?;
            match (has(&s.project_name), has(&s.project_id)) {
                (true, true) => {
                    return Err(ConfigError::at(s, i, "project_id", "give either project_id or project_name, not both"))
                }
                (false, false) => require(false, "project_name", " (or project_id): the project the token is scoped to")?,
                _ => {}
            }
            for (present, key) in app_keys {
                refuse(present, key)?;
            }
            refuse(s.token_file.is_some(), "token_file")?;
        }
        AuthMode::ApplicationCredential => {
            require(s.identity_url.is_some(), "identity_url", " (keystone, e.g. https://keystone.example.com:5000/v3)")?;
            require(
                s.application_credential_secret.is_some(),
                "application_credential_secret",
                " (give application_credential_secret or application_credential_secret_file)",
            )?;
            match (has(&s.application_credential_id), has(&s.application_credential_name)) {
                (true, true) => {
                    return Err(ConfigError::at(
                        s,
                        i,
                        "application_credential_name",
                        "give either application_credential_id or application_credential_name, not both",
                    ))
                }
                (false, false) => require(false, "application_credential_id", " (or application_credential_name with username)")?,
                (false, true) => require(has(&s.username), "username", " with application_credential_name (the credential's owner)")?,
                (true, false) => {
                    for (present, key) in user_keys {
                        refuse(present, key)?;
                    }
                }
            }
            refuse(s.password.is_some(), "password")?;
            refuse(s.token_file.is_some(), "token_file")?;
            for (present, key) in scope_keys {
                if present {
                    return Err(ConfigError::at(s, i, key, "does not apply to auth \"application_credential\": an application credential is bound to its project"));
                }
            }
        }
        AuthMode::Token | AuthMode::None => {
            require(s.endpoint.is_some(), "endpoint", " (the Freezer API's root URL)")?;
            let named = s
                .endpoint
                .as_ref()
                .and_then(crate::sources::freezer::keystone::project_in_path)
                .is_some();
            require(
                named || s.projects.as_ref().is_some_and(|p| !p.is_empty()),
                "projects",
                " (the project ids to read: there is no keystone token to name one; or give \
                 `endpoint` as .../v2/{project_id})",
            )?;
            if mode == AuthMode::Token {
                let Some(path) = &s.token_file else {
                    return Err(ConfigError::at(s, i, "token_file", format!("required for {what}")));
                };
                read_secret_file(path).map_err(|e| {
                    ConfigError::at(s, i, "token_file", format!("{}: {e}", path.display()))
                })?;
            } else {
                refuse(s.token_file.is_some(), "token_file")?;
            }
            for (present, key) in user_keys.into_iter().chain(scope_keys).chain(app_keys) {
                refuse(present, key)?;
            }
            refuse(s.password.is_some(), "password")?;
            refuse(s.identity_url.is_some(), "identity_url")?;
            refuse(s.region.is_some(), "region")?;
            refuse(s.interface.is_some(), "interface")?;
            refuse(s.service_type.is_some(), "service_type")?;
        }
        AuthMode::Local | AuthMode::ApiClient => {
            return Err(ConfigError::at(
                s,
                i,
                "auth",
                format!(
                    "{:?} does not apply to kind \"freezer\" (password, application_credential, token or none)",
                    mode.name()
                ),
            ))
        }
    }
    if keystone && s.endpoint.is_some() && s.interface.is_some() {
        return Err(ConfigError::at(
            s,
            i,
            "interface",
            "does not apply with `endpoint` (the catalog is not used)",
        ));
    }
    if let Some(interface) = &s.interface {
        if !["public", "internal", "admin"].contains(&interface.as_str()) {
            return Err(ConfigError::at(
                s,
                i,
                "interface",
                format!("{interface:?} is not public, internal or admin"),
            ));
        }
    }
    for (key, value) in [
        ("region", &s.region),
        ("service_type", &s.service_type),
        ("user_domain_name", &s.user_domain_name),
        ("user_domain_id", &s.user_domain_id),
        ("project_domain_name", &s.project_domain_name),
        ("project_domain_id", &s.project_domain_id),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(ConfigError::at(s, i, key, "must not be empty"));
        }
    }
    for (domain_name, domain_id) in [
        ("user_domain_name", "user_domain_id"),
        ("project_domain_name", "project_domain_id"),
    ] {
        let given = |k: &str| match k {
            "user_domain_name" => s.user_domain_name.is_some(),
            "user_domain_id" => s.user_domain_id.is_some(),
            "project_domain_name" => s.project_domain_name.is_some(),
            _ => s.project_domain_id.is_some(),
        };
        if given(domain_name) && given(domain_id) {
            return Err(ConfigError::at(
                s,
                i,
                domain_id,
                format!("give either {domain_name} or {domain_id}, not both"),
            ));
        }
    }
    if s.project_id.is_some() && (s.project_domain_name.is_some() || s.project_domain_id.is_some())
    {
        return Err(ConfigError::at(
            s,
            i,
            "project_id",
            "a project id needs no project domain (project_domain_name, project_domain_id)",
        ));
    }
    if let Some(projects) = &s.projects {
        if projects.is_empty() {
            return Err(ConfigError::at(
                s,
                i,
                "projects",
                "must list at least one project id (or leave it out: the token's project)",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for p in projects {
            if p.trim().is_empty() || p.contains(['/', '?', '#', '%']) || p.trim() != p {
                return Err(ConfigError::at(
                    s,
                    i,
                    "projects",
                    format!("{p:?} is not a project id"),
                ));
            }
            if !seen.insert(p) {
                return Err(ConfigError::at(
                    s,
                    i,
                    "projects",
                    format!("{p:?} is listed twice"),
                ));
            }
        }
    }
    Ok(())
}

/// Reads a secret file, stripping one trailing line ending.
pub fn read_secret_file(path: &Path) -> Result<String, String> {
    let mut text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err("file is empty".into());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const MINIMAL: &str = r#"
        [[source]]
        name = "hq"
        kind = "crashplan"
        url = "https://crashplan.example.com:4285"
        username = "admin"
        password = "s3cret"
    "#;

    fn load(toml: &str) -> Result<Config, String> {
        Config::from_toml_str(toml).map_err(|e| e.to_string())
    }

    #[test]
    fn the_alertmanager_section_is_optional_and_has_defaults() {
        assert!(load(MINIMAL).unwrap().alertmanager.is_none());
        let c = load(&format!(
            "{MINIMAL}\n[alertmanager]\nurls = [\"http://am-1:9093\", \"https://am.example/prefix/\"]\n"
        ))
        .unwrap();
        let am = c.alertmanager.unwrap();
        assert_eq!(am.urls.len(), 2);
        assert_eq!(am.resend_interval, Duration::from_secs(60));
        assert_eq!(am.timeout, Duration::from_secs(10));
        assert_eq!(am.keep_firing_for, Duration::ZERO);
        assert!(am.external_url.is_none() && am.username.is_none());
    }

    #[test]
    fn bad_alertmanager_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("pw");
        std::fs::write(&secret, "hunter2\n").unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        let with = |extra: &str| load(&format!("{MINIMAL}\n[alertmanager]\n{extra}\n"));
        for (extra, key, words) in [
            ("urls = []", "urls", "at least one"),
            ("urls = [\"ftp://am:21\"]", "urls[0]", "not an http(s) URL"),
            ("urls = [\"http://u:p@am:9093\"]", "urls[0]", "credentials"),
            ("urls = [\"http://am:9093/?x=1\"]", "urls[0]", "without query"),
            ("urls = [\"http://am:9093\", \"http://am:9093\"]", "urls[1]", "twice"),
            ("urls = [\"http://am:9093\"]\nresend_interval = \"500ms\"", "resend_interval", "at least 1s"),
            ("urls = [\"http://am:9093\"]\ntimeout = \"0s\"", "timeout", "more than 0s"),
            ("urls = [\"http://am:9093\"]\nusername = \"u\"", "password", "needs"),
            ("urls = [\"http://am:9093\"]\npassword = \"p\"", "username", "needs `username`"),
            (&format!("urls = [\"http://am:9093\"]\nusername = \"u\"\npassword = \"p\"\npassword_file = {secret:?}"), "password_file", "not both"),
            (&format!("urls = [\"http://am:9093\"]\nusername = \"u\"\npassword_file = {secret:?}\nbearer_token_file = {secret:?}"), "bearer_token_file", "not both"),
            (&format!("urls = [\"http://am:9093\"]\nbearer_token_file = {empty:?}"), "bearer_token_file", "empty"),
            ("urls = [\"http://am:9093\"]\nbearer_token_file = \"/nonexistent/token\"", "bearer_token_file", "/nonexistent/token"),
            ("urls = [\"http://am:9093\"]\n[alertmanager.tls]\nca_file = \"/nonexistent/ca.pem\"", "tls.ca_file", "not found"),
        ] {
            let e = with(extra).unwrap_err();
            assert!(
                e.contains(&format!("[alertmanager] key `{key}`")) && e.contains(words),
                "{extra:?}: {e}"
            );
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = with("urls = [\"http://am:9093\"]\nresend = \"1m\"").unwrap_err();
        assert!(e.contains("resend"), "{e}");
        let am = with(&format!(
            "urls = [\"http://am:9093\"]\nusername = \"u\"\npassword_file = {secret:?}"
        ))
        .unwrap()
        .alertmanager
        .unwrap();
        assert_eq!(am.password.unwrap().expose(), "hunter2");
    }

    #[test]
    fn defaults_apply() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.log_format, LogFormat::Human);
        let s = &c.sources[0];
        assert_eq!(s.refresh_interval, Duration::from_secs(300));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.page_size, 500);
        assert!(!s.tls.insecure_skip_verify);
        assert_eq!(s.password.as_ref().unwrap().expose(), "s3cret");
    }

    #[test]
    fn durations_are_humantime() {
        let c = load(&format!(
            "{MINIMAL}\nrefresh_interval = \"2m 30s\"\ntimeout = \"750ms\""
        ))
        .unwrap();
        assert_eq!(c.sources[0].refresh_interval, Duration::from_secs(150));
        assert_eq!(c.sources[0].timeout, Duration::from_millis(750));
        let err = load(&format!("{MINIMAL}\ntimeout = \"soon\"")).unwrap_err();
        assert!(err.contains("timeout"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = load(&format!("{MINIMAL}\npasword = \"x\"")).unwrap_err();
        assert!(err.contains("pasword"), "{err}");
        let err = load(&format!("lisen = \"127.0.0.1:1\"\n{MINIMAL}")).unwrap_err();
        assert!(err.contains("lisen"), "{err}");
        let err = load(&format!("{MINIMAL}\n[source.tls]\nca = \"x\"")).unwrap_err();
        assert!(err.contains("ca"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("kind = \"crashplan\"", "kind = \"tivoli\"", "tivoli"),
            (
                "url = \"https://crashplan.example.com:4285\"",
                "url = \"ftp://x\"",
                "`url`",
            ),
            ("username = \"admin\"", "username = \"\"", "`username`"),
            ("password = \"s3cret\"", "", "`password`"),
            ("name = \"hq\"", "name = \" \"", "`name`"),
        ];
        for (from, to, want) in cases {
            let err = load(&MINIMAL.replace(from, to)).unwrap_err();
            assert!(err.contains(want), "{to}: {err}");
        }
        let err = load(&format!("{MINIMAL}\npage_size = 0")).unwrap_err();
        assert!(err.contains("`page_size`"), "{err}");
        let err = load(&format!("{MINIMAL}\nrefresh_interval = \"10ms\"")).unwrap_err();
        assert!(err.contains("`refresh_interval`"), "{err}");
        let err = load(&format!("{MINIMAL}\n{MINIMAL}")).unwrap_err();
        assert!(err.contains("another source has this name"), "{err}");
        let err = load(&format!("{MINIMAL}\nlog_level = \"[[\"")).unwrap_err();
        assert!(
            err.contains("log_level") || err.contains("unknown field"),
            "{err}"
        );
    }

    #[test]
    fn url_credentials_are_refused_without_echoing_them() {
        let err = load(&MINIMAL.replace("https://crashplan", "https://admin:hunter2@crashplan"))
            .unwrap_err();
        assert!(err.contains("`url`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn password_file_is_read_and_stripped() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "from-file").unwrap();
        let toml = MINIMAL.replace(
            "password = \"s3cret\"",
            &format!("password_file = {:?}", f.path().display().to_string()),
        );
        let c = load(&toml).unwrap();
        assert_eq!(
            c.sources[0].password.as_ref().unwrap().expose(),
            "from-file"
        );
        assert!(!format!("{c:?}").contains("from-file"));

        let err = load(&format!(
            "{MINIMAL}\npassword_file = {:?}",
            f.path().display().to_string()
        ))
        .unwrap_err();
        assert!(err.contains("not both"), "{err}");

        let toml = MINIMAL.replace(
            "password = \"s3cret\"",
            "password_file = \"/nonexistent/pw\"",
        );
        let err = load(&toml).unwrap_err();
        assert!(
            err.contains("`password_file`") && err.contains("/nonexistent/pw"),
            "{err}"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own test harness returns its error type
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", MINIMAL)?;
            jail.set_env("BACKUP_EXPORTER_LISTEN", "127.0.0.1:19999");
            jail.set_env("BACKUP_EXPORTER_LOG_FORMAT", "json");
            jail.set_env("BACKUP_EXPORTER_CONFIG", "ignored-by-the-loader");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.to_string(), "127.0.0.1:19999");
            assert_eq!(c.log_format, LogFormat::Json);
            Ok(())
        });
    }

    const CODE42: &str = r#"
        [[source]]
        name = "console"
        kind = "code42"
        url = "https://console.us1.crashplan.com"
        username = "ops@example.com"
        password = "s3cret"
    "#;

    #[test]
    fn code42_defaults_and_auth_modes() {
        let c = load(CODE42).unwrap();
        let s = &c.sources[0];
        assert_eq!(s.kind.system(), "code42");
        assert_eq!(s.auth_mode(), AuthMode::Local);
        assert_eq!(s.token_max_age(), Duration::from_secs(1800));
        assert_eq!(s.connected_within(), Duration::from_secs(900));
        assert!(s.resolve_names() && s.org_rollups());

        let mut totp = tempfile::NamedTempFile::new().unwrap();
        writeln!(totp, "JBSWY3DPEHPK3PXP").unwrap();
        let c = load(&format!(
            "{CODE42}\ntotp_secret_file = {:?}\ntoken_max_age = \"20m\"",
            totp.path().display().to_string()
        ))
        .unwrap();
        assert_eq!(
            c.sources[0].totp_secret.as_ref().unwrap().expose(),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(!format!("{c:?}").contains("JBSWY3DPEHPK3PXP"));

        let api = CODE42
            .replace(
                "username = \"ops@example.com\"",
                "auth = \"api_client\"\nclient_id = \"key-1\"",
            )
            .replace("password = ", "client_secret = ");
        let c = load(&api).unwrap();
        assert_eq!(c.sources[0].auth_mode(), AuthMode::ApiClient);

        let mut token = tempfile::NamedTempFile::new().unwrap();
        writeln!(token, "eyJhbGciOi.e30.sig").unwrap();
        let tok = CODE42
            .replace(
                "username = \"ops@example.com\"",
                &format!(
                    "auth = \"token\"\ntoken_file = {:?}",
                    token.path().display().to_string()
                ),
            )
            .replace("password = \"s3cret\"", "");
        assert_eq!(load(&tok).unwrap().sources[0].auth_mode(), AuthMode::Token);
    }

    #[test]
    fn freezer_keys() {
        let base = "[[source]]\nname = \"os\"\nkind = \"freezer\"\n";
        let keystone = "identity_url = \"https://keystone.example.com:5000/v3\"\nusername = \"u\"\npassword = \"p\"\n";
        let c = load(&format!("{base}{keystone}project_name = \"prod\"")).unwrap();
        let s = &c.sources[0];
        assert_eq!(s.auth_mode(), AuthMode::Password);
        assert_eq!(s.kind.system(), "freezer");
        assert_eq!(s.token_max_age(), Duration::from_secs(12 * 3600));
        let c = load(&format!(
            "{base}auth = \"none\"\nendpoint = \"http://127.0.0.1:19090\"\nprojects = [\"a1\", \"b2\"]"
        ))
        .unwrap();
        assert_eq!(c.sources[0].projects.as_deref().unwrap(), ["a1", "b2"]);
        // An endpoint naming a project needs no `projects`.
        load(&format!(
            "{base}auth = \"none\"\nendpoint = \"http://127.0.0.1:19090/v2/a1\""
        ))
        .unwrap();
        let c = load(&format!(
            "{base}identity_url = \"https://k\"\nauth = \"application_credential\"\napplication_credential_name = \"n\"\nusername = \"u\"\napplication_credential_secret = \"s\"\ninterface = \"internal\"\nregion = \"RegionOne\""
        ))
        .unwrap();
        assert_eq!(c.sources[0].auth_mode(), AuthMode::ApplicationCredential);
        for (extra, key, words) in [
            (keystone, "project_name", "required for kind \"freezer\" with auth \"password\""),
            ("username = \"u\"\npassword = \"p\"\nproject_id = \"x\"", "identity_url", "required"),
            (&format!("{keystone}project_id = \"a\"\nproject_name = \"b\""), "project_id", "not both"),
            (&format!("{keystone}project_id = \"a\"\nproject_domain_name = \"d\""), "project_id", "needs no project domain"),
            (&format!("{keystone}project_id = \"a\"\nurl = \"https://x\""), "url", "endpoint"),
            (&format!("{keystone}project_id = \"a\"\ninterface = \"private\""), "interface", "not public, internal or admin"),
            (&format!("{keystone}project_id = \"a\"\napi_key = \"k\""), "api_key", "does not apply"),
            (&format!("{keystone}project_id = \"a\"\nauth = \"local\""), "auth", "password, application_credential, token or none"),
            (&format!("{keystone}project_id = \"a\"\nprojects = []"), "projects", "at least one"),
            (&format!("{keystone}project_id = \"a\"\nprojects = [\"a/b\"]"), "projects", "not a project id"),
            (&format!("{keystone}project_id = \"a\"\nprojects = [\"a\", \"a\"]"), "projects", "twice"),
            ("auth = \"none\"\nprojects = [\"a\"]", "endpoint", "required"),
            ("auth = \"none\"\nendpoint = \"http://h\"", "projects", "required"),
            ("auth = \"none\"\nendpoint = \"http://h/v2/\"", "projects", "required"),
            ("auth = \"none\"\nendpoint = \"http://h\"\nprojects = [\"a\"]\nusername = \"u\"", "username", "does not apply"),
            ("auth = \"token\"\nendpoint = \"http://h\"\nprojects = [\"a\"]", "token_file", "required"),
            ("identity_url = \"https://k\"\nauth = \"application_credential\"\napplication_credential_id = \"i\"", "application_credential_secret", "required"),
            ("identity_url = \"https://k\"\nauth = \"application_credential\"\napplication_credential_id = \"i\"\napplication_credential_secret = \"s\"\nproject_name = \"p\"", "project_name", "bound to its project"),
        ] {
            let err = load(&format!("{base}{extra}")).unwrap_err();
            assert!(
                err.contains(&format!("`{key}`")) && err.contains(words),
                "{extra}: {err}"
            );
        }
        // Freezer keys on another kind are named.
        let err = load("[[source]]\nname = \"a\"\nkind = \"crashplan\"\nurl = \"https://x\"\nusername = \"u\"\npassword = \"p\"\nprojects = [\"a\"]").unwrap_err();
        assert!(
            err.contains("`projects`") && err.contains("does not apply"),
            "{err}"
        );
        let err = load(
            "[[source]]\nname = \"a\"\nkind = \"code42\"\nurl = \"https://x\"\nauth = \"none\"",
        )
        .unwrap_err();
        assert!(
            err.contains("`auth`") && err.contains("local, api_client or token"),
            "{err}"
        );
    }

    #[test]
    fn rackspace_keys() {
        let base = "[[source]]\nname = \"rax\"\nkind = \"rackspace\"\nusername = \"u\"\n";
        let c = load(&format!("{base}api_key = \"k\"\nregion = \"ORD\"")).unwrap();
        let s = &c.sources[0];
        assert_eq!(
            s.identity_url().as_str(),
            "https://identity.api.rackspacecloud.com/"
        );
        assert_eq!(s.base_url(), s.identity_url());
        assert!(s.read_reports());
        assert!(!s.allow_global_endpoint());
        assert_eq!(s.token_max_age(), Duration::from_secs(12 * 3600));
        let c = load(&format!(
            "{base}password = \"p\"\nendpoint = \"http://127.0.0.1:9/v1.0/1\"\nread_reports = false"
        ))
        .unwrap();
        assert_eq!(
            c.sources[0].base_url().as_str(),
            "http://127.0.0.1:9/v1.0/1"
        );
        for (extra, key, words) in [
            ("", "api_key", "required for kind \"rackspace\""),
            ("api_key = \"k\"\npassword = \"p\"", "api_key", "not both"),
            (
                "api_key = \"k\"\nurl = \"https://x.example\"",
                "url",
                "identity_url",
            ),
            (
                "api_key = \"k\"\nregion = \" \"",
                "region",
                "must not be empty",
            ),
            (
                "api_key = \"k\"\nauth = \"local\"",
                "auth",
                "does not apply",
            ),
            (
                "api_key = \"k\"\ninclude_deactivated = true",
                "include_deactivated",
                "does not apply",
            ),
            (
                "api_key = \"k\"\nendpoint = \"ftp://x\"",
                "endpoint",
                "http(s) URL",
            ),
        ] {
            let err = load(&format!("{base}{extra}")).unwrap_err();
            assert!(
                err.contains(&format!("`{key}`")) && err.contains(words),
                "{extra}: {err}"
            );
        }
        let mut key = tempfile::NamedTempFile::new().unwrap();
        writeln!(key, "from-file").unwrap();
        let c = load(&format!(
            "{base}api_key_file = {:?}",
            key.path().display().to_string()
        ))
        .unwrap();
        assert_eq!(c.sources[0].api_key.as_ref().unwrap().expose(), "from-file");
        // Rackspace keys on another kind, and a missing url, are named.
        let err = load(&format!("{MINIMAL}\nregion = \"DFW\"")).unwrap_err();
        assert!(
            err.contains("`region`") && err.contains("does not apply"),
            "{err}"
        );
        let err = load(
            "[[source]]\nname = \"a\"\nkind = \"crashplan\"\nusername = \"u\"\npassword = \"p\"",
        )
        .unwrap_err();
        assert!(err.contains("`url`") && err.contains("required"), "{err}");
    }

    #[test]
    fn code42_keys_are_checked_per_auth_mode() {
        let cases = [
            (
                CODE42.replace("username = \"ops@example.com\"", ""),
                "`username`",
            ),
            (format!("{CODE42}\nauth = \"api_client\""), "`username`"),
            (
                CODE42
                    .replace("username = \"ops@example.com\"", "auth = \"api_client\"")
                    .replace("password = \"s3cret\"", "client_id = \"k\""),
                "`client_secret`",
            ),
            (
                CODE42
                    .replace("username = \"ops@example.com\"", "auth = \"token\"")
                    .replace("password = \"s3cret\"", ""),
                "`token_file`",
            ),
            (
                CODE42
                    .replace(
                        "username = \"ops@example.com\"",
                        "auth = \"token\"\ntoken_file = \"/nonexistent/tok\"",
                    )
                    .replace("password = \"s3cret\"", ""),
                "/nonexistent/tok",
            ),
            (format!("{CODE42}\nclient_id = \"k\""), "`client_id`"),
            (
                format!("{CODE42}\ntotp_secret = \"not base32!\""),
                "`totp_secret`",
            ),
            (
                format!("{CODE42}\ntoken_max_age = \"1s\""),
                "`token_max_age`",
            ),
            (format!("{CODE42}\nauth = \"kerberos\""), "kerberos"),
            (format!("{MINIMAL}\nauth = \"local\""), "`auth`"),
            (
                format!("{MINIMAL}\nresolve_names = false"),
                "`resolve_names`",
            ),
        ];
        for (toml, want) in cases {
            let err = load(&toml).unwrap_err();
            assert!(err.contains(want), "want {want}: {err}");
        }
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/backup_exporter.toml"))).unwrap_err();
        assert!(err
            .to_string()
            .contains("/nonexistent/backup_exporter.toml"));
    }
}
