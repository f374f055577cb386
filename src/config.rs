//! Configuration: built-in defaults < TOML file < `BACKUP_EXPORTER_*` environment.
//!
//! Unknown keys are errors, and every error names the key (and the source) it is about.
//! A `[[source]]` table holds the keys every kind takes (this module) and its kind's own keys,
//! which the kind's vendor reads into its own section type (`crate::sources::registry`).
//! Secrets are given inline or as `*_file` (file contents, trailing newline stripped); they are
//! never printed: [`Secret`]'s `Debug` is redacted.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::exposition::Exposure;
use crate::settings::{default_stale_threshold, http_url_problem, not_http_with_host};
pub use crate::settings::{
    read_secret_file, ByteSize, ConfiguredUrl, KeyError, Pattern, Secret, SourceConfig,
    StaleOverride, StaleThreshold, TlsConfig,
};
use crate::shard::{self, PodName, Shard};
use crate::sources::registry;

/// Default listen address: port 9871, the exporter's own (README).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9871";
/// Default path of the exposition.
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";
/// Environment variable prefix for overrides of top-level keys.
pub const ENV_PREFIX: &str = "BACKUP_EXPORTER_";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Addresses the HTTP server listens on, each with the same endpoints and web
    /// configuration: one address, a list, or (in the environment) addresses separated by
    /// commas. The first is the one the alerting bridge and the demo's banner show.
    #[serde(default = "default_listen", deserialize_with = "listen_addresses")]
    pub listen: Vec<SocketAddr>,
    /// Where the exposition is served (default `/metrics`; `--web.telemetry-path` wins).
    #[serde(default = "default_telemetry_path")]
    pub telemetry_path: String,
    /// `POST /-/reload` reads the configuration again (default off, as Prometheus'
    /// `--web.enable-lifecycle`, which wins over it); SIGHUP always does.
    #[serde(default)]
    pub enable_lifecycle: bool,
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
    /// The backup systems to read, one `[[source]]` table each (read from `raw_sources`).
    #[serde(skip)]
    pub sources: Vec<SourceConfig>,
    /// The `[[source]]` tables as written, until their kinds' vendors read them.
    #[serde(default, rename = "source")]
    raw_sources: Vec<serde_json::Map<String, serde_json::Value>>,
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
    /// Where the exporter keeps what it learned of each target (first-seen times, last
    /// successes) across restarts (`crate::state_file`); absent: in memory only.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    /// `[families]`: opt-in families to write and families to leave out.
    #[serde(default)]
    pub families: FamiliesConfig,
    /// What every source writes, resolved from `families` against the registry and from the
    /// shard.
    #[serde(skip)]
    pub exposure: Arc<Exposure>,
    /// This exporter's shard: its ordinal (0, the default, to `total_shards` - 1), or `"auto"`,
    /// a StatefulSet pod's ordinal (`--shard` wins over it).
    #[serde(default)]
    pub shard: ShardSetting,
    /// How many exporters share the devices, each writing its shard's (default 1: no
    /// sharding; `--total-shards` wins over it).
    #[serde(default)]
    pub total_shards: Option<u32>,
    /// The shard, resolved from `shard` and `total_shards`.
    #[serde(skip)]
    pub sharding: Shard,
    /// With `shard = "auto"`: the pod name the ordinal was read from, and where it was read
    /// (`POD_NAME` or the hostname).
    #[serde(skip)]
    pub shard_pod: Option<PodName>,
}

/// The `shard` key: an ordinal, or `"auto"`: the trailing `-<n>` of the pod's name, as a
/// StatefulSet names its pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSetting {
    Ordinal(u32),
    Auto,
}

impl Default for ShardSetting {
    fn default() -> ShardSetting {
        ShardSetting::Ordinal(0)
    }
}

impl fmt::Display for ShardSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardSetting::Ordinal(n) => write!(f, "{n}"),
            ShardSetting::Auto => f.write_str("\"auto\""),
        }
    }
}

const SHARD_EXPECTED: &str = "a shard ordinal (0, 1, ...) or \"auto\"";

impl std::str::FromStr for ShardSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<ShardSetting, String> {
        match text.trim() {
            "auto" => Ok(ShardSetting::Auto),
            n => n
                .parse()
                .map(ShardSetting::Ordinal)
                .map_err(|_| format!("{text:?} is not {SHARD_EXPECTED}")),
        }
    }
}

