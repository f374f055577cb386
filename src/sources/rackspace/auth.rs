//! Signing in to Rackspace identity v2.0, and finding the Cloud Backup endpoint.
//!
//! `POST {identity_url}/v2.0/tokens` with
//! `{"auth":{"RAX-KSKEY:apiKeyCredentials":{"username":..,"apiKey":..}}}` (or
//! `{"auth":{"passwordCredentials":{"username":..,"password":..}}}`) answers
//! `{"access":{"token":{"id","expires","tenant":{"id"}},"serviceCatalog":[..],"user":{..}}}`.
//! The token goes out as `X-Auth-Token`, and is renewed a minute before `expires` (or after
//! `token_max_age`) and once when refused.
//!
//! The Cloud Backup endpoint is the catalog entry of type `rax:backup` (name `cloudBackup`
//! preferred): the `publicURL` of the endpoint in the configured region (else the account's
//! default region); the region-less global endpoint only when `allow_global_endpoint` says so.
//! A configured `endpoint` wins over the catalog; when it is only a host, `/v1.0/{tenant}` of
//! the token's tenant is added.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::header::HeaderName;
use serde::Deserialize;
use url::Url;

use super::config::RackspaceConfig;
use crate::settings::Secret;
use crate::sources::http::{catalog_url, Token, TokenSource, Upstream, UpstreamError};
use crate::sources::values::{opt_id, opt_text, parse_time};

/// The `endpoint` label of sign-in requests.
pub const ENDPOINT: &str = "auth";
/// The catalog type of Cloud Backup.
pub const SERVICE_TYPE: &str = "rax:backup";
/// The catalog name of Cloud Backup.
pub const SERVICE_NAME: &str = "cloudBackup";

/// How the account signs in.
pub enum Credentials {
    ApiKey { username: String, api_key: Secret },
    Password { username: String, password: Secret },
}

/// Signs in to the identity service and picks the Cloud Backup endpoint.
pub struct Identity {
    tokens_url: Url,
    credentials: Credentials,
    region: Option<String>,
    allow_global: bool,
    endpoint: Option<Url>,
}

impl Identity {
    /// From a validated config.
    pub fn from_config(cfg: &RackspaceConfig) -> Result<Identity, UpstreamError> {
        let username = cfg
            .username
            .clone()
            .ok_or_else(|| UpstreamError::Config("`username` is required".into()))?;
        let credentials = match (&cfg.api_key, &cfg.password) {
            (Some(api_key), _) => Credentials::ApiKey {
                username,
                api_key: api_key.clone(),
            },
            (None, Some(password)) => Credentials::Password {
                username,
                password: password.clone(),
            },
            (None, None) => {
                return Err(UpstreamError::Config(
                    "`api_key` or `password` is required".into(),
                ))
            }
        };
        Ok(Identity {
            tokens_url: tokens_url(&cfg.identity_url()),
            credentials,
            region: cfg.region.clone(),
            allow_global: cfg.allow_global_endpoint(),
            endpoint: cfg.endpoint.clone(),
        })
    }

    fn body(&self) -> serde_json::Value {
        match &self.credentials {
            Credentials::ApiKey { username, api_key } => serde_json::json!({
                "auth": {"RAX-KSKEY:apiKeyCredentials": {
                    "username": username, "apiKey": api_key.expose()
                }}
            }),
            Credentials::Password { username, password } => serde_json::json!({
                "auth": {"passwordCredentials": {
                    "username": username, "password": password.expose()
                }}
            }),
        }
    }

    async fn token(&self, up: &Upstream) -> Result<Token, UpstreamError> {
        let request = up
            .client()
            .post(self.tokens_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.body().to_string());
        let body = up.send(ENDPOINT, request).await?;
        let answer: TokensAnswer = crate::sources::http::decode(ENDPOINT, &body)?;
        self.token_from(
            answer,
            chrono::Utc::now().timestamp_millis() as f64 / 1000.0,
        )
    }

