//! Legacy CrashPlan PRO server, `/rest` API (`kind = "crashplan"`).
//!
//! One refresh reads, with HTTP basic auth:
//! - `/rest/usages` (paged): one record per source computer and target;
//! - `/rest/computers` (paged): names, status, alertStates, user, mount point;
//! - `/rest/computers/{id}` for the computers never read or whose usages' `lastActivity`
//!   changed since (at most `detail_calls_per_refresh`, kept across refreshes): OS, client
//!   version and `serverBackupStats.lastBackup`;
//! - `/rest/users` (paged, optional): user e-mail for `backup_device_info`;
//! - `/rest/orgs` (paged, optional) then `/rest/orgs/{id}`: org aggregates and quotas, every
//!   `org_interval` (the server computes them nightly);
//! - `/rest/mountPoints` then `/rest/mountPoints/{id}` (administrators only, optional):
//!   store capacity, every `mount_point_interval`;
//! - `/rest/serverStats` (administrators only, optional): server-wide gauges.
//!
//! Optional calls answered 403 or 404 leave their metrics absent (logged once); any other
//! failure fails the refresh, so a partial read never replaces a complete one. A computer
//! detail that fails keeps what an earlier refresh read.
//!
//! `backup_alert_state` of a pair is the usage's own `alertStates`; the computer's list is
//! device-wide (one failing destination sets it) and stays `crashplan_computer_alert_state`.
//!
//! `backup_last_success_timestamp_seconds`: the usages have no completion time. `lastActivity`
//! is the last time the source backed up to the target; when that target has nothing left to
//! do (`todoFiles` and `todoBytes` both 0) that activity completed the backup. The computer
//! detail's `serverBackupStats.lastBackup` is its last completed backup to the PRO server (the
//! target most sources back up to), busy or not. The later of the two is the last success,
//! carried across refreshes and never moved back.

pub mod config;
mod demo;
pub mod families;
pub mod model;
pub mod sim;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt, TryStreamExt};

use self::families as m;
use crate::exposition::{Desc, Exposure, MetricSet, Origin};
use crate::selfmetrics::SelfMetrics;
use crate::settings::{KeyError, SourceConfig};
use crate::sources::http::{Auth, Upstream, UpstreamError};
use crate::sources::values::{
    parse_human_duration, parse_percent, parse_size, plausible_time, split_list, Time, Warnings,
};
use crate::sources::{
    BackupTarget, Demo, Device, OptionalCalls, Snapshot, Source, Store, VendorSpec,
};
use config::CrashPlanConfig;
use model::{Computer, MountPoint, Org, ServerStats, Usage, User};

const SYSTEM: &str = "crashplan";

/// The CrashPlan PRO vendor, as the registry lists it.
pub struct CrashPlanPro;

impl VendorSpec for CrashPlanPro {
    type Section = CrashPlanConfig;
    const KIND: &'static str = SYSTEM;
    const SECRET_KEYS: &'static [&'static str] = config::SECRET_KEYS;
    const NEUTRAL_FAMILIES: &'static [&'static Desc] = &[
        &crate::metrics::DEVICE_INFO,
        &crate::metrics::DEVICE_CONNECTED,
        &crate::metrics::DEVICE_LAST_CONNECTED,
        &crate::metrics::LAST_SUCCESS,
        &crate::metrics::LAST_ACTIVITY,
        &crate::metrics::LAST_CONNECTED,
        &crate::metrics::SELECTED_BYTES,
        &crate::metrics::SELECTED_FILES,
        &crate::metrics::TODO_BYTES,
        &crate::metrics::TODO_FILES,
        &crate::metrics::ARCHIVE_BYTES,
        &crate::metrics::COMPLETION_RATIO,
        &crate::metrics::ALERT_STATE,
        &crate::metrics::STALE_THRESHOLD,
        &crate::metrics::FIRST_SEEN,
    ];
    /// The later of the computer's `lastBackup` and the activity seen with nothing left to do.
    const LAST_SUCCESS_LEARNED: bool = true;
    fn families() -> &'static [&'static Desc] {
        families::ALL
    }
    fn check(section: &mut CrashPlanConfig) -> Result<(), KeyError> {
        section.check()
    }
    fn build(
        cfg: &SourceConfig,
        section: &CrashPlanConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Box<dyn Source>, UpstreamError> {
        Ok(Box::new(CrashPlan::new(cfg, section, metrics)?))
    }
    fn demo(
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'static, Result<Box<dyn Demo>, String>> {
        Box::pin(demo::start(now))
    }
}

impl Source for CrashPlan {
    fn collect(&mut self) -> BoxFuture<'_, Result<Snapshot, UpstreamError>> {
        Box::pin(CrashPlan::collect(self))
    }
}

