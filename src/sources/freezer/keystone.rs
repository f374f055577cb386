//! Signing in to keystone v3, and finding Freezer in its catalog.
//!
//! `POST {identity_url}/v3/auth/tokens` with a password (user by name and domain, scoped to a
//! project by id or by name and domain) or an application credential (by id, or by name and
//! its user) answers 201: the token in the `X-Subject-Token` header, and
//! `{"token": {"expires_at", "project": {"id"}, "roles": [..], "catalog": [..]}}`. The token
//! goes out as `X-Auth-Token`, and is renewed a minute before `expires_at` (or after
//! `token_max_age`) and once when refused.
//!
//! Freezer is the catalog service of type `service_type` (`backup`): its endpoint of the
//! configured `interface` (`public`) in the configured region (needed only when the catalog
//! has several). A configured `endpoint` wins over the catalog. Catalog URLs that carry a
//! version path (`.../v2/{project_id}`) are cut back to the API's root, where the version
//! document is.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::header::HeaderName;
use serde::Deserialize;
use url::Url;

pub use super::config::project_in_path;
use super::config::{FreezerConfig, KeystoneAuth};
use crate::settings::{read_secret_file, Secret};
use crate::sources::http::{catalog_url, Token, TokenSource, Upstream, UpstreamError};
use crate::sources::values::{opt_text, parse_time};
use crate::time::unix_now;

use super::model::ApiVersion;

/// The `endpoint` label of sign-in requests.
pub const ENDPOINT: &str = "auth";
/// The header a token goes out in.
pub const TOKEN_HEADER: &str = "x-auth-token";

/// A domain, by name or by id.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    Name(String),
    Id(String),
}

impl Domain {
    fn from(name: &Option<String>, id: &Option<String>) -> Domain {
        match (name, id) {
            (_, Some(id)) => Domain::Id(id.clone()),
            (Some(name), None) => Domain::Name(name.clone()),
            (None, None) => Domain::Name("Default".into()),
        }
    }
    fn json(&self) -> serde_json::Value {
        match self {
            Domain::Name(n) => serde_json::json!({ "name": n }),
            Domain::Id(i) => serde_json::json!({ "id": i }),
        }
    }
}

/// How the token is obtained.
pub enum Method {
    Password {
        username: String,
        domain: Domain,
        password: Secret,
        scope: Scope,
    },
    ApplicationCredentialId {
        id: String,
        secret: Secret,
    },
    ApplicationCredentialName {
        name: String,
        username: String,
        domain: Domain,
        secret: Secret,
    },
}

/// The project a password token is scoped to.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    ProjectId(String),
    ProjectName { name: String, domain: Domain },
}

/// What the last token said about itself (shared with the source).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenFacts {
    /// The project the token is scoped to.
    pub project_id: Option<String>,
    pub roles: Vec<String>,
    /// The API generation the catalog URL names (`.../v2/...`), if it names one.
    pub version_hint: Option<ApiVersion>,
}

/// Which catalog endpoint is Freezer's.
#[derive(Debug, Clone)]
pub struct CatalogChoice {
    pub service_type: String,
    pub interface: String,
    pub region: Option<String>,
}

/// Signs in to keystone and picks the Freezer endpoint.
pub struct Keystone {
    tokens_url: Url,
    method: Method,
    choice: CatalogChoice,
    endpoint: Option<Url>,
    facts: Arc<Mutex<TokenFacts>>,
}

