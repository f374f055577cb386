//! The paging strategies of [`Upstream`]: offset/limit lists (one page at a time, or read
//! ahead), and page-number lists. None can loop forever, and a list that ends short of the
//! count its server announces fails rather than replacing a full one.

use std::collections::HashSet;

use futures_util::{stream, StreamExt};
use serde::de::DeserializeOwned;

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