impl<'de> Deserialize<'de> for ShardSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ShardSetting, D::Error> {
        use serde::de::{Error, Unexpected, Visitor};
        struct V;
        impl Visitor<'_> for V {
            type Value = ShardSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SHARD_EXPECTED)
            }
            fn visit_u64<E: Error>(self, n: u64) -> Result<ShardSetting, E> {
                u32::try_from(n)
                    .map(ShardSetting::Ordinal)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: Error>(self, n: i64) -> Result<ShardSetting, E> {
                u64::try_from(n)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(n), &self))
                    .and_then(|n| self.visit_u64(n))
            }
            fn visit_str<E: Error>(self, text: &str) -> Result<ShardSetting, E> {
                text.parse()
                    .map_err(|_| E::invalid_value(Unexpected::Str(text), &self))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for ShardSetting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ShardSetting::Ordinal(n) => s.serialize_u32(*n),
            ShardSetting::Auto => s.serialize_str("auto"),
        }
    }
}

/// Values given as command-line flags: they win over the file and the environment, and go
/// through the same checks (a reload applies them again over the file it reads).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Flags {
    /// `--web.listen-address`, repeated
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<Vec<SocketAddr>>,
    /// `--web.telemetry-path`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry_path: Option<String>,
    /// `--web.config.file`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_config_file: Option<PathBuf>,
    /// `--web.max-connections`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// `--log.level`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// `--web.enable-lifecycle`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_lifecycle: Option<bool>,
    /// `--shard`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardSetting>,
    /// `--total-shards`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_shards: Option<u32>,
}

/// `[families]`: the default families (what the bundled rules, dashboards and alerting
/// bridge need), plus the opt-in families `include` matches, less every family `exclude`
/// matches. Patterns are regular expressions over whole family names, as in
/// kube-state-metrics' allow and deny lists (`code42_.*`); each must match some family.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamiliesConfig {
    #[serde(default)]
    pub include: Vec<Pattern>,
    #[serde(default)]
    pub exclude: Vec<Pattern>,
}

impl FamiliesConfig {
    /// The exposure the lists make, or the first pattern that matches no family.
    pub fn exposure(&self) -> Result<Exposure, ConfigError> {
        let families = registry::families();
        let matching = |list: &[Pattern], key: &str| -> Result<Vec<&'static str>, ConfigError> {
            let mut names = Vec::new();
            for (i, pattern) in list.iter().enumerate() {
                let before = names.len();
                names.extend(
                    families
                        .iter()
                        .map(|d| d.name)
                        .filter(|name| pattern.matches(name)),
                );
                if names.len() == before {
                    return Err(ConfigError(format!(
                        "key `families.{key}[{i}]`: {:?} matches no metric family \
                         (a regular expression over whole names, e.g. \"code42_.*\"; \
                         `backup_exporter check-config` lists them)",
                        pattern.as_str()
                    )));
                }
            }
            Ok(names)
        };
        Ok(Exposure::new(
            matching(&self.include, "include")?,
            matching(&self.exclude, "exclude")?,
        ))
    }
}

/// `[alertmanager]`: the alerting bridge posts the bundled rules' backup alerts to these
/// Alertmanagers (see `crate::alerting`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// Where alerts/RUNBOOK.md is read: each alert's `runbook_url` is this, `#`, the anchor
    /// of its section. An absolute http(s) URL without a fragment; validated.
    #[serde(default = "default_runbook_base_url")]
    pub runbook_base_url: String,
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

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// The keys of a `[[source]]` that every kind takes; the rest belong to the kind's section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonKeys {
    name: String,
    /// Read before the rest (it picks the section's vendor); listed so it is a known key.
    #[serde(rename = "kind")]
    _kind: String,
    #[serde(default = "default_refresh_interval", with = "humantime_serde")]
    refresh_interval: Duration,
    #[serde(default = "default_timeout", with = "humantime_serde")]
    timeout: Duration,
    #[serde(default = "default_page_size")]
    page_size: usize,
    #[serde(default = "default_concurrency")]
    concurrency: usize,
    #[serde(default = "default_max_response_size")]
    max_response_size: ByteSize,
    #[serde(default)]
    tls: TlsConfig,
    #[serde(default)]
    stale_threshold: Option<StaleThreshold>,
    #[serde(default, rename = "stale_override")]
    stale_overrides: Vec<StaleOverride>,
}

/// The keys every kind of source takes (the rest of a `[[source]]` table is its kind's section).
pub fn common_keys() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<CommonKeys>()
}

fn default_listen() -> Vec<SocketAddr> {
    vec![DEFAULT_LISTEN
        .parse()
        .expect("default listen address parses")]
}
fn default_telemetry_path() -> String {
    DEFAULT_TELEMETRY_PATH.into()
}

/// The `listen` key: an address (`"0.0.0.0:9871"`), a list of them, or text with several
/// separated by commas (as an environment variable gives them).
fn listen_addresses<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let texts: Vec<String> = match Raw::deserialize(d)? {
        Raw::One(text) => text.split(',').map(str::to_owned).collect(),
        Raw::Many(list) => list,
    };
    texts
        .iter()
        .map(|text| {
            text.trim().parse().map_err(|_| {
                D::Error::custom(format!(
                    "{:?} is not an address host:port (e.g. \"0.0.0.0:9871\" or \"[::1]:9871\")",
                    text.trim()
                ))
            })
        })
        .collect()
}

