//! Modern Code42 / CrashPlan console, `/api/v1` with v3 token authentication
//! (`kind = "code42"`).
//!
//! One refresh reads, with a bearer token (see [`auth`]):
//! - `/api/v1/Computer?incBackupUsage=true&active=true` (paged by `pgNum`/`pgSize`): every
//!   device with one `backupUsage` element per destination; the only call per device count,
//!   and no per-device call at all;
//! - `/api/v1/User` and `/api/v1/Org` (paged, optional, `resolve_names`): the `user` and `org`
//!   labels (ids otherwise);
//! - `/api/StorePoint` and `/api/Server` (administrators only, optional): store capacity, in
//!   the same `crashplan_mount_point_*` families as CrashPlan PRO mount points, and servers.
//!
//! Optional calls answered 403 or 404 leave their metrics absent (logged once); any other
//! failure fails the refresh, so a partial read never replaces a complete one.
//!
//! Each computer is a device (`device` = name, `device_id` = guid); each of its `backupUsage`
//! elements a target (`target` = `targetComputerName`, else the store point name, else the
//! target guid). `backup_last_success_timestamp_seconds` is `lastCompletedBackup`,
//! `backup_last_activity_timestamp_seconds` is `lastBackup`, `backup_completion_ratio` is
//! `percentComplete` / 100, and `backup_alert_state` the element's `alertStates` (the
//! computer's when the element has none).

pub mod auth;
pub mod config;
mod demo;
pub mod families;
pub mod model;
pub mod sim;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use self::families as m;
use crate::exposition::{Desc, Exposure, Labels, MetricSet, Origin};
use crate::selfmetrics::SelfMetrics;
use crate::settings::{KeyError, SourceConfig};
use crate::sources::crashplan::{self, model::MountPoint};
use crate::sources::http::{Auth, Page, TokenCache, Upstream, UpstreamError};
use crate::sources::values::{parse_time, Warnings};
use crate::sources::{BackupTarget, Demo, Device, OptionalCalls, Snapshot, Source, VendorSpec};
use config::Code42Config;
use model::{Computer, Org, Server, StorePoint, User};

const SYSTEM: &str = "code42";

/// The Code42 console vendor, as the registry lists it.
pub struct Code42Console;

impl VendorSpec for Code42Console {
    type Section = Code42Config;
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
    fn check(section: &mut Code42Config) -> Result<(), KeyError> {
        section.check()
    }
    fn build(
        cfg: &SourceConfig,
        section: &Code42Config,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Box<dyn Source>, UpstreamError> {
        Ok(Box::new(Code42::new(cfg, section, metrics)?))
    }
    fn demo(
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'static, Result<Box<dyn Demo>, String>> {
        Box::pin(demo::start(now))
    }
}

impl Source for Code42 {
    fn collect(&mut self) -> BoxFuture<'_, Result<Snapshot, UpstreamError>> {
        Box::pin(Code42::collect(self))
    }
}

/// Everything one refresh reads.
#[derive(Debug, Default)]
pub struct Raw {
    pub computers: Vec<Computer>,
    /// The console's time of the first computer page (`metadata.timestamp`).
    pub server_time: Option<String>,
    pub users: Option<Vec<User>>,
    pub orgs: Option<Vec<Org>>,
    pub store_points: Option<Vec<StorePoint>>,
    pub servers: Option<Vec<Server>>,
}

/// Mapping choices from the config.
#[derive(Debug, Clone)]
pub struct Options {
    pub include_deactivated: bool,
    pub connected_within: Duration,
    pub org_rollups: bool,
}

pub struct Code42 {
    upstream: Upstream,
    source: String,
    /// The families this source writes.
    exposure: Arc<Exposure>,
    page_size: usize,
    concurrency: usize,
    resolve_names: bool,
    options: Options,
    optional: OptionalCalls,
}

