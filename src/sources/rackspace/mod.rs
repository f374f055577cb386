//! Rackspace Cloud Backup, `/v1.0/{tenant}` (`kind = "rackspace"`).
//!
//! One refresh signs in (see [`auth`]: identity v2.0 token, Cloud Backup endpoint from the
//! service catalog) and reads, read-only:
//! - `GET /user/agents`: the agents (its `Status` is always `Offline` and its
//!   `TimeOfLastSuccessfulBackup` unreliable, so neither is used);
//! - `GET /agent/{machineAgentId}` per agent, `concurrency` at a time: status, last successful
//!   backup, vault size. An agent whose detail call fails keeps its last known details (the
//!   refresh records the error; `rackspace_backup_agent_details_timestamp_seconds` says how old
//!   they are); only when every detail call fails does the refresh fail;
//! - `GET /backup-configuration`: every configuration (deleted ones are left out);
//! - `GET /activity`: the backup runs; per configuration the latest one gives the last state,
//!   the newest `Completed` one a success;
//! - `GET /backup/availableforrestore` (one call; an account that may not read it goes
//!   without): per configuration the time of its last backup that can be restored, whatever
//!   its run's state;
//! - `GET /backup/report/{backupId}` (`read_reports`, default on) for each configuration's
//!   latest finished run (`Completed`, `CompletedWithErrors` or `Failed`; the run's `ID`, else
//!   the configuration's `LastRunBackupReportId`): errors, bytes, files and duration. A
//!   finished run's report never changes, so each is read once and kept. A run that
//!   `CompletedWithErrors` but whose report says it can be restored (`CanRestore`, else
//!   `Reason` `Success`: the document's own report, two locked files) made a backup: its
//!   `CompletedTime` is a success. Its errors still count: `backup_last_run_failed` stays 1
//!   (BackupFailing, a warning) while the success keeps BackupStale (critical) quiet.
//!
//! What each backup state means here (`rackspace_backup_last_state` exports them as they are):
//!
//! | State | Finished run | A success | Shows the agent at work |
//! |---|---|---|---|
//! | `Completed` | yes, not failed | yes | yes |
//! | `CompletedWithErrors` | yes, failed unless its report counts 0 errors | when its report says it can be restored | yes |
//! | `Failed` | yes, failed | no | yes |
//! | `Stopped` | no (stopped on request: says nothing of the backup's health) | no | yes |
//! | `Preparing`, `InProgress` | no (running) | no | yes |
//! | `Queued`, `StartRequested`, `StartScheduled`, `StopRequested` | no (waiting for the agent) | no | no |
//! | `Skipped`, `Missed` | no (the run did not happen) | no | no |
//!
//! An agent's `Status` `Offline` may only mean it is idle (the document: an idle agent posts no
//! heartbeats until woken, and the exporter never wakes it). So the agent's last check-in
//! (`backup_device_last_connected_timestamp_seconds`) is its last sign of work: the newest of
//! its backup runs in a state that shows it at work, its configurations' `LastRunTime` and its
//! `TimeOfLastSuccessfulBackup`; and how long it may go without one
//! (`backup_device_offline_threshold_seconds`) is its shortest active schedule plus
//! [`OFFLINE_GRACE`], or `+Inf` when none of its backups is scheduled (disabled agent, manual
//! or inactive configurations only): an idle agent between its runs is not offline.
//!
//! The exporter never calls an operation that changes anything (wake-up, enable, start...):
//! only the GETs above exist here.
//!
//! Each agent is a device (`device` = MachineName, `device_id` = MachineAgentId). The agent
//! as a whole is the target `""` (last successful backup from the agent details, vault size as
//! archive bytes); each configuration is the target named after it. Staleness is watched per
//! configuration only (each with its own schedule): the agent-wide target gets no threshold,
//! so a stale agent raises one BackupStale per configuration that is late, not one more for
//! the agent (which is late exactly when all of them are).

pub mod auth;
pub mod config;
mod demo;
pub mod families;
pub mod model;
pub mod sim;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt};

use self::families as m;
use crate::exposition::{Desc, Exposure, Labels, MetricSet, Origin};
use crate::selfmetrics::SelfMetrics;
use crate::settings::{KeyError, SourceConfig};
use crate::sources::http::{Auth, TokenCache, Upstream, UpstreamError};
use crate::sources::values::{parse_size, parse_timespan, plausible_time, Flag, Warnings};