    /// The token of an answer received at Unix time `now`.
    fn token_from(&self, answer: TokensAnswer, now: f64) -> Result<Token, UpstreamError> {
        let access = answer.access;
        let id = access.token.id.trim();
        if id.is_empty() {
            return Err(UpstreamError::Parse {
                endpoint: ENDPOINT,
                detail: "access.token.id is empty".into(),
            });
        }
        let expires = access
            .token
            .expires
            .as_deref()
            .and_then(|e| parse_time(e).ok())
            .map(|at| Instant::now() + Duration::from_secs_f64((at - now).max(0.0)));
        let tenant = access.token.tenant.as_ref().and_then(|t| t.id.clone());
        let endpoint = match &self.endpoint {
            Some(configured) => with_tenant(configured, tenant.as_deref())?,
            None => {
                let default_region = access.user.as_ref().and_then(|u| u.default_region.clone());
                backup_endpoint(
                    &access.service_catalog,
                    self.region.as_deref().or(default_region.as_deref()),
                    self.allow_global,
                )?
            }
        };
        Ok(Token {
            header: HeaderName::from_static("x-auth-token"),
            value: Secret::new(id.to_owned()),
            expires,
            endpoint: Some(endpoint),
        })
    }
}

impl TokenSource for Identity {
    fn sign_in<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Token, UpstreamError>> {
        Box::pin(self.token(up))
    }
}

/// `{identity_url}/v2.0/tokens` (an identity URL that already ends in `/v2.0` is not doubled).
pub fn tokens_url(identity: &Url) -> Url {
    let mut url = identity.clone();
    let path = identity.path().trim_end_matches('/');
    let path = if path.ends_with("/v2.0") {
        format!("{path}/tokens")
    } else {
        format!("{path}/v2.0/tokens")
    };
    url.set_path(&path);
    url.set_query(None);
    url
}

/// A configured endpoint: as given when it has a path, else with `/v1.0/{tenant}` added.
fn with_tenant(endpoint: &Url, tenant: Option<&str>) -> Result<Url, UpstreamError> {
    if !endpoint.path().trim_matches('/').is_empty() {
        return Ok(endpoint.clone());
    }
    let tenant = tenant.filter(|t| !t.is_empty()).ok_or_else(|| {
        UpstreamError::Config(format!(
            "`endpoint` {endpoint} has no /v1.0/{{tenant}} path and the identity answer names \
             no tenant (access.token.tenant.id): give the endpoint with its path"
        ))
    })?;
    let mut url = endpoint.clone();
    url.set_path(&format!("/v1.0/{tenant}"));
    Ok(url)
}

/// The Cloud Backup endpoint of the catalog for `region`.
pub fn backup_endpoint(
    catalog: &[Service],
    region: Option<&str>,
    allow_global: bool,
) -> Result<Url, UpstreamError> {
    let mut services: Vec<&Service> = catalog
        .iter()
        .filter(|s| s.kind.as_deref().map(str::trim) == Some(SERVICE_TYPE))
        .collect();
    // The documented name first, should the type be shared.
    services.sort_by_key(|s| s.name.as_deref() != Some(SERVICE_NAME));
    let endpoints: Vec<&Endpoint> = services.iter().flat_map(|s| &s.endpoints).collect();
    if endpoints.is_empty() {
        return Err(UpstreamError::Config(format!(
            "the identity service catalog has no Cloud Backup service (type {SERVICE_TYPE:?}): \
             the account may not have Cloud Backup; set `endpoint` to use one anyway"
        )));
    }
    let region_of = |e: &&Endpoint| {
        e.region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
    };
    let chosen = match region {
        Some(wanted) => endpoints
            .iter()
            .find(|e| region_of(e).is_some_and(|r| r.eq_ignore_ascii_case(wanted.trim()))),
        None => None,
    };
    let chosen = chosen.or_else(|| {
        allow_global
            .then(|| endpoints.iter().find(|e| region_of(e).is_none()))
            .flatten()
    });
    let Some(endpoint) = chosen else {
        let mut regions: Vec<String> = endpoints.iter().filter_map(region_of).collect();
        regions.sort();
        regions.dedup();
        let has_global = endpoints.iter().any(|e| region_of(e).is_none());
        let wanted = match region {
            Some(r) => format!("in region {r:?}"),
            None => "for an unnamed region (set `region`; the account names no default region)"
                .to_owned(),
        };
        let global = if has_global && !allow_global {
            "; or set allow_global_endpoint = true to use its global endpoint"
        } else {
            ""
        };
        return Err(UpstreamError::Config(format!(
            "the identity service catalog has no Cloud Backup endpoint {wanted} (regions: {}): \
             set `region` to one of them{global}",
            if regions.is_empty() {
                "none".to_owned()
            } else {
                regions.join(", ")
            }
        )));
    };
    catalog_url(
        endpoint.public_url.as_deref(),
        ENDPOINT,
        "the service catalog's Cloud Backup publicURL",
    )
}

