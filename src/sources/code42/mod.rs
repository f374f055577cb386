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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use self::families as m;
use crate::exposition::{Desc, Exposure, Labels, MetricSet, Origin};
use crate::selfmetrics::SelfMetrics;
use crate::settings::{KeyError, SourceConfig};
use crate::sources::crashplan::{self, model::MountPoint};
use crate::sources::http::{Auth, Page, PageSink, TokenCache, Upstream, UpstreamError};
use crate::sources::values::{parse_time, Warnings};
use crate::sources::{
    render_devices, BackupTarget, Demo, Device, OptionalCalls, Snapshot, Source, VendorSpec,
};
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

    /// Reads the console once. Computer pages are mapped as they come, in page order, while
    /// the next ones download (see [`Mapper`]); what needs the user and org lists is mapped
    /// once every list is in.
    pub async fn collect(&mut self) -> Result<Snapshot, UpstreamError> {
        let mapper = Mapper::new(self.origin(), &self.options, None);
        let (mapper, lists) = self.fetch(mapper).await?;
        crate::sources::map_blocking(self.origin(), move |_| mapper.finish(&lists)).await
    }

    /// Reads every list: the computers into `mapper`, the others whole.
    async fn fetch(&mut self, mapper: Mapper) -> Result<(Mapper, Raw), UpstreamError> {
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
            up.get_numbered_pages_into(
                "computers",
                "/api/v1/Computer",
                &computer_query,
                ps,
                conc,
                model::computers_page,
                Computer::key,
                mapper,
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
        let lists = Raw {
            computers: Vec::new(),
            server_time: computers.server_time,
            users: self.take("users", users)?,
            orgs: self.take("orgs", orgs)?,
            store_points: self.take("storePoints", store_points)?,
            servers: self.take("servers", servers)?,
        };
        Ok((computers.sink, lists))
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
    let mut mapper = Mapper::new(source, options, Some(now));
    mapper.begin(Some(raw.computers.len() as u64), raw.server_time.as_deref());
    mapper.page(raw.computers.clone());
    mapper.finish(raw)
}

/// Maps computers into a snapshot page by page, as the pages come (a [`PageSink`]): each
/// computer's devices, targets and their families are written at once, its values moved out
/// of the page, which is then let go. What needs the user and org lists (the `user` and `org`
/// of `backup_device_info`, the org rollups) waits for [`Mapper::finish`], which has them.
///
/// Pages are mapped in turn, into one [`Part`] whose pieces are compressed on a thread beside
/// it; or, with 4 cores or more, several at once: each page into a part of its own on a
/// blocking thread (half as many pages as there are cores: the others decode and download),
/// the parts taken in page order, so the snapshot is the one mapping every page in turn
/// makes. On 2 cores the decoders, the one mapping and its compression already keep both
/// busy: pages mapped at once were no faster there, for more CPU (docs/performance.md).
///
/// A computer listed twice is kept once: across pages the paging leaves the repeat out
/// before it comes here (`Upstream::get_numbered_pages_into`); within a page (and across
/// pages mapped in turn) its part does.
pub struct Mapper {
    /// What every page's mapping reads.
    ctx: Arc<Context>,
    /// The clock when the mapping began, unless given.
    now: Option<f64>,
    set: MetricSet,
    w: Warnings,
    /// The computers the console announced (sizes the families when the first page comes).
    announced: Option<u64>,
    /// Computers read so far (`computers[i]` in warnings).
    read: usize,
    /// The devices and targets of the pages taken so far.
    records: Records,
    /// Pages being mapped on threads of their own, in page order: each part comes back
    /// through its channel (none when its mapping panicked).
    mapping: std::collections::VecDeque<std::sync::mpsc::Receiver<Part>>,
    /// How many pages are mapped at once (1: in turn, on the thread giving them).
    parallel: usize,
    /// Parts taken, emptied for the next pages (their buffers kept).
    spare: Vec<Part>,
    /// Mapping in turn: the one part every page goes into.
    in_turn: Option<Part>,
}

/// What the mapping of every page reads: the choices, the source, and the times the first
/// page gave.
#[derive(Clone)]
struct Context {
    options: Options,
    source: String,
    exposure: Arc<Exposure>,
    /// The console's time of the first page (`now` without one).
    reference: f64,
    /// The clock times are judged against: the same for every page.
    judged_at: f64,
    /// The sizes of a page's families, from the first page.
    sizing: Option<Sizing>,
}

/// A page's families grow once to their size: a target like the first page's, and how many
/// bytes the labels of a device and of a target take.
#[derive(Clone)]
struct Sizing {
    like: BackupTarget,
    device_labels: usize,
    target_labels: usize,
}

/// What a device's mapping needs from the user and org lists: its computer's user and org, and
/// where its share of the org rollups is.
struct Pending {
    user_id: Option<String>,
    user_uid: Option<String>,
    org_id: Option<String>,
    bytes: Range<usize>,
    states: Range<usize>,
}

impl PageSink<Computer> for Mapper {
    fn begin(&mut self, total: Option<u64>, server_time: Option<&str>) {
        Mapper::begin(self, total, server_time);
    }
    fn page(&mut self, items: Vec<Computer>) {
        Mapper::page(self, items);
    }
}

impl Mapper {
    /// A mapping for `source`; `now` (Unix seconds) stands in for the console's time when the
    /// answer carries none (the clock when the first page comes, when `None`).
    pub fn new<'a>(source: impl Into<Origin<'a>>, options: &Options, now: Option<f64>) -> Mapper {
        let source = source.into();
        // Times are judged against the clock as the mapping begins (not read again for each
        // of the fleet's times).
        let judged_at = crate::time::unix_now();
        // Pages are mapped on the runtime's blocking threads, half as many as there are cores
        // at once; with fewer than 4 cores, or without a runtime, in turn.
        let parallel = match tokio::runtime::Handle::try_current() {
            Ok(_) => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).min(8)),
            Err(_) => 1,
        };
        Mapper {
            ctx: Arc::new(Context {
                options: options.clone(),
                source: source.source.to_owned(),
                exposure: source.exposure.clone(),
                reference: now.unwrap_or(0.0),
                judged_at,
                sizing: None,
            }),
            now,
            // The parts' pieces come compressed; what `finish` writes is compressed on a
            // thread of its own while it writes on.
            set: {
                let mut set = MetricSet::new(SYSTEM, source);
                set.compress_beside();
                set
            },
            w: Warnings::at(judged_at),
            announced: None,
            read: 0,
            records: Records::default(),
            mapping: std::collections::VecDeque::new(),
            parallel,
            spare: Vec::new(),
            in_turn: None,
        }
    }

    /// The mapping with `n` pages mapped at once at most (tests: a machine's cores decide).
    #[cfg(test)]
    fn parallel(mut self, n: usize) -> Mapper {
        self.parallel = n;
        self
    }

    /// What the first computer page says: how many computers there are, and the console's
    /// time (`metadata.timestamp`).
    pub fn begin(&mut self, total: Option<u64>, server_time: Option<&str>) {
        let now = self.now.unwrap_or_else(crate::time::unix_now);
        Arc::make_mut(&mut self.ctx).reference = self
            .w
            .read(
                || "computers metadata.timestamp".into(),
                server_time,
                parse_time,
            )
            .unwrap_or(now);
        self.announced = total;
    }

    /// Maps one page of computers: in turn, or on a thread of its own while earlier pages
    /// are still mapped (the oldest page's part is taken first when as many pages as allowed
    /// are being mapped).
    pub fn page(&mut self, computers: Vec<Computer>) {
        if self.read == 0 {
            self.reserve(&computers);
        }
        let first = self.read;
        self.read += computers.len();
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if self.parallel > 1 => runtime,
            _ => {
                if self.in_turn.is_none() {
                    self.in_turn = Some(self.first_part());
                }
                if let Some(part) = &mut self.in_turn {
                    part.map(&self.ctx, first, computers);
                }
                return;
            }
        };
        while self.mapping.len() >= self.parallel {
            self.take_next();
        }
        let mut part = self.spare.pop().unwrap_or_else(|| Part::new(&self.ctx));
        let (done, part_back) = std::sync::mpsc::sync_channel(1);
        let ctx = self.ctx.clone();
        runtime.spawn_blocking(move || {
            part.map(&ctx, first, computers);
            // Compressed here, on the page's thread.
            part.set.compress_rest();
            let _ = done.send(part);
        });
        self.mapping.push_back(part_back);
    }

    /// The part pages mapped in turn go into: it takes the records sized for the fleet
    /// ([`Mapper::reserve`]), and its pieces are compressed beside it while it maps.
    fn first_part(&mut self) -> Part {
        let mut part = Part::new(&self.ctx);
        part.set.compress_beside();
        std::mem::swap(&mut part.records, &mut self.records);
        part
    }

    /// Waits for the oldest page being mapped and takes its part.
    fn take_next(&mut self) {
        let Some(part) = self.mapping.pop_front() else {
            return;
        };
        match part.recv() {
            Ok(part) => self.take(part),
            // Its thread panicked (and said why): the refresh fails rather than miss a page.
            Err(_) => panic!("computers: mapping a page failed"),
        }
    }

    /// Appends a page's part after the pages before it and keeps it, emptied, for a later page.
    fn take(&mut self, mut part: Part) {
        self.set.absorb(&mut part.set);
        self.records.append(&mut part.records);
        self.w.merge(std::mem::replace(
            &mut part.w,
            Warnings::at(self.ctx.judged_at),
        ));
        part.seen_ids.clear();
        self.spare.push(part);
    }

    /// Sizes the devices and targets from the first page and the announced count: they grow
    /// once, not by doubling (more than the fleet needs costs address space only, never
    /// touched); and the families of each page, from the first page's names.
    fn reserve(&mut self, first: &[Computer]) {
        let devices = (self.announced.unwrap_or(0) as usize)
            .max(first.len())
            .min(1_000_000);
        let per_device = first.iter().map(|c| c.backup_usage.len()).sum::<usize>() as f64
            / first.len().max(1) as f64;
        let targets = (devices as f64 * per_device * 1.1).ceil() as usize + 16;
        self.records.reserve(devices, targets);
        let Some(c) = first.iter().find(|c| !c.backup_usage.is_empty()) else {
            return;
        };
        let device = c.name.as_deref().map_or(0, str::len).max(20);
        let id = c
            .guid
            .as_deref()
            .or(c.computer_id.as_deref())
            .map_or(20, str::len);
        let target = c.backup_usage[0]
            .target_computer_name
            .as_deref()
            .map_or(20, str::len);
        Arc::make_mut(&mut self.ctx).sizing = Some(Sizing {
            like: BackupTarget {
                device: "d".repeat(device),
                device_id: "i".repeat(id),
                target: "t".repeat(target),
                ..Default::default()
            },
            device_labels: 30 + device + id,
            target_labels: 40 + device + id + target,
        });
    }

    /// Maps what waited for the other lists of `lists` (its computers were given page by
    /// page): each device's `user` and `org`, the org rollups, the store points and servers.
    pub fn finish(mut self, lists: &Raw) -> Snapshot {
        while !self.mapping.is_empty() {
            self.take_next();
        }
        if let Some(part) = self.in_turn.take() {
            self.take(part);
        }
        let Mapper {
            ctx,
            mut set,
            mut w,
            records:
                Records {
                    mut devices,
                    targets,
                    pending,
                    rollup_bytes,
                    rollup_states,
                },
            ..
        } = self;
        let options = &ctx.options;
        let users: HashMap<&str, &User> = lists
            .users
            .iter()
            .flatten()
            .filter_map(|u| u.user_id.as_deref().map(|id| (id, u)))
            .chain(
                lists
                    .users
                    .iter()
                    .flatten()
                    .filter_map(|u| u.user_uid.as_deref().map(|id| (id, u))),
            )
            .collect();
        let orgs: HashMap<&str, &str> = lists
            .orgs
            .iter()
            .flatten()
            .filter_map(|o| Some((o.org_id.as_deref()?, o.org_name.as_deref()?)))
            .collect();
        let mut rollups: HashMap<String, Rollup> = HashMap::new();
        for (device, p) in devices.iter_mut().zip(pending) {
            let user = p
                .user_id
                .as_deref()
                .or(p.user_uid.as_deref())
                .and_then(|u| users.get(u).copied());
            let user_label = user
                .and_then(|u| u.username.clone().or_else(|| u.email.clone()))
                .or(p.user_uid)
                .or(p.user_id);
            let org_id = p.org_id.or_else(|| user.and_then(|u| u.org_id.clone()));
            let org_label = org_id.as_deref().map(|oid| {
                orgs.get(oid)
                    .map(|n| (*n).to_owned())
                    .or_else(|| {
                        user.filter(|u| u.org_id.as_deref() == Some(oid))
                            .and_then(|u| u.org_name.clone())
                    })
                    .unwrap_or_else(|| oid.to_owned())
            });
            if options.org_rollups {
                if let Some(oid) = &org_id {
                    let r = match rollups.get_mut(oid) {
                        Some(r) => r,
                        None => rollups.entry(oid.clone()).or_default(),
                    };
                    for [selected, todo, archive, billable] in &rollup_bytes[p.bytes] {
                        r.selected += selected;
                        r.todo += todo;
                        r.archive += archive;
                        r.billable += billable;
                    }
                    r.name.clone_from(&org_label);
                    for s in &rollup_states[p.states] {
                        match r.states.get_mut(s.as_ref()) {
                            Some(n) => *n += 1.0,
                            None => {
                                r.states.insert(s.to_string(), 1.0);
                            }
                        }
                    }
                }
            }
            let known = [("user", user_label), ("org", org_label)];
            let known = known.into_iter().filter_map(|(k, v)| Some((k, v?)));
            device.info.splice(0..0, known);
        }
        render_devices(&mut set, &devices);
        if options.org_rollups {
            map_rollups(&mut set, &rollups);
        }
        let mut stores = Vec::new();
        if let Some(points) = &lists.store_points {
            let points: Vec<MountPoint> = points
                .iter()
                .filter_map(store_point_as_mount_point)
                .collect();
            stores = crashplan::map_mount_points(&mut set, "storePoints", &points, &mut w);
        }
        if let Some(servers) = &lists.servers {
            map_servers(&mut set, servers, &mut w);
        }
        Snapshot::rendered(devices, targets, set, w).with_stores(stores)
    }
}