/// How far ahead a configuration's next scheduled run may plausibly be (a monthly schedule).
const NEXT_RUN_AHEAD: f64 = 32.0 * 86_400.0;
/// How late past its shortest schedule an agent's next sign of work may be (a run starting
/// late, the time a run takes to show in the activity) before it counts as offline.
pub const OFFLINE_GRACE: f64 = 3_600.0;
use crate::sources::{BackupTarget, Demo, Device, Snapshot, Source, VendorSpec};
use crate::time::unix_now;
use config::RackspaceConfig;
use model::{Activity, Agent, Configuration, Report, Restorable, Schedule};

const SYSTEM: &str = "rackspace";

/// The states of a finished run (one with a report).
const FINISHED: &[&str] = &["Completed", "CompletedWithErrors", "Failed"];

/// The states only an agent at work puts a run in (the others are the service's: waiting for
/// the agent, or a run that did not happen).
const AT_WORK: &[&str] = &[
    "Preparing",
    "InProgress",
    "Stopped",
    "Completed",
    "CompletedWithErrors",
    "Failed",
];

/// How fresh an agent's details are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Details {
    /// Read in this refresh, at this Unix time.
    Fresh(f64),
    /// This refresh could not read them: the last ones read, at this Unix time.
    LastKnown(f64),
    /// Never read: only the agent list's values (no status, no last success).
    Missing,
}

/// One agent as exported: its details (or list entry) and how fresh they are.
#[derive(Debug, Clone)]
pub struct AgentRead {
    pub agent: Agent,
    pub details: Details,
}

/// Everything one refresh read.
#[derive(Debug, Default)]
pub struct Raw {
    pub agents: Vec<AgentRead>,
    pub configurations: Vec<Configuration>,
    pub activity: Vec<Activity>,
    /// The report of each configuration's latest finished run, by configuration id.
    pub reports: HashMap<String, Report>,
    /// The configurations that have a backup to restore (empty when not read).
    pub restorable: Vec<Restorable>,
    /// Items that could not be read.
    pub warnings: Warnings,
}

/// The Rackspace Cloud Backup vendor, as the registry lists it.
pub struct RackspaceCloudBackup;

impl VendorSpec for RackspaceCloudBackup {
    type Section = RackspaceConfig;
    const KIND: &'static str = SYSTEM;
    const SECRET_KEYS: &'static [&'static str] = config::SECRET_KEYS;
    const NEUTRAL_FAMILIES: &'static [&'static Desc] = &[
        &crate::metrics::DEVICE_INFO,
        &crate::metrics::DEVICE_CONNECTED,
        &crate::metrics::DEVICE_LAST_CONNECTED,
        &crate::metrics::DEVICE_OFFLINE_THRESHOLD,
        &crate::metrics::LAST_SUCCESS,
        &crate::metrics::LAST_ACTIVITY,
        &crate::metrics::SELECTED_BYTES,
        &crate::metrics::SELECTED_FILES,
        &crate::metrics::ARCHIVE_BYTES,
        &crate::metrics::LAST_RUN_FAILED,
        &crate::metrics::STALE_THRESHOLD,
        &crate::metrics::FIRST_SEEN,
    ];
    fn families() -> &'static [&'static Desc] {
        families::ALL
    }
    fn check(section: &mut RackspaceConfig) -> Result<(), KeyError> {
        section.check()
    }
    fn build(
        cfg: &SourceConfig,
        section: &RackspaceConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Box<dyn Source>, UpstreamError> {
        Ok(Box::new(Rackspace::new(cfg, section, metrics)?))
    }
    fn demo(
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'static, Result<Box<dyn Demo>, String>> {
        Box::pin(demo::start(now))
    }
}

impl Source for Rackspace {
    fn collect(&mut self) -> BoxFuture<'_, Result<Snapshot, UpstreamError>> {
        Box::pin(Rackspace::collect(self))
    }
}

pub struct Rackspace {
    upstream: Upstream,
    source: String,
    /// The families this source writes.
    exposure: Arc<Exposure>,
    concurrency: usize,
    read_reports: bool,
    /// The last details read of each agent, with their Unix time.
    known_agents: HashMap<String, (Agent, f64)>,
    /// Reports by backup id; `None`: the service has none (403/404), not asked again.
    known_reports: HashMap<String, Option<Report>>,
    /// The account may not read the backups available for restore: not asked again.
    restorable_unavailable: bool,
}