impl Code42 {
    pub fn new(
        cfg: &SourceConfig,
        section: &Code42Config,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Code42, UpstreamError> {
        let sign_in = auth::SignIn::from_config(section)?;
        let upstream = Upstream::new(cfg, metrics)?.with_auth(Auth::Token(Box::new(
            TokenCache::new(Box::new(sign_in), section.token_max_age()),
        )));
        Ok(Code42 {
            upstream,
            source: cfg.name.clone(),
            exposure: cfg.exposure.clone(),
            page_size: cfg.page_size,
            concurrency: cfg.concurrency,
            resolve_names: section.resolve_names(),
            options: Options {
                include_deactivated: section.include_deactivated,
                connected_within: section.connected_within(),
                org_rollups: section.org_rollups(),
            },
            optional: OptionalCalls::default(),
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
        let raw = self.fetch().await?;
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        Ok(map(&raw, self.origin(), &self.options, now))
    }

    async fn fetch(&mut self) -> Result<Raw, UpstreamError> {
        let up = &self.upstream;
        let (ps, conc) = (self.page_size, self.concurrency);
        // Deactivated devices (and users) are left out by the console unless asked for.
        let active: Vec<(&str, String)> = if self.options.include_deactivated {
            Vec::new()
        } else {
            vec![("active", "true".to_owned())]
        };
        let mut computer_query = vec![("incBackupUsage", "true".to_owned())];
        computer_query.extend(active.iter().cloned());
        let names = self.resolve_names;
        let (computers, users, orgs, store_points, servers) = tokio::try_join!(
            up.get_numbered_pages(
                "computers",
                "/api/v1/Computer",
                &computer_query,
                ps,
                conc,
                model::computers_page,
                Computer::key,
            ),
            self.optional_list(
                names,
                "users",
                "/api/v1/User",
                &active,
                model::users_page,
                User::key
            ),
            self.optional_list(
                names,
                "orgs",
                "/api/v1/Org",
                &[],
                model::orgs_page,
                Org::key
            ),
            self.optional_list(
                true,
                "storePoints",
                "/api/StorePoint",
                &[],
                model::store_points_page,
                |p| { p.store_point_id.clone().unwrap_or_default() }
            ),
            self.optional_list(
                true,
                "servers",
                "/api/Server",
                &[],
                model::servers_page,
                |s| { s.server_id.clone().unwrap_or_default() }
            ),
        )?;
        Ok(Raw {
            computers: computers.items,
            server_time: computers.server_time,
            users: self.take("users", users)?,
            orgs: self.take("orgs", orgs)?,
            store_points: self.take("storePoints", store_points)?,
            servers: self.take("servers", servers)?,
        })
    }

    /// An optional list's items; `None` when it was not read or is unavailable (logged once).
    fn take<T>(
        &mut self,
        what: &'static str,
        list: Option<Result<T, UpstreamError>>,
    ) -> Result<Option<T>, UpstreamError> {
        match list {
            Some(r) => self.optional.take(&self.source, what, r),
            None => Ok(None),
        }
    }

    /// An optional list, read when `wanted`: its own result, which may make it absent (see
    /// [`OptionalCalls`]), inside one that never fails, so `try_join!` runs it beside the
    /// required list.
    async fn optional_list<T: Send + 'static>(
        &self,
        wanted: bool,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
        decode: fn(&'static str, &[u8]) -> Result<Page<T>, UpstreamError>,
        id: fn(&T) -> String,
    ) -> Result<Option<Result<Vec<T>, UpstreamError>>, UpstreamError> {
        if !wanted {
            return Ok(None);
        }
        let pages = self
            .upstream
            .get_numbered_pages(
                endpoint,
                path,
                query,
                self.page_size,
                self.concurrency,
                decode,
                id,
            )
            .await;
        Ok(Some(pages.map(|p| p.items)))
    }

    /// Sign-ins so far (tests).
    pub fn sign_ins(&self) -> u64 {
        match self.upstream.auth() {
            Auth::Token(cache) => cache.sign_ins(),
            _ => 0,
        }
    }
}

/// Maps one refresh's payloads into a snapshot. `now` (Unix seconds) stands in for the
/// console's time when the answer carries none.
pub fn map<'a>(raw: &Raw, source: impl Into<Origin<'a>>, options: &Options, now: f64) -> Snapshot {
    let mut w = Warnings::default();
    let mut set = MetricSet::new(SYSTEM, source);
    let reference = w
        .read(
            || "computers metadata.timestamp".into(),
            raw.server_time.as_deref(),
            parse_time,
        )
        .unwrap_or(now);
    let within = options.connected_within.as_secs_f64();

    let users: HashMap<&str, &User> = raw
        .users
        .iter()
        .flatten()
        .filter_map(|u| u.user_id.as_deref().map(|id| (id, u)))
        .chain(
            raw.users
                .iter()
                .flatten()
                .filter_map(|u| u.user_uid.as_deref().map(|id| (id, u))),
        )
        .collect();
    let orgs: HashMap<&str, &str> = raw
        .orgs
        .iter()
        .flatten()
        .filter_map(|o| Some((o.org_id.as_deref()?, o.org_name.as_deref()?)))
        .collect();

    let mut devices = Vec::with_capacity(raw.computers.len());
    let mut targets = Vec::with_capacity(raw.computers.len() * 2);
    let mut rollups: HashMap<String, Rollup> = HashMap::new();
    let mut seen_ids: HashSet<&str> = HashSet::new();
    for (i, c) in raw.computers.iter().enumerate() {
        let active = w.flag(|| format!("computers[{i}].active"), &c.active);
        let deactivated = active == Some(false)
            || c.status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("Deactivated"));
        if deactivated && !options.include_deactivated {
            continue;
        }
        let Some(id) = c.guid.as_deref().or(c.computer_id.as_deref()) else {
            w.push(|| format!("computers[{i}]: no guid or computerId; skipped"));
            continue;
        };
        if !seen_ids.insert(id) {
            w.push(|| format!("computers[{i}]: guid {id} listed twice; kept once"));
            continue;
        }
        let name = c
            .name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(id)
            .to_owned();
        let id = id.to_owned();
        let user = c
            .user_id
            .as_deref()
            .or(c.user_uid.as_deref())
            .and_then(|u| users.get(u).copied());
        let user_label = user
            .and_then(|u| u.username.clone().or_else(|| u.email.clone()))
            .or_else(|| c.user_uid.clone())
            .or_else(|| c.user_id.clone());
        let org_id = c
            .org_id
            .clone()
            .or_else(|| user.and_then(|u| u.org_id.clone()));
        let org_label = org_id.as_deref().map(|oid| {
            orgs.get(oid)
                .map(|n| (*n).to_owned())
                .or_else(|| {
                    user.filter(|u| u.org_id.as_deref() == Some(oid))
                        .and_then(|u| u.org_name.clone())
                })
                .unwrap_or_else(|| oid.to_owned())
        });
        let mut info = Vec::with_capacity(6);
        for (k, v) in [
            ("user", user_label),
            ("org", org_label.clone()),
            ("status", c.status.clone()),
            ("os", c.os_name.clone()),
            ("os_version", c.os_version.clone()),
            ("version", c.product_version.clone()),
        ] {
            if let Some(v) = v {
                info.push((k, v));
            }
        }

        let dl = Labels::new(&[("device", &name), ("device_id", &id)]);
        let last_connected = w.time(
            || format!("computers[{i}].lastConnected"),
            &c.last_connected,
        );
        let connected = last_connected.map(|t| reference - t <= within);
        if let (Some(t), Some(c)) = (last_connected, connected) {
            set.add_labels(&m::C42_DEVICE_LAST_CONNECTED, &dl, t);
            set.add_labels(&m::C42_DEVICE_CONNECTED, &dl, f64::from(u8::from(c)));
        }
        let created = w.time(|| format!("computers[{i}].creationDate"), &c.creation_date);
        // Blocked or deactivated devices, and destinations no longer used, do not back up.
        let blocked = w.flag(|| format!("computers[{i}].blocked"), &c.blocked);
        let device_paused = deactivated || blocked == Some(true);
        if let Some(b) = blocked {
            set.add_labels(&m::C42_DEVICE_BLOCKED, &dl, f64::from(u8::from(b)));
        }
        let alert_state = w.num(|| format!("computers[{i}].alertState"), &c.alert_state);
        let device_states = states(&c.alert_states, alert_state);
        if !device_states.is_empty() {
            set.add_states_labels(
                &m::C42_DEVICE_ALERT_STATE,
                &dl,
                m::CODE42_ALERT_STATES,
                &device_states,
            );
        }

        let mut rollup_states: Vec<&str> = device_states.clone();
        let mut device_targets: Vec<String> = Vec::with_capacity(c.backup_usage.len());
        for (j, u) in c.backup_usage.iter().enumerate() {
            let at = |field: &str| format!("computers[{i}].backupUsage[{j}].{field}");
            let Some(mut target) = u
                .target_computer_name
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .or(u
                    .store_point_name
                    .as_deref()
                    .filter(|n| !n.trim().is_empty()))
                .or(u.target_computer_guid.as_deref())
                .or(u.target_computer_id.as_deref())
                .map(str::to_owned)
            else {
                w.push(|| format!("{}: no destination name or guid; skipped", at("")));
                continue;
            };
            if device_targets.contains(&target) {
                // Two destinations of one name: tell them apart by store point or guid.
                let by = u
                    .store_point_name
                    .as_deref()
                    .or(u.target_computer_guid.as_deref())
                    .unwrap_or("?");
                target = format!("{target} ({by})");
                if device_targets.contains(&target) {
                    w.push(|| {
                        format!("{}: destination {target:?} listed twice; kept once", at(""))
                    });
                    continue;
                }
            }
            device_targets.push(target.clone());
            let last_success = w.time(|| at("lastCompletedBackup"), &u.last_completed_backup);
            let last_activity = w.time(|| at("lastBackup"), &u.last_backup);
            let target_connected = w.time(|| at("lastConnected"), &u.last_connected);
            let target_created = w.time(|| at("creationDate"), &u.creation_date);
            let completion_ratio = w
                .amount(|| at("percentComplete"), &u.percent_complete)
                .map(|p| (p / 100.0).clamp(0.0, 1.0));
            let selected_bytes = w.amount(|| at("selectedBytes"), &u.selected_bytes);
            let selected_files = w.amount(|| at("selectedFiles"), &u.selected_files);
            let todo_bytes = w.amount(|| at("todoBytes"), &u.todo_bytes);
            let todo_files = w.amount(|| at("todoFiles"), &u.todo_files);
            let archive_bytes = w.amount(|| at("archiveBytes"), &u.archive_bytes);
            let billable_bytes = w.amount(|| at("billableBytes"), &u.billable_bytes);
            let send_rate = w.amount(|| at("sendRateAverage"), &u.send_rate_average);
            let using = w.flag(|| at("using"), &u.using);
            let alert_state = w.num(|| at("alertState"), &u.alert_state);
            let mut alerts = states(&u.alert_states, alert_state);
            if alerts.is_empty() {
                alerts = device_states.clone();
            }
            for s in &alerts {
                if !rollup_states.contains(s) {
                    rollup_states.push(s);
                }
            }
            let tl = Labels::new(&[("device", &name), ("device_id", &id), ("target", &target)]);
            if let Some(v) = billable_bytes {
                set.add_labels(&m::C42_BACKUP_BILLABLE, &tl, v);
            }
            if let Some(v) = send_rate {
                set.add_labels(&m::C42_BACKUP_SEND_RATE, &tl, v);
            }
            if let Some(v) = using {
                set.add_labels(&m::C42_BACKUP_IN_USE, &tl, f64::from(u8::from(v)));
            }
            if options.org_rollups {
                if let Some(oid) = &org_id {
                    let r = rollups.entry(oid.clone()).or_default();
                    r.selected += selected_bytes.unwrap_or(0.0);
                    r.todo += todo_bytes.unwrap_or(0.0);
                    r.archive += archive_bytes.unwrap_or(0.0);
                    r.billable += billable_bytes.unwrap_or(0.0);
                }
            }
            targets.push(BackupTarget {
                device: name.clone(),
                device_id: id.clone(),
                target,
                last_success,
                last_activity,
                last_connected: target_connected,
                selected_bytes,
                selected_files,
                todo_bytes,
                todo_files,
                archive_bytes,
                completion_ratio,
                alert_states: alerts.iter().map(|s| (*s).to_owned()).collect(),
                known_alert_states: m::CODE42_ALERT_STATES,
                last_run_failed: None,
                first_seen: target_created.or(created),
                paused: device_paused || using == Some(false),
                schedule_period: None,
                ..Default::default()
            });
        }
        if options.org_rollups {
            if let Some(oid) = &org_id {
                let r = rollups.entry(oid.clone()).or_default();
                r.name = org_label.clone();
                if rollup_states.len() > 1 {
                    rollup_states.retain(|s| *s != "OK");
                }
                for s in rollup_states {
                    *r.states.entry(s.to_owned()).or_default() += 1.0;
                }
            }
        }
        devices.push(Device {
            name,
            id,
            info,
            connected,
            last_connected,
        });
    }

    if options.org_rollups {
        map_rollups(&mut set, &rollups);
    }
    let mut stores = Vec::new();
    if let Some(points) = &raw.store_points {
        let points: Vec<MountPoint> = points
            .iter()
            .filter_map(store_point_as_mount_point)
            .collect();
        stores = crashplan::map_mount_points(&mut set, "storePoints", &points, &mut w);
    }
    if let Some(servers) = &raw.servers {
        map_servers(&mut set, servers, &mut w);
    }
    Snapshot::new(devices, targets, set, w).with_stores(stores)
}

/// The alert states that hold, from an `alertStates` list (`OK` only when nothing else is
/// reported), or from the numeric `alertState` when the list is missing (0 is OK; other codes
/// have no documented name and give no state). Empty: nothing known.
fn states(list: &[String], numeric: Option<f64>) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(1);
    for s in list {
        if s != "OK" && !out.contains(&s.as_str()) {
            out.push(s);
        }
    }
    if out.is_empty() && (!list.is_empty() || numeric == Some(0.0)) {
        out.push("OK");
    }
    out
}

