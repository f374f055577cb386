//! The HTTP client every source uses: TLS settings, per-request timeout, bounded concurrency,
//! one retry of transient failures, authentication (HTTP basic, or a token obtained from a
//! [`TokenSource`], renewed before it ages out and once when refused), JSON decoding with the
//! path of a bad value in the error, offset/limit and page-number paging that cannot loop
//! forever, and `backup_exporter_upstream_requests_total`.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt};
use reqwest::header::HeaderName;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{Secret, SourceConfig};
use crate::selfmetrics::SelfMetrics;
pub use crate::upstream::UpstreamError;

/// A credential obtained by signing in, sent as one header on every request.
#[derive(Clone)]
pub struct Token {
    /// `Authorization`, `X-Auth-Token`, ...
    pub header: HeaderName,
    /// The whole header value (`Bearer ...`). Never logged.
    pub value: Secret,
    /// When the server says the token stops being valid, if it says.
    pub expires: Option<Instant>,
    /// Where the API lives, when signing in tells it (an identity service catalog): becomes
    /// the base URL of the upstream's requests.
    pub endpoint: Option<Url>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("header", &self.header)
            .field("expires", &self.expires)
            .field("endpoint", &self.endpoint.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

/// Signs in to a vendor API. Implementations send their sign-in request with
/// [`Upstream::send`] (no credentials of the upstream attached), so it is counted, timed out
/// and mapped to [`UpstreamError`] like any other call.
pub trait TokenSource: Send + Sync {
    fn sign_in<'a>(&'a self, upstream: &'a Upstream)
        -> BoxFuture<'a, Result<Token, UpstreamError>>;
}

/// How requests are authenticated.
pub enum Auth {
    None,
    Basic { username: String, password: Secret },
    Token(Box<TokenCache>),
}

/// The current token of a [`TokenSource`]: fetched on first use, renewed once older than
/// `max_age` or within a minute of its expiry, and dropped when the server refuses it.
pub struct TokenCache {
    source: Box<dyn TokenSource>,
    max_age: Duration,
    current: tokio::sync::Mutex<Option<Issued>>,
    generation: std::sync::atomic::AtomicU64,
}

struct Issued {
    token: Token,
    at: Instant,
    generation: u64,
}

impl TokenCache {
    pub fn new(source: Box<dyn TokenSource>, max_age: Duration) -> TokenCache {
        TokenCache {
            source,
            max_age,
            current: tokio::sync::Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The token to send, and its generation (to drop exactly this one if it is refused).
    async fn get(&self, upstream: &Upstream) -> Result<(Token, u64), UpstreamError> {
        // Held while signing in, so concurrent requests wait for one sign-in.
        let mut current = self.current.lock().await;
        let now = Instant::now();
        if let Some(issued) = current.as_ref() {
            // Renewed a minute before it expires; a token that lives less than two minutes,
            // halfway through its life (not on every request).
            let margin = |e: Instant| {
                Duration::from_secs(60).min(e.saturating_duration_since(issued.at) / 2)
            };
            let fresh = now.duration_since(issued.at) < self.max_age
                && issued.token.expires.is_none_or(|e| e > now + margin(e));
            if fresh {
                return Ok((issued.token.clone(), issued.generation));
            }
        }
        *current = None;
        let token = self.source.sign_in(upstream).await?;
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        tracing::debug!(source = %upstream.source, generation, "signed in");
        if let Some(endpoint) = &token.endpoint {
            upstream.base.store(Arc::new(endpoint.clone()));
        }
        *current = Some(Issued {
            token: token.clone(),
            at: Instant::now(),
            generation,
        });
        Ok((token, generation))
    }

    /// Drops the token of `generation` if it is still the current one.
    async fn refused(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|i| i.generation == generation) {
            *current = None;
        }
    }

    /// How many sign-ins happened so far.
    pub fn sign_ins(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One page of a page-number list: its items, the total the server claims, and the server's
/// own time of the answer where the envelope gives it.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<u64>,
    pub server_time: Option<String>,
    /// Why each item that did not read failed: left out, counted, the rest kept.
    pub skipped: Vec<String>,
}

/// A whole page-number list.
#[derive(Debug)]
pub struct Pages<T> {
    pub items: Vec<T>,
    /// The total the first page claimed.
    pub total: Option<u64>,
    pub server_time: Option<String>,
    /// The page size the server actually used (it may cap the one asked for).
    pub page_size: usize,
}

/// Decodes one page of an `offset`/`limit` list: endpoint, the key the items sit under, body.
pub type PageDecoder<T> = fn(&'static str, &'static str, &[u8]) -> Result<Vec<T>, UpstreamError>;

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
        let auth = match (&cfg.username, &cfg.password) {
            (Some(u), Some(p)) => Auth::Basic {
                username: u.clone(),
                password: p.clone(),
            },
            _ => Auth::None,
        };
        Ok(Upstream {
            client,
            base: ArcSwap::from_pointee(cfg.base_url()),
            auth,
            timeout: cfg.timeout,
            permits: Arc::new(Semaphore::new(cfg.concurrency)),
            source: cfg.name.clone(),
            system: cfg.kind.system(),
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

    /// Replaces the authentication (basic from the config by default).
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

    /// Reads every page of an `offset`/`limit` list whose items sit under `key` in the JSON
    /// object, until a page is shorter than the limit (an exact multiple ends with an empty
    /// page). A server that ignores paging (a page longer than the limit) is read once; one
    /// that ignores `offset` (the same page again, or a full page of items already read) is an
    /// error; items repeated across pages (the list shifted while being read) are kept once,
    /// by `id`. A list that ends with fewer items than the `metadata.count` a page announces
    /// fails with [`UpstreamError::Inconsistent`]: an empty or cut list never replaces a full
    /// one.
    pub async fn get_all_pages<T: DeserializeOwned + Send + 'static>(
        &self,
        endpoint: &'static str,
        path: &str,
        key: &'static str,
        query: &[(&str, String)],
        page_size: usize,
        id: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, UpstreamError> {
        self.get_offset_pages(
            endpoint,
            path,
            key,
            query,
            page_size,
            1,
            decode_list_page,
            id,
        )
        .await
    }

    /// [`Upstream::get_all_pages`] for a list without a total: after a full first page, the
    /// next `ahead` pages are requested at once (under the concurrency limit) and read in
    /// order, so a long list costs about one round trip per `ahead` pages. At most `ahead - 1`
    /// requests go past the end (they answer empty pages). Each page is decoded by `decode`
    /// (the body, the key its items sit under) on a blocking thread.
    #[allow(clippy::too_many_arguments)]
    pub async fn get_all_pages_ahead<T: DeserializeOwned + Send + 'static>(
        &self,
        endpoint: &'static str,
        path: &str,
        key: &'static str,
        query: &[(&str, String)],
        page_size: usize,
        ahead: usize,
        decode: PageDecoder<T>,
        id: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, UpstreamError> {
        self.get_offset_pages(
            endpoint,
            path,
            key,
            query,
            page_size,
            ahead,
            move |endpoint, key, body: &[u8]| {
                decode(endpoint, key, body).map(|items| ListPage {
                    items,
                    count: None,
                    skipped: Vec::new(),
                })
            },
            id,
        )
        .await
    }

    /// The `offset`/`limit` reader behind [`Upstream::get_all_pages`] and
    /// [`Upstream::get_all_pages_ahead`]: `decode` returns a page's items and the list's
    /// count, when the envelope gives one.
    #[allow(clippy::too_many_arguments)]
    async fn get_offset_pages<T: Send + 'static, D>(
        &self,
        endpoint: &'static str,
        path: &str,
        key: &'static str,
        query: &[(&str, String)],
        page_size: usize,
        ahead: usize,
        decode: D,
        id: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, UpstreamError>
    where
        D: Fn(&'static str, &'static str, &[u8]) -> Result<ListPage<T>, UpstreamError>
            + Copy
            + Send
            + 'static,
    {
        const MAX_PAGES: usize = 100_000;
        let fetch = |page: usize| {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("offset", (page * page_size).to_string()));
            q.push(("limit", page_size.to_string()));
            async move {
                let body = self.get_retrying(endpoint, &self.url(path, &q)).await?;
                // Decoded on a blocking thread: pages parse on every core while others
                // download.
                tokio::task::spawn_blocking(move || decode(endpoint, key, &body))
                    .await
                    .map_err(|e| {
                        UpstreamError::Internal(format!("{endpoint}: page decoder: {e}"))
                    })?
            }
        };
        let mut items: Vec<T> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut previous_first: Option<String> = None;
        // The largest count any page announced.
        let mut announced: Option<u64> = None;
        // Items that did not read: left out, counted once the list is complete.
        let mut skipped: Vec<String> = Vec::new();
        let complete = |items: Vec<T>, announced: Option<u64>, skipped: Vec<String>| {
            let listed = items.len() + skipped.len();
            if let Some(count) = announced.filter(|c| *c > listed as u64) {
                return Err(UpstreamError::Inconsistent {
                    endpoint,
                    detail: format!(
                        "the server counts {count} items but listed {listed}; keeping the last good data"
                    ),
                });
            }
            self.skipped(endpoint, &skipped);
            Ok(items)
        };
        let mut page = 0;
        while page < MAX_PAGES {
            // The first page alone (most lists fit in one), then `ahead` at a time.
            let window = if page == 0 { 1 } else { ahead.max(1) };
            let mut batches =
                stream::iter((page..(page + window).min(MAX_PAGES)).map(fetch)).buffered(window);
            while let Some(batch) = batches.next().await {
                let ListPage {
                    items: batch,
                    count,
                    skipped: unreadable,
                } = batch?;
                announced = announced.max(count);
                let n = batch.len() + unreadable.len();
                skipped.extend(unreadable);
                let first = batch.first().map(&id);
                if page > 0 && n > 0 && first == previous_first {
                    return Err(UpstreamError::Paging {
                        endpoint,
                        detail: format!(
                            "offset {} returned the same items as offset {}: the server ignores offset",
                            page * page_size,
                            (page - 1) * page_size
                        ),
                    });
                }
                previous_first = first;
                let before = items.len();
                for item in batch {
                    if seen.insert(id(&item)) {
                        items.push(item);
                    }
                }
                if n == page_size && items.len() == before {
                    return Err(UpstreamError::Paging {
                        endpoint,
                        detail: format!(
                            "offset {} returned only items already read: the server does not page",
                            page * page_size
                        ),
                    });
                }
                if n > page_size {
                    tracing::debug!(source = %self.source, %endpoint, n, page_size, "server ignores limit; one page holds the whole list");
                    return complete(items, announced, skipped);
                }
                if n < page_size {
                    // Pages requested past the end are dropped unread.
                    return complete(items, announced, skipped);
                }
                page += 1;
            }
        }
        Err(UpstreamError::Paging {
            endpoint,
            detail: format!("more than {MAX_PAGES} pages of {page_size}; giving up"),
        })
    }
}

impl Upstream {
    /// Reads every page of a page-number list (`pgNum` from 1, `pgSize`), decoding each page
    /// with `decode` (on a blocking thread, so pages parse on every core while others download).
    ///
    /// The end is the first page shorter than the page size, or an empty page; the total the
    /// first page claims is only used to fetch the pages it announces `concurrency` at a time,
    /// never trusted to end the list. A first page shorter than asked while the total says
    /// there is more means the server caps the page size: the rest is read at its size. A
    /// page longer than asked means the server ignores paging: that one page is the list.
    /// Items repeated across pages are kept once, by `id`; a full page of items already read
    /// means the server ignores `pgNum`, an error rather than a loop.
    #[allow(clippy::too_many_arguments)]
    pub async fn get_numbered_pages<T: Send + 'static>(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
        page_size: usize,
        concurrency: usize,
        decode: fn(&'static str, &[u8]) -> Result<Page<T>, UpstreamError>,
        id: impl Fn(&T) -> String,
    ) -> Result<Pages<T>, UpstreamError> {
        const MAX_PAGES: usize = 100_000;
        let fetch = |num: usize, size: usize| {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("pgNum", num.to_string()));
            q.push(("pgSize", size.to_string()));
            async move {
                let body = self.get_retrying(endpoint, &self.url(path, &q)).await?;
                tokio::task::spawn_blocking(move || decode(endpoint, &body))
                    .await
                    .map_err(|e| {
                        UpstreamError::Internal(format!("{endpoint}: page decoder: {e}"))
                    })?
            }
        };
        let first = fetch(1, page_size).await?;
        let total = first.total;
        let server_time = first.server_time;
        let mut out = Pages {
            items: Vec::with_capacity(total.unwrap_or(0).min(1_000_000) as usize),
            total,
            server_time,
            page_size,
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut add = |out: &mut Pages<T>, items: Vec<T>| -> usize {
            let before = out.items.len();
            for item in items {
                if seen.insert(id(&item)) {
                    out.items.push(item);
                }
            }
            out.items.len() - before
        };
        let mut skipped = first.skipped;
        let n = first.items.len() + skipped.len();
        add(&mut out, first.items);
        if n > page_size {
            tracing::debug!(source = %self.source, %endpoint, n, page_size, "server ignores pgSize; one page holds the whole list");
            return self.checked_total(endpoint, out, skipped);
        }
        if n == 0 {
            return self.checked_total(endpoint, out, skipped);
        }
        if n < page_size {
            if total.is_some_and(|t| t > n as u64) {
                tracing::warn!(source = %self.source, %endpoint, asked = page_size, served = n, "the server caps the page size; reading the rest at its size");
                out.page_size = n;
            } else {
                return self.checked_total(endpoint, out, skipped);
            }
        }
        let size = out.page_size;
        // Pages the total announces, fetched concurrently and consumed in order.
        let announced = total
            .map(|t| (t as usize).div_ceil(size).min(MAX_PAGES))
            .unwrap_or(1);
        let mut next = 2;
        if announced >= 2 {
            let mut pages = stream::iter((2..=announced).map(|num| fetch(num, size)))
                .buffered(concurrency.max(1));
            while let Some(page) = pages.next().await {
                let page = page?;
                let n = page.items.len() + page.skipped.len();
                skipped.extend(page.skipped);
                let added = add(&mut out, page.items);
                next += 1;
                if n == size && added == 0 {
                    return Err(self.repeated(endpoint, next - 1));
                }
                if n < size {
                    // The list ended early: later pages are not needed.
                    return self.checked_total(endpoint, out, skipped);
                }
            }
        }
        // The list may be longer than announced: on until a short or empty page.
        while next <= MAX_PAGES {
            let page = fetch(next, size).await?;
            let n = page.items.len() + page.skipped.len();
            skipped.extend(page.skipped);
            let added = add(&mut out, page.items);
            if n == size && added == 0 {
                return Err(self.repeated(endpoint, next));
            }
            if n < size {
                return self.checked_total(endpoint, out, skipped);
            }
            next += 1;
        }
        Err(UpstreamError::Paging {
            endpoint,
            detail: format!("more than {MAX_PAGES} pages of {size}; giving up"),
        })
    }

    fn repeated(&self, endpoint: &'static str, num: usize) -> UpstreamError {
        UpstreamError::Paging {
            endpoint,
            detail: format!(
                "page {num} returned only items already read: the server ignores pgNum"
            ),
        }
    }

    /// Fails a list that ended with fewer items than the total the server announced (an
    /// empty or cut list never replaces a full one); warns about one with more. Items that did
    /// not read (`skipped`) were listed: they count toward the total, and are counted in
    /// `backup_exporter_upstream_value_errors_total` and logged once.
    fn checked_total<T>(
        &self,
        endpoint: &'static str,
        pages: Pages<T>,
        skipped: Vec<String>,
    ) -> Result<Pages<T>, UpstreamError> {
        let listed = (pages.items.len() + skipped.len()) as u64;
        match pages.total {
            Some(total) if total > listed => {
                return Err(UpstreamError::Inconsistent {
                    endpoint,
                    detail: format!(
                        "totalCount is {total} but the pages listed {listed}; keeping the last good data"
                    ),
                })
            }
            Some(total) if total < listed => {
                tracing::warn!(source = %self.source, %endpoint, total_count = total, read = listed, "the pages list more items than totalCount; keeping what was read");
            }
            _ => {}
        }
        self.skipped(endpoint, &skipped);
        Ok(pages)
    }

    /// Counts and logs (one line) the items of a list that did not read and were left out.
    fn skipped(&self, endpoint: &'static str, skipped: &[String]) {
        if let Some(first) = skipped.first() {
            self.metrics
                .value_errors
                .with_label_values(&[self.source.as_str(), self.system])
                .inc_by(skipped.len() as u64);
            tracing::warn!(source = %self.source, %endpoint, unreadable = skipped.len(), first = %first, "items that do not read are left out; the rest of the list is kept");
        }
    }
}

/// An http(s) URL with a host, as an identity service's catalog gives one; `what` names it in
/// the error (`the catalog's Freezer URL`).
pub fn catalog_url(
    text: Option<&str>,
    endpoint: &'static str,
    what: &str,
) -> Result<Url, UpstreamError> {
    let text = text.unwrap_or("").trim();
    Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| UpstreamError::Parse {
            endpoint,
            detail: format!("{what} {text:?} is not a URL"),
        })
}

/// Decodes a JSON document, naming the path of the first bad value.
pub fn decode<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<T, UpstreamError> {
    decode_seed(endpoint, body, || PhantomData::<T>)
}

/// Decodes the list under `key` of a JSON object (a `null` list is empty), skipping the other
/// keys without building them.
pub fn decode_list<T: DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<Vec<T>, UpstreamError> {
    decode_counted_list(endpoint, key, body).map(|(items, _)| items)
}

/// [`decode_list`], with the count the envelope's `metadata.count` announces (CrashPlan PRO's
/// lists), when it is a readable whole number.
pub fn decode_counted_list<T: DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<(Vec<T>, Option<u64>), UpstreamError> {
    decode_seed(endpoint, body, || ListUnder::<T> {
        key,
        item: PhantomData,
    })
}

/// One decoded page of an `offset`/`limit` list.
pub struct ListPage<T> {
    /// The items that read.
    pub items: Vec<T>,
    /// The list's count, where the envelope gives one (`metadata.count`).
    pub count: Option<u64>,
    /// Why each item that did not read failed (its identity unreadable, an object where a
    /// list belongs, ...): those items are left out, the rest of the page is kept.
    pub skipped: Vec<String>,
}

/// Decodes a page like [`decode_counted_list`]; when the page does not read as a whole, each
/// item is read on its own, and the ones that do not read are left out and reported in
/// [`ListPage::skipped`] instead of failing the list. A page that is not JSON, has no list
/// under `key` or is cut off still fails.
pub fn decode_list_page<T: DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<ListPage<T>, UpstreamError> {
    let whole = match decode_counted_list::<T>(endpoint, key, body) {
        Ok((items, count)) => {
            return Ok(ListPage {
                items,
                count,
                skipped: Vec::new(),
            })
        }
        Err(e) => e,
    };
    let Ok((raw, count)) =
        decode_counted_list::<Box<serde_json::value::RawValue>>(endpoint, key, body)
    else {
        return Err(whole);
    };
    let mut page = ListPage {
        items: Vec::with_capacity(raw.len()),
        count,
        skipped: Vec::new(),
    };
    for (i, item) in raw.iter().enumerate() {
        match decode::<T>(endpoint, item.get().as_bytes()) {
            Ok(v) => page.items.push(v),
            Err(e) => page.skipped.push(format!("{key}[{i}]: {e}")),
        }
    }
    Ok(page)
}

/// Decodes a JSON document with a vendor's own seed (an envelope reader, made by `seed`),
/// naming the path of the first bad value. The whole body must be one JSON value.
///
/// Tracking the path costs on every key, so a body is decoded without it first; only a body
/// that fails is decoded again, tracked, for the message.
///
/// serde_json's lexer refuses a number beyond the range of f64 (`1e400`) before any reader
/// sees it. Only when that is why the body failed, each such number (outside strings) is
/// rewritten as a string of the same text ([`quote_out_of_range_numbers`]) and the body decoded
/// again: the tolerant readers report it as one unreadable value, never a failed refresh.
pub fn decode_seed<S, V>(
    endpoint: &'static str,
    body: &[u8],
    seed: impl Fn() -> S,
) -> Result<V, UpstreamError>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    match decode_fast(body, &seed) {
        Ok(v) => return Ok(v),
        Err(e) if is_out_of_range(&e) => {
            if let Some(rewritten) = quote_out_of_range_numbers(body) {
                return match decode_fast(&rewritten, &seed) {
                    Ok(v) => Ok(v),
                    Err(_) => decode_tracked(endpoint, &rewritten, &seed),
                };
            }
        }
        Err(_) => {}
    }
    decode_tracked(endpoint, body, &seed)
}

fn decode_fast<S, V>(body: &[u8], seed: &impl Fn() -> S) -> Result<V, serde_json::Error>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    let de = &mut serde_json::Deserializer::from_slice(body);
    seed()
        .deserialize(&mut *de)
        .and_then(|v| de.end().map(|()| v))
}

fn decode_tracked<S, V>(
    endpoint: &'static str,
    body: &[u8],
    seed: &impl Fn() -> S,
) -> Result<V, UpstreamError>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    let de = &mut serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let result = seed()
        .deserialize(serde_path_to_error::Deserializer::new(&mut *de, &mut track))
        .and_then(|v| de.end().map(|()| v));
    result.map_err(|e| {
        json_error(
            endpoint,
            body,
            serde_path_to_error::Error::new(track.path(), e),
        )
    })
}

