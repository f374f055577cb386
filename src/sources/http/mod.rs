//! The HTTP client every source uses: TLS settings, per-request timeout, bounded concurrency,
//! one retry of transient failures, authentication (HTTP basic, or a token obtained from a
//! [`TokenSource`], renewed before it ages out and once when refused), JSON decoding with the
//! path of a bad value in the error, offset/limit and page-number paging that cannot loop
//! forever, and `backup_exporter_upstream_requests_total`.
//!
//! - this module: [`Upstream`], the client: requests, authentication, one retry, errors and
//!   counts;
//! - `token`: signing in, and the token cache;
//! - `paging`: the paging strategies (offset/limit, offset/limit read ahead, page numbers);
//! - `decode`: JSON decoding that names the path of a bad value, and lists under a key.

mod decode;
mod paging;
mod token;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::progress::Progress;
use crate::selfmetrics::SelfMetrics;
use crate::settings::{Secret, SourceConfig};
pub use crate::upstream::UpstreamError;
pub use decode::{
    catalog_url, decode, decode_counted_list, decode_list, decode_list_page, decode_seed,
    quote_out_of_range_numbers, ListPage,
};
pub use paging::{Listed, Page, PageDecoder, PageSink, Pages};
pub use token::{Token, TokenCache, TokenSource};

/// How requests are authenticated.
pub enum Auth {
    None,
    Basic { username: String, password: Secret },
    Token(Box<TokenCache>),
}

/// A whole answer: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

/// A configured vendor endpoint: base URL, credentials, client and limits.
pub struct Upstream {
    client: reqwest::Client,
    /// The config's URL, or the endpoint the last sign-in found.
    base: ArcSwap<Url>,
    auth: Auth,
    timeout: Duration,
    permits: Arc<Semaphore>,
    source: String,
    system: &'static str,
    metrics: Arc<SelfMetrics>,
    /// The source's refresh in flight, as far as it has read (pages of lists, answers).
    progress: Arc<Progress>,
    retry_delay: Duration,
    /// Largest body read (decompressed).
    max_body: u64,
}