/// Everything one refresh reads.
#[derive(Debug, Default)]
pub struct Raw {
    pub usages: Vec<Usage>,
    pub computers: Vec<Computer>,
    pub users: Option<Vec<User>>,
    /// Detail view where it could be read, list view otherwise.
    pub orgs: Option<Vec<Org>>,
    /// Detail view where it could be read, list view otherwise.
    pub mount_points: Option<Vec<MountPoint>>,
    pub server_stats: Option<ServerStats>,
    /// What the computers' detail views told, by computer id: read this refresh or kept from
    /// an earlier one (see [`CrashPlan::read_details`]).
    pub details: HashMap<String, Detail>,
}

/// What a computer's detail view (`GET /rest/computers/{id}`) tells beyond the list view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detail {
    pub os_name: Option<String>,
    pub os_version: Option<String>,
    pub version: Option<String>,
    /// `serverBackupStats.lastBackup`: the computer's last completed backup to this server.
    pub last_backup: Option<Time>,
}

impl Detail {
    fn of(c: Computer) -> Detail {
        Detail {
            os_name: c.os_name,
            os_version: c.os_version,
            version: c.version,
            last_backup: c.server_backup_stats.and_then(|s| s.last_backup),
        }
    }
}

/// A computer's detail, with the backup activity it was read at.
#[derive(Debug)]
struct Detailed {
    /// The computer's usages' targets and `lastActivity`, when it was read.
    activity: String,
    /// The refresh it was read in (0: never read; only an unreadable one is kept so).
    read_in: u64,
    detail: Detail,
}

/// A list read on its own cadence, and when.
struct Cached<T> {
    at: Instant,
    items: Vec<T>,
}

pub struct CrashPlan {
    upstream: Upstream,
    source: String,
    /// The families this source writes.
    exposure: Arc<Exposure>,
    page_size: usize,
    concurrency: usize,
    include_deactivated: bool,
    /// Last success per (device_id, target), carried across refreshes.
    last_success: HashMap<(String, String), f64>,
    optional: OptionalCalls,
    /// Computer details by computer id, carried across refreshes.
    details: HashMap<String, Detailed>,
    detail_calls_per_refresh: usize,
    /// Refreshes so far.
    refreshes: u64,
    orgs: Option<Cached<Org>>,
    org_interval: Duration,
    mount_points: Option<Cached<MountPoint>>,
    mount_point_interval: Duration,
}

