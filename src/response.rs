//! What every HTTP answer is made of: the response [`Body`], plain-text answers, and the
//! headers every response carries.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

/// A response body: chunks of bytes already in memory (the gzip `/metrics` hands out the
/// pieces of the exposition without copying them together), chunks of a known total length
/// made as the body is read (the plain `/metrics`, inflated a chunk at a time), or bytes still
/// to come (`/` while its page is being rendered off the async workers).
#[derive(Default)]
pub struct Body {
    chunks: std::collections::VecDeque<Bytes>,
    remaining: u64,
    /// Made as the body is read, before `chunks`; `remaining` counts them.
    made: Option<Box<dyn Iterator<Item = Bytes> + Send>>,
    later: Option<Pin<Box<dyn Future<Output = Bytes> + Send>>>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("remaining", &self.remaining)
            .field("made", &self.made.is_some())
            .field("later", &self.later.is_some())
            .finish()
    }
}

impl Body {
    pub fn empty() -> Body {
        Body::default()
    }

    pub fn chunks(chunks: impl IntoIterator<Item = Bytes>) -> Body {
        let chunks: std::collections::VecDeque<Bytes> =
            chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Body {
            chunks,
            remaining,
            made: None,
            later: None,
        }
    }

    /// The chunks `made` gives as the body is read, `len` bytes in all (sent with that
    /// `Content-Length`; chunks beyond it are cut, and a body that ends short ends the
    /// connection).
    pub fn made(len: u64, made: impl Iterator<Item = Bytes> + Send + 'static) -> Body {
        Body {
            remaining: len,
            made: Some(Box::new(made)),
            ..Body::default()
        }
    }

    /// The bytes `future` completes with (length unknown until then: sent chunked).
    pub fn later(future: impl Future<Output = Bytes> + Send + 'static) -> Body {
        Body {
            later: Some(Box::pin(future)),
            ..Body::default()
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::chunks([b])
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(later) = &mut this.later {
            let bytes = std::task::ready!(later.as_mut().poll(cx));
            this.later = None;
            if !bytes.is_empty() {
                return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(bytes))));
            }
        }
        if let Some(made) = &mut this.made {
            match made.next() {
                Some(mut c) if this.remaining > 0 => {
                    c.truncate(usize::try_from(this.remaining).unwrap_or(usize::MAX));
                    this.remaining -= c.len() as u64;
                    return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(c))));
                }
                _ => this.made = None,
            }
        }
        std::task::Poll::Ready(this.chunks.pop_front().map(|c| {
            this.remaining = this.remaining.saturating_sub(c.len() as u64);
            Ok(hyper::body::Frame::data(c))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.later.is_none() && self.made.is_none() && self.chunks.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        if self.later.is_some() {
            hyper::body::SizeHint::default()
        } else {
            hyper::body::SizeHint::with_exact(self.remaining)
        }
    }
}

/// The headers every response carries: `X-Content-Type-Options: nosniff` (a browser takes
/// each body for the type it is labelled with, never guesses HTML in it).
pub fn add_common_headers<B>(response: &mut Response<B>) {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::body::Body as _;

    #[tokio::test]
    async fn a_made_body_has_its_length_and_gives_no_more() {
        let made = || {
            ["ab", "cde", "fgh"]
                .into_iter()
                .map(|s| Bytes::from_static(s.as_bytes()))
        };
        let body = Body::made(8, made());
        assert_eq!(body.size_hint().exact(), Some(8));
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"abcdefgh");
        // Chunks beyond the announced length are cut.
        let body = Body::made(4, made());
        assert_eq!(&body.collect().await.unwrap().to_bytes()[..], b"abcd");
    }
}