#[derive(Debug, Default)]
struct Rollup {
    name: Option<String>,
    states: HashMap<String, f64>,
    selected: f64,
    todo: f64,
    archive: f64,
    billable: f64,
}

fn map_rollups(set: &mut MetricSet, rollups: &HashMap<String, Rollup>) {
    let mut ids: Vec<&String> = rollups.keys().collect();
    ids.sort();
    for id in ids {
        let r = &rollups[id];
        let name = r.name.as_deref().unwrap_or(id);
        let l = Labels::new(&[("org", name), ("org_id", id)]);
        for state in m::CODE42_ALERT_STATES {
            let mut sl = l.clone();
            sl.push("state", state);
            set.add_labels(
                &m::C42_ORG_DEVICES,
                &sl,
                r.states.get(*state).copied().unwrap_or(0.0),
            );
        }
        let mut other: Vec<(&String, &f64)> = r
            .states
            .iter()
            .filter(|(s, _)| !m::CODE42_ALERT_STATES.contains(&s.as_str()))
            .collect();
        other.sort_by(|a, b| a.0.cmp(b.0));
        for (state, n) in other {
            let mut sl = l.clone();
            sl.push("state", state);
            set.add_labels(&m::C42_ORG_DEVICES, &sl, *n);
        }
        set.add_labels(&m::C42_ORG_SELECTED_BYTES, &l, r.selected);
        set.add_labels(&m::C42_ORG_TODO_BYTES, &l, r.todo);
        set.add_labels(&m::C42_ORG_ARCHIVE_BYTES, &l, r.archive);
        set.add_labels(&m::C42_ORG_BILLABLE_BYTES, &l, r.billable);
    }
}

