//! When each source refreshes: one task per source (refresh, publish, sleep with jitter; shorter,
//! growing delays after a failure), and the alert evaluation started beside them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{Exporter, Outcome};

impl Exporter {
    /// Starts the alert evaluation (and the bridge, when configured).
    fn spawn_alerting(
        self: &Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::alerting::run(
            self.clone(),
            self.bridge.clone(),
            shutdown,
        ))
    }

    /// Starts one refresh task per source. Tasks end when `shutdown` turns true.
    pub fn spawn(
        self: &Arc<Self>,
        sources: super::Sources,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let alerting = self.spawn_alerting(shutdown.clone());
        let mut tasks: Vec<_> = sources
            .into_iter()
            .enumerate()
            .map(|(index, mut source)| {
                let exporter = self.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let interval = exporter.sources[index].refresh_interval;
                    // A small random start delay spreads sources that share a server.
                    let mut delay = Duration::from_millis(fastrand::u64(0..=500));
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = shutdown.wait_for(|stop| *stop) => return,
                        }
                        let outcome = tokio::select! {
                            o = exporter.refresh(index, &mut source) => o,
                            _ = shutdown.wait_for(|stop| *stop) => return,
                        };
                        let failures = exporter.sources[index].state().consecutive_failures;
                        delay = next_delay(interval, &outcome, failures, fastrand::f64());
                    }
                })
            })
            .collect();
        tasks.push(alerting);
        tasks
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