fn is_out_of_range(e: &serde_json::Error) -> bool {
    e.is_syntax() && e.to_string().starts_with("number out of range")
}

/// Rewrites each number token outside strings whose value is beyond f64 (`1e400`, `-1e400`;
/// not `1e-400`, which is merely 0) as a JSON string of the same text. `None` when there is
/// none. Strings, escapes included, are copied untouched.
pub fn quote_out_of_range_numbers(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut changed = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'"' {
            // Copy the string through its closing quote, skipping escaped characters.
            let start = i;
            i += 1;
            while i < body.len() && body[i] != b'"' {
                i += if body[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(body.len());
            out.extend_from_slice(&body[start..i]);
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < body.len()
                && matches!(body[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                i += 1;
            }
            let token = &body[start..i];
            let huge = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_infinite);
            if huge {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
                changed = true;
            } else {
                out.extend_from_slice(token);
            }
        } else if b.is_ascii_alphabetic() {
            // Literals (true, false, null) and stray words: copied whole, so that their
            // letters are never read as an exponent.
            let start = i;
            while i < body.len() && body[i].is_ascii_alphanumeric() {
                i += 1;
            }
            out.extend_from_slice(&body[start..i]);
        } else {
            out.push(b);
            i += 1;
        }
    }
    changed.then_some(out)
}

fn json_error(
    endpoint: &'static str,
    body: &[u8],
    e: serde_path_to_error::Error<serde_json::Error>,
) -> UpstreamError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let at = if path == "." {
        String::new()
    } else {
        format!(" at {path}")
    };
    let detail = if inner.is_eof() {
        format!(
            "{inner}{at} (the body ends early after {} bytes)",
            body.len()
        )
    } else {
        format!("{inner}{at}")
    };
    UpstreamError::Parse { endpoint, detail }
}