impl CrashPlan {
    pub fn new(
        cfg: &SourceConfig,
        section: &CrashPlanConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<CrashPlan, UpstreamError> {
        let auth = match (&section.username, &section.password) {
            (Some(username), Some(password)) => Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
            _ => Auth::None,
        };
        Ok(CrashPlan {
            upstream: Upstream::new(cfg, metrics)?.with_auth(auth),
            source: cfg.name.clone(),
            exposure: cfg.exposure.clone(),
            page_size: cfg.page_size,
            concurrency: cfg.concurrency,
            include_deactivated: section.include_deactivated,
            last_success: HashMap::new(),
            optional: OptionalCalls::default(),
            details: HashMap::new(),
            detail_calls_per_refresh: section.detail_calls_per_refresh(),
            refreshes: 0,
            orgs: None,
            org_interval: section.org_interval(),
            mount_points: None,
            mount_point_interval: section.mount_point_interval(),
        })
    }

    pub async fn collect(&mut self) -> Result<Snapshot, UpstreamError> {
        let mut raw = self.fetch().await?;
        self.read_details(&raw.usages, &raw.computers).await;
        raw.details = self
            .details
            .iter()
            .map(|(id, d)| (id.clone(), d.detail.clone()))
            .collect();
        let now = chrono::Utc::now().timestamp() as f64;
        let origin = Origin {
            source: &self.source,
            exposure: &self.exposure,
        };
        let include_deactivated = self.include_deactivated;
        let mut last_success = std::mem::take(&mut self.last_success);
        let (snapshot, last_success) = crate::sources::map_blocking(origin, move |origin| {
            let snapshot = map(&raw, origin, include_deactivated, now, &mut last_success);
            (snapshot, last_success)
        })
        .await?;
        self.last_success = last_success;
        Ok(snapshot)
    }

    async fn fetch(&mut self) -> Result<Raw, UpstreamError> {
        // Orgs (nightly totals) and mount points are read on their own cadence.
        let read_orgs = due(&self.orgs, self.org_interval);
        let read_mount_points = due(&self.mount_points, self.mount_point_interval);
        let up = &self.upstream;
        let ps = self.page_size;
        // Required lists fail the refresh; optional calls come back as inner results.
        let (usages, computers, users, orgs, mount_points, server_stats) = tokio::try_join!(
            up.get_all_pages("usages", "/rest/usages", "usages", &[], ps, Usage::key),
            up.get_all_pages(
                "computers",
                "/rest/computers",
                "computers",
                &[],
                ps,
                |c: &Computer| { c.id.clone() }
            ),
            async {
                Ok::<_, UpstreamError>(
                    up.get_all_pages("users", "/rest/users", "users", &[], ps, |u: &User| {
                        u.id.clone()
                    })
                    .await,
                )
            },
            async {
                if !read_orgs {
                    return Ok(None);
                }
                self.list_with_details("orgs", "/rest/orgs", "org", |o: &Org| &o.id)
                    .await
                    .map(Some)
            },
            async {
                if !read_mount_points {
                    return Ok(None);
                }
                self.list_with_details(
                    "mountPoints",
                    "/rest/mountPoints",
                    "mountPoint",
                    |p: &MountPoint| &p.id,
                )
                .await
                .map(Some)
            },
            async {
                Ok::<_, UpstreamError>(
                    up.get_json::<ServerStats>("serverStats", "/rest/serverStats", &[])
                        .await,
                )
            },
        )?;
        let users = self.optional("users", users)?;
        let server_stats = self.optional("serverStats", server_stats)?;
        let orgs = match orgs {
            Some(read) => {
                let orgs = self.optional("orgs", read)?;
                self.orgs = orgs.clone().map(Cached::now);
                orgs
            }
            None => self.orgs.as_ref().map(|c| c.items.clone()),
        };
        let mount_points = match mount_points {
            Some(read) => {
                let points = self.optional("mountPoints", read)?;
                self.mount_points = points.clone().map(Cached::now);
                points
            }
            None => self.mount_points.as_ref().map(|c| c.items.clone()),
        };
        Ok(Raw {
            usages,
            computers,
            users,
            orgs,
            mount_points,
            server_stats,
            details: HashMap::new(),
        })
    }

    /// Reads the detail view of each computer that is a backup source and was never read or
    /// whose backup activity (its usages' targets and `lastActivity`) changed since it was
    /// read: at most `detail_calls_per_refresh`, those read longest ago first, `concurrency` at
    /// a time. A detail that does not read keeps what an earlier one told (it is tried again
    /// next refresh; one that is forbidden or gone, only when the activity changes again).
    /// Details of computers no longer listed are forgotten.
    async fn read_details(&mut self, usages: &[Usage], computers: &[Computer]) {
        self.refreshes += 1;
        let mut activity: HashMap<&str, Vec<String>> = HashMap::new();
        for u in usages {
            if let Some(sid) = u.source_id.as_deref() {
                activity.entry(sid).or_default().push(format!(
                    "{}@{}",
                    u.key(),
                    match &u.last_activity {
                        Some(Time::At(t)) => t.to_string(),
                        Some(Time::Unreadable(text)) => text.clone(),
                        None => String::new(),
                    }
                ));
            }
        }
        let mut due: Vec<(u64, String, String)> = Vec::new();
        for c in computers {
            let Some(list) = activity.get_mut(c.id.as_str()) else {
                continue;
            };
            list.sort_unstable();
            let now = list.join(",");
            match self.details.get(&c.id) {
                Some(known) if known.activity == now => {}
                known => due.push((known.map_or(0, |k| k.read_in), c.id.clone(), now)),
            }
        }
        due.sort_by_key(|(read_in, _, _)| *read_in);
        let deferred = due.len().saturating_sub(self.detail_calls_per_refresh);
        due.truncate(self.detail_calls_per_refresh);
        let up = &self.upstream;
        let read: Vec<(String, String, Result<Computer, UpstreamError>)> =
            stream::iter(due.into_iter().map(|(_, id, now)| async move {
                let path = format!("/rest/computers/{id}");
                let detail = up.get_json::<Computer>("computer", &path, &[]).await;
                (id, now, detail)
            }))
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        let mut failed: Option<(usize, String)> = None;
        for (id, now, detail) in read {
            match detail {
                Ok(c) => {
                    self.details.insert(
                        id,
                        Detailed {
                            activity: now,
                            read_in: self.refreshes,
                            detail: Detail::of(c),
                        },
                    );
                }
                Err(e) => {
                    let f = failed.get_or_insert_with(|| (0, e.to_string()));
                    f.0 += 1;
                    if e.is_unavailable() {
                        let known = self.details.entry(id).or_insert_with(|| Detailed {
                            activity: String::new(),
                            read_in: 0,
                            detail: Detail::default(),
                        });
                        known.activity = now;
                    }
                }
            }
        }
        if let Some((n, first)) = failed {
            tracing::warn!(source = %self.source, failed = n, first = %first, "computer details that did not read keep what an earlier refresh read");
        }
        if deferred > 0 {
            tracing::info!(source = %self.source, deferred, limit = self.detail_calls_per_refresh, "computer details left for the next refreshes");
        }
        let listed: HashSet<&str> = computers.iter().map(|c| c.id.as_str()).collect();
        self.details.retain(|id, _| listed.contains(id.as_str()));
    }

    /// A list (`path`, items under `endpoint`), then each item's detail at `path/{id}`: orgs
    /// (aggregates, quota) and mount points (capacity). The outer error fails the refresh; the
    /// inner one (403, 404 on the list) makes the resource absent. A detail that is forbidden
    /// or gone keeps the item's list view.
    async fn list_with_details<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        endpoint: &'static str,
        path: &'static str,
        detail_endpoint: &'static str,
        id: fn(&T) -> &str,
    ) -> Result<Result<Vec<T>, UpstreamError>, UpstreamError> {
        let list = match self
            .upstream
            .get_all_pages(endpoint, path, endpoint, &[], self.page_size, |t: &T| {
                id(t).to_owned()
            })
            .await
        {
            Ok(list) => list,
            Err(e) if e.is_unavailable() => return Ok(Err(e)),
            Err(e) => return Err(e),
        };
        let details = self
            .details(list, |t: &T| format!("{path}/{}", id(t)), detail_endpoint)
            .await?;
        Ok(Ok(details))
    }

