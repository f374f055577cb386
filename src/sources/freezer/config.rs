//! The keys of a `kind = "freezer"` source: keystone v3 sign-in by mode (password, application
//! credential, token file, or none), the catalog's choice of endpoint, and the projects read.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::settings::{
    check_http_url, check_token_max_age, plain_text, secret_from_file, token_file_readable,
    KeyError, Secret, Section,
};

/// How a freezer source signs in to keystone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum KeystoneAuth {
    /// A user's password, the token scoped to a project.
    #[default]
    Password,
    /// An application credential (bound to its project).
    ApplicationCredential,
    /// A token read from token_file.
    Token,
    /// No credentials: a trusted proxy in front of Freezer, or a test server.
    None,
}

impl TryFrom<String> for KeystoneAuth {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "password" => Ok(KeystoneAuth::Password),
            "application_credential" => Ok(KeystoneAuth::ApplicationCredential),
            "token" => Ok(KeystoneAuth::Token),
            "none" => Ok(KeystoneAuth::None),
            other => Err(format!(
                "{other:?} does not apply to kind \"freezer\" (password, application_credential, token or none)"
            )),
        }
    }
}

impl KeystoneAuth {
    fn name(self) -> &'static str {
        match self {
            KeystoneAuth::Password => "password",
            KeystoneAuth::ApplicationCredential => "application_credential",
            KeystoneAuth::Token => "token",
            KeystoneAuth::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezerConfig {
    /// Refused with a hint: the endpoint comes from the catalog (or `endpoint`).
    #[serde(default)]
    pub url: Option<Url>,
    /// How the source signs in (default `password`).
    #[serde(default)]
    pub auth: KeystoneAuth,
    /// Keystone, e.g. `https://keystone.example.com:5000/v3`; tokens come from
    /// `POST .../v3/auth/tokens`.
    #[serde(default)]
    pub identity_url: Option<Url>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Domain of `username` by name (default `Default` unless user_domain_id is given).
    #[serde(default)]
    pub user_domain_name: Option<String>,
    #[serde(default)]
    pub user_domain_id: Option<String>,
    /// Project to scope the token to, by name (with project_domain_name or _id) or by id.
    #[serde(default)]
    pub project_name: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub project_domain_name: Option<String>,
    #[serde(default)]
    pub project_domain_id: Option<String>,
    /// Keystone application credential, by id, or by name with username.
    #[serde(default)]
    pub application_credential_id: Option<String>,
    #[serde(default)]
    pub application_credential_name: Option<String>,
    #[serde(default)]
    pub application_credential_secret: Option<Secret>,
    #[serde(default)]
    pub application_credential_secret_file: Option<PathBuf>,
    /// File holding a token (auth `token`); read again whenever the token is refused.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// A token older than this is renewed before use (default 12h; tokens say when they expire).
    #[serde(default, with = "humantime_serde::option")]
    pub token_max_age: Option<Duration>,
    /// Region whose Freezer endpoint to use (needed when the catalog has several).
    #[serde(default)]
    pub region: Option<String>,
    /// Catalog interface of the Freezer endpoint: `public` (default), `internal` or `admin`.
    #[serde(default)]
    pub interface: Option<String>,
    /// Catalog service type of Freezer (default `backup`).
    #[serde(default)]
    pub service_type: Option<String>,
    /// The Freezer API's root, e.g. `http://freezer.example.com:9090`, instead of the
    /// keystone catalog's.
    #[serde(default)]
    pub endpoint: Option<Url>,
    /// Project ids to read (default: the token's project).
    #[serde(default)]
    pub projects: Option<Vec<String>>,
}

/// Keys whose values are secrets.
pub const SECRET_KEYS: &[&str] = &["password", "application_credential_secret"];

impl Section for FreezerConfig {
    fn base_url(&self) -> Url {
        match (&self.endpoint, &self.identity_url) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => Url::parse("http://127.0.0.1/").expect("a literal URL parses"),
        }
    }
}

impl FreezerConfig {
    /// The authentication mode.
    pub fn auth_mode(&self) -> KeystoneAuth {
        self.auth
    }
    /// See [`FreezerConfig::token_max_age`].
    pub fn token_max_age(&self) -> Duration {
        self.token_max_age.unwrap_or(Duration::from_secs(12 * 3600))
    }