/// Endpoints the exposition may not be moved onto.
pub const OTHER_ENDPOINTS: &[&str] = &["/", "/healthz", "/ready", "/device"];

/// What is wrong with a telemetry path (`telemetry_path`, `--web.telemetry-path`): it must be
/// a path of its own, as a request names it.
pub fn telemetry_path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some(format!(
            "{path:?} must start with \"/\" (e.g. \"/metrics\")"
        ));
    }
    if path.contains(['?', '#']) {
        return Some(format!(
            "{path:?}: give the path alone, without a query or fragment"
        ));
    }
    if !path.chars().all(|c| c.is_ascii_graphic()) {
        return Some(format!(
            "{path:?}: only visible ASCII characters, no spaces (percent-encode others)"
        ));
    }
    if OTHER_ENDPOINTS.contains(&path) || path.starts_with("/-/") {
        return Some(format!(
            "{path:?} is another endpoint of the exporter ({}, /-/...)",
            OTHER_ENDPOINTS.join(", ")
        ));
    }
    None
}
fn default_log_level() -> String {
    "info".into()
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
/// The repository's runbook: the default `[alertmanager] runbook_base_url`, and the mixin's
/// default `runbookURL` (mixin/config.libsonnet), so that the bridge and the bundled rule file
/// link the same sections.
pub const DEFAULT_RUNBOOK_BASE_URL: &str =
    "https://github.com/backup-exporter/backup_exporter/blob/main/alerts/RUNBOOK.md";
fn default_runbook_base_url() -> String {
    DEFAULT_RUNBOOK_BASE_URL.to_owned()
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

/// A configuration error: the message names the key (and source) at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn at(name: &str, index: usize, key: &str, msg: impl fmt::Display) -> Self {
        ConfigError(format!(
            "source[{index}] (name {name:?}): key `{key}`: {msg}"
        ))
    }
}

impl Config {
    /// Loads and validates: defaults, then the TOML file (if any), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with(path, &Flags::default())
    }

    /// [`Config::load`], then the command-line flags over all.
    pub fn load_with(path: Option<&Path>, flags: &Flags) -> Result<Config, ConfigError> {
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
        figment = figment
            .merge(env_provider())
            .merge(Serialized::defaults(flags));
        Self::from_figment(figment)
    }

    /// Loads and validates a configuration given as TOML text (demo, tests), with the same
    /// environment overrides as [`Config::load`].
    pub fn from_toml_str(toml: &str) -> Result<Config, ConfigError> {
        Self::from_toml_str_with(toml, &Flags::default())
    }

    /// [`Config::from_toml_str`], then the command-line flags over all.
    pub fn from_toml_str_with(toml: &str, flags: &Flags) -> Result<Config, ConfigError> {
        Self::from_figment(
            Figment::new()
                .merge(Toml::string(toml))
                .merge(env_provider())
                .merge(Serialized::defaults(flags)),
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

    /// The keys of `self`, read again, that only a restart puts in force, where they differ
    /// from `running`'s: each is set back to its running value, so that `self` is what now
    /// runs. The sources, `stale_threshold` and `[families]` are not among them: a reload
    /// applies them.
    pub fn hold_restart_only(&mut self, running: &Config) -> Vec<&'static str> {
        let mut held = Vec::new();
        macro_rules! hold {
            ($($key:ident),*) => {$(
                if self.$key != running.$key {
                    held.push(stringify!($key));
                    self.$key = running.$key.clone();
                }
            )*};
        }
        hold!(
            listen,
            telemetry_path,
            enable_lifecycle,
            web_config_file,
            max_connections,
            log_format,
            log_level,
            state_file,
            alertmanager
        );
        if self.sharding != running.sharding || self.shard_pod != running.shard_pod {
            held.push("shard");
            self.shard = running.shard;
            self.total_shards = running.total_shards;
            self.sharding = running.sharding;
            self.shard_pod = running.shard_pod.clone();
            self.exposure = Arc::new((*self.exposure).clone().sharded(self.sharding));
            for source in &mut self.sources {
                source.exposure = self.exposure.clone();
            }
        }
        held
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return Err(ConfigError(format!(
                "key `log_level`: {:?} is not a valid filter (try \"info\" or \"debug\")",
                self.log_level
            )));
        }
        if let Some(path) = &self.state_file {
            if path.as_os_str().is_empty() || path.is_dir() {
                return Err(ConfigError(format!(
                    "key `state_file`: {:?} is not a file path (a file the exporter writes, in a directory it can write)",
                    path.display().to_string()
                )));
            }
        }
        if self.listen.is_empty() {
            return Err(ConfigError(
                "key `listen`: give at least one address host:port".into(),
            ));
        }
        for (i, address) in self.listen.iter().enumerate() {
            // Port 0 twice is two ports the system picks.
            if address.port() != 0 && self.listen[..i].contains(address) {
                return Err(ConfigError(format!(
                    "key `listen`: {address} is listed twice"
                )));
            }
        }
        if let Some(problem) = telemetry_path_problem(&self.telemetry_path) {
            return Err(ConfigError(format!("key `telemetry_path`: {problem}")));
        }
        if !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError(
                "key `max_connections`: must be 1 to 1000000".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, raw) in std::mem::take(&mut self.raw_sources)
            .into_iter()
            .enumerate()
        {
            let name = raw
                .get("name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut source =
                read_source(raw).map_err(|e| ConfigError::at(&name, i, &e.key, e.message))?;
            if !names.insert(source.name.clone()) {
                return Err(ConfigError::at(
                    &name,
                    i,
                    "name",
                    "another source has this name",
                ));
            }
            source.stale_threshold.get_or_insert(self.stale_threshold);
            self.sources.push(source);
        }
        if let Some(am) = &mut self.alertmanager {
            am.validate()?;
        }
        let (sharding, pod) = resolve_shard(self.shard, self.total_shards, shard::pod_name)?;
        self.sharding = sharding;
        self.shard_pod = pod;
        self.exposure = Arc::new(self.families.exposure()?.sharded(sharding));
        for source in &mut self.sources {
            source.exposure = self.exposure.clone();
        }
        Ok(())
    }
}