    /// Replaces each list item by its detail view, `concurrency` at a time, keeping the list
    /// view where the detail is forbidden or gone.
    async fn details<T>(
        &self,
        list: Vec<T>,
        path: impl Fn(&T) -> String,
        endpoint: &'static str,
    ) -> Result<Vec<T>, UpstreamError>
    where
        T: serde::de::DeserializeOwned,
    {
        let up = &self.upstream;
        stream::iter(list.into_iter().map(|item| {
            let p = path(&item);
            async move {
                match up.get_json::<T>(endpoint, &p, &[]).await {
                    Ok(detail) => Ok(detail),
                    Err(e) if e.is_unavailable() => Ok(item),
                    Err(e) => Err(e),
                }
            }
        }))
        .buffered(self.concurrency)
        .try_collect()
        .await
    }

    fn optional<T>(
        &mut self,
        what: &'static str,
        result: Result<T, UpstreamError>,
    ) -> Result<Option<T>, UpstreamError> {
        self.optional.take(&self.source, what, result)
    }
}

/// Whether a list kept since `cached` is due again after `interval`.
fn due<T>(cached: &Option<Cached<T>>, interval: Duration) -> bool {
    cached.as_ref().is_none_or(|c| c.at.elapsed() >= interval)
}

impl<T> Cached<T> {
    fn now(items: Vec<T>) -> Cached<T> {
        Cached {
            at: Instant::now(),
            items,
        }
    }
}