impl Keystone {
    /// From a validated config (auth `password` or `application_credential`); `facts` receives
    /// what each token says about itself.
    pub fn from_config(
        cfg: &FreezerConfig,
        facts: Arc<Mutex<TokenFacts>>,
    ) -> Result<Keystone, UpstreamError> {
        let missing = |key: &str| UpstreamError::Config(format!("`{key}` is required"));
        let identity = cfg
            .identity_url
            .clone()
            .ok_or_else(|| missing("identity_url"))?;
        let user_domain = Domain::from(&cfg.user_domain_name, &cfg.user_domain_id);
        let method = match cfg.auth_mode() {
            KeystoneAuth::Password => Method::Password {
                username: cfg.username.clone().ok_or_else(|| missing("username"))?,
                domain: user_domain,
                password: cfg.password.clone().ok_or_else(|| missing("password"))?,
                scope: match (&cfg.project_id, &cfg.project_name) {
                    (Some(id), _) => Scope::ProjectId(id.clone()),
                    (None, Some(name)) => Scope::ProjectName {
                        name: name.clone(),
                        domain: Domain::from(&cfg.project_domain_name, &cfg.project_domain_id),
                    },
                    (None, None) => return Err(missing("project_name")),
                },
            },
            KeystoneAuth::ApplicationCredential => {
                let secret = cfg
                    .application_credential_secret
                    .clone()
                    .ok_or_else(|| missing("application_credential_secret"))?;
                match (
                    &cfg.application_credential_id,
                    &cfg.application_credential_name,
                ) {
                    (Some(id), _) => Method::ApplicationCredentialId {
                        id: id.clone(),
                        secret,
                    },
                    (None, Some(name)) => Method::ApplicationCredentialName {
                        name: name.clone(),
                        username: cfg.username.clone().ok_or_else(|| missing("username"))?,
                        domain: user_domain,
                        secret,
                    },
                    (None, None) => return Err(missing("application_credential_id")),
                }
            }
            other => {
                return Err(UpstreamError::Config(format!(
                    "auth {other:?} does not sign in to keystone"
                )))
            }
        };
        Ok(Keystone {
            tokens_url: tokens_url(&identity),
            method,
            choice: CatalogChoice {
                service_type: cfg.service_type.clone().unwrap_or_else(|| "backup".into()),
                interface: cfg.interface.clone().unwrap_or_else(|| "public".into()),
                region: cfg.region.clone(),
            },
            endpoint: cfg.endpoint.clone(),
            facts,
        })
    }

    /// The request body.
    pub fn body(&self) -> serde_json::Value {
        let identity = match &self.method {
            Method::Password {
                username,
                domain,
                password,
                ..
            } => serde_json::json!({
                "methods": ["password"],
                "password": {"user": {
                    "name": username, "domain": domain.json(), "password": password.expose()
                }}
            }),
            Method::ApplicationCredentialId { id, secret } => serde_json::json!({
                "methods": ["application_credential"],
                "application_credential": {"id": id, "secret": secret.expose()}
            }),
            Method::ApplicationCredentialName {
                name,
                username,
                domain,
                secret,
            } => serde_json::json!({
                "methods": ["application_credential"],
                "application_credential": {
                    "name": name, "secret": secret.expose(),
                    "user": {"name": username, "domain": domain.json()}
                }
            }),
        };
        let mut auth = serde_json::json!({ "identity": identity });
        if let Method::Password { scope, .. } = &self.method {
            auth["scope"] = match scope {
                Scope::ProjectId(id) => serde_json::json!({"project": {"id": id}}),
                Scope::ProjectName { name, domain } => {
                    serde_json::json!({"project": {"name": name, "domain": domain.json()}})
                }
            };
        }
        serde_json::json!({ "auth": auth })
    }

    async fn token(&self, up: &Upstream) -> Result<Token, UpstreamError> {
        let request = up
            .client()
            .post(self.tokens_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.body().to_string());
        let answer = up
            .send_answer(ENDPOINT, request, |s| s.is_success())
            .await?;
        let subject = answer
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| UpstreamError::Parse {
                endpoint: ENDPOINT,
                detail: "keystone answered without an X-Subject-Token header".into(),
            })?
            .to_owned();
        let body: TokenAnswer = crate::sources::http::decode(ENDPOINT, &answer.body)?;
        let (token, facts) = self.token_from(subject, body, unix_now())?;
        *self.facts.lock().unwrap_or_else(|p| p.into_inner()) = facts;
        Ok(token)
    }

    /// The token of an answer received at Unix time `now`, and what it says about itself.
    pub fn token_from(
        &self,
        subject: String,
        answer: TokenAnswer,
        now: f64,
    ) -> Result<(Token, TokenFacts), UpstreamError> {
        let t = answer.token;
        let expires = t
            .expires_at
            .as_deref()
            .and_then(|e| parse_time(e).ok())
            .map(|at| Instant::now() + Duration::from_secs_f64((at - now).max(0.0)));
        let (endpoint, version_hint) = match &self.endpoint {
            Some(configured) => api_root(configured),
            None => api_root(&freezer_endpoint(&t.catalog, &self.choice)?),
        };
        let facts = TokenFacts {
            project_id: t.project.and_then(|p| p.id).filter(|p| !p.is_empty()),
            roles: t.roles.into_iter().filter_map(|r| r.name).collect(),
            version_hint,
        };
        Ok((
            Token {
                header: HeaderName::from_static(TOKEN_HEADER),
                value: Secret::new(subject),
                expires,
                endpoint: Some(endpoint),
            },
            facts,
        ))
    }
}

impl TokenSource for Keystone {
    fn sign_in<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Token, UpstreamError>> {
        Box::pin(self.token(up))
    }
}

