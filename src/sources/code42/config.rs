//! The keys of a `kind = "code42"` source: the console's URL, the sign-in (a local account with
//! optional TOTP, an API client, or a token file) and the options of the mapping.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::settings::{
    check_http_url, check_token_max_age, plain_text, refuse, require, secret_from_file,
    token_file_readable, KeyError, Secret, Section,
};

/// How a code42 source signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Code42Auth {
    /// A local account: username, password, optional TOTP.
    #[default]
    Local,
    /// An API client: client_id and client_secret.
    ApiClient,
    /// A bearer token read from token_file.
    Token,
}

impl TryFrom<String> for Code42Auth {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "local" => Ok(Code42Auth::Local),
            "api_client" => Ok(Code42Auth::ApiClient),
            "token" => Ok(Code42Auth::Token),
            other => Err(format!(
                "{other:?} does not apply to kind \"code42\" (local, api_client or token)"
            )),
        }
    }
}

impl Code42Auth {
    fn name(self) -> &'static str {
        match self {
            Code42Auth::Local => "local",
            Code42Auth::ApiClient => "api_client",
            Code42Auth::Token => "token",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code42Config {
    /// Base URL of the console, e.g. `https://console.us1.crashplan.com`.
    pub url: Url,
    /// How the source signs in (default `local`).
    #[serde(default)]
    pub auth: Code42Auth,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Base32 TOTP secret of a two-factor local account.
    #[serde(default)]
    pub totp_secret: Option<Secret>,
    #[serde(default)]
    pub totp_secret_file: Option<PathBuf>,
    /// API client id (auth `api_client`).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// File holding a token (auth `token`); read again whenever the token is refused, so an
    /// external process may rotate it.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// A token older than this is renewed before use (the API publishes no lifetime).
    #[serde(default, with = "humantime_serde::option")]
    pub token_max_age: Option<Duration>,
    /// A device counts as connected when it checked in within this long of the server's time.
    #[serde(default, with = "humantime_serde::option")]
    pub connected_within: Option<Duration>,
    /// Read the user and org lists for the `user` and `org` labels (default true).
    #[serde(default)]
    pub resolve_names: Option<bool>,
    /// Per-org roll-ups of devices and bytes (default true).
    #[serde(default)]
    pub org_rollups: Option<bool>,
    /// Also export deactivated devices.
    #[serde(default)]
    pub include_deactivated: bool,
}

/// Keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &["password", "totp_secret", "client_secret"];

impl Section for Code42Config {
    fn base_url(&self) -> Url {
        self.url.clone()
    }
}

impl Code42Config {
    /// The authentication mode.
    pub fn auth_mode(&self) -> Code42Auth {
        self.auth
    }
    /// See [`Code42Config::token_max_age`]; 30 minutes by default (the tokens carry no
    /// lifetime).
    pub fn token_max_age(&self) -> Duration {
        self.token_max_age.unwrap_or(Duration::from_secs(30 * 60))
    }
    /// See [`Code42Config::connected_within`]; 15 minutes by default.
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

    /// The rules beyond the keys' types: which keys each auth mode requires and refuses.
    pub fn check(&mut self) -> Result<(), KeyError> {
        plain_text([
            ("username", self.username.as_ref()),
            ("client_id", self.client_id.as_ref()),
        ])?;
        check_http_url("url", Some(&self.url))?;
        secret_from_file(
            "password",
            &mut self.password,
            self.password_file.as_deref(),
        )?;
        secret_from_file(
            "totp_secret",
            &mut self.totp_secret,
            self.totp_secret_file.as_deref(),
        )?;
        secret_from_file(
            "client_secret",
            &mut self.client_secret,
            self.client_secret_file.as_deref(),
        )?;
        let what = &format!("kind \"code42\" with auth {:?}", self.auth.name());
        let has_user = self.username.as_deref().is_some_and(|u| !u.is_empty());
        if self.auth == Code42Auth::Local {
            require(has_user, "username", what)?;
            require(
                self.password.is_some(),
                "password",
                &format!("{what} (give password or password_file)"),
            )?;
        } else {
            refuse(self.username.is_some(), "username", what)?;
            refuse(self.password.is_some(), "password", what)?;
            refuse(self.totp_secret.is_some(), "totp_secret", what)?;
        }
        if let Some(secret) = &self.totp_secret {
            totp_secret_bytes(secret).map_err(|e| KeyError::new("totp_secret", e))?;
        }
        if self.auth == Code42Auth::ApiClient {
            require(
                self.client_id.as_deref().is_some_and(|c| !c.is_empty()),
                "client_id",
                what,
            )?;
            require(
                self.client_secret.is_some(),
                "client_secret",
                &format!("{what} (give client_secret or client_secret_file)"),
            )?;
        } else {
            refuse(self.client_id.is_some(), "client_id", what)?;
            refuse(self.client_secret.is_some(), "client_secret", what)?;
        }
        if self.auth == Code42Auth::Token {
            let Some(path) = &self.token_file else {
                return Err(KeyError::new("token_file", format!("required for {what}")));
            };
            token_file_readable("token_file", path)?;
        } else {
            refuse(self.token_file.is_some(), "token_file", what)?;
        }
        if self.connected_within.is_some_and(|d| d.is_zero()) {
            return Err(KeyError::new("connected_within", "must be more than 0s"));
        }
        check_token_max_age(self.token_max_age)
    }
}

/// The decoded bytes of a base32 TOTP secret (spaces and `=` padding allowed, any case).
pub fn totp_secret_bytes(secret: &Secret) -> Result<Vec<u8>, String> {
    let cleaned: String = secret
        .expose()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let bytes = totp_rs::Secret::try_from_base32(&cleaned)
        .map_err(|_| "is not a base32 TOTP secret (letters A-Z and digits 2-7)".to_owned())?;
    let bytes = bytes.as_bytes().to_vec();
    if bytes.is_empty() {
        return Err("is empty".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{load, section_of, MINIMAL};
    use crate::config::Config;
    use std::io::Write;

    /// The section of the first source.
    fn section(c: &Config) -> &Code42Config {
        section_of(&c.sources[0])
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
        assert_eq!(c.sources[0].kind, "code42");
        let s = section(&c);
        assert_eq!(s.auth_mode(), Code42Auth::Local);
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
            section(&c).totp_secret.as_ref().unwrap().expose(),
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
        assert_eq!(section(&c).auth_mode(), Code42Auth::ApiClient);

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
        assert_eq!(section(&load(&tok).unwrap()).auth_mode(), Code42Auth::Token);
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
}
