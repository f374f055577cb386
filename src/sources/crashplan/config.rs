//! The keys of a `kind = "crashplan"` source: the server's URL and an account's basic auth.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::settings::{
    check_http_url, plain_text, require, secret_from_file, KeyError, Secret, Section,
};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashPlanConfig {
    /// Base URL of the server, e.g. `https://crashplan.example.com:4285`.
    pub url: Url,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Also export deactivated computers.
    #[serde(default)]
    pub include_deactivated: bool,
    /// At most this many computer detail calls (`/rest/computers/{id}`) per refresh: only
    /// computers never read or whose backup activity changed are read (default 200; 0 reads
    /// none).
    #[serde(default)]
    pub detail_calls_per_refresh: Option<usize>,
    /// How long org lists and details are kept before they are read again (default 6h: the
    /// server computes org totals nightly).
    #[serde(default, with = "humantime_serde::option")]
    pub org_interval: Option<Duration>,
    /// How long mount point lists and details are kept before they are read again
    /// (default 15m).
    #[serde(default, with = "humantime_serde::option")]
    pub mount_point_interval: Option<Duration>,
}

/// The longest `org_interval` and `mount_point_interval` accepted: the org totals change every
/// night, so older ones would be shown as current.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &["password"];

const WHAT: &str = "kind \"crashplan\"";

impl Section for CrashPlanConfig {
    fn base_url(&self) -> Url {
        self.url.clone()
    }
}

impl CrashPlanConfig {
    /// See [`CrashPlanConfig::detail_calls_per_refresh`].
    pub fn detail_calls_per_refresh(&self) -> usize {
        self.detail_calls_per_refresh.unwrap_or(200)
    }
    /// See [`CrashPlanConfig::org_interval`].
    pub fn org_interval(&self) -> Duration {
        self.org_interval.unwrap_or(Duration::from_secs(6 * 3600))
    }
    /// See [`CrashPlanConfig::mount_point_interval`].
    pub fn mount_point_interval(&self) -> Duration {
        self.mount_point_interval
            .unwrap_or(Duration::from_secs(15 * 60))
    }

    /// The rules beyond the keys' types.
    pub fn check(&mut self) -> Result<(), KeyError> {
        for (key, value) in [
            ("org_interval", self.org_interval),
            ("mount_point_interval", self.mount_point_interval),
        ] {
            if value.is_some_and(|v| v > MAX_INTERVAL) {
                return Err(KeyError::new(
                    key,
                    "must be at most 24h (org totals are recomputed every night)",
                ));
            }
        }
        plain_text([("username", self.username.as_ref())])?;
        check_http_url("url", Some(&self.url))?;
        secret_from_file(
            "password",
            &mut self.password,
            self.password_file.as_deref(),
        )?;
        require(
            self.username.as_deref().is_some_and(|u| !u.is_empty()),
            "username",
            WHAT,
        )?;
        require(
            self.password.is_some(),
            "password",
            &format!("{WHAT} (give password or password_file)"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{load, section_of, MINIMAL};
    use crate::config::Config;
    use std::io::Write;

    /// The section of the first source.
    fn section(c: &Config) -> &CrashPlanConfig {
        section_of(&c.sources[0])
    }

    #[test]
    fn the_password_is_kept() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(section(&c).password.as_ref().unwrap().expose(), "s3cret");
        assert!(!section(&c).include_deactivated);
    }

    #[test]
    fn cache_intervals_and_detail_calls() {
        let c = load(MINIMAL).unwrap();
        assert_eq!(section(&c).org_interval(), Duration::from_secs(6 * 3600));
        assert_eq!(section(&c).mount_point_interval(), Duration::from_secs(900));
        assert_eq!(section(&c).detail_calls_per_refresh(), 200);
        let c = load(&format!(
            "{MINIMAL}\norg_interval = \"0s\"\nmount_point_interval = \"1h\"\ndetail_calls_per_refresh = 0"
        ))
        .unwrap();
        assert_eq!(section(&c).org_interval(), Duration::ZERO);
        assert_eq!(
            section(&c).mount_point_interval(),
            Duration::from_secs(3600)
        );
        assert_eq!(section(&c).detail_calls_per_refresh(), 0);
        let err = load(&format!("{MINIMAL}\norg_interval = \"2d\"")).unwrap_err();
        assert!(
            err.contains("`org_interval`") && err.contains("24h"),
            "{err}"
        );
        let err = load(&format!("{MINIMAL}\nmount_point_interval = \"soon\"")).unwrap_err();
        assert!(err.contains("mount_point_interval"), "{err}");
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
        assert_eq!(section(&c).password.as_ref().unwrap().expose(), "from-file");
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
}
