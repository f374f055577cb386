//! What every HTTP client of the exporter promises the servers it calls (the vendors' APIs,
//! their identity services, Alertmanager): credentials never leave the origin a request was
//! made to, and no answer can grow the process past a bound.
//!
//! - Redirects are followed only within the origin (scheme, host and port) of the request's
//!   own URL, at most [`MAX_REDIRECTS`] times. A redirect anywhere else fails the request with
//!   [`CrossOrigin`], before anything is sent there: no token header, no basic credentials, no
//!   sign-in body re-POSTed by a 307/308.
//! - No `Referer` header: the upstream URL (which may name tenants and projects) is not
//!   announced to anyone.
//! - Bodies are read chunk by chunk after decompression and refused past a limit
//!   ([`read_body`]); error bodies are read only for a short excerpt ([`read_excerpt`]).
//!
//! It imports nothing of the project but the TLS crypto provider, so the sources and the
//! alerting bridge share it.

use std::fmt;

use bytes::{Bytes, BytesMut};
use url::Url;

/// Redirects followed within one origin before the request fails.
pub const MAX_REDIRECTS: usize = 10;

/// Bytes of an error body kept for the log excerpt.
pub const EXCERPT_BYTES: usize = 4096;

/// A client builder with the redirect policy and without `Referer`.
pub fn client_builder() -> reqwest::ClientBuilder {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let first = attempt.previous().first().cloned();
            match first {
                Some(first) if first.origin() != attempt.url().origin() => {
                    let refused = CrossOrigin::new(&first, attempt.url());
                    attempt.error(refused)
                }
                _ if attempt.previous().len() > MAX_REDIRECTS => {
                    attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
                }
                _ => attempt.follow(),
            }
        }))
        .referer(false)
}

/// A redirect to another origin, refused: nothing was sent there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossOrigin {
    /// `host:port` the request was made to.
    pub from: String,
    /// `scheme://host:port` the server redirected to (no path or query: they may hold
    /// anything).
    pub to: String,
}

impl CrossOrigin {
    fn new(from: &Url, to: &Url) -> CrossOrigin {
        CrossOrigin {
            from: origin_text(from),
            to: origin_text(to),
        }
    }

    /// The refused redirect behind a request error, if that is what failed it.
    pub fn behind(e: &reqwest::Error) -> Option<CrossOrigin> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(c) = err.downcast_ref::<CrossOrigin>() {
                return Some(c.clone());
            }
            cur = err.source();
        }
        None
    }
}

impl fmt::Display for CrossOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "redirected to {}, another origin than {}: not followed, credentials stay with the configured server",
            self.to, self.from
        )
    }
}

impl std::error::Error for CrossOrigin {}

/// `scheme://host:port` of a URL.
fn origin_text(u: &Url) -> String {
    let host = u.host_str().unwrap_or("?");
    match u.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", u.scheme()),
        None => format!("{}://{host}", u.scheme()),
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// More than `limit` bytes after decompression.
    TooLarge { limit: u64 },
    /// The transfer failed (broken off, timed out, undecodable gzip).
    Read(reqwest::Error),
}

/// Reads a whole body, counting the bytes as they arrive (decompressed, when the server sent
/// gzip): past `limit` the read stops and the connection is dropped. Memory stays within
/// about `limit`, whatever the server sends or claims.
pub async fn read_body(response: &mut reqwest::Response, limit: u64) -> Result<Bytes, BodyError> {
    // A Content-Length describes the bytes on the wire; with gzip they are fewer than decoded,
    // so it is only a hint for the allocation, never trusted as a bound.
    let hint = response
        .content_length()
        .unwrap_or(0)
        .min(limit)
        .min(1 << 24) as usize;
    let mut first: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    let mut read: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        read += chunk.len() as u64;
        if read > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if first.is_none() && joined.is_empty() {
            // A body in one chunk is kept without a copy.
            first = Some(chunk);
            continue;
        }
        if let Some(f) = first.take() {
            joined.reserve(hint.max(f.len() + chunk.len()));
            joined.extend_from_slice(&f);
        }
        joined.extend_from_slice(&chunk);
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}