/// One page of computers mapped on its own: its samples and warnings, its devices and targets,
/// and what they leave for [`Mapper::finish`], in the page's order.
struct Part {
    set: MetricSet,
    w: Warnings,
    records: Records,
    /// The page's computers so far, to keep one listed twice once.
    seen_ids: HashSet<String>,
    /// The labels of the device and of the target being mapped (buffers reused).
    device_labels: Labels,
    target_labels: Labels,
}

impl Part {
    fn new(ctx: &Context) -> Part {
        let origin = Origin {
            source: &ctx.source,
            exposure: &ctx.exposure,
        };
        Part {
            set: MetricSet::new(SYSTEM, origin),
            w: Warnings::at(ctx.judged_at),
            records: Records::default(),
            seen_ids: HashSet::new(),
            device_labels: Labels::default(),
            target_labels: Labels::default(),
        }
    }

    /// Maps a page of computers, the first of them the `first`th of the list.
    fn map(&mut self, ctx: &Context, first: usize, computers: Vec<Computer>) {
        self.reserve(ctx, &computers);
        for (k, c) in computers.into_iter().enumerate() {
            self.computer(ctx, first + k, c);
        }
    }

    /// Sizes the page's records and families for `computers`: they grow once, not by
    /// doubling (a part reused for later pages has them already).
    fn reserve(&mut self, ctx: &Context, computers: &[Computer]) {
        let devices = computers.len();
        let targets = computers
            .iter()
            .map(|c| c.backup_usage.len())
            .sum::<usize>();
        self.records.reserve(devices, targets);
        self.seen_ids.reserve(devices);
        let Some(sizing) = &ctx.sizing else {
            return;
        };
        // The samples of this shard's share (a hash partition: about even).
        let shards = ctx.exposure.shard().total().max(1) as usize;
        let (devices, targets) = if shards > 1 {
            let share = |n: usize| n * 5 / (4 * shards) + 16;
            (share(devices), share(targets))
        } else {
            (devices, targets)
        };
        crate::sources::reserve_targets(&mut self.set, targets, &sizing.like);
        for desc in [
            &crate::metrics::ALERT_STATE,
            &m::C42_BACKUP_BILLABLE,
            &m::C42_BACKUP_SEND_RATE,
            &m::C42_BACKUP_IN_USE,
        ] {
            self.set.reserve(desc, targets, sizing.target_labels);
        }
        for desc in [
            &m::C42_DEVICE_LAST_CONNECTED,
            &m::C42_DEVICE_CONNECTED,
            &m::C42_DEVICE_BLOCKED,
            &m::C42_DEVICE_ALERT_STATE,
        ] {
            self.set.reserve(desc, devices, sizing.device_labels);
        }
    }