/// The shard of `shard` and `total_shards`; for `"auto"`, the ordinal of the pod `pod_name`
/// tells (with the name, and where it was read).
fn resolve_shard(
    setting: ShardSetting,
    total: Option<u32>,
    pod_name: impl FnOnce() -> Option<PodName>,
) -> Result<(Shard, Option<PodName>), ConfigError> {
    let given = total.is_some();
    let total = total.unwrap_or(1);
    if total == 0 {
        return Err(ConfigError(
            "key `total_shards`: must be at least 1 (1, the default, is no sharding)".into(),
        ));
    }
    let below = |ordinal: u32, what: String| {
        Shard::new(ordinal, total).ok_or_else(|| {
            ConfigError(format!(
                "key `shard`: {what} is not below `total_shards` ({total}{}): the shards are \
                 numbered 0 to {}",
                if given { "" } else { ", the default" },
                total - 1
            ))
        })
    };
    match setting {
        ShardSetting::Ordinal(n) => Ok((below(n, n.to_string())?, None)),
        ShardSetting::Auto => {
            if !given {
                return Err(ConfigError(
                    "key `shard`: \"auto\" needs `total_shards` (the StatefulSet's replicas)"
                        .into(),
                ));
            }
            let Some((name, from)) = pod_name() else {
                return Err(ConfigError(
                    "key `shard`: \"auto\" reads the ordinal from the pod's name, but neither \
                     POD_NAME nor the hostname is set"
                        .into(),
                ));
            };
            let Some(ordinal) = shard::ordinal_of(&name) else {
                return Err(ConfigError(format!(
                    "key `shard`: \"auto\" reads the ordinal from the trailing `-<n>` of the \
                     pod's name, as a StatefulSet names its pods; {name:?} ({from}) has none: \
                     set POD_NAME from the downward API (metadata.name), or give the ordinal"
                )));
            };
            let shard = below(
                ordinal,
                format!("\"auto\": the ordinal {ordinal} of {name:?} ({from})"),
            )?;
            Ok((shard, Some((name, from))))
        }
    }
}