/// A token read from a file (auth `token`), read again whenever the server refuses it.
pub struct FileToken {
    pub file: std::path::PathBuf,
}

impl TokenSource for FileToken {
    fn sign_in<'a>(&'a self, _up: &'a Upstream) -> BoxFuture<'a, Result<Token, UpstreamError>> {
        Box::pin(async move {
            let token = read_secret_file(&self.file).map_err(|e| {
                UpstreamError::Config(format!("token_file {}: {e}", self.file.display()))
            })?;
            Ok(Token {
                header: HeaderName::from_static(TOKEN_HEADER),
                value: Secret::new(token.trim().to_owned()),
                expires: None,
                endpoint: None,
            })
        })
    }
}

/// `{identity_url}/v3/auth/tokens` (an identity URL that already ends in `/v3` is not doubled).
pub fn tokens_url(identity: &Url) -> Url {
    let mut url = identity.clone();
    let path = identity.path().trim_end_matches('/');
    let path = if path.ends_with("/v3") {
        format!("{path}/auth/tokens")
    } else {
        format!("{path}/v3/auth/tokens")
    };
    url.set_path(&path);
    url.set_query(None);
    url
}

/// The API root of a Freezer URL: cut before a version segment (`/v1`, `/v2`), which is
/// returned as a hint; a URL without one is the root already.
pub fn api_root(url: &Url) -> (Url, Option<ApiVersion>) {
    let segments: Vec<&str> = url.path().split('/').collect();
    let at = segments.iter().position(|s| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            "v1" | "v1.0" | "v2" | "v2.0"
        )
    });
    let mut root = url.clone();
    root.set_query(None);
    root.set_fragment(None);
    let Some(at) = at else {
        return (root, None);
    };
    let hint = if segments[at].starts_with(['v', 'V']) && segments[at][1..].starts_with('1') {
        ApiVersion::V1
    } else {
        ApiVersion::V2
    };
    root.set_path(&segments[..at].join("/"));
    (root, Some(hint))
}

/// The Freezer endpoint of the catalog.
pub fn freezer_endpoint(catalog: &[Service], choice: &CatalogChoice) -> Result<Url, UpstreamError> {
    if catalog.is_empty() {
        return Err(UpstreamError::Config(
            "the keystone token has no service catalog: is it scoped to a project? \
             (set project_name or project_id, or `endpoint`)"
                .into(),
        ));
    }
    let wanted = choice.service_type.as_str();
    let services: Vec<&Service> = catalog
        .iter()
        .filter(|s| s.kind.as_deref().map(str::trim) == Some(wanted))
        .collect();
    if services.is_empty() {
        let mut types: Vec<&str> = catalog.iter().filter_map(|s| s.kind.as_deref()).collect();
        types.sort_unstable();
        types.dedup();
        return Err(UpstreamError::Config(format!(
            "the keystone catalog has no service of type {wanted:?} (it has: {}): Freezer \
             may not be registered in this cloud; set service_type to its type, or `endpoint` \
             to its URL",
            if types.is_empty() {
                "none".to_owned()
            } else {
                types.join(", ")
            }
        )));
    }
    let endpoints: Vec<&Endpoint> = services.iter().flat_map(|s| &s.endpoints).collect();
    let on_interface: Vec<&&Endpoint> = endpoints
        .iter()
        .filter(|e| {
            e.interface
                .as_deref()
                .is_some_and(|i| i.trim().eq_ignore_ascii_case(&choice.interface))
        })
        .collect();
    if on_interface.is_empty() {
        let mut have: Vec<&str> = endpoints
            .iter()
            .filter_map(|e| e.interface.as_deref())
            .collect();
        have.sort_unstable();
        have.dedup();
        return Err(UpstreamError::Config(format!(
            "the keystone catalog's {wanted:?} service has no {:?} endpoint (interfaces: {}): \
             set interface",
            choice.interface,
            if have.is_empty() {
                "none".to_owned()
            } else {
                have.join(", ")
            }
        )));
    }
    let mut regions: Vec<String> = on_interface.iter().filter_map(|e| e.region()).collect();
    regions.sort();
    regions.dedup();
    let listed = || {
        if regions.is_empty() {
            "none".to_owned()
        } else {
            regions.join(", ")
        }
    };
    let chosen = match &choice.region {
        Some(region) => on_interface
            .iter()
            .find(|e| {
                e.region()
                    .is_some_and(|r| r.eq_ignore_ascii_case(region.trim()))
            })
            .ok_or_else(|| {
                UpstreamError::Config(format!(
                    "the keystone catalog has no {:?} {wanted:?} endpoint in region {region:?} \
                     (regions: {}): set region to one of them",
                    choice.interface,
                    listed()
                ))
            })?,
        None if regions.len() > 1 => {
            return Err(UpstreamError::Config(format!(
                "the keystone catalog has {:?} {wanted:?} endpoints in several regions ({}): \
                 set region to one of them",
                choice.interface,
                listed()
            )))
        }
        None => on_interface[0],
    };
    catalog_url(chosen.url.as_deref(), ENDPOINT, "the catalog's Freezer URL")
}