/// Maps one refresh's payloads into a snapshot. `last_success` carries each target's last
/// success across refreshes (see the module documentation).
pub fn map<'a>(
    raw: &Raw,
    source: impl Into<Origin<'a>>,
    include_deactivated: bool,
    _now: f64,
    last_success: &mut HashMap<(String, String), f64>,
) -> Snapshot {
    let mut w = Warnings::default();
    let mut set = MetricSet::new(SYSTEM, source);
    // Compressed on a thread of its own while the fleet is mapped.
    set.compress_beside();

    let computers_by_id: HashMap<&str, &Computer> =
        raw.computers.iter().map(|c| (c.id.as_str(), c)).collect();
    let computers_by_guid: HashMap<&str, &Computer> = raw
        .computers
        .iter()
        .filter_map(|c| c.guid.as_deref().map(|g| (g, c)))
        .collect();
    let users: HashMap<&str, &User> = raw
        .users
        .iter()
        .flatten()
        .map(|u| (u.id.as_str(), u))
        .collect();
    let orgs: HashMap<&str, &Org> = raw
        .orgs
        .iter()
        .flatten()
        .map(|o| (o.id.as_str(), o))
        .collect();
    let mount_points: HashMap<&str, &MountPoint> = raw
        .mount_points
        .iter()
        .flatten()
        .map(|p| (p.id.as_str(), p))
        .collect();

    let computer_of = |id: Option<&str>, guid: Option<&str>| -> Option<&Computer> {
        id.and_then(|i| computers_by_id.get(i).copied())
            .or_else(|| guid.and_then(|g| computers_by_guid.get(g).copied()))
    };

    // ---- devices: the computers list ----
    let mut devices = Vec::new();
    let mut device_org: HashMap<&str, &str> = HashMap::new(); // computer id -> org id (usages)
                                                              // computer id -> its first usage, which carries the computer's connection to the server.
    let mut device_usage: HashMap<&str, &Usage> = HashMap::new();
    for u in &raw.usages {
        if let (Some(sid), Some(org)) = (u.source_id.as_deref(), u.source_org_id.as_deref()) {
            device_org.entry(sid).or_insert(org);
        }
        if let Some(sid) = u.source_id.as_deref() {
            device_usage.entry(sid).or_insert(u);
        }
    }
    // A computer is deactivated when its own status or its usages' sourceStatus says so.
    let deactivated_by_usage: HashSet<&str> = raw
        .usages
        .iter()
        .filter(|u| {
            u.source_status
                .iter()
                .any(|s| s.eq_ignore_ascii_case("Deactivated"))
        })
        .filter_map(|u| u.source_id.as_deref())
        .collect();
    let deactivated = |c: &Computer| {
        deactivated_by_usage.contains(c.id.as_str())
            || c.status.as_deref().is_some_and(|s| {
                split_list(s)
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case("Deactivated"))
            })
    };
    // Destinations (the PRO server itself, an offsite server) are computers too: one that is
    // a usage target and never a usage source is a destination, reported as `target` only.
    let sources: HashSet<&str> = raw
        .usages
        .iter()
        .filter_map(|u| u.source_id.as_deref())
        .collect();
    let destinations: HashSet<&str> = raw
        .usages
        .iter()
        .filter_map(|u| u.target_id.as_deref())
        .filter(|t| !sources.contains(t))
        .collect();
    for c in &raw.computers {
        if (deactivated(c) && !include_deactivated) || destinations.contains(c.id.as_str()) {
            continue;
        }
        let name = device_name(c);
        let id = c.guid.clone().unwrap_or_else(|| c.id.clone());
        let user = c.user_id.as_deref().map(|uid| {
            users
                .get(uid)
                .and_then(|u| u.email.clone().or_else(|| u.username.clone()))
                .unwrap_or_else(|| uid.to_owned())
        });
        let org_id = c
            .user_id
            .as_deref()
            .and_then(|uid| users.get(uid))
            .and_then(|u| u.org_id.as_deref())
            .or_else(|| device_org.get(c.id.as_str()).copied());
        let org = org_id.map(|oid| {
            orgs.get(oid)
                .and_then(|o| o.name.clone())
                .unwrap_or_else(|| oid.to_owned())
        });
        let mount_point = c.mount_point_id.as_deref().map(|mid| {
            mount_points
                .get(mid)
                .and_then(|p| p.name.clone())
                .unwrap_or_else(|| mid.to_owned())
        });
        // OS and client version are in the detail view only.
        let detail = raw.details.get(&c.id);
        let detailed = |list: &Option<String>, of: fn(&Detail) -> &Option<String>| {
            list.clone().or_else(|| detail.and_then(|d| of(d).clone()))
        };
        let mut info = Vec::new();
        for (k, v) in [
            ("user", user),
            ("org", org),
            ("status", c.status.clone()),
            ("os", detailed(&c.os_name, |d| &d.os_name)),
            ("os_version", detailed(&c.os_version, |d| &d.os_version)),
            ("version", detailed(&c.version, |d| &d.version)),
            ("mount_point", mount_point),
        ] {
            if let Some(v) = v {
                info.push((k, v));
            }
        }
        let l: &[(&str, &str)] = &[("device", &name), ("device_id", &id)];
        let states = alert_states(c.alert_states.iter());
        set.add_states(
            &m::CP_COMPUTER_ALERT_STATE,
            l,
            m::CRASHPLAN_ALERT_STATES,
            &states,
        );
        let usage = device_usage.get(c.id.as_str());
        // Read quietly here: the same values are read, and reported, with the usage below.
        let connected = usage.and_then(|u| u.source_connected_to_server.as_ref()?.get());
        let last_connected = usage.and_then(|u| plausible_time(&u.source_last_connected_to_server));
        devices.push(Device {
            name,
            id,
            info,
            connected,
            last_connected,
            offline_threshold: None,
        });
    }

    // ---- targets: the usages list ----
    // The PRO server itself, the target a computer's `serverBackupStats` are about: the one
    // most source computers back up to (each client's archive is on one of its mount points);
    // none when two tie.
    let server_target: Option<&str> = {
        let mut sources_of: HashMap<&str, HashSet<&str>> = HashMap::new();
        for u in &raw.usages {
            if let (Some(t), Some(s)) = (u.target_id.as_deref(), u.source_id.as_deref()) {
                sources_of.entry(t).or_default().insert(s);
            }
        }
        let mut counts: Vec<(usize, &str)> =
            sources_of.iter().map(|(t, s)| (s.len(), *t)).collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        match counts.as_slice() {
            [(a, _), (b, _), ..] if a == b => None,
            [(_, t), ..] => Some(*t),
            [] => None,
        }
    };
    let mut targets = Vec::new();
    let mut device_seen: HashSet<String> = HashSet::new();
    let mut live_keys: HashSet<(String, String)> = HashSet::new();
    for (i, u) in raw.usages.iter().enumerate() {
        let computer = computer_of(u.source_id.as_deref(), u.source_guid.as_deref());
        let is_deactivated = u
            .source_status
            .iter()
            .any(|s| s.eq_ignore_ascii_case("Deactivated"))
            || computer.is_some_and(deactivated);
        if is_deactivated && !include_deactivated {
            continue;
        }
        let device = computer
            .map(device_name)
            .or_else(|| u.source_guid.clone())
            .or_else(|| u.source_id.clone())
            .unwrap_or_default();
        let device_id = u
            .source_guid
            .clone()
            .or_else(|| computer.and_then(|c| c.guid.clone()))
            .or_else(|| u.source_id.clone())
            .unwrap_or_default();
        let target = computer_of(u.target_id.as_deref(), u.target_guid.as_deref())
            .map(device_name)
            .or_else(|| u.target_guid.clone())
            .or_else(|| u.target_id.clone())
            .unwrap_or_default();
        if device_id.is_empty() || target.is_empty() {
            w.push(|| format!("usages[{i}]: no source or target identity; skipped"));
            continue;
        }
        let at = |field: &str| format!("usages[{i}].{field}");
        let last_activity = w.time(|| at("lastActivity"), &u.last_activity);
        let last_connected = w.time(|| at("lastConnected"), &u.last_connected);
        let selected_bytes = w.amount(|| at("selectedBytes"), &u.selected_bytes);
        let selected_files = w.amount(|| at("selectedFiles"), &u.selected_files);
        let todo_bytes = w.amount(|| at("todoBytes"), &u.todo_bytes);
        let todo_files = w.amount(|| at("todoFiles"), &u.todo_files);
        let archive_bytes = w.amount(|| at("archiveBytes"), &u.archive_bytes);
        let is_using = w.flag(|| at("isUsing"), &u.is_using);
        let key = (device_id.clone(), target.clone());
        let complete = todo_files == Some(0.0) && todo_bytes == Some(0.0);
        // The computer's last completed backup to the PRO server, from its detail view.
        let last_backup = u
            .source_id
            .as_deref()
            .filter(|_| server_target.is_some() && u.target_id.as_deref() == server_target)
            .and_then(|sid| Some((sid, raw.details.get(sid)?)))
            .and_then(|(sid, d)| {
                w.time(
                    || format!("computers/{sid}.serverBackupStats.lastBackup"),
                    &d.last_backup,
                )
            });
        let success = [last_activity.filter(|_| complete), last_backup]
            .into_iter()
            .flatten()
            .reduce(f64::max);
        if let Some(t) = success {
            let entry = last_success.entry(key.clone()).or_insert(t);
            *entry = entry.max(t);
        }
        let completion_ratio = match (selected_bytes, todo_bytes) {
            (Some(sel), Some(todo)) if sel > 0.0 => Some(((sel - todo) / sel).clamp(0.0, 1.0)),
            (Some(_), Some(todo)) => Some(if todo > 0.0 { 0.0 } else { 1.0 }),
            _ => None,
        };
        // The pair's own alert states: the computer's (device-wide) list, which a failing
        // destination alone sets, is `crashplan_computer_alert_state`.
        let alerts: Vec<String> = alert_states(u.alert_states.iter())
            .into_iter()
            .map(str::to_owned)
            .collect();

        let l: &[(&str, &str)] = &[
            ("device", &device),
            ("device_id", &device_id),
            ("target", &target),
        ];
        if let Some(using) = is_using {
            set.add(&m::CP_TARGET_IN_USE, l, f64::from(u8::from(using)));
        }
        if device_seen.insert(device_id.clone()) {
            let dl: &[(&str, &str)] = &[("device", &device), ("device_id", &device_id)];
            let connected = w.flag(
                || at("sourceConnectedToServer"),
                &u.source_connected_to_server,
            );
            if let Some(c) = connected {
                set.add(&m::CP_DEVICE_CONNECTED, dl, f64::from(u8::from(c)));
            }
            let seen = w.time(
                || at("sourceLastConnectedToServer"),
                &u.source_last_connected_to_server,
            );
            set.add_opt(&m::CP_DEVICE_LAST_CONNECTED, dl, seen);
            let statuses = device_statuses(u, computer);
            if !statuses.is_empty() {
                set.add_states(
                    &m::CP_DEVICE_STATUS,
                    dl,
                    m::CRASHPLAN_DEVICE_STATUSES,
                    &statuses,
                );
            }
        }
        live_keys.insert(key.clone());
        targets.push(BackupTarget {
            last_success: last_success.get(&key).copied(),
            device,
            device_id,
            target,
            last_activity,
            last_connected,
            selected_bytes,
            selected_files,
            todo_bytes,
            todo_files,
            archive_bytes,
            completion_ratio,
            alert_states: alerts,
            known_alert_states: m::CRASHPLAN_ALERT_STATES,
            // usages report no run results.
            last_run_failed: None,
            // `last_success` is what this exporter saw complete, so "known since" is what it
            // saw too (the default), not the computer's creation: after a restart, a backup
            // in progress must not look like one that never completed.
            first_seen: None,
            paused: is_using == Some(false)
                || is_deactivated
                || device_statuses(u, computer)
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case("Blocked")),
            schedule_period: None,
            ..Default::default()
        });
    }
    // Forget targets that are gone, so the carried state does not grow without bound.
    last_success.retain(|k, _| live_keys.contains(k));

    let stores = map_mount_points(
        &mut set,
        "mountPoints",
        raw.mount_points.as_deref().unwrap_or(&[]),
        &mut w,
    );
    map_orgs(&mut set, raw.orgs.as_deref().unwrap_or(&[]), &mut w);
    if let Some(stats) = &raw.server_stats {
        map_server_stats(&mut set, stats, &mut w);
    }
    Snapshot::new(devices, targets, set, w).with_stores(stores)
}