/// Reads one `[[source]]` table: the common keys here, the rest by the kind's vendor.
fn read_source(raw: serde_json::Map<String, serde_json::Value>) -> Result<SourceConfig, KeyError> {
    let kind = match raw.get("kind") {
        Some(serde_json::Value::String(kind)) => kind.clone(),
        Some(_) => return Err(KeyError::new("kind", "must be text, e.g. \"crashplan\"")),
        None => {
            return Err(KeyError::new(
                "kind",
                "missing: every source names its kind",
            ))
        }
    };
    let Some(vendor) = registry::find(&kind) else {
        return Err(KeyError::new(
            "kind",
            format!(
                "unknown kind {kind:?}: one of {}",
                registry::kinds().collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let own = vendor.section_keys();
    let (raw, section): (serde_json::Map<_, _>, serde_json::Map<_, _>) = raw
        .into_iter()
        .partition(|(key, _)| common_keys().contains(&key.as_str()));
    if let Some(key) = section.keys().find(|key| !own.contains(&key.as_str())) {
        let message = if registry::VENDORS
            .iter()
            .any(|v| v.section_keys().contains(&key.as_str()))
        {
            format!("does not apply to kind {kind:?}")
        } else {
            format!(
                "unknown key; kind {kind:?} takes {}",
                common_keys()
                    .iter()
                    .chain(own)
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(KeyError::new(key.as_str(), message));
    }
    let common: CommonKeys = serde_path_to_error::deserialize(serde_json::Value::Object(raw))
        .map_err(|e| crate::settings::serde_key_error(e, "every source", &[]))?;
    check_common(&common)?;
    let section = vendor.section(section)?;
    Ok(SourceConfig {
        name: common.name,
        kind: vendor.kind(),
        refresh_interval: common.refresh_interval,
        timeout: common.timeout,
        page_size: common.page_size,
        concurrency: common.concurrency,
        max_response_size: common.max_response_size,
        tls: common.tls,
        stale_threshold: common.stale_threshold,
        stale_overrides: common.stale_overrides,
        exposure: Arc::default(),
        section,
    })
}

/// The rules of the common keys.
fn check_common(s: &CommonKeys) -> Result<(), KeyError> {
    for (j, o) in s.stale_overrides.iter().enumerate() {
        if o.device.is_none() && o.device_id.is_none() && o.target.is_none() {
            return Err(KeyError::new(
                format!("stale_override[{j}]"),
                "give at least one of `device`, `device_id`, `target` (a regular expression)",
            ));
        }
    }
    crate::settings::plain_text([("name", Some(&s.name))])?;
    if s.name.trim().is_empty() {
        return Err(KeyError::new("name", "must not be empty"));
    }
    if s.refresh_interval < Duration::from_secs(1) {
        return Err(KeyError::new("refresh_interval", "must be at least 1s"));
    }
    if s.timeout.is_zero() {
        return Err(KeyError::new("timeout", "must be more than 0s"));
    }
    if !(1..=100_000).contains(&s.page_size) {
        return Err(KeyError::new("page_size", "must be 1 to 100000"));
    }
    if !(1..=64).contains(&s.concurrency) {
        return Err(KeyError::new("concurrency", "must be 1 to 64"));
    }
    if !(64 << 10..=4 << 30).contains(&s.max_response_size.0) {
        return Err(KeyError::new("max_response_size", "must be 64KiB to 4GiB"));
    }
    if let Some(problem) = s.tls.ca_file_problem() {
        return Err(KeyError::new("tls.ca_file", problem));
    }
    Ok(())
}

/// What is wrong with a `runbook_base_url`: not an absolute http(s) URL with a host, or one
/// with a fragment (the bridge appends `#` and the alert's anchor).
fn runbook_base_url_problem(text: &str) -> Option<String> {
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(e) => {
            return Some(format!(
                "{:?} is not an absolute http(s) URL ({e}): give the address where your \
                 team reads alerts/RUNBOOK.md, such as {DEFAULT_RUNBOOK_BASE_URL}",
                crate::settings::without_userinfo(text)
            ))
        }
    };
    not_http_with_host(&url).or_else(|| {
        url.fragment().is_some().then(|| {
            format!(
                "{} has a fragment (`#...`): give the runbook's address without it, the \
                 bridge appends `#` and each alert's section",
                crate::settings::shown_url(&url)
            )
        })
    })
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
                    format!(
                        "{}: give the base URL, without query or fragment",
                        crate::settings::shown_url(url)
                    ),
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
        if let Some(problem) = runbook_base_url_problem(&self.runbook_base_url) {
            return Err(err("runbook_base_url", problem));
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
            self.password = Some(Secret::new(text));
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

/// Keys whose values are secrets: an error about one never shows its value (the alerting
/// bridge's, and every kind's).
fn is_secret_key(key: &str) -> bool {
    key == "password"
        || registry::VENDORS
            .iter()
            .any(|v| v.secret_keys().contains(&key))
}

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
    if e.path.last().is_some_and(|k| is_secret_key(k)) {
        return format!(
            "invalid value for key `{key}`{where_}: it must be text (the value is a secret and is not shown)"
        );
    }
    let text = crate::settings::without_userinfo(&e.to_string());
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

/// What the configuration tests of the core and of every kind share.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Config, SourceConfig};
    use crate::settings::Section;

    /// A complete source (of the first kind the tests knew), to change or add keys to.
    pub const MINIMAL: &str = r#"
        [[source]]
        name = "hq"
        kind = "crashplan"
        url = "https://crashplan.example.com:4285"
        username = "admin"
        password = "s3cret"
    "#;

    /// Loads TOML text, the error as text.
    pub fn load(toml: &str) -> Result<Config, String> {
        Config::from_toml_str(toml).map_err(|e| e.to_string())
    }

    /// The kind's section of `source`.
    pub fn section_of<T: Section>(source: &SourceConfig) -> &T {
        source.section().expect("a section of the expected kind")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::testing::{load, MINIMAL};

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
        assert_eq!(am.runbook_base_url, DEFAULT_RUNBOOK_BASE_URL);
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
            ("urls = [\"http://am:9093\"]\nrunbook_base_url = \"alerts/RUNBOOK.md\"", "runbook_base_url", "not an absolute http(s) URL"),
            ("urls = [\"http://am:9093\"]\nrunbook_base_url = \"file:///srv/RUNBOOK.md\"", "runbook_base_url", "not an http(s) URL with a host"),
            ("urls = [\"http://am:9093\"]\nrunbook_base_url = \"https://wiki.example/RUNBOOK.md#top\"", "runbook_base_url", "has a fragment"),
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
        apart_from_the_environment_test(default_cases);
    }

    fn default_cases() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.listen, [DEFAULT_LISTEN.parse().unwrap()]);
        assert_eq!(c.telemetry_path, "/metrics");
        assert_eq!(c.log_format, LogFormat::Human);
        let s = &c.sources[0];
        assert_eq!(s.refresh_interval, Duration::from_secs(300));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.page_size, 500);
        assert!(!s.tls.insecure_skip_verify);
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
    #[allow(clippy::result_large_err)] // figment's own test harness returns its error type
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", MINIMAL)?;
            jail.set_env("BACKUP_EXPORTER_LISTEN", "127.0.0.1:19999, [::1]:19998");
            jail.set_env("BACKUP_EXPORTER_LOG_FORMAT", "json");
            jail.set_env("BACKUP_EXPORTER_TELEMETRY_PATH", "/backup/metrics");
            jail.set_env("BACKUP_EXPORTER_CONFIG", "ignored-by-the-loader");
            let c = Config::load(Some(Path::new("c.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                c.listen,
                [
                    "127.0.0.1:19999".parse().unwrap(),
                    "[::1]:19998".parse().unwrap()
                ]
            );
            assert_eq!(c.telemetry_path, "/backup/metrics");
            assert_eq!(c.log_format, LogFormat::Json);
            Ok(())
        });
    }

    /// Runs `f` while no other test sets environment variables (figment's jail is one at a
    /// time): the keys it checks are ones [`environment_overrides_the_file`] sets.
    #[allow(clippy::result_large_err)] // figment's own test harness returns its error type
    fn apart_from_the_environment_test(f: impl FnOnce()) {
        let mut f = Some(f);
        figment::Jail::expect_with(|_| {
            (f.take().expect("run once"))();
            Ok(())
        });
    }

    #[test]
    fn listen_takes_one_address_or_several() {
        apart_from_the_environment_test(listen_cases);
    }

    fn listen_cases() {
        let addresses = |top: &str| load(&format!("{top}\n{MINIMAL}")).map(|c| c.listen);
        let a: SocketAddr = "127.0.0.1:9871".parse().unwrap();
        let b: SocketAddr = "[::1]:9872".parse().unwrap();
        assert_eq!(addresses("listen = \"127.0.0.1:9871\""), Ok(vec![a]));
        assert_eq!(
            addresses("listen = [\"127.0.0.1:9871\", \"[::1]:9872\"]"),
            Ok(vec![a, b])
        );
        assert_eq!(
            addresses("listen = \"127.0.0.1:9871,[::1]:9872\""),
            Ok(vec![a, b])
        );
        // Port 0 twice: two ports the system picks.
        assert_eq!(
            addresses("listen = [\"127.0.0.1:0\", \"127.0.0.1:0\"]").map(|l| l.len()),
            Ok(2)
        );
        for (top, words) in [
            ("listen = []", "key `listen`: give at least one address"),
            (
                "listen = [\"127.0.0.1:9871\", \"127.0.0.1:9871\"]",
                "key `listen`: 127.0.0.1:9871 is listed twice",
            ),
            (
                "listen = [\"127.0.0.1:9871\", \"nowhere\"]",
                "\"nowhere\" is not an address",
            ),
            ("listen = \"127.0.0.1:9871,\"", "\"\" is not an address"),
        ] {
            let e = addresses(top).unwrap_err();
            assert!(e.contains(words) && e.contains("listen"), "{top}: {e}");
        }
    }

    #[test]
    fn the_telemetry_path_must_be_a_path_of_its_own() {
        apart_from_the_environment_test(telemetry_path_cases);
    }

    fn telemetry_path_cases() {
        let path =
            |p: &str| load(&format!("telemetry_path = {p:?}\n{MINIMAL}")).map(|c| c.telemetry_path);
        assert_eq!(path("/backup/metrics"), Ok("/backup/metrics".into()));
        assert_eq!(path("/metrics/"), Ok("/metrics/".into()));
        for (bad, words) in [
            ("metrics", "must start with \"/\""),
            ("/metrics?x=1", "without a query"),
            ("/metrics#top", "without a query or fragment"),
            ("/my metrics", "no spaces"),
            ("/", "another endpoint"),
            ("/healthz", "another endpoint"),
            ("/ready", "another endpoint"),
            ("/device", "another endpoint"),
            ("/-/reload", "another endpoint"),
        ] {
            let e = path(bad).unwrap_err();
            assert!(
                e.contains("key `telemetry_path`") && e.contains(words),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn one_shard_by_default() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(c.sharding, Shard::ONE);
        assert_eq!(c.exposure.shard(), Shard::ONE);
        assert_eq!(c.sources[0].exposure.shard(), Shard::ONE);
        assert!(c.shard_pod.is_none());
    }

    #[test]
    fn the_shard_and_the_total_come_from_the_file_and_reach_every_source() {
        let c = load(&format!("shard = 2\ntotal_shards = 3\n{MINIMAL}")).unwrap();
        let want = Shard::new(2, 3).unwrap();
        assert_eq!(c.sharding, want);
        assert_eq!(c.sources[0].exposure.shard(), want);
        let c = load(&format!("total_shards = 3\n{MINIMAL}")).unwrap();
        assert_eq!(c.sharding, Shard::new(0, 3).unwrap());
    }

    #[test]
    fn bad_shard_settings_name_their_key() {
        for (top, words) in [
            ("total_shards = 0", "key `total_shards`: must be at least 1"),
            (
                "shard = 3\ntotal_shards = 3",
                "key `shard`: 3 is not below `total_shards` (3)",
            ),
            (
                "shard = 1",
                "key `shard`: 1 is not below `total_shards` (1, the default)",
            ),
            (
                "shard = \"auto\"",
                "key `shard`: \"auto\" needs `total_shards`",
            ),
            ("shard = -1\ntotal_shards = 2", "default.shard"),
            ("shard = \"first\"\ntotal_shards = 2", "default.shard"),
            ("total_shards = -2", "default.total_shards"),
        ] {
            let e = load(&format!("{top}\n{MINIMAL}")).unwrap_err();
            assert!(e.contains(words), "{top:?}: {e}");
        }
        let e = load(&format!("shard = \"first\"\ntotal_shards = 2\n{MINIMAL}")).unwrap_err();
        assert!(e.contains("a shard ordinal (0, 1, ...) or \"auto\""), "{e}");
    }

    #[test]
    fn auto_takes_the_ordinal_of_the_pod_name() {
        let pod = |name: &str| Some((name.to_owned(), "POD_NAME"));
        let resolve = |total: u32, name: Option<PodName>| {
            resolve_shard(ShardSetting::Auto, Some(total), || name).map_err(|e| e.to_string())
        };
        let (shard, from) = resolve(3, pod("backup-exporter-2")).unwrap();
        assert_eq!(shard, Shard::new(2, 3).unwrap());
        assert_eq!(from, pod("backup-exporter-2"));
        let e = resolve(3, pod("backup-exporter-3")).unwrap_err();
        assert!(
            e.contains("key `shard`: \"auto\": the ordinal 3 of \"backup-exporter-3\" (POD_NAME) is not below `total_shards` (3)"),
            "{e}"
        );
        let e = resolve(3, pod("backup-exporter-7d9f8b-x2kq4")).unwrap_err();
        assert!(
            e.contains("key `shard`: \"auto\"")
                && e.contains("\"backup-exporter-7d9f8b-x2kq4\" (POD_NAME) has none"),
            "{e}"
        );
        let e = resolve(3, None).unwrap_err();
        assert!(
            e.contains("key `shard`") && e.contains("neither POD_NAME nor the hostname"),
            "{e}"
        );
    }

    /// The environment's part is tested by running the binary (tests/cli.rs): a variable set
    /// here would reach the other tests of this process that load a configuration.
    #[test]
    fn the_flags_win_over_the_file() {
        let toml = format!("shard = 0\ntotal_shards = 2\n{MINIMAL}");
        let with = |shard, total_shards| {
            Config::from_toml_str_with(
                &toml,
                &Flags {
                    shard,
                    total_shards,
                    ..Flags::default()
                },
            )
            .map(|c| c.sharding)
            .map_err(|e| e.to_string())
        };
        assert_eq!(with(None, None), Ok(Shard::new(0, 2).unwrap()));
        assert_eq!(
            with(Some(ShardSetting::Ordinal(1)), None),
            Ok(Shard::new(1, 2).unwrap())
        );
        assert_eq!(with(None, Some(5)), Ok(Shard::new(0, 5).unwrap()));
        assert_eq!(
            with(Some(ShardSetting::Ordinal(4)), Some(5)),
            Ok(Shard::new(4, 5).unwrap())
        );
        let e = with(Some(ShardSetting::Ordinal(2)), None).unwrap_err();
        assert!(
            e.contains("key `shard`: 2 is not below `total_shards` (2)"),
            "{e}"
        );
    }

    #[test]
    fn the_web_and_log_flags_win_over_the_file() {
        apart_from_the_environment_test(web_and_log_flag_cases);
    }

    fn web_and_log_flag_cases() {
        let toml = format!(
            "listen = \"127.0.0.1:1\"\ntelemetry_path = \"/a\"\nmax_connections = 9\nlog_level = \"warn\"\n{MINIMAL}"
        );
        let c = Config::from_toml_str_with(&toml, &Flags::default()).unwrap();
        assert_eq!(
            (c.listen.len(), c.telemetry_path.as_str(), c.max_connections),
            (1, "/a", 9)
        );
        let flags = Flags {
            listen: Some(vec![
                "127.0.0.1:2".parse().unwrap(),
                "127.0.0.1:3".parse().unwrap(),
            ]),
            telemetry_path: Some("/b".into()),
            web_config_file: Some("/etc/web.yml".into()),
            max_connections: Some(64),
            log_level: Some("debug".into()),
            ..Flags::default()
        };
        let c = Config::from_toml_str_with(&toml, &flags).unwrap();
        assert_eq!(c.listen, flags.listen.clone().unwrap());
        assert_eq!(c.telemetry_path, "/b");
        assert_eq!(c.web_config_file, Some("/etc/web.yml".into()));
        assert_eq!(c.max_connections, 64);
        assert_eq!(c.log_level, "debug");
        // The same checks as the file's.
        let e = Config::from_toml_str_with(
            &toml,
            &Flags {
                telemetry_path: Some("/ready".into()),
                ..Flags::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("key `telemetry_path`"), "{e}");
    }

    #[test]
    fn a_source_read_again_is_the_same_until_a_setting_changes() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("pw");
        std::fs::write(&secret, "one\n").unwrap();
        let toml = format!(
            "{}\npassword_file = {secret:?}\n",
            MINIMAL.replace("password = \"s3cret\"", "")
        );
        let source = |toml: &str| load(toml).unwrap().sources.remove(0);
        let first = source(&toml);
        assert_eq!(first, source(&toml));
        for changed in [
            format!("{toml}refresh_interval = \"1m\"\n"),
            format!("{toml}include_deactivated = true\n"),
            format!("{toml}[[source.stale_override]]\ndevice = \"db-.*\"\nthreshold = \"1d\"\n"),
            format!("stale_threshold = \"1d\"\n{toml}"),
            format!("[families]\ninclude = [\"crashplan_.*\"]\n{toml}"),
            toml.replace("username = \"admin\"", "username = \"root\""),
        ] {
            assert_ne!(first, source(&changed), "{changed}");
        }
        // The password file's contents are part of the settings.
        std::fs::write(&secret, "two\n").unwrap();
        assert_ne!(first, source(&toml));
    }

    #[test]
    fn keys_only_a_restart_applies_are_held_at_their_running_values() {
        apart_from_the_environment_test(restart_only_cases);
    }

    fn restart_only_cases() {
        let running = load(&format!("listen = \"127.0.0.1:1\"\n{MINIMAL}")).unwrap();
        let mut same = load(&format!("listen = \"127.0.0.1:1\"\n{MINIMAL}")).unwrap();
        assert!(same.hold_restart_only(&running).is_empty());
        let mut new = load(&format!(
            "listen = [\"127.0.0.1:2\"]\ntelemetry_path = \"/m\"\nenable_lifecycle = true\n\
             shard = 1\ntotal_shards = 2\nstale_threshold = \"1d\"\n{MINIMAL}\n\
             [alertmanager]\nurls = [\"http://am:9093\"]\n"
        ))
        .unwrap();
        let held = new.hold_restart_only(&running);
        assert_eq!(
            held,
            [
                "listen",
                "telemetry_path",
                "enable_lifecycle",
                "alertmanager",
                "shard"
            ]
        );
        assert_eq!(new.listen, running.listen);
        assert_eq!(new.telemetry_path, "/metrics");
        assert!(!new.enable_lifecycle && new.alertmanager.is_none());
        assert_eq!(new.sharding, Shard::ONE);
        assert_eq!(new.sources[0].exposure.shard(), Shard::ONE);
        // What a reload applies is not held: the source takes the new default threshold.
        assert_ne!(new.sources[0], running.sources[0]);
    }

    #[test]
    fn the_shard_flag_reads_an_ordinal_or_auto() {
        assert_eq!("2".parse(), Ok(ShardSetting::Ordinal(2)));
        assert_eq!("auto".parse(), Ok(ShardSetting::Auto));
        assert!("-1".parse::<ShardSetting>().is_err());
        assert!("Auto"
            .parse::<ShardSetting>()
            .unwrap_err()
            .contains("\"auto\""));
        assert_eq!(ShardSetting::Auto.to_string(), "\"auto\"");
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/backup_exporter.toml"))).unwrap_err();
        assert!(err
            .to_string()
            .contains("/nonexistent/backup_exporter.toml"));
    }
}