    fn computer(&mut self, ctx: &Context, i: usize, c: Computer) {
        let Computer {
            computer_id,
            name,
            guid,
            status,
            active,
            blocked,
            alert_state,
            alert_states,
            user_id,
            user_uid,
            org_id,
            last_connected,
            creation_date,
            os_name,
            os_version,
            product_version,
            backup_usage,
        } = c;
        let options = &ctx.options;
        let w = &mut self.w;
        let set = &mut self.set;
        let active = w.flag(|| format!("computers[{i}].active"), &active);
        let deactivated = active == Some(false)
            || status
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("Deactivated"));
        if deactivated && !options.include_deactivated {
            return;
        }
        let Some(id) = guid.or(computer_id) else {
            w.push(|| format!("computers[{i}]: no guid or computerId; skipped"));
            return;
        };
        if self.seen_ids.contains(&id) {
            w.push(|| format!("computers[{i}]: guid {id} listed twice; kept once"));
            return;
        }
        self.seen_ids.insert(id.clone());
        let name = name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| id.clone());
        // In the order of `backup_device_info`'s labels; `user` and `org` come first, once
        // their lists are in.
        let mut info = Vec::with_capacity(6);
        for (k, v) in [
            ("status", status),
            ("os", os_name),
            ("os_version", os_version),
            ("version", product_version),
        ] {
            if let Some(v) = v {
                info.push((k, v));
            }
        }

        let dl = &mut self.device_labels;
        dl.set(&[("device", &name), ("device_id", &id)]);
        let dl = &*dl;
        let reference = ctx.reference;
        let within = options.connected_within.as_secs_f64();
        let last_connected = w.time(|| format!("computers[{i}].lastConnected"), &last_connected);
        let connected = last_connected.map(|t| reference - t <= within);
        if let (Some(t), Some(c)) = (last_connected, connected) {
            set.add_labels(&m::C42_DEVICE_LAST_CONNECTED, dl, t);
            set.add_labels(&m::C42_DEVICE_CONNECTED, dl, f64::from(u8::from(c)));
        }
        let created = w.time(|| format!("computers[{i}].creationDate"), &creation_date);
        // Blocked or deactivated devices, and destinations no longer used, do not back up.
        let blocked = w.flag(|| format!("computers[{i}].blocked"), &blocked);
        let device_paused = deactivated || blocked == Some(true);
        if let Some(b) = blocked {
            set.add_labels(&m::C42_DEVICE_BLOCKED, dl, f64::from(u8::from(b)));
        }
        let alert_state = w.num(|| format!("computers[{i}].alertState"), &alert_state);
        let device_states = states(&alert_states, alert_state);
        if !device_states.is_empty() {
            set.add_states_labels(
                &m::C42_DEVICE_ALERT_STATE,
                dl,
                m::CODE42_ALERT_STATES,
                device_states.as_slice(),
            );
        }

        // The states the device counts under in its org's rollup.
        let mut rollup_states: Vec<Cow<'static, str>> = Vec::new();
        if options.org_rollups {
            rollup_states.extend(device_states.iter().map(|s| state_name(s)));
        }
        let bytes_from = self.records.rollup_bytes.len();
        let targets_from = self.records.targets.len();
        for (j, mut u) in backup_usage.into_iter().enumerate() {
            let at = |field: &str| format!("computers[{i}].backupUsage[{j}].{field}");
            let named = |n: &Option<String>| n.as_deref().is_some_and(|n| !n.trim().is_empty());
            let target = if named(&u.target_computer_name) {
                u.target_computer_name.take()
            } else if named(&u.store_point_name) {
                u.store_point_name.clone()
            } else {
                u.target_computer_guid
                    .clone()
                    .or_else(|| u.target_computer_id.take())
            };
            let Some(mut target) = target else {
                w.push(|| format!("{}: no destination name or guid; skipped", at("")));
                continue;
            };
            let device_targets = &self.records.targets[targets_from..];
            if device_targets.iter().any(|t| t.target == target) {
                // Two destinations of one name: tell them apart by store point or guid.
                let by = u
                    .store_point_name
                    .as_deref()
                    .or(u.target_computer_guid.as_deref())
                    .unwrap_or("?");
                target = format!("{target} ({by})");
                if device_targets.iter().any(|t| t.target == target) {
                    w.push(|| {
                        format!("{}: destination {target:?} listed twice; kept once", at(""))
                    });
                    continue;
                }
            }
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
            if options.org_rollups {
                for s in alerts.iter() {
                    if !rollup_states.iter().any(|r| r == s) {
                        rollup_states.push(state_name(s));
                    }
                }
            }
            let target = BackupTarget {
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
            };
            let tl = &mut self.target_labels;
            crate::sources::set_target_labels(tl, &target);
            let tl = &*tl;
            if let Some(v) = billable_bytes {
                set.add_labels(&m::C42_BACKUP_BILLABLE, tl, v);
            }
            if let Some(v) = send_rate {
                set.add_labels(&m::C42_BACKUP_SEND_RATE, tl, v);
            }
            if let Some(v) = using {
                set.add_labels(&m::C42_BACKUP_IN_USE, tl, f64::from(u8::from(v)));
            }
            crate::sources::render_target(set, tl, &target);
            if options.org_rollups {
                self.records.rollup_bytes.push([
                    selected_bytes.unwrap_or(0.0),
                    todo_bytes.unwrap_or(0.0),
                    archive_bytes.unwrap_or(0.0),
                    billable_bytes.unwrap_or(0.0),
                ]);
            }
            self.records.targets.push(target);
        }
        let states_from = self.records.rollup_states.len();
        if options.org_rollups {
            if rollup_states.len() > 1 {
                rollup_states.retain(|s| s != "OK");
            }
            self.records.rollup_states.append(&mut rollup_states);
        }
        self.records.pending.push(Pending {
            user_id,
            user_uid,
            org_id,
            bytes: bytes_from..self.records.rollup_bytes.len(),
            states: states_from..self.records.rollup_states.len(),
        });
        self.records.devices.push(Device {
            name,
            id,
            info,
            connected,
            last_connected,
            offline_threshold: None,
        });
    }
}