/// The answer of `POST /v3/auth/tokens`.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    pub token: TokenBody,
}

#[derive(Debug, Deserialize)]
pub struct TokenBody {
    #[serde(default, deserialize_with = "opt_text")]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub project: Option<Named>,
    #[serde(default)]
    pub roles: Vec<Named>,
    #[serde(default)]
    pub catalog: Vec<Service>,
}

#[derive(Debug, Deserialize)]
pub struct Named {
    #[serde(default, deserialize_with = "opt_text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
}

/// A service of the catalog.
#[derive(Debug, Deserialize)]
pub struct Service {
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// An endpoint of a catalog service.
#[derive(Debug, Deserialize)]
pub struct Endpoint {
    #[serde(default, deserialize_with = "opt_text")]
    pub interface: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    region: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    region_id: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    pub url: Option<String>,
}

impl Endpoint {
    fn region(&self) -> Option<String> {
        [&self.region_id, &self.region]
            .into_iter()
            .flatten()
            .map(|r| r.trim())
            .find(|r| !r.is_empty())
            .map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"token": {
        "methods": ["password"], "expires_at": "2026-11-23T13:00:00.000000Z",
        "issued_at": "2026-11-23T12:00:00.000000Z",
        "user": {"id": "u1", "name": "backup-reader", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "4f1c2e8a", "name": "acme-prod", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r1", "name": "reader"}, {"id": "r2", "name": "member"}],
        "catalog": [
            {"type": "identity", "name": "keystone", "id": "s1", "endpoints": [
                {"id": "e1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": "https://keystone.example.com/v3"}]},
            {"type": "backup", "name": "freezer", "id": "s2", "endpoints": [
                {"id": "e2", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": "https://freezer.example.com:9090"},
                {"id": "e3", "interface": "internal", "region": "RegionOne", "region_id": "RegionOne", "url": "http://10.0.0.5:9090/v2/4f1c2e8a"},
                {"id": "e4", "interface": "public", "region": "RegionTwo", "region_id": "RegionTwo", "url": "https://freezer.two.example.com/backup"}]}
        ]}}"#;

    fn keystone(extra: &str) -> Keystone {
        let cfg = crate::config::Config::from_toml_str(&format!(
            "[[source]]\nname = \"os\"\nkind = \"freezer\"\nidentity_url = \"https://keystone.example.com\"\n\
             username = \"backup-reader\"\npassword = \"p\"\nproject_name = \"acme-prod\"\n{extra}"
        ))
        .unwrap();
        Keystone::from_config(cfg.sources[0].section().unwrap(), Arc::default()).unwrap()
    }

    fn answer() -> TokenAnswer {
        serde_json::from_str(ANSWER).unwrap()
    }

    #[test]
    fn token_expiry_project_roles_and_the_regions_endpoint() {
        let k = keystone("region = \"RegionOne\"");
        // 2026-11-23T13:00:00Z is an hour after "now".
        let (t, facts) = k
            .token_from("gAAAA-subject".into(), answer(), 1_795_438_800.0 - 3600.0)
            .unwrap();
        assert_eq!(t.value.expose(), "gAAAA-subject");
        assert_eq!(t.header.as_str(), "x-auth-token");
        let left = t.expires.unwrap() - Instant::now();
        assert!((3590..=3600).contains(&left.as_secs()), "{left:?}");
        assert_eq!(
            t.endpoint.unwrap().as_str(),
            "https://freezer.example.com:9090/"
        );
        assert_eq!(facts.project_id.as_deref(), Some("4f1c2e8a"));
        assert_eq!(facts.roles, vec!["reader", "member"]);
        assert_eq!(facts.version_hint, None);
    }

    #[test]
    fn several_regions_need_a_choice_and_a_versioned_url_is_cut_to_its_root() {
        let err = keystone("")
            .token_from("s".into(), answer(), 0.0)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("several regions (RegionOne, RegionTwo)"),
            "{msg}"
        );
        let (t, _) = keystone("region = \"regiontwo\"")
            .token_from("s".into(), answer(), 0.0)
            .unwrap();
        assert_eq!(
            t.endpoint.unwrap().as_str(),
            "https://freezer.two.example.com/backup"
        );
        let (t, facts) = keystone("interface = \"internal\"")
            .token_from("s".into(), answer(), 0.0)
            .unwrap();
        assert_eq!(t.endpoint.unwrap().as_str(), "http://10.0.0.5:9090/");
        assert_eq!(facts.version_hint, Some(ApiVersion::V2));
        let err = keystone("region = \"RegionThree\"")
            .token_from("s".into(), answer(), 0.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("in region \"RegionThree\" (regions: RegionOne, RegionTwo)"),
            "{err}"
        );
        let err = keystone("interface = \"admin\"")
            .token_from("s".into(), answer(), 0.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no \"admin\" endpoint (interfaces: internal, public)"),
            "{err}"
        );
    }

