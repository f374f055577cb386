//! The sources of a configuration read again (SIGHUP, `POST /-/reload`): each source is
//! matched with the running one of the same name and kind, and
//!
//! - kept when its settings are the same ([`SourceConfig`] compared by value): its task goes
//!   on untouched, with its data, its cached upstream reads, its alerts and what it learned
//!   of its targets (first-seen times, last successes);
//! - restarted when they changed: its task is stopped and a new one started with the new
//!   settings. Until the new one's first refresh ends, the last good data of the old one is
//!   served (as after a failed refresh), so its series and alerts go on; what it learned of
//!   its targets carries on, as across a restart with a `state_file`;
//! - started when it is new (a new name, or a name whose kind changed);
//! - stopped when it is gone: its series vanish from the next scrape, and its alerts resolve
//!   at the next evaluation, which runs at once.
//!
//! Every new or changed source is built before anything changes: a source that cannot be
//! built (a CA file that does not load) leaves the running ones as they were.

use std::sync::Arc;

use super::{build, Exporter, SourceEntry, SourceState};
use crate::config::{Config, SourceConfig};
use crate::sources::{Source, Vendor};

/// What a reload did to the sources, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SourcesReloaded {
    pub kept: Vec<String>,
    pub restarted: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// What becomes of one configured source.
enum Plan<'c> {
    Keep(Arc<SourceEntry>),
    Restart(Arc<SourceEntry>, &'c SourceConfig, Box<dyn Source>),
    Add(&'c SourceConfig, &'static dyn Vendor, Box<dyn Source>),
}

impl Exporter {
    /// Runs the sources of `config` in place of the running ones (see the module). The
    /// tasks must have been started ([`Exporter::spawn`]). An error (a source that cannot be
    /// built) changes nothing.
    pub async fn reload_sources(
        self: &Arc<Self>,
        config: &Config,
    ) -> Result<SourcesReloaded, String> {
        let Some(shutdown) = self.tasks.lock().expect("tasks lock").shutdown.clone() else {
            return Err("the sources are not running".into());
        };
        let current = self.sources();
        let running = |cfg: &SourceConfig| {
            current
                .iter()
                .find(|e| e.name == cfg.name && e.system == cfg.kind)
                .cloned()
        };
        let mut plans = Vec::with_capacity(config.sources.len());
        for cfg in &config.sources {
            plans.push(match running(cfg) {
                Some(entry) if entry.settings == *cfg => Plan::Keep(entry),
                Some(entry) => Plan::Restart(entry, cfg, build(cfg, &self.metrics)?.1),
                None => {
                    let (vendor, source) = build(cfg, &self.metrics)?;
                    Plan::Add(cfg, vendor, source)
                }
            });
        }
        let removed: Vec<Arc<SourceEntry>> = current
            .iter()
            .filter(|e| {
                !config
                    .sources
                    .iter()
                    .any(|c| c.name == e.name && c.kind == e.system)
            })
            .cloned()
            .collect();

        // Stop the tasks of the sources restarted or removed.
        let stopping: Vec<&Arc<SourceEntry>> = plans
            .iter()
            .filter_map(|p| match p {
                Plan::Restart(entry, _, _) => Some(entry),
                _ => None,
            })
            .chain(&removed)
            .collect();
        let stopped: Vec<_> = {
            let mut tasks = self.tasks.lock().expect("tasks lock");
            let (stop, keep) = std::mem::take(&mut tasks.sources)
                .into_iter()
                .partition(|(entry, _)| stopping.iter().any(|s| Arc::ptr_eq(s, entry)));
            tasks.sources = keep;
            stop
        };
        for (entry, task) in stopped {
            task.abort();
            let _ = task.await;
            // A refresh cut short does not end its progress record.
            entry.progress.end();
        }
        for entry in &removed {
            self.metrics.remove_source(&entry.name);
            if !config.sources.iter().any(|c| c.name == entry.name) {
                self.metrics.forget_progress(&entry.name);
            }
        }

        let mut done = SourcesReloaded {
            removed: removed.iter().map(|e| e.name.clone()).collect(),
            ..SourcesReloaded::default()
        };
        let mut entries = Vec::with_capacity(plans.len());
        let mut starting = Vec::new();
        for plan in plans {
            match plan {
                Plan::Keep(entry) => {
                    done.kept.push(entry.name.clone());
                    entries.push(entry);
                }
                Plan::Restart(old, cfg, source) => {
                    done.restarted.push(cfg.name.clone());
                    let memory = old.memory.lock().expect("memory lock").clone();
                    let entry = Arc::new(SourceEntry::new(cfg, &self.metrics, memory, old.state()));
                    entries.push(entry.clone());
                    starting.push((entry, source));
                }
                Plan::Add(cfg, vendor, source) => {
                    done.added.push(cfg.name.clone());
                    self.metrics.add_source(&cfg.name, cfg.kind);
                    let memory = crate::stale::Memory::default()
                        .with_learned_successes(vendor.last_success_learned());
                    let entry = Arc::new(SourceEntry::new(
                        cfg,
                        &self.metrics,
                        memory,
                        SourceState::default(),
                    ));
                    entries.push(entry.clone());
                    starting.push((entry, source));
                }
            }
        }
        self.sources.store(Arc::new(entries));
        {
            let mut tasks = self.tasks.lock().expect("tasks lock");
            for (entry, source) in starting {
                let task = self.spawn_source(entry.clone(), source, shutdown.clone());
                tasks.sources.push((entry, task));
            }
        }
        // Removed sources leave the exposition, the pages and the state file now, and their
        // alerts resolve at the evaluation this starts.
        self.render();
        self.page_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.refreshed.notify_one();
        if !done.removed.is_empty() {
            self.save_state().await;
        }
        Ok(done)
    }
}
