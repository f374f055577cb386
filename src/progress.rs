//! How far a source's refresh has read: one record per source, which the HTTP client updates
//! as it reads (atomics only, once per answer or page) and the exporter reads (its log while a
//! first refresh takes long, `/ready`, the status page). It imports nothing of the project.
//!
//! A refresh reads lists (pages, and how many there are where the list's envelope gives a
//! total) and single answers; the record tells both:
//! `refreshing: 12 of 40 pages of /api/v1/Computer, 3 pages so far of /api/v1/User`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Lists in flight named in [`Progress::text`]; the others are counted.
const LISTS_NAMED: usize = 3;

/// Lists of one refresh the record keeps (a refresh reads a handful; past this, lists are
/// read without a record).
const LISTS_KEPT: usize = 64;

/// One source's refresh in flight, as far as it has read.
#[derive(Debug, Default)]
pub struct Progress {
    /// Counts every change, never reset: what a page rendered from the record compares.
    changes: AtomicU64,
    /// A refresh is in flight.
    running: AtomicBool,
    /// Answers read in this refresh, list pages included.
    answers: AtomicU64,
    /// This refresh's lists, in the order they began: locked when a list begins and when the
    /// record is read, never per page.
    lists: Mutex<Vec<Arc<List>>>,
}

/// One list of a refresh.
#[derive(Debug)]
struct List {
    path: String,
    /// Pages read.
    read: AtomicU64,
    /// Pages the server's count announces; 0 while unknown.
    expected: AtomicU64,
    done: AtomicBool,
}

/// A list being read, as its reader holds it: [`ListReading::page`] for each page, and the
/// list counts as read once this is dropped (however its reading ended).
#[derive(Debug)]
pub struct ListReading<'a> {
    progress: &'a Progress,
    list: Option<Arc<List>>,
}

impl Progress {
    fn lists(&self) -> MutexGuard<'_, Vec<Arc<List>>> {
        self.lists
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::Release);
    }

    /// A refresh begins: what the last one read is forgotten.
    pub fn begin(&self) {
        self.lists().clear();
        self.answers.store(0, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
        self.changed();
    }

    /// The refresh ended (what it read is kept until the next one begins).
    pub fn end(&self) {
        self.running.store(false, Ordering::Release);
        self.changed();
    }

    /// A refresh is in flight.
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Counts every change of the record: equal counts, equal record.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// One answer was read.
    pub fn answer(&self) {
        self.answers.fetch_add(1, Ordering::Relaxed);
        self.changed();
    }

    /// A list of `path` (its path below the base URL) begins.
    pub fn list(&self, path: &str) -> ListReading<'_> {
        let mut lists = self.lists();
        let list = (lists.len() < LISTS_KEPT).then(|| {
            let list = Arc::new(List {
                path: path.to_owned(),
                read: AtomicU64::new(0),
                expected: AtomicU64::new(0),
                done: AtomicBool::new(false),
            });
            lists.push(list.clone());
            list
        });
        drop(lists);
        self.changed();
        ListReading {
            progress: self,
            list,
        }
    }

    /// What the refresh in flight has read, as one line (`None` when none is in flight):
    /// `refreshing: 12 of 40 pages of /api/v1/Computer, 3 pages so far of /api/v1/User; 2
    /// lists read`.
    pub fn text(&self) -> Option<String> {
        if !self.running() {
            return None;
        }
        let lists: Vec<Arc<List>> = self.lists().clone();
        let mut out = String::from("refreshing: ");
        let reading: Vec<&Arc<List>> = lists
            .iter()
            .filter(|l| !l.done.load(Ordering::Acquire))
            .collect();
        let read = lists.len() - reading.len();
        if lists.is_empty() {
            match self.answers.load(Ordering::Relaxed) {
                0 => out.push_str("no answer yet"),
                n => {
                    let _ = write!(out, "{n} {} so far", plural(n, "answer", "answers"));
                }
            }
            return Some(out);
        }
        for (i, list) in reading.iter().take(LISTS_NAMED).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let pages = list.read.load(Ordering::Relaxed);
            match list.expected.load(Ordering::Relaxed) {
                0 => {
                    let _ = write!(out, "{pages} {} so far", plural(pages, "page", "pages"));
                }
                expected => {
                    let expected = expected.max(pages);
                    let _ = write!(
                        out,
                        "{pages} of {expected} {}",
                        plural(expected, "page", "pages")
                    );
                }
            }
            let _ = write!(out, " of {}", list.path);
        }
        if reading.len() > LISTS_NAMED {
            let more = reading.len() - LISTS_NAMED;
            let _ = write!(
                out,
                " and {more} more {}",
                plural(more as u64, "list", "lists")
            );
        }
        if read > 0 {
            let pages: u64 = lists
                .iter()
                .filter(|l| l.done.load(Ordering::Acquire))
                .map(|l| l.read.load(Ordering::Relaxed))
                .sum();
            if !reading.is_empty() {
                out.push_str("; ");
            }
            let _ = write!(
                out,
                "{read} {} read ({pages} {})",
                plural(read as u64, "list", "lists"),
                plural(pages, "page", "pages")
            );
        }
        Some(out)
    }
}