    /// The rules beyond the keys' types: keystone sign-in by mode, catalog, endpoint and
    /// projects.
    pub fn check(&mut self) -> Result<(), KeyError> {
        let s = &*self;
        let texts = [
            ("username", s.username.as_ref()),
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
        plain_text(texts.into_iter().chain(projects))?;
        check_http_url("url", s.url.as_ref())?;
        check_http_url("identity_url", s.identity_url.as_ref())?;
        check_http_url("endpoint", s.endpoint.as_ref())?;
        secret_from_file(
            "password",
            &mut self.password,
            self.password_file.as_deref(),
        )?;
        secret_from_file(
            "application_credential_secret",
            &mut self.application_credential_secret,
            self.application_credential_secret_file.as_deref(),
        )?;
        self.check_keys()?;
        check_token_max_age(self.token_max_age)
    }
}

impl FreezerConfig {
    /// Which keys each sign-in mode requires and refuses, the catalog and the projects.
    fn check_keys(&self) -> Result<(), KeyError> {
        let s = self;
        let mode = s.auth_mode();
        let what = format!("kind \"freezer\" with auth {:?}", mode.name());
        let require = |present: bool, key: &str, how: &str| {
            crate::settings::require(present, key, &format!("{what}{how}"))
        };
        let refuse = |present: bool, key: &str| crate::settings::refuse(present, key, &what);
        if s.url.is_some() {
            return Err(KeyError::new(
                "url",
                "does not apply to kind \"freezer\": the Freezer endpoint comes from the keystone \
                 catalog (identity_url, interface, region), or set `endpoint`",
            ));
        }
        let has = |v: &Option<String>| v.as_deref().is_some_and(|t| !t.trim().is_empty());
        let keystone = matches!(
            mode,
            KeystoneAuth::Password | KeystoneAuth::ApplicationCredential
        );
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
            KeystoneAuth::Password => {
                require(
                    s.identity_url.is_some(),
                    "identity_url",
                    " (keystone, e.g. https://keystone.example.com:5000/v3)",
                )?;
                require(has(&s.username), "username", "")?;
                require(
                    s.password.is_some(),
                    "password",
                    " (give password or password_file)",
                )?;
                match (has(&s.project_name), has(&s.project_id)) {
                    (true, true) => {
                        return Err(KeyError::new(
                            "project_id",
                            "give either project_id or project_name, not both",
                        ))
                    }
                    (false, false) => require(
                        false,
                        "project_name",
                        " (or project_id): the project the token is scoped to",
                    )?,
                    _ => {}
                }
                for (present, key) in app_keys {
                    refuse(present, key)?;
                }
                refuse(s.token_file.is_some(), "token_file")?;
            }
            KeystoneAuth::ApplicationCredential => {
                require(
                    s.identity_url.is_some(),
                    "identity_url",
                    " (keystone, e.g. https://keystone.example.com:5000/v3)",
                )?;
                require(
                    s.application_credential_secret.is_some(),
                    "application_credential_secret",
                    " (give application_credential_secret or application_credential_secret_file)",
                )?;
                match (has(&s.application_credential_id), has(&s.application_credential_name)) {
                    (true, true) => {
                        return Err(KeyError::new("application_credential_name",
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
                        return Err(KeyError::new(key, "does not apply to auth \"application_credential\": an application credential is bound to its project"));
                    }
                }
            }
            KeystoneAuth::Token | KeystoneAuth::None => {
                require(
                    s.endpoint.is_some(),
                    "endpoint",
                    " (the Freezer API's root URL)",
                )?;
                let named = s.endpoint.as_ref().and_then(project_in_path).is_some();
                require(
                    named || s.projects.as_ref().is_some_and(|p| !p.is_empty()),
                    "projects",
                    " (the project ids to read: there is no keystone token to name one; or give \
                     `endpoint` as .../v2/{project_id})",
                )?;
                if mode == KeystoneAuth::Token {
                    let Some(path) = &s.token_file else {
                        return Err(KeyError::new("token_file", format!("required for {what}")));
                    };
                    token_file_readable("token_file", path)?;
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
        }
        if keystone && s.endpoint.is_some() && s.interface.is_some() {
            return Err(KeyError::new(
                "interface",
                "does not apply with `endpoint` (the catalog is not used)",
            ));
        }
        if let Some(interface) = &s.interface {
            if !["public", "internal", "admin"].contains(&interface.as_str()) {
                return Err(KeyError::new(
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
                return Err(KeyError::new(key, "must not be empty"));
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
                return Err(KeyError::new(
                    domain_id,
                    format!("give either {domain_name} or {domain_id}, not both"),
                ));
            }
        }
        if s.project_id.is_some()
            && (s.project_domain_name.is_some() || s.project_domain_id.is_some())
        {
            return Err(KeyError::new(
                "project_id",
                "a project id needs no project domain (project_domain_name, project_domain_id)",
            ));
        }
        if let Some(projects) = &s.projects {
            if projects.is_empty() {
                return Err(KeyError::new(
                    "projects",
                    "must list at least one project id (or leave it out: the token's project)",
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for p in projects {
                if p.trim().is_empty() || p.contains(['/', '?', '#', '%']) || p.trim() != p {
                    return Err(KeyError::new(
                        "projects",
                        format!("{p:?} is not a project id"),
                    ));
                }
                if !seen.insert(p) {
                    return Err(KeyError::new("projects", format!("{p:?} is listed twice")));
                }
            }
        }
        Ok(())
    }
}

/// The project a v2 URL names (`.../v2/{project_id}/...`), if it names one.
pub fn project_in_path(url: &Url) -> Option<String> {
    let mut segments = url
        .path()
        .split('/')
        .skip_while(|s| !s.eq_ignore_ascii_case("v2"));
    segments.next()?;
    segments.next().filter(|p| !p.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{load, section_of};
    use crate::config::Config;

    /// The section of the first source.
    fn section(c: &Config) -> &FreezerConfig {
        section_of(&c.sources[0])
    }

    #[test]
    fn freezer_keys() {
        let base = "[[source]]\nname = \"os\"\nkind = \"freezer\"\n";
        let keystone = "identity_url = \"https://keystone.example.com:5000/v3\"\nusername = \"u\"\npassword = \"p\"\n";
        let c = load(&format!("{base}{keystone}project_name = \"prod\"")).unwrap();
        assert_eq!(c.sources[0].kind, "freezer");
        let s = section(&c);
        assert_eq!(s.auth_mode(), KeystoneAuth::Password);
        assert_eq!(s.token_max_age(), Duration::from_secs(12 * 3600));
        let c = load(&format!(
            "{base}auth = \"none\"\nendpoint = \"http://127.0.0.1:19090\"\nprojects = [\"a1\", \"b2\"]"
        ))
        .unwrap();
        assert_eq!(section(&c).projects.as_deref().unwrap(), ["a1", "b2"]);
        // An endpoint naming a project needs no `projects`.
        load(&format!(
            "{base}auth = \"none\"\nendpoint = \"http://127.0.0.1:19090/v2/a1\""
        ))
        .unwrap();
        let c = load(&format!(
            "{base}identity_url = \"https://k\"\nauth = \"application_credential\"\napplication_credential_name = \"n\"\nusername = \"u\"\napplication_credential_secret = \"s\"\ninterface = \"internal\"\nregion = \"RegionOne\""
        ))
        .unwrap();
        assert_eq!(section(&c).auth_mode(), KeystoneAuth::ApplicationCredential);
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
}
