//! Settings shared by the core and every vendor: secrets, TLS, sizes, stale thresholds, and a
//! source's common keys ([`SourceConfig`]) with its kind's own section ([`Section`]).
//!
//! This module imports nothing of the project but the leaf `crate::exposition`: the loader (`crate::config`) fills these types,
//! the vendors (`crate::sources`) read them.

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::exposition::Exposure;

/// A source's keys common to every kind, with its kind's own section.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Becomes the `source` label; unique among sources.
    pub name: String,
    /// The kind (`kind` key), also the `system` label of the vendor-neutral families.
    pub kind: &'static str,
    /// How often the source is read (humantime: `5m`, `90s`).
    pub refresh_interval: Duration,
    /// Timeout of each upstream request.
    pub timeout: Duration,
    /// Items requested per page of a list call.
    pub page_size: usize,
    /// Upstream requests of this source in flight at once (list pages and detail calls).
    pub concurrency: usize,
    /// Largest upstream answer read, counted after decompression while it streams in; a
    /// larger one fails the refresh with reason `too_large`.
    pub max_response_size: ByteSize,
    pub tls: TlsConfig,
    /// This source's stale threshold (the top-level `stale_threshold` when not given).
    pub stale_threshold: Option<StaleThreshold>,
    /// Thresholds for the targets that match, checked in order before `stale_threshold`.
    pub stale_overrides: Vec<StaleOverride>,
    /// The families the source writes (the top-level `[families]`).
    pub exposure: Arc<Exposure>,
    /// The kind's own keys, typed by its vendor.
    pub section: Arc<dyn Section>,
}

/// A kind's own keys, deserialised and checked by its vendor (`crate::sources::Vendor`);
/// compared by value ([`SameSection`]: a reload restarts a source whose settings changed).
pub trait Section: Any + fmt::Debug + Send + Sync + SameSection {
    /// Where requests go first: the vendor API, or the identity service that tells where it is
    /// (`check-config` and the status page show it).
    fn base_url(&self) -> Url;
}

/// Equality of a section with another of any kind: every `PartialEq` section has it.
pub trait SameSection {
    /// Whether `other` is a section of the same type with the same values.
    fn same_as(&self, other: &dyn Any) -> bool;
}

impl<T: PartialEq + Any> SameSection for T {
    fn same_as(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }
}

/// The same settings: every common key, the families written, and the kind's section by
/// value (secrets read from their files included, so a changed password file counts).
impl PartialEq for SourceConfig {
    fn eq(&self, other: &SourceConfig) -> bool {
        let other_section: &dyn Any = &*other.section;
        self.name == other.name
            && self.kind == other.kind
            && self.refresh_interval == other.refresh_interval
            && self.timeout == other.timeout
            && self.page_size == other.page_size
            && self.concurrency == other.concurrency
            && self.max_response_size == other.max_response_size
            && self.tls == other.tls
            && self.stale_threshold == other.stale_threshold
            && self.stale_overrides == other.stale_overrides
            && self.exposure == other.exposure
            && (*self.section).same_as(other_section)
    }
}

impl SourceConfig {
    /// The kind's section as its vendor's type (`None`: another kind's).
    pub fn section<T: Section>(&self) -> Option<&T> {
        let any: &dyn Any = &*self.section;
        any.downcast_ref::<T>()
    }

    /// See [`Section::base_url`].
    pub fn base_url(&self) -> Url {
        self.section.base_url()
    }

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
}

/// A problem with one key of a source: the loader adds which source it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub key: String,
    pub message: String,
}

impl KeyError {
    pub fn new(key: impl Into<String>, message: impl fmt::Display) -> KeyError {
        KeyError {
            key: key.into(),
            message: message.to_string(),
        }
    }
}

/// The [`KeyError`] of a value that did not deserialise: a missing key is `required for
/// {what}`; a secret's value, which the message may quote, is never shown.
pub fn serde_key_error(
    e: serde_path_to_error::Error<serde_json::Error>,
    what: &str,
    secret_keys: &[&str],
) -> KeyError {
    let key = e.path().to_string();
    let message = e.inner().to_string();
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split_once('`'))
        .map(|(field, _)| field);
    match missing {
        Some(field) if key == "." => KeyError::new(field, format!("required for {what}")),
        Some(field) => KeyError::new(format!("{key}.{field}"), "required"),
        None if secret_keys.contains(&key.as_str()) => KeyError::new(
            key,
            "it must be text (the value is a secret and is not shown)",
        ),
        None => KeyError::new(key, without_userinfo(&message)),
    }
}