impl Rackspace {
    pub fn new(
        cfg: &SourceConfig,
        section: &RackspaceConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Rackspace, UpstreamError> {
        let identity = auth::Identity::from_config(section)?;
        let upstream = Upstream::new(cfg, metrics)?.with_auth(Auth::Token(Box::new(
            TokenCache::new(Box::new(identity), section.token_max_age()),
        )));
        Ok(Rackspace {
            upstream,
            source: cfg.name.clone(),
            exposure: cfg.exposure.clone(),
            concurrency: cfg.concurrency,
            read_reports: section.read_reports(),
            known_agents: HashMap::new(),
            known_reports: HashMap::new(),
            restorable_unavailable: false,
        })
    }

    /// The source's name and the families it writes, for its [`MetricSet`].
    fn origin(&self) -> Origin<'_> {
        Origin {
            source: &self.source,
            exposure: &self.exposure,
        }
    }

    pub async fn collect(&mut self) -> Result<Snapshot, UpstreamError> {
        let mut errors = Vec::new();
        let raw = self.fetch(&mut errors).await?;
        Ok(map(raw, self.origin()).with_errors(errors))
    }

    /// Reads everything; calls for one item (an agent's details, a report) that fail are put
    /// in `errors` and their items served from what is known.
    async fn fetch(&mut self, errors: &mut Vec<UpstreamError>) -> Result<Raw, UpstreamError> {
        // The endpoint comes with the token: sign in before building any URL.
        self.upstream.sign_in().await?;
        let up = &self.upstream;
        let ((list, w1), (configurations, w2), (activity, w3)) = tokio::try_join!(
            get_items::<Agent>(up, "agents", "/user/agents"),
            get_items::<Configuration>(up, "configurations", "/backup-configuration"),
            get_items::<Activity>(up, "activity", "/activity"),
        )?;
        let mut warnings = Warnings::default();
        for w in [w1, w2, w3] {
            warnings.merge(w);
        }

        let agents = self.agent_details(list, &mut warnings, errors).await?;
        let configurations: Vec<Configuration> = configurations
            .into_iter()
            .filter(|c| !c.deleted())
            .collect();
        let reports = if self.read_reports {
            self.reports(&configurations, &activity, errors).await
        } else {
            HashMap::new()
        };
        let restorable = self.restorable(&mut warnings, errors).await;
        Ok(Raw {
            agents,
            configurations,
            activity,
            reports,
            restorable,
            warnings,
        })
    }