impl ListReading<'_> {
    /// The server's count announces `pages` pages in all (the largest announcement holds).
    pub fn expect(&self, pages: u64) {
        if let Some(list) = &self.list {
            if list.expected.fetch_max(pages, Ordering::Relaxed) < pages {
                self.progress.changed();
            }
        }
    }

    /// One more page was read.
    pub fn page(&self) {
        if let Some(list) = &self.list {
            list.read.fetch_add(1, Ordering::Relaxed);
            self.progress.changed();
        }
    }
}

impl Drop for ListReading<'_> {
    fn drop(&mut self) {
        if let Some(list) = &self.list {
            list.done.store(true, Ordering::Release);
            self.progress.changed();
        }
    }
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_told_outside_a_refresh() {
        let p = Progress::default();
        assert_eq!(p.text(), None);
        p.begin();
        assert_eq!(p.text().as_deref(), Some("refreshing: no answer yet"));
        p.end();
        assert_eq!(p.text(), None);
        assert!(!p.running());
    }

    #[test]
    fn pages_of_a_total_and_pages_so_far() {
        let p = Progress::default();
        p.begin();
        let computers = p.list("/api/v1/Computer");
        computers.page();
        computers.expect(40);
        for _ in 0..11 {
            computers.page();
        }
        let users = p.list("/api/v1/User");
        users.page();
        assert_eq!(
            p.text().as_deref(),
            Some("refreshing: 12 of 40 pages of /api/v1/Computer, 1 page so far of /api/v1/User")
        );
        // A count announced later holds when larger; more pages than announced are told.
        computers.expect(30);
        users.page();
        users.expect(1);
        assert_eq!(
            p.text().as_deref(),
            Some("refreshing: 12 of 40 pages of /api/v1/Computer, 2 of 2 pages of /api/v1/User")
        );
        drop(users);
        assert_eq!(
            p.text().as_deref(),
            Some("refreshing: 12 of 40 pages of /api/v1/Computer; 1 list read (2 pages)")
        );
        drop(computers);
        assert_eq!(
            p.text().as_deref(),
            Some("refreshing: 2 lists read (14 pages)")
        );
        // The next refresh starts afresh.
        p.end();
        p.begin();
        let one = p.list("/rest/orgs");
        one.expect(1);
        assert_eq!(
            p.text().as_deref(),
            Some("refreshing: 0 of 1 page of /rest/orgs")
        );
    }

    #[test]
    fn many_lists_are_counted_and_single_answers_told() {
        let p = Progress::default();
        p.begin();
        p.answer();
        assert_eq!(p.text().as_deref(), Some("refreshing: 1 answer so far"));
        p.answer();
        assert_eq!(p.text().as_deref(), Some("refreshing: 2 answers so far"));
        let lists: Vec<ListReading> = (0..5).map(|i| p.list(&format!("/v2/{i}"))).collect();
        assert_eq!(
            p.text().as_deref(),
            Some(
                "refreshing: 0 pages so far of /v2/0, 0 pages so far of /v2/1, 0 pages so far \
                 of /v2/2 and 2 more lists"
            )
        );
        drop(lists);
        // A refresh reading more lists than are kept still counts what it can.
        let lists: Vec<ListReading> = (0..LISTS_KEPT + 3).map(|_| p.list("/x")).collect();
        lists[LISTS_KEPT + 1].page();
        assert!(p.text().unwrap().contains(" more lists"), "{:?}", p.text());
    }

    #[test]
    fn every_change_counts() {
        let p = Progress::default();
        let mut last = p.changes();
        let mut changed = |p: &Progress| {
            let now = p.changes();
            assert!(now > last, "{now} after {last}");
            last = now;
        };
        p.begin();
        changed(&p);
        let list = p.list("/a");
        changed(&p);
        list.expect(3);
        changed(&p);
        list.page();
        changed(&p);
        p.answer();
        changed(&p);
        drop(list);
        changed(&p);
        p.end();
        changed(&p);
    }
}
