//! The keys of a `kind = "crashplan"` source: the server's URL and an account's basic auth.

use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use crate::settings::{
    check_http_url, plain_text, require, secret_from_file, KeyError, Secret, Section,
};

#[derive(Debug, Clone, Deserialize)]
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
}

/// Keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &["password"];

const WHAT: &str = "kind \"crashplan\"";

impl Section for CrashPlanConfig {
    fn base_url(&self) -> Url {
        self.url.clone()
    }
}

impl CrashPlanConfig {
    /// The rules beyond the keys' types.
    pub fn check(&mut self) -> Result<(), KeyError> {
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