    /// Each listed agent's details, read `concurrency` at a time.
    async fn agent_details(
        &mut self,
        list: Vec<Agent>,
        warnings: &mut Warnings,
        errors: &mut Vec<UpstreamError>,
    ) -> Result<Vec<AgentRead>, UpstreamError> {
        let up = &self.upstream;
        let ids: Vec<String> = list.iter().map(|a| a.machine_agent_id.clone()).collect();
        let results: Vec<Option<Result<Agent, UpstreamError>>> = stream::iter(ids)
            .map(|id| async move {
                if !path_safe(&id) {
                    return None;
                }
                Some(
                    up.get_with("agent", &format!("/agent/{id}"), &[], |body| {
                        model::decode::<Agent>("agent", body)
                    })
                    .await,
                )
            })
            .buffered(self.concurrency)
            .collect()
            .await;
        let now = unix_now();
        let mut agents = Vec::with_capacity(list.len());
        let mut failed = Vec::new();
        for (listed, result) in list.into_iter().zip(results) {
            let id = listed.machine_agent_id.clone();
            let read = match result {
                None => {
                    warnings.push(|| format!("agents: MachineAgentId {id:?} cannot be a path"));
                    AgentRead {
                        agent: listed,
                        details: Details::Missing,
                    }
                }
                Some(Ok(mut detail)) => {
                    // The list's id is the one the agent was asked by.
                    detail.machine_agent_id = id.clone();
                    self.known_agents.insert(id, (detail.clone(), now));
                    AgentRead {
                        agent: detail,
                        details: Details::Fresh(now),
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(source = %self.source, agent = %id, error = %e, "agent details unavailable; serving the last known ones");
                    let read = match self.known_agents.get(&id) {
                        Some((agent, at)) => AgentRead {
                            agent: agent.clone(),
                            details: Details::LastKnown(*at),
                        },
                        None => AgentRead {
                            agent: listed,
                            details: Details::Missing,
                        },
                    };
                    failed.push(e);
                    read
                }
            };
            agents.push(read);
        }
        if !failed.is_empty() && failed.len() == agents.len() {
            // Nothing was read fresh: the service is down for details, not one agent.
            return Err(failed.swap_remove(0));
        }
        errors.extend(failed);
        let listed: HashSet<&str> = agents
            .iter()
            .map(|a| a.agent.machine_agent_id.as_str())
            .collect();
        self.known_agents
            .retain(|id, _| listed.contains(id.as_str()));
        Ok(agents)
    }

    /// The backups available for restore (one call). An account that may not read them (403,
    /// 404) goes without, said once; another error is the refresh's, and the rest is served.
    async fn restorable(
        &mut self,
        warnings: &mut Warnings,
        errors: &mut Vec<UpstreamError>,
    ) -> Vec<Restorable> {
        if self.restorable_unavailable {
            return Vec::new();
        }
        match get_items::<Restorable>(
            &self.upstream,
            "availableforrestore",
            "/backup/availableforrestore",
        )
        .await
        {
            Ok((items, w)) => {
                warnings.merge(w);
                items
            }
            Err(e) if e.is_unavailable() => {
                tracing::info!(source = %self.source, error = %e, "backups available for restore cannot be read; restorable runs are known from their reports only");
                self.restorable_unavailable = true;
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(source = %self.source, error = %e, "backups available for restore unavailable; read again next refresh");
                errors.push(e);
                Vec::new()
            }
        }
    }

    /// The report of each configuration's latest finished run, by configuration id: kept ones,
    /// and the others read `concurrency` at a time. A configuration's candidates (see
    /// [`report_candidates`]) are tried in order; one the service has no report for (403, 404)
    /// is remembered as such and the next one tried.
    async fn reports(
        &mut self,
        configurations: &[Configuration],
        activity: &[Activity],
        errors: &mut Vec<UpstreamError>,
    ) -> HashMap<String, Report> {
        let candidates = report_candidates(configurations, activity);
        let mut failed: HashSet<String> = HashSet::new();
        // Each round reads, for every configuration, its first candidate not known yet (when
        // the ones before it are known to have no report); a round per candidate at most.
        loop {
            let mut wanted: Vec<String> = candidates
                .iter()
                .filter_map(|(_, ids)| {
                    ids.iter()
                        .find(|id| !matches!(self.known_reports.get(*id), Some(None)))
                        .filter(|id| !self.known_reports.contains_key(*id) && !failed.contains(*id))
                        .cloned()
                })
                .collect();
            wanted.sort();
            wanted.dedup();
            if wanted.is_empty() {
                break;
            }
            let up = &self.upstream;
            let read: Vec<(String, Result<Report, UpstreamError>)> = stream::iter(wanted)
                .map(|id| async move {
                    let r = up
                        .get_with("report", &format!("/backup/report/{id}"), &[], |body| {
                            model::decode::<Report>("report", body)
                        })
                        .await;
                    (id, r)
                })
                .buffered(self.concurrency)
                .collect()
                .await;
            for (id, result) in read {
                match result {
                    Ok(report) => {
                        self.known_reports.insert(id, Some(report));
                    }
                    Err(e) if e.is_unavailable() => {
                        tracing::debug!(source = %self.source, backup = %id, error = %e, "no report for the backup");
                        self.known_reports.insert(id, None);
                    }
                    Err(e) => {
                        tracing::warn!(source = %self.source, backup = %id, error = %e, "backup report unavailable; read again next refresh");
                        failed.insert(id);
                        errors.push(e);
                    }
                }
            }
        }
        let mut by_configuration = HashMap::new();
        for (config_id, ids) in &candidates {
            let found = ids
                .iter()
                .map(|id| self.known_reports.get(id))
                .take_while(|known| known.is_some())
                .find_map(|known| known.cloned().flatten());
            if let Some(report) = found {
                by_configuration.insert(config_id.clone(), report);
            }
        }
        let still: HashSet<&String> = candidates.iter().flat_map(|(_, ids)| ids).collect();
        self.known_reports.retain(|id, _| still.contains(id));
        by_configuration
    }
}

/// GETs a list and decodes it item by item.
async fn get_items<T: serde::de::DeserializeOwned>(
    up: &Upstream,
    endpoint: &'static str,
    path: &str,
) -> Result<(Vec<T>, Warnings), UpstreamError> {
    up.get_with(endpoint, path, &[], |body| {
        let mut warnings = Warnings::default();
        model::decode_items(endpoint, body, &mut warnings).map(|items| (items, warnings))
    })
    .await
}

/// Ids go into URL paths: only plain ones (the API's are integers).
fn path_safe(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the activity says about one configuration's runs.
#[derive(Debug, Default, PartialEq)]
pub struct Runs<'a> {
    /// The latest backup run (by time, then id).
    pub latest: Option<&'a Activity>,
    /// The latest finished run (Completed, CompletedWithErrors, Failed).
    pub latest_finished: Option<&'a Activity>,
    /// Unix time of the newest `Completed` run.
    pub last_completed: Option<f64>,
    /// Unix time of the newest run of any state.
    pub newest: Option<f64>,
}

/// The backup runs of each configuration, by configuration id (activity of deleted
/// configurations and of other types left out).
pub fn runs_by_configuration(activity: &[Activity]) -> HashMap<&str, Runs<'_>> {
    let mut by: HashMap<&str, Runs<'_>> = HashMap::new();
    for a in activity {
        let Some(parent) = a.parent_id.as_deref() else {
            continue;
        };
        if !a.is_backup() || a.is_backup_configuration_deleted == Some(Flag::Is(true)) {
            continue;
        }
        let runs = by.entry(parent).or_default();
        // Unreadable and implausible times are reported by `map`.
        let at = plausible_time(&a.time_of_activity);
        let state = a.current_state.as_deref().map(model::backup_state);
        if is_later(a, runs.latest) {
            runs.latest = Some(a);
        }
        if state.as_deref().is_some_and(|s| FINISHED.contains(&s))
            && is_later(a, runs.latest_finished)
        {
            runs.latest_finished = Some(a);
        }
        if let Some(t) = at {
            runs.newest = Some(runs.newest.map_or(t, |n| n.max(t)));
            if state.as_deref() == Some("Completed") {
                runs.last_completed = Some(runs.last_completed.map_or(t, |n| n.max(t)));
            }
        }
    }
    by
}