/// The alert states that hold, from one or more `alertStates` lists: every state other than
/// `OK`, once; `OK` alone when there is none (an empty list reports no alert).
fn alert_states<'a>(lists: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut states: Vec<&str> = Vec::new();
    for s in lists {
        if s != "OK" && !states.contains(&s.as_str()) {
            states.push(s);
        }
    }
    if states.is_empty() {
        states.push("OK");
    }
    states
}

fn device_name(c: &Computer) -> String {
    c.name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| c.guid.clone())
        .unwrap_or_else(|| c.id.clone())
}

/// Store capacity families, shared with the Code42 source's store points. `what` names the
/// list in warnings.
/// The computer's status flags: the usage's `sourceStatus`, else the computer's `status`.
fn device_statuses<'a>(u: &'a Usage, computer: Option<&'a Computer>) -> Vec<&'a str> {
    if u.source_status.is_empty() {
        computer
            .and_then(|c| c.status.as_deref())
            .map(|s| s.split(',').map(str::trim).collect())
            .unwrap_or_default()
    } else {
        u.source_status.iter().map(String::as_str).collect()
    }
}

pub(crate) fn map_mount_points(
    set: &mut MetricSet,
    what: &str,
    points: &[MountPoint],
    w: &mut Warnings,
) -> Vec<Store> {
    let mut stores = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let name = p.name.clone().unwrap_or_else(|| p.id.clone());
        let l: &[(&str, &str)] = &[("mount_point", &name), ("mount_point_id", &p.id)];
        let mut info: Vec<(&str, &str)> = l.to_vec();
        for (k, v) in [
            ("type", &p.kind),
            ("volume_label", &p.volume_label),
            ("status", &p.status),
        ] {
            if let Some(v) = v {
                info.push((k, v));
            }
        }
        set.add(&m::CP_MOUNT_INFO, &info, 1.0);
        if let Some(status) = &p.status {
            set.add(
                &m::CP_MOUNT_ENABLED,
                l,
                f64::from(u8::from(status.eq_ignore_ascii_case("ENABLED"))),
            );
        }
        let at = |field: &str| format!("{what}[{i}].{field}");
        let total = w.amount(|| at("bytesTotal"), &p.bytes_total);
        let used = w.amount(|| at("bytesUsed"), &p.bytes_used);
        let free = w.amount(|| at("bytesFree"), &p.bytes_free);
        let rate = w.amount(|| at("bytesPerSecond"), &p.bytes_per_second);
        set.add_opt(&m::CP_MOUNT_TOTAL, l, total);
        set.add_opt(&m::CP_MOUNT_USED, l, used);
        set.add_opt(&m::CP_MOUNT_FREE, l, free);
        let ratio = w
            .read(
                || format!("{what}[{i}].percentFree"),
                p.percent_free.as_deref(),
                parse_percent,
            )
            .or(match (free, total) {
                (Some(free), Some(total)) if total > 0.0 => Some(free / total),
                _ => None,
            });
        set.add_opt(&m::CP_MOUNT_FREE_RATIO, l, ratio);
        set.add_opt(&m::CP_MOUNT_WRITE_RATE, l, rate);
        stores.push(Store {
            name,
            id: p.id.clone(),
            free_bytes: free,
            free_ratio: ratio,
        });
    }
    stores
}

