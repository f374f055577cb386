//! What the fleet benchmarks share: the exporter's allocator (mimalloc, as in the binary)
//! counting live and peak heap bytes, the process's peak resident size, timing helpers, and
//! (for the benchmarks against a simulator with latency) the latency knob and the table of
//! refresh against download times.
//!
//! A benchmark installs the allocator itself:
//! `#[global_allocator] static ALLOCATOR: support::Counting = support::Counting;`
//!
//! Per vendor, the simulated server as the benchmarks set it up (accounts, large fleets, the
//! `[[source]]` table that reads it, signing in to it): [`crashplan`], [`code42`], [`rackspace`],
//! [`freezer`].

// Every benchmark uses a part of this module, none all of it.
#![allow(dead_code)]

pub mod code42;
pub mod crashplan;
pub mod freezer;
pub mod rackspace;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backup_exporter::sim::{Fault, Faults};

use mimalloc::MiMalloc;

/// mimalloc, counting live and peak bytes.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Allocations made (a refresh's count tells how many small objects it builds).
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { MiMalloc.alloc(layout) };
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { MiMalloc.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Starts a peak measurement: the live bytes now (the peak is reset to them).
/// Allocations made so far (reallocations not counted).
pub fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

pub fn heap_mark() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// The most heap held since `heap_mark` returned `mark`, beyond `mark`.
pub fn heap_peak_since(mark: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(mark)
}

/// The heap bytes live now.
pub fn heap_live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The heap bytes `f` leaves allocated (what the value it builds holds), and that value.
pub fn heap_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = heap_live();
    let value = f();
    (heap_live().saturating_sub(before), value)
}

/// The process's peak resident size (VmHWM), in MiB.
pub fn resident_peak_mb() -> f64 {
    proc_status_mb("VmHWM:")
}

/// The process's resident size now (VmRSS), in MiB.
pub fn resident_mb() -> f64 {
    proc_status_mb("VmRSS:")
}

fn proc_status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The knob `key` (`BENCH_DEVICES`, ...): its value, or `default` when unset or not a number.
pub fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Minor page faults of this process so far (memory touched for the first time).
#[allow(dead_code)] // not every benchmark counts them
pub fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command (which may hold spaces) in parentheses.
            let rest = &s[s.rfind(')')? + 2..];
            rest.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// CPU time this process's threads have run so far (those alive now: the scheduler's count
/// of each thread, `/proc/self/task/*/schedstat`).
#[allow(dead_code)]
pub fn cpu_time() -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

/// The fastest of some runs.
pub fn best(runs: &[Duration]) -> Duration {
    runs.iter().copied().min().expect("at least one run")
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `a / b`.
pub fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// Holds every answer of a simulator back by `latency` (a delay-only fault on `"*"`, which
/// still serves the normal body); zero removes it.
pub fn set_latency(faults: &Faults, latency: Duration) {
    if latency.is_zero() {
        faults.clear_all();
    } else {
        faults.set(
            "*",
            Fault {
                delay: Some(latency),
                ..Fault::default()
            },
        );
    }
}

/// Best-of times of one latency setting: downloads and refreshes, cold and warm.
#[derive(Default)]
pub struct Times {
    pub download_cold: Vec<Duration>,
    pub download_warm: Vec<Duration>,
    pub cold: Vec<Duration>,
    pub warm: Vec<Duration>,
}

impl Times {
    /// Prints the best times, their ratios and the latency floors (cold, warm).
    pub fn print(&self, label: &str, floor: Option<(Duration, Duration)>) {
        let (dc, dw) = (best(&self.download_cold), best(&self.download_warm));
        let (c, w) = (best(&self.cold), best(&self.warm));
        let show =
            |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{:.0}", ms(d)));
        println!("{label} (best of {}):", self.cold.len());
        println!(
            "  {:<16} {:>13} {:>13} {:>16} {:>17}",
            "", "download ms", "refresh ms", "refresh/download", "latency floor ms"
        );
        for (row, d, r, f) in [
            ("cold", dc, c, floor.map(|f| f.0)),
            ("warm", dw, w, floor.map(|f| f.1)),
        ] {
            println!(
                "  {:<16} {:>13.1} {:>13.1} {:>16.2} {:>17}",
                row,
                ms(d),
                ms(r),
                ratio(r, d),
                show(f)
            );
        }
    }
}