/// The first [`EXCERPT_BYTES`] of a body, whitespace folded and cut to 200 characters, for a
/// log line or an error message. The rest is never read.
pub async fn read_excerpt(mut response: reqwest::Response) -> String {
    let mut head: Vec<u8> = Vec::new();
    while head.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = EXCERPT_BYTES - head.len();
                head.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    excerpt(&String::from_utf8_lossy(&head))
}

/// Text on one line, at most 200 characters.
pub fn excerpt(text: &str) -> String {
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 200 {
        format!("{}...", t.chars().take(200).collect::<String>())
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_name_scheme_host_and_port() {
        let a = Url::parse("https://api.example.com/v1/x?token=secret").unwrap();
        let b = Url::parse("http://evil.example:8080/steal?k=v").unwrap();
        let c = CrossOrigin::new(&a, &b);
        assert_eq!(c.from, "https://api.example.com:443");
        assert_eq!(c.to, "http://evil.example:8080");
        let msg = c.to_string();
        assert!(msg.contains("evil.example"), "{msg}");
        assert!(!msg.contains("secret") && !msg.contains("steal"), "{msg}");
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        assert_eq!(excerpt("a\n  b\tc"), "a b c");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 203);
    }

    /// A loopback server: `/same` redirects to `/landing` on itself, `/away` to `to`;
    /// `/landing` answers with the Referer it got (or `none`).
    async fn redirecting_server(to: String) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..20 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let to = to.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let to = to.clone();
                            async move {
                                let mut resp =
                                    hyper::Response::new(http_body_util::Full::new(Bytes::new()));
                                match req.uri().path() {
                                    "/same" => {
                                        *resp.status_mut() = hyper::StatusCode::FOUND;
                                        resp.headers_mut()
                                            .insert("location", "/landing".parse().unwrap());
                                    }
                                    "/away" => {
                                        *resp.status_mut() = hyper::StatusCode::TEMPORARY_REDIRECT;
                                        resp.headers_mut().insert("location", to.parse().unwrap());
                                    }
                                    _ => {
                                        let referer = req
                                            .headers()
                                            .get("referer")
                                            .map(|v| v.to_str().unwrap_or("?").to_owned())
                                            .unwrap_or_else(|| "none".into());
                                        *resp.body_mut() =
                                            http_body_util::Full::new(Bytes::from(referer));
                                    }
                                }
                                Ok::<_, std::convert::Infallible>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn redirects_stay_in_the_origin_and_carry_no_referer() {
        // Another port on the same host is another origin.
        let other = redirecting_server("http://unused.invalid/".into()).await;
        let addr = redirecting_server(format!("http://{other}/landing")).await;
        let client = client_builder().build().unwrap();
        let same = client
            .get(format!("http://{addr}/same"))
            .basic_auth("u", Some("secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(same.status(), 200);
        assert_eq!(same.text().await.unwrap(), "none", "a Referer was sent");
        let err = client
            .post(format!("http://{addr}/away"))
            .body("{\"password\": \"secret\"}")
            .send()
            .await
            .unwrap_err();
        let refused = CrossOrigin::behind(&err).expect("refused as cross-origin");
        assert_eq!(refused.to, format!("http://{other}"));
        assert_eq!(refused.from, format!("http://{addr}"));
    }

    #[tokio::test]
    async fn bodies_are_cut_at_the_limit() {
        let addr = redirecting_server(String::new()).await;
        let client = client_builder().build().unwrap();
        let mut resp = client
            .get(format!("http://{addr}/landing"))
            .send()
            .await
            .unwrap();
        assert!(matches!(
            read_body(&mut resp, 3).await,
            Err(BodyError::TooLarge { limit: 3 })
        ));
        let mut resp = client
            .get(format!("http://{addr}/landing"))
            .send()
            .await
            .unwrap();
        assert_eq!(&read_body(&mut resp, 4).await.unwrap()[..], b"none");
    }
}
