//! The keys of a `kind = "rackspace"` source: the identity service and the account's API key
//! (or password), the region or endpoint of Cloud Backup, and whether to read reports.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::settings::{
    check_http_url, check_token_max_age, plain_text, require, secret_from_file, KeyError, Secret,
    Section,
};

/// Rackspace's public identity service.
pub const DEFAULT_IDENTITY_URL: &str = "https://identity.api.rackspacecloud.com";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RackspaceConfig {
    /// Refused with a hint: the endpoint comes from the catalog (or `endpoint`).
    #[serde(default)]
    pub url: Option<Url>,
    /// Rackspace identity service (default `https://identity.api.rackspacecloud.com`); tokens
    /// come from `POST {identity_url}/v2.0/tokens`.
    #[serde(default)]
    pub identity_url: Option<Url>,
    #[serde(default)]
    pub username: Option<String>,
    /// API key of `username` (or `password`).
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Region whose Cloud Backup endpoint to use (default: the account's default region).
    #[serde(default)]
    pub region: Option<String>,
    /// Use the catalog's region-less (global) endpoint when the region has none (default false).
    #[serde(default)]
    pub allow_global_endpoint: Option<bool>,
    /// Cloud Backup endpoint to use instead of the catalog's: the catalog form
    /// `https://dfw.backup.api.rackspacecloud.com/v1.0/{tenant}`, or only the host, to which
    /// `/v1.0/{tenant}` of the token's tenant is added.
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// Read the report of each configuration's latest finished backup (default true).
    #[serde(default)]
    pub read_reports: Option<bool>,
    /// A token older than this is renewed before use (default 12h; tokens say when they expire).
    #[serde(default, with = "humantime_serde::option")]
    pub token_max_age: Option<Duration>,
}

/// Keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &["password", "api_key"];

const WHAT: &str = "kind \"rackspace\"";

impl Section for RackspaceConfig {
    fn base_url(&self) -> Url {
        self.endpoint.clone().unwrap_or_else(|| self.identity_url())
    }
}

impl RackspaceConfig {
    /// The identity service.
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
    /// See [`RackspaceConfig::token_max_age`].
    pub fn token_max_age(&self) -> Duration {
        self.token_max_age.unwrap_or(Duration::from_secs(12 * 3600))
    }

    /// The rules beyond the keys' types.
    pub fn check(&mut self) -> Result<(), KeyError> {
        plain_text([
            ("username", self.username.as_ref()),
            ("region", self.region.as_ref()),
        ])?;
        check_http_url("url", self.url.as_ref())?;
        check_http_url("identity_url", self.identity_url.as_ref())?;
        check_http_url("endpoint", self.endpoint.as_ref())?;
        secret_from_file(
            "password",
            &mut self.password,
            self.password_file.as_deref(),
        )?;
        secret_from_file("api_key", &mut self.api_key, self.api_key_file.as_deref())?;
        if self.url.is_some() {
            return Err(KeyError::new(
                "url",
                "does not apply to kind \"rackspace\": the Cloud Backup endpoint comes from \
                 the identity service catalog (identity_url, region), or set `endpoint`",
            ));
        }
        require(
            self.username.as_deref().is_some_and(|u| !u.is_empty()),
            "username",
            WHAT,
        )?;
        match (self.api_key.is_some(), self.password.is_some()) {
            (true, true) => {
                return Err(KeyError::new(
                    "api_key",
                    "give either an API key (api_key, api_key_file) or a password \
                     (password, password_file), not both",
                ))
            }
            (false, false) => {
                return Err(KeyError::new(
                    "api_key",
                    "required for kind \"rackspace\" (give api_key or api_key_file, or \
                     password or password_file)",
                ))
            }
            _ => {}
        }
        if self.region.as_deref().is_some_and(|r| r.trim().is_empty()) {
            return Err(KeyError::new("region", "must not be empty"));
        }
        check_token_max_age(self.token_max_age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{load, section_of, MINIMAL};
    use crate::config::Config;
    use std::io::Write;

    /// The section of the first source.
    fn section(c: &Config) -> &RackspaceConfig {
        section_of(&c.sources[0])
    }

    #[test]
    fn rackspace_keys() {
        let base = "[[source]]\nname = \"rax\"\nkind = \"rackspace\"\nusername = \"u\"\n";
        let c = load(&format!("{base}api_key = \"k\"\nregion = \"ORD\"")).unwrap();
        let s = section(&c);
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
        assert_eq!(section(&c).base_url().as_str(), "http://127.0.0.1:9/v1.0/1");
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
        assert_eq!(section(&c).api_key.as_ref().unwrap().expose(), "from-file");
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
}