fn map_orgs(set: &mut MetricSet, orgs: &[Org], w: &mut Warnings) {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    for (i, o) in orgs.iter().enumerate() {
        let name = o.name.clone().unwrap_or_else(|| o.id.clone());
        let l: &[(&str, &str)] = &[("org", &name), ("org_id", &o.id)];
        let mut info: Vec<(&str, &str)> = l.to_vec();
        if let Some(p) = &o.parent_id {
            info.push(("parent_org_id", p));
        }
        if let Some(s) = &o.status {
            info.push(("status", s));
        }
        set.add(&m::CP_ORG_INFO, &info, 1.0);
        let at = |field: &str| format!("orgs[{i}].{field}");
        // Sizes and counts are never negative; deltas and the daily change may be.
        for (desc, field, value) in [
            (&m::CP_ORG_ARCHIVE, "archiveBytes", &o.archive_bytes),
            (
                &m::CP_ORG_SELECTED_BYTES,
                "selectedBytes",
                &o.selected_bytes,
            ),
            (
                &m::CP_ORG_SELECTED_FILES,
                "selectedFiles",
                &o.selected_files,
            ),
            (&m::CP_ORG_TODO_BYTES, "todoBytes", &o.todo_bytes),
            (&m::CP_ORG_TODO_FILES, "todoFiles", &o.todo_files),
        ] {
            set.add_opt(desc, l, w.amount(|| at(field), value));
        }
        for (desc, field, value) in [
            (
                &m::CP_ORG_ARCHIVE_DELTA,
                "archiveBytesDelta",
                &o.archive_bytes_delta,
            ),
            (
                &m::CP_ORG_ARCHIVE_DELTA_MONTH,
                "archiveBytesDeltaMonth",
                &o.archive_bytes_delta_month,
            ),
            (&m::CP_ORG_DAILY_CHANGE, "dailyChange", &o.daily_change),
        ] {
            set.add_opt(desc, l, w.num(|| at(field), value));
        }
        if let Some(q) = &o.quota {
            // A negative quota means unlimited.
            let bytes = w.num(|| at("quota.bytes"), &q.bytes);
            let seats = w.num(|| at("quota.seats"), &q.seats);
            set.add_opt(
                &m::CP_ORG_QUOTA_BYTES,
                l,
                bytes.filter(|b| *b >= 0.0).map(|b| b * GIB),
            );
            set.add_opt(&m::CP_ORG_QUOTA_SEATS, l, seats.filter(|s| *s >= 0.0));
        }
    }
}

