//! The paging strategies of [`Upstream`]: offset/limit lists (one page at a time, or read
//! ahead), and page-number lists. None can loop forever, and a list that ends short of the
//! count its server announces fails rather than replacing a full one.

use std::collections::HashSet;

use futures_util::{stream, StreamExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::decode::{decode_list_page, ListPage};
use super::Upstream;
use crate::upstream::UpstreamError;

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

/// A page-number list read into a [`PageSink`]: the sink, and what the first page's envelope
/// said.
#[derive(Debug)]
pub struct Listed<S> {
    pub sink: S,
    /// The total the first page claimed.
    pub total: Option<u64>,
    pub server_time: Option<String>,
    /// The page size the server actually used (it may cap the one asked for).
    pub page_size: usize,
}

/// Where the items of a page-number list go as its pages are read
/// ([`Upstream::get_numbered_pages_into`]): page by page, in page order, each page without
/// the items earlier pages gave. Unless [`PageSink::INLINE`], on a blocking thread while the
/// next pages download and decode, so a sink may do real work per page (map it into metrics)
/// and let the page's items go.
pub trait PageSink<T>: Send + 'static {
    /// Cheap enough per page to run on the task reading the pages (appending to a list).
    const INLINE: bool = false;
    /// What the first page's envelope says, before its items: the total the server claims
    /// and its time of the answer.
    fn begin(&mut self, _total: Option<u64>, _server_time: Option<&str>) {}
    /// The new items of the next page.
    fn page(&mut self, items: Vec<T>);
}

/// The whole list, in order.
impl<T: Send + 'static> PageSink<T> for Vec<T> {
    const INLINE: bool = true;
    fn begin(&mut self, total: Option<u64>, _server_time: Option<&str>) {
        self.reserve(total.unwrap_or(0).min(1_000_000) as usize);
    }
    fn page(&mut self, mut items: Vec<T>) {
        self.append(&mut items);
    }
}

/// What the reading of a page-number list hands its sink.
enum ToSink<T> {
    Begin(Option<u64>, Option<String>),
    Items(Vec<T>),
}

/// Sends `what` to the sink's [`drain`] (empty pages are not sent).
async fn hand_on<T>(
    endpoint: &'static str,
    to_sink: &mpsc::Sender<ToSink<T>>,
    what: ToSink<T>,
) -> Result<(), UpstreamError> {
    if matches!(&what, ToSink::Items(items) if items.is_empty()) {
        return Ok(());
    }
    to_sink
        .send(what)
        .await
        .map_err(|_| UpstreamError::Internal(format!("{endpoint}: the page sink stopped")))
}

/// Hands `sink` what comes from `from`, in order, until the reading ends; on a blocking thread
/// unless the sink is [`PageSink::INLINE`] (pages that came meanwhile go in the same call).
async fn drain<T: Send + 'static, S: PageSink<T>>(
    endpoint: &'static str,
    mut sink: S,
    mut from: mpsc::Receiver<ToSink<T>>,
) -> Result<S, UpstreamError> {
    fn give<T, S: PageSink<T>>(sink: &mut S, what: ToSink<T>) {
        match what {
            ToSink::Begin(total, server_time) => sink.begin(total, server_time.as_deref()),
            ToSink::Items(items) => sink.page(items),
        }
    }
    while let Some(what) = from.recv().await {
        if S::INLINE {
            give(&mut sink, what);
            continue;
        }
        let mut batch = vec![what];
        while let Ok(more) = from.try_recv() {
            batch.push(more);
        }
        sink = tokio::task::spawn_blocking(move || {
            for what in batch {
                give(&mut sink, what);
            }
            sink
        })
        .await
        .map_err(|e| UpstreamError::Internal(format!("{endpoint}: page sink: {e}")))?;
    }
    Ok(sink)
}

/// Decodes one page of an `offset`/`limit` list: endpoint, the key the items sit under, body.
pub type PageDecoder<T> = fn(&'static str, &'static str, &[u8]) -> Result<Vec<T>, UpstreamError>;

