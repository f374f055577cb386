//! Legacy CrashPlan PRO server, `/rest` API (`kind = "crashplan"`).
//!
//! One refresh reads, with HTTP basic auth:
//! - `/rest/usages` (paged): one record per source computer and target; the efficient call for
//!   many computers, so no per-computer detail call is made;
//! - `/rest/computers` (paged): names, status, alertStates, user, mount point;
//! - `/rest/users` (paged, optional): user e-mail for `backup_device_info`;
//! - `/rest/orgs` (paged, optional) then `/rest/orgs/{id}`: org aggregates and quotas;
//! - `/rest/mountPoints` then `/rest/mountPoints/{id}` (administrators only, optional):
//!   store capacity;
//! - `/rest/serverStats` (administrators only, optional): server-wide gauges.
//!
//! Optional calls answered 403 or 404 leave their metrics absent (logged once); any other
//! failure fails the refresh, so a partial read never replaces a complete one.
//!
//! `backup_last_success_timestamp_seconds`: the API has no completion time. `lastActivity` is
//! the last time the source backed up to the target; when that target has nothing left to do
//! (`todoFiles` and `todoBytes` both 0) that activity completed the backup, so it is the last
//! success. While files remain to do, the last success stays what an earlier refresh saw
//! (absent after a restart until the next complete state).

pub mod config;
mod demo;
pub mod families;
pub mod model;
pub mod sim;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::{stream, StreamExt, TryStreamExt};

use self::families as m;
use crate::exposition::{Desc, Exposure, MetricSet, Origin};
use crate::selfmetrics::SelfMetrics;
use crate::settings::{KeyError, SourceConfig};
use crate::sources::http::{Auth, Upstream, UpstreamError};
use crate::sources::values::{
    parse_human_duration, parse_percent, parse_size, plausible_time, split_list, Warnings,
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
        })
    }

    pub async fn collect(&mut self) -> Result<Snapshot, UpstreamError> {
        let raw = self.fetch().await?;
        let now = chrono::Utc::now().timestamp() as f64;
        let origin = Origin {
            source: &self.source,
            exposure: &self.exposure,
        };
        Ok(map(
            &raw,
            origin,
            self.include_deactivated,
            now,
            &mut self.last_success,
        ))
    }

    async fn fetch(&mut self) -> Result<Raw, UpstreamError> {
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
            self.list_with_details("orgs", "/rest/orgs", "org", |o: &Org| &o.id),
            self.list_with_details(
                "mountPoints",
                "/rest/mountPoints",
                "mountPoint",
                |p: &MountPoint| &p.id
            ),
            async {
                Ok::<_, UpstreamError>(
                    up.get_json::<ServerStats>("serverStats", "/rest/serverStats", &[])
                        .await,
                )
            },
        )?;
        Ok(Raw {
            usages,
            computers,
            users: self.optional("users", users)?,
            orgs: self.optional("orgs", orgs)?,
            mount_points: self.optional("mountPoints", mount_points)?,
            server_stats: self.optional("serverStats", server_stats)?,
        })
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
        let mut info = Vec::new();
        for (k, v) in [
            ("user", user),
            ("org", org),
            ("status", c.status.clone()),
            ("os", c.os_name.clone()),
            ("os_version", c.os_version.clone()),
            ("version", c.version.clone()),
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
        if let (true, Some(t)) = (complete, last_activity) {
            let entry = last_success.entry(key.clone()).or_insert(t);
            *entry = entry.max(t);
        }
        let completion_ratio = match (selected_bytes, todo_bytes) {
            (Some(sel), Some(todo)) if sel > 0.0 => Some(((sel - todo) / sel).clamp(0.0, 1.0)),
            (Some(_), Some(todo)) => Some(if todo > 0.0 { 0.0 } else { 1.0 }),
            _ => None,
        };
        // Alert states of the pair, with the computer's own (device-wide) states.
        let computer_states = computer.map(|c| c.alert_states.as_slice()).unwrap_or(&[]);
        let alerts: Vec<String> = alert_states(u.alert_states.iter().chain(computer_states))
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