impl Upstream {
    pub fn new(cfg: &SourceConfig, metrics: Arc<SelfMetrics>) -> Result<Upstream, UpstreamError> {
        crate::tls::install_crypto_provider();
        let builder = crate::outbound::client_builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("backup_exporter/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(cfg.concurrency);
        let builder = crate::tls::apply(builder, &cfg.tls).map_err(UpstreamError::Config)?;
        let client = builder
            .build()
            .map_err(|e| UpstreamError::Config(format!("HTTP client: {e}")))?;
        Ok(Upstream {
            client,
            base: ArcSwap::from_pointee(cfg.base_url()),
            auth: Auth::None,
            timeout: cfg.timeout,
            permits: Arc::new(Semaphore::new(cfg.concurrency)),
            source: cfg.name.clone(),
            system: cfg.kind,
            progress: metrics.progress(&cfg.name),
            metrics,
            retry_delay: Duration::from_millis(500),
            max_body: cfg.max_response_size.0,
        })
    }

    /// Replaces the base URL (the config's by default).
    pub fn with_base(self, base: Url) -> Upstream {
        self.base.store(Arc::new(base));
        self
    }

    /// Replaces the authentication (none by default).
    pub fn with_auth(mut self, auth: Auth) -> Upstream {
        self.auth = auth;
        self
    }

    /// The authentication in use.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The HTTP client (TLS settings, timeouts), for sign-in requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Signs in unless a fresh token is at hand (nothing to do without token authentication).
    /// A source whose sign-in finds the API endpoint calls this before building URLs.
    pub async fn sign_in(&self) -> Result<(), UpstreamError> {
        if let Auth::Token(cache) = &self.auth {
            cache.get(self).await?;
        }
        Ok(())
    }

    /// The base URL requests go to now.
    pub fn base(&self) -> Arc<Url> {
        self.base.load_full()
    }

    /// The URL of `path` below the base URL (a base path such as a proxy prefix is kept).
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let base = self.base.load();
        let mut url = Url::clone(&base);
        let joined = format!("{}{}", base.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url.set_query(None);
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// GETs `path` and decodes the JSON body as `T`. `endpoint` names the call in metrics,
    /// logs and errors. Transient failures (connection refused, 502-504) are tried once more.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, UpstreamError> {
        self.get_with(endpoint, path, query, |body| decode::<T>(endpoint, body))
            .await
    }

    /// GETs `path` and decodes the body with `decode` (for bodies plain JSON decoding cannot
    /// read). Retries like [`Upstream::get_json`].
    pub async fn get_with<T>(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
        decode: impl Fn(&[u8]) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        decode(&self.get_retrying(endpoint, &self.url(path, query)).await?)
    }

    /// GETs `path` and returns the whole answer when its status is one `accept` takes (a
    /// version document answers 300 Multiple Choices). Retries like [`Upstream::get_json`].
    pub async fn get_answer(
        &self,
        endpoint: &'static str,
        path: &str,
        accept: fn(reqwest::StatusCode) -> bool,
    ) -> Result<Answer, UpstreamError> {
        let url = self.url(path, &[]);
        match self.get_bytes(endpoint, &url, accept).await {
            Err(e) if e.is_transient() => {
                tracing::debug!(source = %self.source, %endpoint, error = %e, "retrying once");
                tokio::time::sleep(self.retry_delay).await;
                self.get_bytes(endpoint, &url, accept).await
            }
            result => result,
        }
    }

    /// GETs `url`, trying transient failures (connection refused, 502-504) once more.
    async fn get_retrying(
        &self,
        endpoint: &'static str,
        url: &Url,
    ) -> Result<bytes::Bytes, UpstreamError> {
        let ok = |s: reqwest::StatusCode| s.is_success();
        match self.get_bytes(endpoint, url, ok).await {
            Err(e) if e.is_transient() => {
                tracing::debug!(source = %self.source, %endpoint, error = %e, "retrying once");
                tokio::time::sleep(self.retry_delay).await;
                self.get_bytes(endpoint, url, ok).await
            }
            result => result,
        }
        .map(|a| a.body)
    }

    /// GETs `url` with the configured authentication. A token the server refuses (401) is
    /// dropped, and the request is made once more with a fresh one.
    async fn get_bytes(
        &self,
        endpoint: &'static str,
        url: &Url,
        accept: fn(reqwest::StatusCode) -> bool,
    ) -> Result<Answer, UpstreamError> {
        let request = || {
            self.client
                .get(url.clone())
                .header(reqwest::header::ACCEPT, "application/json")
        };
        match &self.auth {
            Auth::None => self.send_answer(endpoint, request(), accept).await,
            Auth::Basic { username, password } => {
                self.send_answer(
                    endpoint,
                    request().basic_auth(username, Some(password.expose())),
                    accept,
                )
                .await
            }
            Auth::Token(cache) => {
                let (token, generation) = cache.get(self).await?;
                let first = self
                    .send_answer(
                        endpoint,
                        request().header(&token.header, token.value.expose()),
                        accept,
                    )
                    .await;
                match first {
                    Err(UpstreamError::Unauthorized { .. }) => {
                        tracing::debug!(source = %self.source, %endpoint, "token refused; signing in again");
                        cache.refused(generation).await;
                        let (token, _) = cache.get(self).await?;
                        self.send_answer(
                            endpoint,
                            request().header(&token.header, token.value.expose()),
                            accept,
                        )
                        .await
                    }
                    other => other,
                }
            }
        }
    }

    /// Sends a prepared request under the concurrency limit: counts it, maps failures to
    /// [`UpstreamError`] and returns the body of a 2xx answer. Attaches no credentials.
    pub async fn send(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, UpstreamError> {
        self.send_answer(endpoint, req, |s| s.is_success())
            .await
            .map(|a| a.body)
    }

    /// [`Upstream::send`], returning the whole answer of a status `accept` takes (a sign-in
    /// whose token comes in a header, a version document answering 300).
    pub async fn send_answer(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
        accept: fn(reqwest::StatusCode) -> bool,
    ) -> Result<Answer, UpstreamError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore is never closed");
        let mut response = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let err = self.transport_error(endpoint, &e);
                let code = match &err {
                    UpstreamError::Timeout { .. } => "timeout",
                    UpstreamError::Redirect { .. } => "redirect",
                    _ => "error",
                };
                self.count(endpoint, code);
                return Err(err);
            }
        };
        let status = response.status();
        let response_path = response.url().path().to_owned();
        self.count(endpoint, status.as_str());
        if !accept(status) {
            let code = status.as_u16();
            // A short excerpt of the error body helps operators; only its first few KB are
            // read, and it holds no credentials.
            let detail = Some(crate::outbound::read_excerpt(response).await)
                .filter(|t| !t.is_empty())
                .map(|t| format!(": {t}"))
                .unwrap_or_default();
            return Err(match code {
                401 => UpstreamError::Unauthorized { endpoint },
                403 => UpstreamError::Forbidden {
                    endpoint,
                    path: response_path,
                },
                404 => UpstreamError::NotFound {
                    endpoint,
                    path: response_path,
                },
                _ => UpstreamError::Status {
                    endpoint,
                    status: code,
                    detail,
                },
            });
        }
        let headers = response.headers().clone();
        let body = crate::outbound::read_body(&mut response, self.max_body)
            .await
            .map_err(|e| match e {
                crate::outbound::BodyError::TooLarge { limit } => {
                    UpstreamError::TooLarge { endpoint, limit }
                }
                crate::outbound::BodyError::Read(e) if e.is_timeout() => UpstreamError::Timeout {
                    endpoint,
                    after: self.timeout,
                },
                crate::outbound::BodyError::Read(e) => UpstreamError::Body {
                    endpoint,
                    detail: error_chain(&e),
                },
            })?;
        self.progress.answer();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    fn transport_error(&self, endpoint: &'static str, e: &reqwest::Error) -> UpstreamError {
        if let Some(refused) = crate::outbound::CrossOrigin::behind(e) {
            UpstreamError::Redirect {
                endpoint,
                detail: refused.to_string(),
            }
        } else if e.is_timeout() {
            UpstreamError::Timeout {
                endpoint,
                after: self.timeout,
            }
        } else {
            UpstreamError::Connect {
                endpoint,
                detail: error_chain(e),
            }
        }
    }

    fn count(&self, endpoint: &str, code: &str) {
        self.metrics
            .upstream_requests
            .with_label_values(&[&self.source, self.system, endpoint, code])
            .inc();
    }
}

/// An error and its causes on one line (reqwest hides the interesting part in the sources).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