impl Upstream {
    /// Reads every page of an `offset`/`limit` list whose items sit under `key` in the JSON
    /// object, until a page is shorter than the limit (an exact multiple ends with an empty
    /// page). A server that ignores paging (a page longer than the limit) is read once; one
    /// that ignores `offset` (the same page again, or a full page of items already read) is an
    /// error; items repeated across pages (the list shifted while being read) are kept once,
    /// by `id`. A list that ends with fewer items than the `metadata.count` a page announces
    /// fails with [`UpstreamError::Inconsistent`]: an empty or cut list never replaces a full
    /// one.
    ///
    /// A first page shorter than the limit is followed by one more request at the next offset:
    /// a server that caps the page size (and may count only the page it served in
    /// `metadata.count`) answers more items there, and the rest of the list is read at its
    /// size; an empty answer, or the first page again, ends the list. This costs one request
    /// per list that fits in one page.
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
            true,
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
            false,
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
        probe_short_first_page: bool,
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
        let progress = self.progress.list(path);
        // The page size the server serves: the one asked for, unless it caps it (below).
        let mut size = page_size;
        let fetch = |offset: usize| {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("offset", offset.to_string()));
            q.push(("limit", page_size.to_string()));
            let progress = &progress;
            async move {
                let body = self.get_retrying(endpoint, &self.url(path, &q)).await?;
                progress.page();
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
        // Whether the page being read is the one after a short first page, asked for to tell a
        // list that ended from a server that caps the page size.
        let mut probing = false;
        while page < MAX_PAGES {
            // The first page alone (most lists fit in one), then `ahead` at a time.
            let window = if page == 0 || probing {
                1
            } else {
                ahead.max(1)
            };
            let step = size;
            let mut batches =
                stream::iter((page..(page + window).min(MAX_PAGES)).map(|p| fetch(p * step)))
                    .buffered(window);
            while let Some(batch) = batches.next().await {
                let ListPage {
                    items: batch,
                    count,
                    skipped: unreadable,
                } = batch?;
                announced = announced.max(count);
                if let Some(count) = announced {
                    progress.expect(count.div_ceil(page_size.max(1) as u64));
                }
                let n = batch.len() + unreadable.len();
                skipped.extend(unreadable);
                if std::mem::take(&mut probing) {
                    let new = batch.iter().any(|item| !seen.contains(&id(item)));
                    if !new {
                        // Nothing more (or the first page again, from a server that ignores
                        // offset): the short first page was the whole list.
                        return complete(items, announced, skipped);
                    }
                    tracing::warn!(source = %self.source, %endpoint, asked = page_size, served = size, "the server caps the page size; reading the rest at its size");
                }
                let first = batch.first().map(&id);
                if page > 0 && n > 0 && first == previous_first {
                    return Err(UpstreamError::Paging {
                        endpoint,
                        detail: format!(
                            "offset {} returned the same items as offset {}: the server ignores offset",
                            page * size,
                            (page - 1) * size
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
                if n == size && items.len() == before {
                    return Err(UpstreamError::Paging {
                        endpoint,
                        detail: format!(
                            "offset {} returned only items already read: the server does not page",
                            page * size
                        ),
                    });
                }
                if n > size {
                    tracing::debug!(source = %self.source, %endpoint, n, page_size, "server ignores limit; one page holds the whole list");
                    return complete(items, announced, skipped);
                }
                if n < size {
                    if page == 0 && n > 0 && probe_short_first_page {
                        // The end of the list, or a server that serves fewer than asked for
                        // (whatever its `metadata.count` says): the next offset tells.
                        size = n;
                        probing = true;
                        page = 1;
                        break;
                    }
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

    /// Reads every page of a page-number list (`pgNum` from 1, `pgSize`) into one list (see
    /// [`Upstream::get_numbered_pages_into`]).
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
        let listed = self
            .get_numbered_pages_into(
                endpoint,
                path,
                query,
                page_size,
                concurrency,
                decode,
                id,
                Vec::new(),
            )
            .await?;
        Ok(Pages {
            items: listed.sink,
            total: listed.total,
            server_time: listed.server_time,
            page_size: listed.page_size,
        })
    }

    /// Reads every page of a page-number list (`pgNum` from 1, `pgSize`) into `sink`. Each page
    /// is decoded with `decode` on a blocking thread as soon as it has arrived, while the next
    /// ones download, and its body freed; its items go to the sink in page order, also while
    /// the next pages download and decode (see [`PageSink`]).
    ///
    /// The end is the first page shorter than the page size, or an empty page; the total the
    /// first page claims is only used to fetch the pages it announces `concurrency` at a time,
    /// never trusted to end the list. A first page shorter than asked while the total says
    /// there is more means the server caps the page size: the rest is read at its size. A
    /// page longer than asked means the server ignores paging: that one page is the list.
    /// Items repeated across pages are kept once, by `id`; a full page of items already read
    /// means the server ignores `pgNum`, an error rather than a loop.
    #[allow(clippy::too_many_arguments)]
    pub async fn get_numbered_pages_into<T: Send + 'static, S: PageSink<T>>(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
        page_size: usize,
        concurrency: usize,
        decode: fn(&'static str, &[u8]) -> Result<Page<T>, UpstreamError>,
        id: impl Fn(&T) -> String,
        sink: S,
    ) -> Result<Listed<S>, UpstreamError> {
        // Pages decoded but not yet taken by the sink: at most `concurrency` wait, then the
        // downloads wait for the sink.
        let (tx, rx) = mpsc::channel(concurrency.max(1));
        let feed = self.feed_numbered_pages(
            endpoint,
            path,
            query,
            page_size,
            concurrency,
            decode,
            id,
            tx,
        );
        let (head, sink) = tokio::try_join!(feed, drain(endpoint, sink, rx))?;
        Ok(Listed {
            sink,
            total: head.total,
            server_time: head.server_time,
            page_size: head.page_size,
        })
    }

    /// The reading behind [`Upstream::get_numbered_pages_into`]: every page, decoded, its new
    /// items sent to `to_sink` in page order; returns what the first page's envelope said.
    #[allow(clippy::too_many_arguments)]
    async fn feed_numbered_pages<T: Send + 'static>(
        &self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
        page_size: usize,
        concurrency: usize,
        decode: fn(&'static str, &[u8]) -> Result<Page<T>, UpstreamError>,
        id: impl Fn(&T) -> String,
        to_sink: mpsc::Sender<ToSink<T>>,
    ) -> Result<Listed<()>, UpstreamError> {
        const MAX_PAGES: usize = 100_000;
        let progress = self.progress.list(path);
        let fetch = |num: usize, size: usize| {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("pgNum", num.to_string()));
            q.push(("pgSize", size.to_string()));
            let progress = &progress;
            async move {
                let body = self.get_retrying(endpoint, &self.url(path, &q)).await?;
                progress.page();
                // Decoded on a blocking thread, the body freed there once read: pages parse
                // on every core while others download.
                tokio::task::spawn_blocking(move || decode(endpoint, &body))
                    .await
                    .map_err(|e| {
                        UpstreamError::Internal(format!("{endpoint}: page decoder: {e}"))
                    })?
            }
        };
        let mut seen: HashSet<String> = HashSet::new();
        // Leaves out the items earlier pages gave.
        let mut new_only = |mut items: Vec<T>| {
            items.retain(|item| seen.insert(id(item)));
            items
        };
        // Items handed to the sink so far.
        let mut listed = 0usize;
        let first = fetch(1, page_size).await?;
        let mut head = Listed {
            sink: (),
            total: first.total,
            server_time: first.server_time,
            page_size,
        };
        let total = head.total;
        hand_on(
            endpoint,
            &to_sink,
            ToSink::Begin(total, head.server_time.clone()),
        )
        .await?;
        let mut skipped = first.skipped;
        let n = first.items.len() + skipped.len();
        let items = new_only(first.items);
        listed += items.len();
        hand_on(endpoint, &to_sink, ToSink::Items(items)).await?;
        if n > page_size {
            tracing::debug!(source = %self.source, %endpoint, n, page_size, "server ignores pgSize; one page holds the whole list");
            return self.checked_total(endpoint, head, listed, skipped);
        }
        if n == 0 {
            return self.checked_total(endpoint, head, listed, skipped);
        }
        if n < page_size {
            if total.is_some_and(|t| t > n as u64) {
                tracing::warn!(source = %self.source, %endpoint, asked = page_size, served = n, "the server caps the page size; reading the rest at its size");
                head.page_size = n;
            } else {
                return self.checked_total(endpoint, head, listed, skipped);
            }
        }
        let size = head.page_size;
        // Pages the total announces, fetched concurrently and consumed in order.
        let announced = total
            .map(|t| (t as usize).div_ceil(size).min(MAX_PAGES))
            .unwrap_or(1);
        if total.is_some() {
            progress.expect(announced as u64);
        }
        let mut next = 2;
        if announced >= 2 {
            let mut pages = stream::iter((2..=announced).map(|num| fetch(num, size)))
                .buffered(concurrency.max(1));
            while let Some(page) = pages.next().await {
                let page = page?;
                let n = page.items.len() + page.skipped.len();
                skipped.extend(page.skipped);
                let items = new_only(page.items);
                let added = items.len();
                listed += added;
                hand_on(endpoint, &to_sink, ToSink::Items(items)).await?;
                next += 1;
                if n == size && added == 0 {
                    return Err(self.repeated(endpoint, next - 1));
                }
                if n < size {
                    // The list ended early: later pages are not needed.
                    return self.checked_total(endpoint, head, listed, skipped);
                }
            }
        }
        // The list may be longer than announced: on until a short or empty page.
        while next <= MAX_PAGES {
            let page = fetch(next, size).await?;
            let n = page.items.len() + page.skipped.len();
            skipped.extend(page.skipped);
            let items = new_only(page.items);
            let added = items.len();
            listed += added;
            hand_on(endpoint, &to_sink, ToSink::Items(items)).await?;
            if n == size && added == 0 {
                return Err(self.repeated(endpoint, next));
            }
            if n < size {
                return self.checked_total(endpoint, head, listed, skipped);
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
    fn checked_total(
        &self,
        endpoint: &'static str,
        head: Listed<()>,
        read: usize,
        skipped: Vec<String>,
    ) -> Result<Listed<()>, UpstreamError> {
        let listed = (read + skipped.len()) as u64;
        match head.total {
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
        Ok(head)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps what it is given.
    #[derive(Default)]
    struct Kept {
        head: Option<(Option<u64>, Option<String>)>,
        pages: Vec<Vec<u32>>,
    }

    impl PageSink<u32> for Kept {
        fn begin(&mut self, total: Option<u64>, server_time: Option<&str>) {
            assert!(self.pages.is_empty(), "the head comes first");
            self.head = Some((total, server_time.map(str::to_owned)));
        }
        fn page(&mut self, items: Vec<u32>) {
            self.pages.push(items);
        }
    }

    async fn feed(to_sink: mpsc::Sender<ToSink<u32>>, pages: Vec<Vec<u32>>) {
        hand_on("test", &to_sink, ToSink::Begin(Some(5), Some("t0".into())))
            .await
            .unwrap();
        for page in pages {
            hand_on("test", &to_sink, ToSink::Items(page))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_sink_gets_the_head_then_each_page_in_order() {
        let pages = vec![vec![1, 2], vec![], vec![3, 4], vec![5]];
        // A channel shorter than the list: the reading waits for the sink.
        let (to_sink, from) = mpsc::channel(1);
        let ((), kept) = tokio::join!(
            feed(to_sink, pages.clone()),
            drain("test", Kept::default(), from)
        );
        let kept = kept.unwrap();
        assert_eq!(kept.head, Some((Some(5), Some("t0".to_owned()))));
        // Empty pages are not handed on.
        assert_eq!(kept.pages, vec![vec![1, 2], vec![3, 4], vec![5]]);

        let (to_sink, from) = mpsc::channel(1);
        let ((), list) = tokio::join!(feed(to_sink, pages), drain("test", Vec::new(), from));
        assert_eq!(list.unwrap(), vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_sink_that_panics_fails_the_list_without_taking_the_task_down() {
        struct Panics;
        impl PageSink<u32> for Panics {
            fn page(&mut self, _: Vec<u32>) {
                panic!("a mapping bug");
            }
        }
        let (to_sink, from) = mpsc::channel(1);
        to_sink.send(ToSink::Items(vec![1])).await.unwrap();
        drop(to_sink);
        let Err(err) = drain("computers", Panics, from).await else {
            panic!("a sink that panics gave a list");
        };
        assert_eq!(err.reason(), "internal");
        assert!(err.to_string().contains("computers"), "{err}");
    }
}
