//! The status page as last rendered: kept by the exporter, rendered and served by
//! `crate::pages`. One render at a time; the page is kept as bytes, plain and gzip.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;

/// The status page as last rendered, and the one render that may be in flight.
#[derive(Default)]
pub struct StatusPage {
    cached: ArcSwapOption<CachedPage>,
    /// Held by the render in flight, until its page is stored.
    rendering: Arc<tokio::sync::Mutex<()>>,
}

/// How long a page may show a refresh's progress after the refresh read on: progress alone
/// renders the page again at most this often.
pub const PROGRESS_SHOWN_WITHIN: Duration = Duration::from_secs(1);

/// One rendering of `/`.
#[derive(Debug)]
pub struct CachedPage {
    /// The [`super::Exporter::page_generation`] it shows.
    generation: u64,
    /// The [`super::Exporter::progress_changes`] it shows.
    progress: u64,
    made: Instant,
    pub(crate) html: Bytes,
    pub(crate) gzip: Bytes,
}

impl CachedPage {
    pub fn new(generation: u64, progress: u64, html: String) -> CachedPage {
        let html = Bytes::from(html);
        let gzip = gzip(&html);
        CachedPage {
            generation,
            progress,
            made: Instant::now(),
            html,
            gzip,
        }
    }

    pub fn body(&self, gzip: bool) -> Bytes {
        if gzip {
            self.gzip.clone()
        } else {
            self.html.clone()
        }
    }
}

fn gzip(data: &[u8]) -> Bytes {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::default(),
    );
    enc.write_all(data).expect("writing to memory");
    Bytes::from(enc.finish().expect("writing to memory"))
}

impl StatusPage {
    /// The page, when it is up to date: it shows `generation`, and `progress` or a progress
    /// at most [`PROGRESS_SHOWN_WITHIN`] old.
    pub fn current(&self, generation: u64, progress: u64) -> Option<Arc<CachedPage>> {
        self.cached.load_full().filter(|page| {
            page.generation == generation
                && (page.progress == progress || page.made.elapsed() < PROGRESS_SHOWN_WITHIN)
        })
    }

    /// Waits until no render is in flight; the render of the caller is in flight until the
    /// guard is dropped.
    pub async fn begin_render(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.rendering.clone().lock_owned().await
    }

    /// Keeps `page` as the last rendered.
    pub fn store(&self, page: Arc<CachedPage>) {
        self.cached.store(Some(page));
    }
}
