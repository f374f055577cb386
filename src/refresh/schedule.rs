//! When each source refreshes: one task per source (refresh, publish, sleep with jitter; shorter,
//! growing delays after a failure), and the alert evaluation started beside them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Exporter, Outcome, SourceEntry};
use crate::sources::Source;

/// The tasks running: one per source (with the entry it refreshes), and the alert
/// evaluation; and the shutdown they end on.
#[derive(Default)]
pub(super) struct Tasks {
    pub(super) shutdown: Option<watch::Receiver<bool>>,
    pub(super) sources: Vec<(Arc<SourceEntry>, JoinHandle<()>)>,
    alerting: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Starts one refresh task per source, and the alert evaluation (and the bridge, when
    /// configured). Tasks end when `shutdown` turns true; [`Exporter::join`] waits for them.
    pub fn spawn(self: &Arc<Self>, sources: super::Sources, shutdown: watch::Receiver<bool>) {
        let alerting = tokio::spawn(crate::alerting::run(
            self.clone(),
            self.bridge.clone(),
            shutdown.clone(),
        ));
        let entries = self.sources();
        let mut tasks = self.tasks.lock().expect("tasks lock");
        tasks.shutdown = Some(shutdown.clone());
        tasks.alerting = Some(alerting);
        for (entry, source) in entries.iter().zip(sources) {
            let task = self.spawn_source(entry.clone(), source, shutdown.clone());
            tasks.sources.push((entry.clone(), task));
        }
    }

    /// Waits for every task to end (after the shutdown given to [`Exporter::spawn`]).
    pub async fn join(&self) {
        let (sources, alerting) = {
            let mut tasks = self.tasks.lock().expect("tasks lock");
            (std::mem::take(&mut tasks.sources), tasks.alerting.take())
        };
        for (_, task) in sources {
            let _ = task.await;
        }
        if let Some(task) = alerting {
            let _ = task.await;
        }
    }

    /// The task of one source: refresh, publish, sleep, until `shutdown` (or until a reload
    /// aborts it: it holds nothing a cancelled refresh would leave half done).
    pub(super) fn spawn_source(
        self: &Arc<Self>,
        entry: Arc<SourceEntry>,
        mut source: Box<dyn Source>,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let exporter = self.clone();
        tokio::spawn(async move {
            let interval = entry.refresh_interval;
            // A small random start delay spreads sources that share a server.
            let mut delay = Duration::from_millis(fastrand::u64(0..=500));
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return,
                }
                let outcome = tokio::select! {
                    o = exporter.refresh_entry(&entry, &mut source) => o,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                };
                let failures = entry.state().consecutive_failures;
                delay = next_delay(interval, &outcome, failures, fastrand::f64());
            }
        })
    }
}

/// The wait before the next refresh. After a success: the interval, ±10 % jitter. After a
/// failure: 15 s doubling with each consecutive failure, capped at the interval, ±10 %; an
/// authentication or permission failure waits the full interval (retrying fast could lock the
/// account). `unit` is a random number in [0, 1).
pub fn next_delay(interval: Duration, outcome: &Outcome, failures: u32, unit: f64) -> Duration {
    let base = match outcome {
        Outcome::Ok => interval,
        Outcome::Failed { reason, .. } if matches!(*reason, "unauthorized" | "forbidden") => {
            interval
        }
        Outcome::Failed { .. } => {
            let exp = failures.saturating_sub(1).min(16);
            Duration::from_secs(15)
                .saturating_mul(1 << exp)
                .min(interval)
        }
    };
    base.mul_f64(0.9 + 0.2 * unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(reason: &'static str) -> Outcome {
        Outcome::Failed {
            reason,
            message: String::new(),
        }
    }

    #[test]
    fn delays_jitter_around_the_interval() {
        let i = Duration::from_secs(300);
        assert_eq!(
            next_delay(i, &Outcome::Ok, 0, 0.0),
            Duration::from_secs(270)
        );
        assert_eq!(
            next_delay(i, &Outcome::Ok, 0, 0.5),
            Duration::from_secs(300)
        );
        assert_eq!(next_delay(i, &Outcome::Ok, 0, 0.999_999).as_secs(), 329);
    }

    #[test]
    fn failures_back_off_up_to_the_interval() {
        let i = Duration::from_secs(300);
        let d: Vec<u64> = (1..=7)
            .map(|n| next_delay(i, &failed("timeout"), n, 0.5).as_secs())
            .collect();
        assert_eq!(d, vec![15, 30, 60, 120, 240, 300, 300]);
        assert_eq!(next_delay(i, &failed("timeout"), u32::MAX, 0.5), i);
        assert_eq!(next_delay(i, &failed("unauthorized"), 1, 0.5), i);
        assert_eq!(next_delay(i, &failed("forbidden"), 1, 0.5), i);
        let short = Duration::from_secs(5);
        assert_eq!(next_delay(short, &failed("server_error"), 1, 0.5), short);
    }
}
