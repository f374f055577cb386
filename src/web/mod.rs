//! Protecting the HTTP endpoints as node_exporter does: the exporter-toolkit web configuration
//! file (TLS, client certificates, basic authentication, response headers), read again when it
//! changes; and the connections (a cap, idle timeout, the open-file limit).
//!
//! `crate::server` answers requests, as the handler it gives [`listener::serve`]; this module
//! decides who gets to ask ([`protect`]).

pub mod auth;
pub mod config;
pub mod conns;
pub mod listener;
pub mod reload;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};

pub use config::WebConfig;
pub use reload::WebConfigFile;

use crate::response::{add_common_headers, Body};

/// How the server accepts connections.
#[derive(Clone)]
pub struct WebOptions {
    /// The web configuration file (or none: plain HTTP, no authentication).
    pub config: Arc<WebConfigFile>,
    /// Connections open at once, at most (`max_connections`).
    pub max_connections: usize,
    /// A connection with no request for this long is closed (keep-alive between scrapes, or
    /// a client that connects and says nothing); also the time allowed to send a request's
    /// headers.
    pub idle_timeout: Duration,
    /// Time allowed for a TLS handshake.
    pub handshake_timeout: Duration,
}

/// Default idle timeout: longer than the usual scrape intervals (15 s to 1 min), so a
/// scraper keeps its connection from one scrape to the next.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

impl Default for WebOptions {
    fn default() -> WebOptions {
        WebOptions {
            config: Arc::new(WebConfigFile::open()),
            max_connections: conns::DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl WebOptions {
    /// From the configuration: loads the web configuration file (an error names the file
    /// and the key).
    pub fn from_config(config: &crate::config::Config) -> Result<WebOptions, String> {
        let file = match &config.web_config_file {
            Some(path) => WebConfigFile::load(path)?,
            None => WebConfigFile::open(),
        };
        Ok(WebOptions {
            config: Arc::new(file),
            max_connections: config.max_connections,
            ..WebOptions::default()
        })
    }
}

impl WebConfig {
    /// Whether a request may be answered: always without `basic_auth_users`, else with a
    /// configured user's right password.
    pub async fn authorized(&self, headers: &HeaderMap) -> bool {
        match &self.auth {
            None => true,
            Some(auth) => auth.check(headers.get(header::AUTHORIZATION)).await,
        }
    }

    /// Adds the configured headers to a response.
    pub fn add_headers(&self, response: &mut Response<Body>) {
        for (name, value) in &self.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
}

/// Answers one request behind the web configuration: without the right credentials a 401,
/// else `answer`'s; the configured headers on either.
pub async fn protect<F: std::future::Future<Output = Response<Body>>>(
    web: &WebConfig,
    req: &Request<Incoming>,
    answer: impl FnOnce(&Request<Incoming>) -> F,
) -> Response<Body> {
    let mut response = if web.authorized(req.headers()).await {
        answer(req).await
    } else {
        let mut r = unauthorized();
        add_common_headers(&mut r);
        r
    };
    web.add_headers(&mut response);
    response
}

/// The answer to a request without the right credentials: the same whatever was wrong.
pub fn unauthorized() -> Response<Body> {
    let mut r = Response::new(Body::from(Bytes::from_static(b"Unauthorized\n")));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    let h = r.headers_mut();
    h.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"backup_exporter\""),
    );
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests;