/// The devices and targets of some pages, and what they leave for [`Mapper::finish`], in
/// order.
#[derive(Default)]
struct Records {
    devices: Vec<Device>,
    targets: Vec<BackupTarget>,
    /// Per device, what waits for the user and org lists.
    pending: Vec<Pending>,
    /// Per target with a device, in order: selected, to do, archive and billable bytes, for
    /// the org rollups (when they are on).
    rollup_bytes: Vec<[f64; 4]>,
    /// Per device, in order: the states its rollup counts.
    rollup_states: Vec<Cow<'static, str>>,
}

impl Records {
    /// Room for `devices` and `targets` more.
    fn reserve(&mut self, devices: usize, targets: usize) {
        self.devices.reserve(devices);
        self.pending.reserve(devices);
        self.targets.reserve(targets);
    }

    /// Moves the records of later pages after these, `later` left empty.
    fn append(&mut self, later: &mut Records) {
        let (bytes, states) = (self.rollup_bytes.len(), self.rollup_states.len());
        if bytes > 0 || states > 0 {
            for p in &mut later.pending {
                p.bytes = p.bytes.start + bytes..p.bytes.end + bytes;
                p.states = p.states.start + states..p.states.end + states;
            }
        }
        append(&mut self.pending, &mut later.pending);
        append(&mut self.devices, &mut later.devices);
        append(&mut self.targets, &mut later.targets);
        append(&mut self.rollup_bytes, &mut later.rollup_bytes);
        append(&mut self.rollup_states, &mut later.rollup_states);
    }
}

