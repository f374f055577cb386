//! Signing in: the [`Token`] a [`TokenSource`] obtains, and the [`TokenCache`] that keeps it
//! until it ages out or the server refuses it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::header::HeaderName;
use url::Url;

use super::Upstream;
use crate::config::Secret;
use crate::upstream::UpstreamError;

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
    pub(super) async fn get(&self, upstream: &Upstream) -> Result<(Token, u64), UpstreamError> {
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
    pub(super) async fn refused(&self, generation: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selfmetrics::SelfMetrics;

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