struct ListUnder<T> {
    key: &'static str,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ListUnder<T> {
    type Value = (Vec<T>, Option<u64>);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListUnder<T> {
    type Value = (Vec<T>, Option<u64>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with a list under {:?}", self.key)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut count = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if k == self.key && found.is_none() {
                found = Some(map.next_value::<Option<Vec<T>>>()?.unwrap_or_default());
            } else if k == "metadata" {
                count = map.next_value::<MetadataCount>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        found
            .map(|items| (items, count))
            .ok_or_else(|| serde::de::Error::missing_field(self.key))
    }
}

/// `metadata.count` of an envelope, when it is a whole non-negative number; anything else in
/// `metadata` (or a `metadata` that is no object) is skipped, never an error: the count only
/// checks the list.
struct MetadataCount(Option<u64>);

impl<'de> Deserialize<'de> for MetadataCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Meta;
        impl<'de> Visitor<'de> for Meta {
            type Value = MetadataCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the metadata object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetadataCount, A::Error> {
                let mut count = None;
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if k == "count" {
                        count = map.next_value::<Count>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(MetadataCount(count))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<MetadataCount, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MetadataCount(None))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
        }
        d.deserialize_any(Meta)
    }
}

/// A count: a whole non-negative number, or a string of digits; anything else is no count.
struct Count(Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(Some(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Count, E> {
                Ok(Count(u64::try_from(v).ok()))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Count, E> {
                Ok(Count(v.trim().parse().ok()))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Count, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
        }
        d.deserialize_any(V)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: u32,
    }

    #[test]
    fn list_under_a_key_skips_the_rest() {
        let body = br#"{"metadata": {"count": 2, "params": {}}, "computers": [{"id": 1}, {"id": 2}], "x": [1]}"#;
        let v: Vec<Item> = decode_list("computers", "computers", body).unwrap();
        assert_eq!(v, vec![Item { id: 1 }, Item { id: 2 }]);
        let v: Vec<Item> =
            decode_list("computers", "computers", br#"{"computers": null}"#).unwrap();
        assert!(v.is_empty());
    }

    #[test]
    fn an_item_that_does_not_read_is_left_out_of_its_page() {
        let body =
            br#"{"metadata": {"count": 3}, "computers": [{"id": 1}, {"id": {"x": 1}}, {"id": 3}]}"#;
        let page: ListPage<Item> = decode_list_page("computers", "computers", body).unwrap();
        assert_eq!(page.items, vec![Item { id: 1 }, Item { id: 3 }]);
        assert_eq!(page.count, Some(3));
        assert_eq!(page.skipped.len(), 1);
        assert!(
            page.skipped[0].starts_with("computers[1]"),
            "{:?}",
            page.skipped
        );
        // Structure still fails: no list, or a cut body.
        assert!(
            decode_list_page::<Item>("computers", "computers", br#"{"metadata": {}}"#).is_err()
        );
        assert!(
            decode_list_page::<Item>("computers", "computers", br#"{"computers": [{"id": 1}"#)
                .is_err()
        );
    }

    #[test]
    fn list_errors_name_the_path() {
        let err = decode_list::<Item>(
            "computers",
            "computers",
            br#"{"computers": [{"id": 1}, {"id": "x"}]}"#,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("computers[1].id"), "{msg}");
        assert_eq!(err.reason(), "parse");
        let err =
            decode_list::<Item>("computers", "computers", br#"{"metadata": {}}"#).unwrap_err();
        assert!(
            err.to_string().contains("missing field `computers`"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_numbers_become_strings_and_nothing_else_changes() {
        let q = |t: &str| {
            quote_out_of_range_numbers(t.as_bytes()).map(|b| String::from_utf8(b).unwrap())
        };
        assert_eq!(
            q(r#"{"a": 1e400, "b": -1e400, "c": 2E+309, "d": [1, 1e400]}"#).as_deref(),
            Some(r#"{"a": "1e400", "b": "-1e400", "c": "2E+309", "d": [1, "1e400"]}"#)
        );
        // Negative exponents underflow to 0: not out of range, left alone.
        assert_eq!(
            q(r#"{"a": 1e-400, "b": 1.5e308, "c": -0.5, "d": 12}"#),
            None
        );
        // Strings holding digits, exponents and escapes are copied untouched.
        let text = r#"{"s": "1e400", "t": "say \"1e400\" \\", "u": "\u00e9 9e999", "n": 3e999}"#;
        assert_eq!(
            q(text).as_deref(),
            Some(r#"{"s": "1e400", "t": "say \"1e400\" \\", "u": "\u00e9 9e999", "n": "3e999"}"#)
        );
        assert_eq!(
            q(r#"[true, false, null, 1e400]"#).as_deref(),
            Some(r#"[true, false, null, "1e400"]"#)
        );
        assert_eq!(q(r#"{"a": "1e400"}"#), None);
    }

    #[derive(Debug, Deserialize)]
    struct Tolerant {
        #[serde(deserialize_with = "crate::sources::values::opt_num")]
        n: Option<crate::sources::values::Num>,
    }

    #[test]
    fn an_out_of_range_number_is_one_unreadable_value() {
        use crate::sources::values::Num;
        let body = br#"{"items": [{"n": 1e400}, {"n": 5}, {"n": -1e400}]}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
        let v: Vec<Tolerant> = decode_list("items", "items", body).unwrap();
        assert_eq!(v[0].n, Some(Num::Unreadable("1e400".into())));
        assert_eq!(v[1].n, Some(Num::Is(5.0)));
        assert_eq!(v[2].n, Some(Num::Unreadable("-1e400".into())));
        // A reader that wants a number still fails, naming the path, as before.
        let err = decode_list::<Item>("items", "items", br#"{"items": [{"id": 1e400}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("items"), "{err}");
        // Structural problems still fail.
        assert!(decode_list::<Tolerant>("items", "items", br#"{"items": [{"n": 1e400}"#).is_err());
        assert!(
            decode_list::<Tolerant>("items", "items", br#"{"other": [{"n": 1e400}]}"#).is_err()
        );
    }

    #[test]
    fn truncated_bodies_say_so() {
        let err =
            decode_list::<Item>("usages", "usages", br#"{"usages": [{"id": 1}, {"i"#).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ends early"), "{msg}");
        let err = decode::<Item>("serverStats", b"<html>oops</html>").unwrap_err();
        assert_eq!(err.reason(), "parse");
        let err =
            decode_list::<Item>("usages", "usages", br#"{"usages": []} trailing"#).unwrap_err();
        assert_eq!(err.reason(), "parse");
    }

    struct Counting(std::sync::atomic::AtomicU64, Option<Duration>);

    impl TokenSource for Counting {
        fn sign_in<'a>(
            &'a self,
            _upstream: &'a Upstream,
        ) -> BoxFuture<'a, Result<Token, UpstreamError>> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let expires = self.1.map(|d| Instant::now() + d);
            Box::pin(async move {
                Ok(Token {
                    header: reqwest::header::AUTHORIZATION,
                    value: Secret::new(format!("Bearer t{n}")),
                    expires,
                    endpoint: None,
                })
            })
        }
    }

    fn upstream() -> Upstream {
        let cfg = crate::config::Config::from_toml_str(
            r#"
            [[source]]
            name = "t"
            kind = "crashplan"
            url = "http://127.0.0.1:9"
            username = "u"
            password = "p"
            "#,
        )
        .unwrap();
        Upstream::new(&cfg.sources[0], Arc::new(SelfMetrics::new(&[]))).unwrap()
    }

    #[tokio::test]
    async fn tokens_are_reused_renewed_when_old_and_dropped_when_refused() {
        let up = upstream();
        let cache = TokenCache::new(
            Box::new(Counting(Default::default(), None)),
            Duration::from_millis(200),
        );
        let (t1, g1) = cache.get(&up).await.unwrap();
        let (t2, g2) = cache.get(&up).await.unwrap();
        assert_eq!((t1.value.expose(), g1), (t2.value.expose(), g2));
        assert_eq!(cache.sign_ins(), 1);
        // Refused: dropped once; a second report for the same (old) token changes nothing.
        cache.refused(g1).await;
        let (t3, g3) = cache.get(&up).await.unwrap();
        assert_eq!(t3.value.expose(), "Bearer t2");
        cache.refused(g1).await;
        assert_eq!(cache.get(&up).await.unwrap().1, g3);
        // Older than max_age: renewed before use.
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cache.get(&up).await.unwrap().0.value.expose(), "Bearer t3");
        assert_eq!(cache.sign_ins(), 3);
        // A token is renewed before its announced expiry: a minute before, or halfway through
        // the life of one that lives less than two minutes (not on every request).
        let short = TokenCache::new(
            Box::new(Counting(
                Default::default(),
                Some(Duration::from_millis(400)),
            )),
            Duration::from_secs(3600),
        );
        short.get(&up).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        short.get(&up).await.unwrap();
        assert_eq!(short.sign_ins(), 2);
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_sign_in() {
        let up = upstream();
        let cache = TokenCache::new(
            Box::new(Counting(Default::default(), None)),
            Duration::from_secs(60),
        );
        let all = futures_util::future::join_all((0..8).map(|_| cache.get(&up))).await;
        assert!(all.iter().all(|r| r.as_ref().unwrap().1 == 1));
        assert_eq!(cache.sign_ins(), 1);
    }
}