/// Whether `a` is later than `than`: by time of activity (a run without a readable time is
/// the earliest), then by id (numerically when both are numbers).
fn is_later(a: &Activity, than: Option<&Activity>) -> bool {
    let Some(b) = than else {
        return true;
    };
    let time = |x: &Activity| plausible_time(&x.time_of_activity).unwrap_or(f64::NEG_INFINITY);
    match time(a).total_cmp(&time(b)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => match (a.id.parse::<u128>(), b.id.parse::<u128>()) {
            (Ok(x), Ok(y)) => x > y,
            _ => a.id > b.id,
        },
    }
}

/// Per configuration (not deleted), the backup ids whose report may describe its latest
/// finished run, in the order to try them: the latest finished run's `ID` (from the activity),
/// then the configuration's `LastRunBackupReportId` (the report of its last successful run).
pub fn report_candidates(
    configurations: &[Configuration],
    activity: &[Activity],
) -> Vec<(String, Vec<String>)> {
    let runs = runs_by_configuration(activity);
    configurations
        .iter()
        .filter(|c| !c.deleted())
        .filter_map(|c| {
            let mut ids: Vec<String> = Vec::with_capacity(2);
            let finished = runs
                .get(c.backup_configuration_id.as_str())
                .and_then(|r| r.latest_finished);
            for id in [
                finished.map(|a| &a.id),
                c.last_run_backup_report_id.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                if path_safe(id) && !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            (!ids.is_empty()).then(|| (c.backup_configuration_id.clone(), ids))
        })
        .collect()
}

/// The snapshot of one refresh.
pub fn map<'a>(raw: Raw, source: impl Into<Origin<'a>>) -> Snapshot {
    let Raw {
        agents,
        configurations,
        activity,
        reports,
        restorable,
        mut warnings,
    } = raw;
    let work = agents_at_work(&configurations, &activity);
    let mut set = MetricSet::new(SYSTEM, source);
    let mut devices = Vec::with_capacity(agents.len());
    let mut targets = Vec::with_capacity(agents.len() + configurations.len());
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut disabled: HashSet<&str> = HashSet::new();

    for read in &agents {
        let a = &read.agent;
        let (name, id) = (a.name(), a.machine_agent_id.as_str());
        names.insert(id, name);
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let info: Vec<(&'static str, String)> = [
            ("os", text(&a.operating_system)),
            ("os_version", text(&a.operating_system_version)),
            ("version", text(&a.agent_version)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let detailed = read.details != Details::Missing;
        let is_disabled = warnings.flag(|| format!("agents[{id}].IsDisabled"), &a.is_disabled);
        let agent_work = work.get(id);
        let own_success = if detailed {
            plausible_time(&a.time_of_last_successful_backup)
        } else {
            None
        };
        devices.push(Device {
            name: name.to_owned(),
            id: id.to_owned(),
            info,
            connected: a.online().filter(|_| detailed),
            last_connected: max_of(agent_work.and_then(|w| w.last_seen), own_success),
            offline_threshold: if is_disabled == Some(true) {
                Some(f64::INFINITY)
            } else {
                agent_work.map_or(Some(f64::INFINITY), AgentWork::offline_threshold)
            },
        });

        let l = Labels::new(&[("device", name), ("device_id", id)]);
        let mut agent_info: Vec<(&str, &str)> = vec![("device", name), ("device_id", id)];
        for (k, v) in [
            ("datacenter", &a.datacenter),
            ("backup_datacenter", &a.backup_data_center),
            ("architecture", &a.architecture),
            ("flavor", &a.flavor),
            ("host_server_id", &a.host_server_id),
            ("ip_address", &a.ip_address),
        ] {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                agent_info.push((k, v));
            }
        }
        set.add(&m::RAX_AGENT_INFO, &agent_info, 1.0);
        if detailed {
            if let Some(online) = a.online() {
                set.add_labels(&m::RAX_AGENT_ONLINE, &l, bool01(online));
            } else if let Some(s) = &a.status {
                warnings
                    .push(|| format!("agents[{id}].Status: {s:?} is neither Online nor Offline"));
            }
        }
        if let Some(disabled) = is_disabled {
            set.add_labels(&m::RAX_AGENT_ENABLED, &l, bool01(!disabled));
        }
        let encrypted = warnings.flag(|| format!("agents[{id}].IsEncrypted"), &a.is_encrypted);
        if let Some(encrypted) = encrypted {
            set.add_labels(&m::RAX_AGENT_ENCRYPTED, &l, bool01(encrypted));
        }
        let vault = warnings.read_amount(
            || format!("agents[{id}].BackupVaultSize"),
            a.backup_vault_size.as_deref(),
            model::vault_size,
        );
        if let Some(v) = vault {
            set.add_labels(&m::RAX_AGENT_VAULT_SIZE, &l, v);
        }
        if let Details::Fresh(at) | Details::LastKnown(at) = read.details {
            set.add_labels(&m::RAX_AGENT_DETAILS_TIMESTAMP, &l, at);
        }
        let last_success = if detailed {
            warnings.time(
                || format!("agents[{id}].TimeOfLastSuccessfulBackup"),
                &a.time_of_last_successful_backup,
            )
        } else {
            None
        };
        if is_disabled == Some(true) {
            disabled.insert(id);
        }
        targets.push(BackupTarget {
            device: name.to_owned(),
            device_id: id.to_owned(),
            target: String::new(),
            last_success,
            archive_bytes: vault,
            // Not watched for staleness: its configurations are, each on its own schedule (the
            // agent-wide last success is stale only when every one of them is, and a weekly
            // configuration's agent would look stale after the default 3 days).
            paused: true,
            ..Default::default()
        });
    }

    // Activity times are read (plausible ones only) by `runs_by_configuration`; told here.
    for a in activity.iter().filter(|a| a.is_backup()) {
        warnings.time(
            || format!("activity[{}].TimeOfActivity", a.id),
            &a.time_of_activity,
        );
    }
    let runs = runs_by_configuration(&activity);
    let mut restorable_at: HashMap<&str, f64> = HashMap::new();
    for r in &restorable {
        let id = r.backup_configuration_id.as_str();
        if let Some(t) = warnings.time(
            || format!("availableforrestore[{id}].LastSuccessfulBackupTime"),
            &r.last_successful_backup_time,
        ) {
            let e = restorable_at.entry(id).or_insert(t);
            *e = e.max(t);
        }
    }
    let mut seen_names: HashMap<(&str, &str), usize> = HashMap::new();
    for c in &configurations {
        *seen_names
            .entry((c.machine_agent_id.as_str(), c.name()))
            .or_default() += 1;
    }
    for c in configurations.iter().filter(|c| !c.deleted()) {
        let (device_id, config_id) = (
            c.machine_agent_id.as_str(),
            c.backup_configuration_id.as_str(),
        );
        let device = names
            .get(device_id)
            .copied()
            .or(c
                .machine_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty()))
            .unwrap_or(device_id);
        // Two configurations of one agent with one name are told apart by id.
        let target = if seen_names[&(device_id, c.name())] > 1 {
            format!("{} #{config_id}", c.name())
        } else {
            c.name().to_owned()
        };
        let l = Labels::new(&[
            ("device", device),
            ("device_id", device_id),
            ("target", &target),
        ]);
        let mut info: Vec<(&str, &str)> = vec![
            ("device", device),
            ("device_id", device_id),
            ("target", &target),
            ("configuration_id", config_id),
        ];
        for (k, v) in [("frequency", &c.frequency), ("time_zone", &c.time_zone_id)] {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                info.push((k, v));
            }
        }
        set.add(&m::RAX_CONFIG_INFO, &info, 1.0);
        let field = |f: &'static str| move || format!("configurations[{config_id}].{f}");
        let is_active = warnings.flag(field("IsActive"), &c.is_active);
        if let Some(active) = is_active {
            set.add_labels(&m::RAX_CONFIG_ACTIVE, &l, bool01(active));
        }
        let last_run = warnings.time(field("LastRunTime"), &c.last_run_time);
        if let Some(t) = last_run {
            set.add_labels(&m::RAX_CONFIG_LAST_RUN, &l, t);
        }
        // A planned run may be a schedule's period ahead (a week at most; a month allowed).
        let next_run = warnings.time_until(
            field("NextScheduledRunTime"),
            &c.next_scheduled_run_time,
            NEXT_RUN_AHEAD,
        );
        if let Some(t) = next_run {
            set.add_labels(&m::RAX_CONFIG_NEXT_RUN, &l, t);
        }

        let r = runs.get(config_id);
        // The latest run's state; without activity, the configuration's own BackupState
        // ("Not Available" says nothing).
        let last_state = match r.and_then(|r| r.latest) {
            Some(latest) => latest.current_state.as_deref(),
            None => c
                .backup_state
                .as_deref()
                .filter(|s| !s.trim().eq_ignore_ascii_case("not available")),
        };
        if let Some(state) = last_state {
            let state = model::backup_state(state);
            set.add_states_labels(
                &m::RAX_LAST_STATE,
                &l,
                m::RACKSPACE_BACKUP_STATES,
                &[&state],
            );
        }
        // The latest finished run; without activity, the configuration's own state.
        let last_run_failed = match r {
            Some(r) => r.latest_finished.and_then(|run| {
                let report = reports.get(config_id);
                let errors = report
                    .filter(|rep| rep.backup_id.as_deref() == Some(run.id.as_str()))
                    .and_then(|rep| rep.num_errors.as_ref()?.get())
                    .filter(|n| *n >= 0.0);
                model::run_failed(run.current_state.as_deref().unwrap_or(""), errors)
            }),
            None => last_state.and_then(|state| model::run_failed(state, None)),
        };
        // The newest Completed run; with no backup activity at all, the last run when the
        // configuration says it succeeded (it then names that run's report).
        let mut last_success = match r {
            Some(r) => r.last_completed,
            None => last_run.filter(|_| c.last_run_backup_report_id.is_some()),
        };
        // A backup that can be restored, though its run completed with errors: when it
        // completed (the report), and the service's own last restorable backup.
        if let Some(rep) = reports
            .get(config_id)
            .filter(|r| r.restorable() == Some(true))
        {
            let completed = warnings.time(
                || format!("reports[{config_id}].CompletedTime"),
                &rep.completed_time,
            );
            last_success = max_of(last_success, completed);
        }
        last_success = max_of(last_success, restorable_at.get(config_id).copied());
        let last_activity = match (r.and_then(|r| r.newest), last_run) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };

        let report = reports.get(config_id);
        let mut selected_bytes = None;
        let mut selected_files = None;
        let mut last_run_errors = None;
        if let Some(rep) = report {
            let rfield = |f: &'static str| move || format!("reports[{config_id}].{f}");
            last_run_errors = warnings.amount(rfield("NumErrors"), &rep.num_errors);
            if let Some(n) = last_run_errors {
                set.add_labels(&m::RAX_LAST_ERRORS, &l, n);
            }
            if let Some(d) =
                warnings.read(rfield("Duration"), rep.duration.as_deref(), parse_timespan)
            {
                set.add_labels(&m::RAX_LAST_DURATION, &l, d);
            }
            if let Some(b) = warnings.read_amount(
                rfield("BytesBackedUp"),
                rep.bytes_backed_up.as_deref(),
                parse_size,
            ) {
                set.add_labels(&m::RAX_LAST_BYTES, &l, b);
            }
            if let Some(f) = warnings.amount(rfield("FilesBackedUp"), &rep.files_backed_up) {
                set.add_labels(&m::RAX_LAST_FILES, &l, f);
            }
            selected_bytes = warnings.read_amount(
                rfield("BytesSearched"),
                rep.bytes_searched.as_deref(),
                parse_size,
            );
            selected_files = warnings.amount(rfield("FilesSearched"), &rep.files_searched);
        }
        targets.push(BackupTarget {
            device: device.to_owned(),
            device_id: device_id.to_owned(),
            target,
            last_success,
            last_activity,
            selected_bytes,
            selected_files,
            last_run_failed,
            last_run_errors,
            paused: is_active == Some(false)
                || disabled.contains(device_id)
                || c.schedule() == Schedule::Manual,
            schedule_period: match c.schedule() {
                Schedule::Every(seconds) => Some(seconds),
                Schedule::Manual | Schedule::Unknown => None,
            },
            ..Default::default()
        });
    }
    Snapshot::new(devices, targets, set, warnings)
}

