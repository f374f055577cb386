//! Connections: a cap on how many are open at once, the open-file limit, and a throttled log
//! line for failed accepts.
//!
//! Above the cap a new connection waits, and the least recently active idle connection (one
//! with no request in progress: a keep-alive connection between scrapes, or one that never
//! sent a request) is asked to close to make room. A thousand idle keep-alive connections
//! therefore cannot lock a fresh scraper out: each newcomer displaces the stalest of them.
//! A connection is never closed in the middle of a request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Default of `max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// One open connection as the cap sees it.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    last_active: Mutex<Instant>,
    closing: AtomicBool,
    /// Told when the connection should close (at the cap, or at shutdown).
    pub close: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    /// Marks a request in progress until the guard drops.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        *self.last_active.lock().unwrap() = Instant::now();
        Busy(self.clone())
    }
}

/// A request in progress on a connection.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last_active.lock().unwrap() = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The open connections, at most `max`.
pub struct Connections {
    slots: Arc<Semaphore>,
    max: usize,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
    next: AtomicU64,
}

/// A connection's place under the cap; dropping it frees the place.
pub struct Slot {
    id: u64,
    conns: Arc<Connections>,
    pub activity: Arc<Activity>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.conns.open.lock().unwrap().remove(&self.id);
    }
}

impl Connections {
    pub fn new(max: usize) -> Arc<Connections> {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Arc::new(Connections {
            slots: Arc::new(Semaphore::new(max)),
            max,
            open: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        })
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        self.max - self.slots.available_permits()
    }

    /// A place for a new connection: at once below the cap; at the cap, after asking the
    /// stalest idle connection to close (again each second while none frees a place).
    pub async fn admit(self: &Arc<Self>) -> Slot {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => loop {
                self.close_stalest_idle();
                tokio::select! {
                    p = self.slots.clone().acquire_owned() => break p.expect("never closed"),
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            },
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new());
        self.open.lock().unwrap().insert(id, activity.clone());
        Slot {
            id,
            conns: self.clone(),
            activity,
            _permit: permit,
        }
    }

    /// Asks the least recently active connection with no request in progress to close.
    /// Returns whether there was one.
    pub fn close_stalest_idle(&self) -> bool {
        let open = self.open.lock().unwrap();
        let stalest = open
            .values()
            .filter(|a| {
                a.in_flight.load(Ordering::SeqCst) == 0 && !a.closing.load(Ordering::SeqCst)
            })
            .min_by_key(|a| *a.last_active.lock().unwrap());
        match stalest {
            Some(a) => {
                a.closing.store(true, Ordering::SeqCst);
                a.close.notify_one();
                tracing::debug!("connection cap reached: closing the stalest idle connection");
                true
            }
            None => false,
        }
    }

    /// Completes when every connection has closed.
    pub async fn all_closed(&self) {
        let _ = self.slots.acquire_many(self.max as u32).await;
    }
}

/// Raises the soft open-file limit to the hard limit; returns (before, after).
pub fn raise_fd_limit() -> std::io::Result<(u64, u64)> {
    let (before, _hard) = rlimit::Resource::NOFILE.get()?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}

/// At most one log line per period; counts what it held back.
#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)` when a line may be logged now, `n` being how many were held back since the
    /// last one; `None` when this one is held back.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}