/// Moves the items of `from` after those of `to`; when `to` is empty and no larger, the two
/// trade buffers instead (a fleet mapped in turn is taken whole, not copied).
fn append<T>(to: &mut Vec<T>, from: &mut Vec<T>) {
    if to.is_empty() && to.capacity() <= from.capacity() {
        std::mem::swap(to, from);
    } else {
        to.append(from);
    }
}

/// A state's name, without a copy when it is one of the documented states.
fn state_name(s: &str) -> Cow<'static, str> {
    match m::CODE42_ALERT_STATES.iter().find(|k| **k == s) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(s.to_owned()),
    }
}

/// The alert states that hold, from an `alertStates` list (`OK` only when nothing else is
/// reported), or from the numeric `alertState` when the list is missing (0 is OK; other codes
/// have no documented name and give no state). Empty: nothing known.
fn states(list: &[String], numeric: Option<f64>) -> States<'_> {
    let mut out = States::None;
    for s in list {
        if s != "OK" && !out.contains(s) {
            out.push(s);
        }
    }
    if out.is_empty() && (!list.is_empty() || numeric == Some(0.0)) {
        out.push("OK");
    }
    out
}

/// The states of a device or a target: nearly always one, held without an allocation.
#[derive(Debug, Clone)]
enum States<'a> {
    None,
    One(&'a str),
    Many(Vec<&'a str>),
}

impl<'a> States<'a> {
    fn push(&mut self, state: &'a str) {
        *self = match std::mem::replace(self, States::None) {
            States::None => States::One(state),
            States::One(first) => States::Many(vec![first, state]),
            States::Many(mut all) => {
                all.push(state);
                States::Many(all)
            }
        };
    }

    fn as_slice(&self) -> &[&'a str] {
        match self {
            States::None => &[],
            States::One(state) => std::slice::from_ref(state),
            States::Many(all) => all,
        }
    }

    fn contains(&self, state: &str) -> bool {
        self.as_slice().contains(&state)
    }

    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    fn iter(&self) -> std::slice::Iter<'_, &'a str> {
        self.as_slice().iter()
    }
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