/// The larger of two optional times.
fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// What the configurations and activity say about one agent's work.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AgentWork {
    /// Its last sign of work: the newest of its backup runs in a state only an agent at work
    /// puts a run in ([`AT_WORK`]) and of its configurations' `LastRunTime`.
    pub last_seen: Option<f64>,
    /// The shortest period of its active, scheduled configurations.
    pub shortest_period: Option<f64>,
    /// One of its active configurations has a `Frequency` the exporter does not know.
    pub unknown_schedule: bool,
}

impl AgentWork {
    /// How long the agent may go without a sign of work: its shortest schedule plus
    /// [`OFFLINE_GRACE`]; `+Inf` when nothing is scheduled (manual or inactive configurations
    /// only: idle is its normal state); `None` (the rules' day) for a schedule not understood.
    pub fn offline_threshold(&self) -> Option<f64> {
        match (self.shortest_period, self.unknown_schedule) {
            (Some(p), _) => Some(p + OFFLINE_GRACE),
            (None, true) => None,
            (None, false) => Some(f64::INFINITY),
        }
    }
}

/// Each agent's work, by agent id: runs are the agent's of their configuration (else the
/// activity's `SourceMachineAgentId`); deleted configurations' runs count as work, not their
/// schedules.
pub fn agents_at_work<'a>(
    configurations: &'a [Configuration],
    activity: &'a [Activity],
) -> HashMap<&'a str, AgentWork> {
    let mut by: HashMap<&str, AgentWork> = HashMap::new();
    let mut agent_of: HashMap<&str, &str> = HashMap::new();
    for c in configurations {
        let agent = c.machine_agent_id.as_str();
        agent_of.insert(c.backup_configuration_id.as_str(), agent);
        let w = by.entry(agent).or_default();
        w.last_seen = max_of(w.last_seen, plausible_time(&c.last_run_time));
        if c.deleted() || c.is_active == Some(Flag::Is(false)) {
            continue;
        }
        match c.schedule() {
            Schedule::Every(p) => {
                w.shortest_period = Some(w.shortest_period.map_or(p, |s| s.min(p)));
            }
            Schedule::Unknown => w.unknown_schedule = true,
            Schedule::Manual => {}
        }
    }
    for a in activity.iter().filter(|a| a.is_backup()) {
        let at_work = a
            .current_state
            .as_deref()
            .map(model::backup_state)
            .is_some_and(|s| AT_WORK.contains(&s.as_str()));
        if !at_work {
            continue;
        }
        let agent = a
            .parent_id
            .as_deref()
            .and_then(|p| agent_of.get(p).copied())
            .or(a.source_machine_agent_id.as_deref());
        if let (Some(agent), Some(t)) = (agent, plausible_time(&a.time_of_activity)) {
            let w = by.entry(agent).or_default();
            w.last_seen = max_of(w.last_seen, Some(t));
        }
    }
    by
}

fn bool01(b: bool) -> f64 {
    f64::from(u8::from(b))
}