    #[test]
    fn a_catalog_without_freezer_is_a_clear_error() {
        let mut a = answer();
        a.token
            .catalog
            .retain(|s| s.kind.as_deref() != Some("backup"));
        let err = keystone("").token_from("s".into(), a, 0.0).unwrap_err();
        assert_eq!(err.reason(), "config");
        let msg = err.to_string();
        assert!(
            msg.contains("no service of type \"backup\" (it has: identity)"),
            "{msg}"
        );
        let mut a = answer();
        a.token.catalog.clear();
        let msg = keystone("")
            .token_from("s".into(), a, 0.0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no service catalog"), "{msg}");
        // A configured endpoint needs no catalog.
        let mut a = answer();
        a.token.catalog.clear();
        let (t, _) = keystone("endpoint = \"http://127.0.0.1:9/freezer/\"")
            .token_from("s".into(), a, 0.0)
            .unwrap();
        assert_eq!(t.endpoint.unwrap().as_str(), "http://127.0.0.1:9/freezer/");
    }

    #[test]
    fn request_bodies() {
        let body = keystone("").body().to_string();
        assert_eq!(
            body,
            r#"{"auth":{"identity":{"methods":["password"],"password":{"user":{"domain":{"name":"Default"},"name":"backup-reader","password":"p"}}},"scope":{"project":{"domain":{"name":"Default"},"name":"acme-prod"}}}}"#
        );
        let cfg = crate::config::Config::from_toml_str(
            "[[source]]\nname = \"os\"\nkind = \"freezer\"\nidentity_url = \"https://k/v3\"\n\
             auth = \"application_credential\"\napplication_credential_id = \"ac1\"\n\
             application_credential_secret = \"s3\"\n",
        )
        .unwrap();
        let k = Keystone::from_config(cfg.sources[0].section().unwrap(), Arc::default()).unwrap();
        assert_eq!(k.tokens_url.as_str(), "https://k/v3/auth/tokens");
        assert_eq!(
            k.body().to_string(),
            r#"{"auth":{"identity":{"application_credential":{"id":"ac1","secret":"s3"},"methods":["application_credential"]}}}"#
        );
        let cfg = crate::config::Config::from_toml_str(
            "[[source]]\nname = \"os\"\nkind = \"freezer\"\nidentity_url = \"https://k/\"\n\
             username = \"u\"\nuser_domain_id = \"d1\"\npassword = \"p\"\nproject_id = \"p1\"\n",
        )
        .unwrap();
        let k = Keystone::from_config(cfg.sources[0].section().unwrap(), Arc::default()).unwrap();
        assert_eq!(
            k.body().to_string(),
            r#"{"auth":{"identity":{"methods":["password"],"password":{"user":{"domain":{"id":"d1"},"name":"u","password":"p"}}},"scope":{"project":{"id":"p1"}}}}"#
        );
    }

    #[test]
    fn api_roots() {
        for (url, root, hint) in [
            ("http://h:9090", "http://h:9090/", None),
            (
                "http://h:9090/v2/abc",
                "http://h:9090/",
                Some(ApiVersion::V2),
            ),
            (
                "http://h/backup/v1/",
                "http://h/backup",
                Some(ApiVersion::V1),
            ),
            ("http://h/backup/", "http://h/backup/", None),
        ] {
            let (r, h) = api_root(&Url::parse(url).unwrap());
            assert_eq!((r.as_str(), h), (root, hint), "{url}");
        }
        let p = |u: &str| project_in_path(&Url::parse(u).unwrap());
        assert_eq!(p("http://h:9090/v2/abc").as_deref(), Some("abc"));
        assert_eq!(p("http://h/x/v2/abc/backups").as_deref(), Some("abc"));
        assert_eq!(p("http://h:9090/v2/"), None);
        assert_eq!(p("http://h:9090/"), None);
    }
}