fn map_server_stats(set: &mut MetricSet, s: &ServerStats, w: &mut Warnings) {
    let none: &[(&str, &str)] = &[];
    let mut info: Vec<(&str, &str)> = Vec::new();
    let addresses = s.host_addresses.join(",");
    for (k, v) in [
        ("host", s.host_name.as_deref()),
        ("port", s.host_port.as_deref()),
        ("version", s.version.as_deref()),
        (
            "addresses",
            Some(addresses.as_str()).filter(|a| !a.is_empty()),
        ),
    ] {
        if let Some(v) = v {
            info.push((k, v));
        }
    }
    set.add(&m::CP_SERVER_INFO, &info, 1.0);
    for (desc, field, value) in [
        (
            &m::CP_SERVER_ARCHIVE,
            "currentArchiveBytes",
            &s.current_archive_bytes,
        ),
        (
            &m::CP_SERVER_ARCHIVE_PREV,
            "previousMonthArchiveBytes",
            &s.previous_month_archive_bytes,
        ),
        (&m::CP_SERVER_ORGS, "orgCount", &s.org_count),
        (&m::CP_SERVER_SEATS, "seatCount", &s.seat_count),
        (
            &m::CP_SERVER_SESSIONS,
            "backupSessionCount",
            &s.backup_session_count,
        ),
        (
            &m::CP_SERVER_CLIENTS,
            "connectedClientCount",
            &s.connected_client_count,
        ),
    ] {
        let v = w.amount(|| format!("serverStats.{field}"), value);
        set.add_opt(desc, none, v);
    }
    for (desc, field, value) in [
        (
            &m::CP_SERVER_HOST_MEM_TOTAL,
            "hostMemoryTotal",
            &s.host_memory_total,
        ),
        (
            &m::CP_SERVER_HOST_MEM_FREE,
            "hostMemoryFree",
            &s.host_memory_free,
        ),
        (
            &m::CP_SERVER_HOST_MEM_CACHED,
            "hostMemoryCached",
            &s.host_memory_cached,
        ),
        (
            &m::CP_SERVER_ENGINE_MEM_TOTAL,
            "engineMemoryTotal",
            &s.engine_memory_total,
        ),
        (
            &m::CP_SERVER_ENGINE_MEM_FREE,
            "engineMemoryFree",
            &s.engine_memory_free,
        ),
        (&m::CP_SERVER_DISK_TOTAL, "diskTotal", &s.disk_total),
        (&m::CP_SERVER_DISK_FREE, "diskFree", &s.disk_free),
    ] {
        let v = w.read_amount(
            || format!("serverStats.{field}"),
            value.as_deref(),
            parse_size,
        );
        set.add_opt(desc, none, v);
    }
    for (desc, field, value) in [
        (&m::CP_SERVER_CPU, "cpuUtilization", &s.cpu_utilization),
        (
            &m::CP_SERVER_DISK_UTIL,
            "diskUtilization",
            &s.disk_utilization,
        ),
    ] {
        let v = w.read(
            || format!("serverStats.{field}"),
            value.as_deref(),
            parse_percent,
        );
        set.add_opt(desc, none, v);
    }
    set.add_opt(&m::CP_SERVER_UPTIME, none, uptime_seconds(s, w));
    if let Some(load) = &s.load {
        let parts: Vec<Option<f64>> = load.split(',').map(|p| p.trim().parse().ok()).collect();
        match parts.as_slice() {
            [Some(a), Some(b), Some(c)] => {
                set.add(&m::CP_SERVER_LOAD1, none, *a);
                set.add(&m::CP_SERVER_LOAD5, none, *b);
                set.add(&m::CP_SERVER_LOAD15, none, *c);
            }
            _ => w.push(|| format!("serverStats.load: {load:?} is not three load averages")),
        }
    }
}

/// Server uptime. `uptimeMilliseconds` is used when it is a plausible duration (under ten
/// years); servers have been seen putting a Unix time in milliseconds there, so otherwise the
/// human `uptime` (`"1.5 hrs"`) is read.
fn uptime_seconds(s: &ServerStats, w: &mut Warnings) -> Option<f64> {
    const TEN_YEARS_MS: f64 = 10.0 * 365.25 * 86_400_000.0;
    match s.uptime_milliseconds.as_ref().and_then(|ms| ms.get()) {
        Some(ms) if (0.0..TEN_YEARS_MS).contains(&ms) => Some(ms / 1000.0),
        _ => w.read(
            || "serverStats.uptime".into(),
            s.uptime.as_deref(),
            parse_human_duration,
        ),
    }
}

#[cfg(test)]
mod tests;