/// A store point in the shape of a CrashPlan PRO mount point, so both render into the same
/// capacity families. `online` stands in for the status when there is none.
fn store_point_as_mount_point(p: &StorePoint) -> Option<MountPoint> {
    let id = p.store_point_id.clone()?;
    let status = p.status.clone().or_else(|| {
        p.online
            .as_ref()
            .and_then(|o| o.get())
            .map(|o| if o { "ENABLED" } else { "OFFLINE" }.to_owned())
    });
    let (used, free) = p.capacity.used_free();
    Some(MountPoint {
        id,
        name: p.store_point_name.clone(),
        status,
        kind: p.kind.clone(),
        volume_label: p.server_name.clone(),
        bytes_per_second: p.write_bytes_per_second.clone(),
        bytes_total: p.capacity.total_bytes.clone(),
        bytes_used: used,
        bytes_free: free,
        percent_free: p.free_percentage.clone(),
    })
}

fn map_servers(set: &mut MetricSet, servers: &[Server], w: &mut Warnings) {
    for (i, s) in servers.iter().enumerate() {
        let Some(id) = s.server_id.as_deref() else {
            continue;
        };
        let name = s.server_name.as_deref().unwrap_or(id);
        let l: &[(&str, &str)] = &[("server", name), ("server_id", id)];
        let mut info: Vec<(&str, &str)> = l.to_vec();
        for (k, v) in [
            ("guid", &s.guid),
            ("type", &s.kind),
            ("version", &s.version),
            ("address", &s.primary_address),
        ] {
            if let Some(v) = v {
                info.push((k, v));
            }
        }
        set.add(&m::C42_SERVER_INFO, &info, 1.0);
        let at = |field: &str| format!("servers[{i}].{field}");
        if let Some(o) = w.flag(|| at("online"), &s.online) {
            set.add(&m::C42_SERVER_ONLINE, l, f64::from(u8::from(o)));
        }
        let (used, free) = s.capacity.used_free();
        let total = w.amount(|| at("totalBytes"), &s.capacity.total_bytes);
        set.add_opt(&m::C42_SERVER_TOTAL, l, total);
        set.add_opt(&m::C42_SERVER_USED, l, w.amount(|| at("usedBytes"), &used));
        set.add_opt(&m::C42_SERVER_FREE, l, w.amount(|| at("freeBytes"), &free));
        let sessions = w.amount(|| at("backupSessionCount"), &s.backup_session_count);
        set.add_opt(&m::C42_SERVER_SESSIONS, l, sessions);
    }
}

#[cfg(test)]
mod tests;