/// The answer of `POST /v2.0/tokens`.
#[derive(Debug, Deserialize)]
pub struct TokensAnswer {
    pub access: Access,
}

#[derive(Debug, Deserialize)]
pub struct Access {
    pub token: TokenInfo,
    #[serde(default, rename = "serviceCatalog")]
    pub service_catalog: Vec<Service>,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Debug, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    #[serde(default, deserialize_with = "opt_text")]
    pub expires: Option<String>,
    #[serde(default)]
    pub tenant: Option<Tenant>,
}

#[derive(Debug, Deserialize)]
pub struct Tenant {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    #[serde(
        default,
        rename = "RAX-AUTH:defaultRegion",
        deserialize_with = "opt_text"
    )]
    pub default_region: Option<String>,
}

/// A service of the catalog.
#[derive(Debug, Deserialize)]
pub struct Service {
    #[serde(default, deserialize_with = "opt_text")]
    pub name: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "opt_text")]
    pub kind: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// An endpoint of a catalog service; the global one has no region.
#[derive(Debug, Deserialize)]
pub struct Endpoint {
    #[serde(default, deserialize_with = "opt_text")]
    pub region: Option<String>,
    #[serde(default, rename = "publicURL", deserialize_with = "opt_text")]
    pub public_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"{"access": {
        "token": {"id": "aaaaa-bbbbb-ccccc-dddd", "expires": "2012-04-13T13:15:00.000-05:00",
                  "tenant": {"id": 1234, "name": "1234"},
                  "RAX-AUTH:authenticatedBy": ["APIKEY"]},
        "serviceCatalog": [
            {"name": "cloudFiles", "type": "object-store", "endpoints": [
                {"region": "DFW", "tenantId": "MossoCloudFS_1", "publicURL": "https://storage101.dfw1.clouddrive.com/v1/MossoCloudFS_1"}]},
            {"name": "cloudBackup", "type": "rax:backup", "endpoints": [
                {"region": "DFW", "tenantId": "1234", "publicURL": "https://dfw.backup.api.rackspacecloud.com/v1.0/1234"},
                {"region": "ORD", "tenantId": "1234", "publicURL": "https://ord.backup.api.rackspacecloud.com/v1.0/1234"},
                {"tenantId": "1234", "publicURL": "https://backup.api.rackspacecloud.com/v1.0/1234"}]}
        ],
        "user": {"id": "161418", "name": "demoauthor", "RAX-AUTH:defaultRegion": "ORD",
                 "roles": [{"id": "3", "name": "identity:user-admin"}]}
    }}"#;

    fn identity(toml_extra: &str) -> Identity {
        let cfg = crate::config::Config::from_toml_str(&format!(
            "[[source]]\nname = \"rax\"\nkind = \"rackspace\"\nusername = \"demoauthor\"\napi_key = \"k\"\n{toml_extra}"
        ))
        .unwrap();
        Identity::from_config(cfg.sources[0].section().unwrap()).unwrap()
    }

    fn answer() -> TokensAnswer {
        serde_json::from_str(ANSWER).unwrap()
    }

    #[test]
    fn the_token_its_expiry_and_the_region_endpoint() {
        let id = identity("region = \"dfw\"");
        // 2012-04-13T18:15:00Z is an hour after "now".
        let t = id.token_from(answer(), 1_334_340_900.0 - 3600.0).unwrap();
        assert_eq!(t.value.expose(), "aaaaa-bbbbb-ccccc-dddd");
        assert_eq!(t.header.as_str(), "x-auth-token");
        let left = t.expires.unwrap() - Instant::now();
        assert!((3590..=3600).contains(&left.as_secs()), "{left:?}");
        assert_eq!(
            t.endpoint.unwrap().as_str(),
            "https://dfw.backup.api.rackspacecloud.com/v1.0/1234"
        );
        // Without a region: the account's default region.
        let t = identity("").token_from(answer(), 0.0).unwrap();
        assert_eq!(
            t.endpoint.unwrap().as_str(),
            "https://ord.backup.api.rackspacecloud.com/v1.0/1234"
        );
    }

    #[test]
    fn a_missing_region_is_a_clear_error_and_global_only_when_allowed() {
        let err = identity("region = \"SYD\"")
            .token_from(answer(), 0.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no Cloud Backup endpoint in region \"SYD\""),
            "{err}"
        );
        assert!(err.contains("regions: DFW, ORD"), "{err}");
        assert!(err.contains("allow_global_endpoint"), "{err}");
        let t = identity("region = \"SYD\"\nallow_global_endpoint = true")
            .token_from(answer(), 0.0)
            .unwrap();
        assert_eq!(
            t.endpoint.unwrap().as_str(),
            "https://backup.api.rackspacecloud.com/v1.0/1234"
        );
    }

    #[test]
    fn a_catalog_without_cloud_backup_is_a_clear_error() {
        let mut a = answer();
        a.access
            .service_catalog
            .retain(|s| s.name.as_deref() != Some("cloudBackup"));
        let err = identity("").token_from(a, 0.0).unwrap_err().to_string();
        assert!(
            err.contains("no Cloud Backup service (type \"rax:backup\")"),
            "{err}"
        );
    }

    #[test]
    fn a_configured_endpoint_wins_and_gets_the_tenant_path() {
        let t = identity("endpoint = \"http://127.0.0.1:9\"")
            .token_from(answer(), 0.0)
            .unwrap();
        assert_eq!(t.endpoint.unwrap().as_str(), "http://127.0.0.1:9/v1.0/1234");
        let t = identity("endpoint = \"http://127.0.0.1:9/v1.0/777\"")
            .token_from(answer(), 0.0)
            .unwrap();
        assert_eq!(t.endpoint.unwrap().as_str(), "http://127.0.0.1:9/v1.0/777");
    }

    #[test]
    fn tokens_url_is_not_doubled() {
        for (identity, want) in [
            (
                "https://identity.api.rackspacecloud.com",
                "https://identity.api.rackspacecloud.com/v2.0/tokens",
            ),
            (
                "https://identity.api.rackspacecloud.com/v2.0/",
                "https://identity.api.rackspacecloud.com/v2.0/tokens",
            ),
            (
                "http://127.0.0.1:5000/identity",
                "http://127.0.0.1:5000/identity/v2.0/tokens",
            ),
        ] {
            assert_eq!(tokens_url(&Url::parse(identity).unwrap()).as_str(), want);
        }
    }

    #[test]
    fn request_bodies() {
        let body = identity("").body().to_string();
        assert_eq!(
            body,
            r#"{"auth":{"RAX-KSKEY:apiKeyCredentials":{"apiKey":"k","username":"demoauthor"}}}"#
        );
        let cfg = crate::config::Config::from_toml_str(
            "[[source]]\nname = \"rax\"\nkind = \"rackspace\"\nusername = \"u\"\npassword = \"p\"\n",
        )
        .unwrap();
        let body = Identity::from_config(cfg.sources[0].section().unwrap())
            .unwrap()
            .body()
            .to_string();
        assert_eq!(
            body,
            r#"{"auth":{"passwordCredentials":{"password":"p","username":"u"}}}"#
        );
    }
}