/// `Err` naming `key` as required for `what` (`kind "crashplan"`, ...) unless `present`.
pub fn require(present: bool, key: &str, what: &str) -> Result<(), KeyError> {
    if present {
        Ok(())
    } else {
        Err(KeyError::new(key, format!("required for {what}")))
    }
}

/// `Err` naming `key` as not applying to `what` when `present`.
pub fn refuse(present: bool, key: &str, what: &str) -> Result<(), KeyError> {
    if present {
        Err(KeyError::new(key, format!("does not apply to {what}")))
    } else {
        Ok(())
    }
}

/// Names and labels must be plain text: `Err` for the first value with a control character.
pub fn plain_text<'a>(
    texts: impl IntoIterator<Item = (&'a str, Option<&'a String>)>,
) -> Result<(), KeyError> {
    for (key, text) in texts {
        if text.is_some_and(|t| t.chars().any(char::is_control)) {
            return Err(KeyError::new(
                key,
                "contains a control character (a line break, tab, escape, ...): names and labels must be plain text",
            ));
        }
    }
    Ok(())
}

/// Fills a secret (`key`) from its file (`key`_file); at most one of the two may be given.
pub fn secret_from_file(
    key: &str,
    inline: &mut Option<Secret>,
    file: Option<&Path>,
) -> Result<(), KeyError> {
    let Some(path) = file else {
        return Ok(());
    };
    let file_key = format!("{key}_file");
    let text = read_secret_file(path);
    if inline.is_some() {
        return Err(KeyError::new(
            &file_key,
            format!("give either `{key}` or `{file_key}`, not both"),
        ));
    }
    let text = text.map_err(|e| KeyError::new(&file_key, format!("{}: {e}", path.display())))?;
    *inline = Some(Secret(text));
    Ok(())
}

/// A file holding a token must be readable now (it is read again whenever the token is refused).
pub fn token_file_readable(key: &str, path: &Path) -> Result<(), KeyError> {
    read_secret_file(path)
        .map(drop)
        .map_err(|e| KeyError::new(key, format!("{}: {e}", path.display())))
}

/// An upstream URL must be http(s), with a host, and carry no credentials.
pub fn check_http_url(key: &str, url: Option<&Url>) -> Result<(), KeyError> {
    match url.and_then(http_url_problem) {
        Some(problem) => Err(KeyError::new(key, problem)),
        None => Ok(()),
    }
}

/// A token may not be renewed more often than every 10 seconds (`token_max_age`).
pub fn check_token_max_age(age: Option<Duration>) -> Result<(), KeyError> {
    if age.is_some_and(|a| a < Duration::from_secs(10)) {
        return Err(KeyError::new("token_max_age", "must be at least 10s"));
    }
    Ok(())
}

/// Three days: a daily backup may miss two runs.
pub fn default_stale_threshold() -> StaleThreshold {
    StaleThreshold::After(Duration::from_secs(3 * 86_400))
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Patterns are the same when written the same.
impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.text == other.text
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

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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
    pub fn ca_file_problem(&self) -> Option<String> {
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

/// A URL and the text it was configured as (a label value names it as the user wrote it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredUrl {
    pub text: String,
    pub url: Url,
}

impl<'de> Deserialize<'de> for ConfiguredUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let url = Url::parse(&text).map_err(|e| {
            serde::de::Error::custom(format!("{:?} is not a URL: {e}", without_userinfo(&text)))
        })?;
        Ok(ConfiguredUrl { text, url })
    }
}

/// What is wrong with a URL the exporter calls: not http(s) with a host, or credentials in it.
pub fn http_url_problem(url: &Url) -> Option<String> {
    not_http_with_host(url).or_else(|| {
        (!url.username().is_empty() || url.password().is_some())
            .then(|| "must not carry credentials: use username and password_file".into())
    })
}

pub fn not_http_with_host(url: &Url) -> Option<String> {
    (!matches!(url.scheme(), "http" | "https") || url.host().is_none())
        .then(|| format!("{} is not an http(s) URL with a host", shown_url(url)))
}

/// A URL as an error may show it: without credentials, query or fragment (which may carry a
/// token).
pub fn shown_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// `text` with the credentials of any URL in it (`scheme://user:password@`) replaced by `***`:
/// a URL that does not parse is quoted in its error, credentials included.
pub fn without_userinfo(text: &str) -> String {
    static USERINFO: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"://[^/@\s]*@").expect("static regex"));
    USERINFO.replace_all(text, "://***@").into_owned()
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
