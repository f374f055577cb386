//! OpenStack Freezer, `/v2/{project_id}` or `/v1` (`kind = "freezer"`).
//!
//! One refresh signs in (see [`keystone`]: a keystone v3 token and the `backup` endpoint of the
//! catalog; or a token file; or nothing behind a trusted proxy), asks the API's root which
//! generation it serves (`GET /`, 300 Multiple Choices: v2 preferred, else v1; asked again
//! after a failed refresh), and reads, for every configured project (default: the token's),
//! concurrently and read-only:
//! - `jobs`, `backups`: required;
//! - `clients`, `sessions`: optional (a server or account without them, 403/404, leaves their
//!   families out).
//!
//! Every list is paged with `limit`/`offset` to its end: the API has no total and no order;
//! the last page is the first shorter than the limit (an exact multiple ends with an empty
//! page). After a full first page, `concurrency` pages are asked for at once, so a long list
//! costs one round trip per `concurrency` pages (and up to `concurrency - 1` empty pages past
//! its end). Items repeated across pages (a list that shifted while being read) are kept once.
//! With an admin or service role, the `jobs` list of one project holds every project's jobs;
//! each job keeps its own `project_id`, and a job read twice counts once.
//!
//! Neutral records: each host is a device (`device` = hostname, `device_id` = its client_id:
//! the client of the backup's job, else the project's client registered with that hostname,
//! else `<project_id>_<hostname>`, freezer-scheduler's default client id). Each backup name of
//! a host is a target: its last success is the newest `time_stamp` of an `available` backup.

pub mod config;
pub mod cron;
mod demo;
pub mod families;
pub mod keystone;
pub mod model;
pub mod sim;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures_util::future::{try_join_all, BoxFuture};
use serde::de::DeserializeOwned;

use self::families as m;
use crate::exposition::{Desc, Exposure, Labels, MetricSet, Origin};
use crate::selfmetrics::SelfMetrics;
use crate::settings::{KeyError, SourceConfig};
use crate::sources::http::{Auth, TokenCache, Upstream, UpstreamError};
use crate::sources::values::Warnings;
use crate::sources::{BackupTarget, Demo, Device, OptionalCalls, Snapshot, Source, VendorSpec};
use config::{FreezerConfig, KeystoneAuth};
use keystone::{FileToken, Keystone, TokenFacts};
use model::{ApiVersion, Backup, ClientRecord, Job, Lenient, Schedule, Session};

const SYSTEM: &str = "freezer";

/// What one project's lists held (for v1, the token's project).
#[derive(Debug, Default)]
pub struct ProjectRead {
    /// The project the lists were read for (`None`: v1, and no project known).
    pub project_id: Option<String>,
    pub jobs: Vec<Job>,
    pub backups: Vec<Backup>,
    /// `None`: the server or account has no clients list.
    pub clients: Option<Vec<ClientRecord>>,
    /// `None`: the server or account has no sessions list.
    pub sessions: Option<Vec<Session>>,
}

/// Everything one refresh read.
#[derive(Debug, Default)]
pub struct Raw {
    pub projects: Vec<ProjectRead>,
    pub warnings: Warnings,
    /// When it was read (`None`: when it is mapped): the time cron-like schedules are read at.
    pub read_at: Option<f64>,
}

/// The OpenStack Freezer vendor, as the registry lists it.
pub struct OpenStackFreezer;

impl VendorSpec for OpenStackFreezer {
    type Section = FreezerConfig;
    const KIND: &'static str = SYSTEM;
    const SECRET_KEYS: &'static [&'static str] = config::SECRET_KEYS;
    const NEUTRAL_FAMILIES: &'static [&'static Desc] = &[
        &crate::metrics::DEVICE_INFO,
        &crate::metrics::LAST_SUCCESS,
        &crate::metrics::LAST_ACTIVITY,
        &crate::metrics::ARCHIVE_BYTES,
        &crate::metrics::LAST_RUN_FAILED,
        &crate::metrics::STALE_THRESHOLD,
        &crate::metrics::FIRST_SEEN,
    ];
    fn families() -> &'static [&'static Desc] {
        families::ALL
    }
    fn check(section: &mut FreezerConfig) -> Result<(), KeyError> {
        section.check()
    }
    fn build(
        cfg: &SourceConfig,
        section: &FreezerConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Box<dyn Source>, UpstreamError> {
        Ok(Box::new(Freezer::new(cfg, section, metrics)?))
    }
    fn demo(
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'static, Result<Box<dyn Demo>, String>> {
        Box::pin(demo::start(now))
    }
}

impl Source for Freezer {
    fn collect(&mut self) -> BoxFuture<'_, Result<Snapshot, UpstreamError>> {
        Box::pin(Freezer::collect(self))
    }
}

pub struct Freezer {
    upstream: Upstream,
    source: String,
    /// The families this source writes.
    exposure: Arc<Exposure>,
    /// Items per page, and pages requested at once after a full first page.
    paging: (usize, usize),
    projects: Option<Vec<String>>,
    facts: Arc<Mutex<TokenFacts>>,
    /// The API generation found at the root; asked again after a failed refresh.
    api: Option<ApiVersion>,
    optional: OptionalCalls,
}

impl Freezer {
    pub fn new(
        cfg: &SourceConfig,
        section: &FreezerConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Freezer, UpstreamError> {
        let facts: Arc<Mutex<TokenFacts>> = Arc::default();
        let mut upstream = Upstream::new(cfg, metrics)?;
        let auth = match section.auth_mode() {
            KeystoneAuth::Password | KeystoneAuth::ApplicationCredential => {
                Auth::Token(Box::new(TokenCache::new(
                    Box::new(Keystone::from_config(section, facts.clone())?),
                    section.token_max_age(),
                )))
            }
            KeystoneAuth::Token => {
                let file = section
                    .token_file
                    .clone()
                    .ok_or_else(|| UpstreamError::Config("`token_file` is required".into()))?;
                Auth::Token(Box::new(TokenCache::new(
                    Box::new(FileToken { file }),
                    section.token_max_age(),
                )))
            }
            KeystoneAuth::None => Auth::None,
        };
        if let (Some(endpoint), KeystoneAuth::Token | KeystoneAuth::None) =
            (&section.endpoint, section.auth_mode())
        {
            let (root, hint) = keystone::api_root(endpoint);
            upstream = upstream.with_base(root);
            let mut facts = facts.lock().unwrap_or_else(|p| p.into_inner());
            facts.version_hint = hint;
            // Without a token, the project an endpoint URL names is the default project.
            facts.project_id = keystone::project_in_path(endpoint);
        }
        Ok(Freezer {
            upstream: upstream.with_auth(auth),
            source: cfg.name.clone(),
            exposure: cfg.exposure.clone(),
            paging: (cfg.page_size, cfg.concurrency),
            projects: section.projects.clone(),
            facts,
            api: None,
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
        let read = self.read().await;
        if read.is_err() {
            // The server may have been upgraded or replaced: ask again next time.
            self.api = None;
        }
        let raw = read?;
        crate::sources::map_blocking(self.origin(), move |origin| map(raw, origin)).await
    }

    fn facts(&self) -> TokenFacts {
        self.facts.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn read(&mut self) -> Result<Raw, UpstreamError> {
        // The endpoint comes with the token: sign in before building any URL.
        self.upstream.sign_in().await?;
        let api = match self.api {
            Some(api) => api,
            None => {
                let api = self.discover().await?;
                tracing::debug!(source = %self.source, ?api, "Freezer API generation");
                self.api = Some(api);
                api
            }
        };
        let facts = self.facts();
        let projects: Vec<Option<String>> = match (api, &self.projects) {
            (ApiVersion::V2, Some(list)) => list.iter().cloned().map(Some).collect(),
            (ApiVersion::V2, None) => vec![Some(facts.project_id.clone().ok_or_else(|| {
                UpstreamError::Config(
                    "the token names no project: list the project ids to read in `projects`".into(),
                )
            })?)],
            (ApiVersion::V1, Some(list)) if list.len() > 1 => {
                return Err(UpstreamError::Config(format!(
                    "the server offers only the v1 API, whose paths name no project (it reads \
                     the token's): list one project in `projects`, not {}",
                    list.len()
                )))
            }
            (ApiVersion::V1, Some(list)) => vec![list.first().cloned()],
            (ApiVersion::V1, None) => vec![facts.project_id.clone()],
        };
        let reads = projects
            .iter()
            .map(|p| read_project(&self.upstream, self.paging, api, p.as_deref()));
        let results = try_join_all(reads).await?;
        let mut raw = Raw {
            read_at: Some(crate::time::unix_now()),
            ..Raw::default()
        };
        for (read, warnings, optional) in results {
            raw.warnings.merge(warnings);
            let (clients, sessions) = optional;
            let clients = self.optional.take(&self.source, "clients", clients)?;
            let sessions = self.optional.take(&self.source, "sessions", sessions)?;
            raw.projects.push(ProjectRead {
                clients,
                sessions,
                ..read
            });
        }
        Ok(raw)
    }

    /// Asks the root which API generation the server serves. A root that answers 404 (a proxy
    /// that forwards only the API paths) gets the generation the endpoint's URL names, else v2.
    async fn discover(&self) -> Result<ApiVersion, UpstreamError> {
        const ENDPOINT: &str = "versions";
        match self
            .upstream
            .get_answer(ENDPOINT, "/", |s| s.is_success() || s.as_u16() == 300)
            .await
        {
            Ok(answer) => {
                let doc: model::Versions = crate::sources::http::decode(ENDPOINT, &answer.body)?;
                doc.choose().ok_or_else(|| UpstreamError::Parse {
                    endpoint: ENDPOINT,
                    detail: format!(
                        "the version document offers neither v2 nor v1 (ids: {})",
                        doc.versions
                            .iter()
                            .filter_map(|v| v.id.as_deref())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })
            }
            Err(UpstreamError::NotFound { .. }) => {
                let api = self.facts().version_hint.unwrap_or(ApiVersion::V2);
                tracing::info!(source = %self.source, ?api, "the API root has no version document (404); using the endpoint's generation");
                Ok(api)
            }
            Err(e) => Err(e),
        }
    }
}

type OptionalLists = (
    Result<Vec<ClientRecord>, UpstreamError>,
    Result<Vec<Session>, UpstreamError>,
);

/// Reads one project's lists concurrently. Clients and sessions come back as results, to be
/// judged optional by the caller.
async fn read_project(
    up: &Upstream,
    (page_size, ahead): (usize, usize),
    api: ApiVersion,
    project: Option<&str>,
) -> Result<(ProjectRead, Warnings, OptionalLists), UpstreamError> {
    let prefix = match (api, project) {
        (ApiVersion::V2, Some(p)) => format!("/v2/{p}"),
        (ApiVersion::V2, None) => {
            return Err(UpstreamError::Internal("v2 read without a project".into()))
        }
        (ApiVersion::V1, _) => "/v1".to_owned(),
    };
    let mut warnings = Warnings::default();
    let (jobs, backups, clients, sessions) = tokio::join!(
        list::<Job>(up, &prefix, "jobs", page_size, ahead, |j| &j.job_id),
        list::<Backup>(up, &prefix, "backups", page_size, ahead, |b| &b.backup_id),
        list::<ClientRecord>(up, &prefix, "clients", page_size, ahead, |c| &c
            .client
            .client_id),
        list::<Session>(up, &prefix, "sessions", page_size, ahead, |s| &s.session_id),
    );
    let mut readable = |endpoint, r: Result<Vec<Lenient<_>>, UpstreamError>| {
        r.map(|items| model::readable(endpoint, items, &mut warnings))
    };
    let jobs = readable("jobs", jobs)?;
    let backups = model::readable("backups", backups?, &mut warnings);
    let clients = clients.map(|items| model::readable("clients", items, &mut warnings));
    let sessions = sessions.map(|items| model::readable("sessions", items, &mut warnings));
    Ok((
        ProjectRead {
            project_id: project.map(str::to_owned),
            jobs,
            backups,
            clients: None,
            sessions: None,
        },
        warnings,
        (clients, sessions),
    ))
}

/// Every page of `{prefix}/{collection}` (items under the key named like the collection).
async fn list<T: DeserializeOwned + Send + 'static>(
    up: &Upstream,
    prefix: &str,
    collection: &'static str,
    page_size: usize,
    ahead: usize,
    id: impl Fn(&T) -> &str,
) -> Result<Vec<Lenient<T>>, UpstreamError> {
    up.get_all_pages_ahead::<Lenient<T>>(
        collection,
        &format!("{prefix}/{collection}"),
        collection,
        &[],
        page_size,
        ahead,
        model::decode_page::<T>,
        |item| model::item_key(item, &id),
    )
    .await
}

// ---- mapping -------------------------------------------------------------------------------------

/// A host and the client it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct HostKey {
    project: String,
    device: String,
    device_id: String,
}

/// A job's resolved identity.
struct JobRef<'a> {
    job: &'a Job,
    project: String,
    device: String,
    device_id: String,
    plan: Plan,
}

/// What a job's schedule says about its backups at the time of the refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Plan {
    /// The scheduler will run it again: not finished, stopped or removed (see
    /// [`model::JobSchedule::active`]), its start date come, its end date not past, and (cron)
    /// a run still to come.
    expects: bool,
    /// The longest wait between two runs in seconds: the interval, or the longest gap of a
    /// cron-like schedule; `None`: unknown (one-shot, continuous, unreadable, no schedule).
    period: Option<f64>,
    /// Since when backups are expected: the job's creation time, or its start date if later.
    since: Option<f64>,
}

/// The cron-like schedules already walked in one refresh (a fleet's jobs share a few): whether
/// a run is still to come, and the longest gap.
type Gaps = HashMap<(String, cron::Bounds), (bool, Option<f64>)>;

/// Reads a job's schedule at `now`, telling `warnings` once what cannot be read (the job then
/// keeps the source's default threshold).
fn plan(job: &Job, now: f64, gaps: &mut Gaps, warnings: &mut Warnings) -> Plan {
    let js = &job.job_schedule;
    let at = cron::naive(now);
    let tell = |warnings: &mut Warnings, e: &cron::Unreadable| {
        warnings.push(|| {
            format!(
                "jobs[{}].job_schedule.{e}; the job keeps the default stale threshold",
                job.job_id
            )
        })
    };
    let bounds = js.bounds().unwrap_or_else(|e| {
        tell(warnings, &e);
        cron::Bounds::default()
    });
    let mut plan = Plan {
        expects: js.active() && bounds.started(at) && !bounds.ended(at),
        period: None,
        since: match (js.created(), bounds.start) {
            (Some(c), Some(s)) => Some(c.max(s.and_utc().timestamp() as f64)),
            (c, _) => c,
        },
    };
    match js.schedule() {
        Schedule::Every(p) if p > 0.0 => plan.period = Some(p),
        Schedule::Unreadable(text) => warnings.push(|| {
            format!(
                "jobs: {}: schedule_interval {text:?} is not \"<n> <unit>\"",
                job.job_id
            )
        }),
        Schedule::Cron => match js.cron() {
            Ok(Some(c)) => {
                let (runs, gap) = *gaps
                    .entry((c.pattern.clone(), bounds))
                    .or_insert_with(|| (c.runs_after(at), c.longest_gap(at)));
                plan.expects &= runs;
                plan.period = gap;
            }
            Ok(None) => {}
            Err(e) => tell(warnings, &e),
        },
        _ => {}
    }
    plan
}

#[derive(Default)]
struct HostAgg {
    by_status: BTreeMap<String, (u64, f64)>,
    compressed: Option<f64>,
    uncompressed: Option<f64>,
    /// The newest backup's client os and version.
    newest: Option<(f64, Option<String>, Option<String>)>,
}

#[derive(Default)]
struct TargetAgg {
    last_success: Option<f64>,
    last_activity: Option<f64>,
    archive: Option<f64>,
    oldest: Option<f64>,
    /// Time and status of the newest backup record.
    newest: Option<(f64, String)>,
    /// Jobs whose backup actions write the target (indices into the jobs).
    jobs: Vec<usize>,
}

fn max_opt(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a.map_or(b, |a| a.max(b)))
}

fn min_opt(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn add_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// freezer-scheduler's client id of a host: `<project_id>_<hostname>`.
fn default_client_id(project: &str, host: &str) -> String {
    if project.is_empty() {
        host.to_owned()
    } else {
        format!("{project}_{host}")
    }
}

/// Maps what a refresh read into the snapshot.
pub fn map<'a>(raw: Raw, source: impl Into<Origin<'a>>) -> Snapshot {
    let Raw {
        mut projects,
        mut warnings,
        read_at,
    } = raw;
    let now = read_at.unwrap_or_else(crate::time::unix_now);
    // Unreadable and implausible values are told once here and dropped, so that the readings
    // below, however many, see only good ones.
    for p in &mut projects {
        p.backups.iter_mut().for_each(|b| b.check(&mut warnings));
        p.jobs.iter_mut().for_each(|j| j.check(&mut warnings));
        for s in p.sessions.iter_mut().flatten() {
            s.check(&mut warnings);
        }
    }
    let mut set = MetricSet::new(SYSTEM, source);
    // Compressed on a thread of its own while the hosts are mapped.
    set.compress_beside();

    // Clients, once each (central clients show in every project's list).
    let mut clients: BTreeMap<String, (String, &ClientRecord)> = BTreeMap::new();
    let mut clients_per_project: BTreeMap<String, u64> = BTreeMap::new();
    for p in &projects {
        let Some(list) = &p.clients else { continue };
        let read_for = p.project_id.clone().unwrap_or_default();
        clients_per_project.entry(read_for.clone()).or_default();
        for c in list {
            let project = c.project_id.clone().unwrap_or_else(|| read_for.clone());
            clients
                .entry(c.client.client_id.clone())
                .or_insert((project, c));
        }
    }
    let mut by_host: HashMap<(&str, &str), &str> = HashMap::new();
    for (client_id, (project, c)) in &clients {
        *clients_per_project.entry(project.clone()).or_default() += 1;
        if let Some(host) = c.client.hostname() {
            by_host.entry((project.as_str(), host)).or_insert(client_id);
        }
    }
    let client_host = |client_id: &str| -> Option<&str> {
        clients
            .get(client_id)
            .and_then(|(_, c)| c.client.hostname())
    };

    // Jobs, once each (an admin's jobs list holds every project's).
    let mut seen_jobs = HashSet::new();
    let mut jobs: Vec<JobRef> = Vec::new();
    let mut gaps = Gaps::new();
    for p in &projects {
        for job in &p.jobs {
            if !seen_jobs.insert(job.job_id.as_str()) {
                continue;
            }
            let project = job
                .project_id
                .clone()
                .or_else(|| p.project_id.clone())
                .unwrap_or_default();
            let client_id = job.client_id.as_deref().map(str::trim).unwrap_or("");
            let device = client_host(client_id)
                .or_else(|| job.action_hostname())
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    client_id
                        .strip_prefix(&format!("{project}_"))
                        .unwrap_or(client_id)
                        .to_owned()
                });
            let device_id = if client_id.is_empty() && !device.is_empty() {
                default_client_id(&project, &device)
            } else {
                client_id.to_owned()
            };
            jobs.push(JobRef {
                plan: plan(job, now, &mut gaps, &mut warnings),
                job,
                project,
                device,
                device_id,
            });
        }
    }
    jobs.sort_by(|a, b| (&a.project, &a.job.job_id).cmp(&(&b.project, &b.job.job_id)));
    let job_index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.job.job_id.as_str(), i))
        .collect();

    // Backups: per host and per target.
    let mut hosts: BTreeMap<HostKey, HostAgg> = BTreeMap::new();
    let mut targets: BTreeMap<(String, String, String), TargetAgg> = BTreeMap::new();
    let mut newest_ok_by_job: HashMap<&str, f64> = HashMap::new();
    // Backups need no de-duplication here: paging keeps each once per list, a backup list
    // never spans projects, and a project is read once.
    for p in &projects {
        let read_for = p.project_id.clone().unwrap_or_default();
        for b in &p.backups {
            let md = &b.backup_metadata;
            let project = b.project_id.clone().unwrap_or_else(|| read_for.clone());
            let job = md
                .job_id()
                .and_then(|id| job_index.get(id))
                .map(|&i| &jobs[i]);
            let Some(host) = md.hostname().or(job.map(|j| j.device.as_str())) else {
                warnings.push(|| format!("backups: {} names no host", b.backup_id));
                continue;
            };
            let device_id = job
                .filter(|j| !j.device_id.is_empty())
                .map(|j| j.device_id.clone())
                .or_else(|| {
                    by_host
                        .get(&(project.as_str(), host))
                        .map(|c| (*c).to_owned())
                })
                .unwrap_or_else(|| default_client_id(&project, host));
            let status = b.status();
            let time = md.time();
            let agg = hosts
                .entry(HostKey {
                    project,
                    device: host.to_owned(),
                    device_id: device_id.clone(),
                })
                .or_default();
            let entry = agg
                .by_status
                .entry(status.to_owned())
                .or_insert((0, f64::NAN));
            entry.0 += 1;
            if let Some(t) = time {
                entry.1 = if entry.1.is_nan() { t } else { entry.1.max(t) };
                if agg.newest.as_ref().is_none_or(|(n, ..)| t > *n) {
                    agg.newest = Some((t, md.client_os.clone(), md.client_version.clone()));
                }
            }
            let available = status == "available";
            if available {
                agg.compressed = add_opt(agg.compressed, md.size_compressed());
                agg.uncompressed = add_opt(agg.uncompressed, md.size_uncompressed());
                if let (Some(job_id), Some(t)) = (md.job_id(), time) {
                    let n = newest_ok_by_job.entry(job_id).or_insert(t);
                    *n = n.max(t);
                }
            }
            let Some(name) = md.backup_name() else {
                continue;
            };
            let t = targets
                .entry((host.to_owned(), device_id, name.to_owned()))
                .or_default();
            if let Some(time) = time {
                t.last_activity = max_opt(t.last_activity, time);
                t.oldest = min_opt(t.oldest, time);
                if available {
                    t.last_success = max_opt(t.last_success, time);
                }
                if t.newest.as_ref().is_none_or(|(n, _)| time > *n) {
                    t.newest = Some((time, status.to_owned()));
                }
            }
            if available {
                t.archive = add_opt(t.archive, md.size_compressed());
            }
        }
    }
    for (i, j) in jobs.iter().enumerate() {
        if j.device.is_empty() {
            continue;
        }
        for name in j.job.backup_names() {
            targets
                .entry((j.device.clone(), j.device_id.clone(), name.to_owned()))
                .or_default()
                .jobs
                .push(i);
        }
    }

    // Devices: every host with backups, every client, every job's host.
    let mut devices: BTreeMap<(String, String), Device> = BTreeMap::new();
    let mut add_device =
        |name: &str,
         id: &str,
         project: &str,
         newest: Option<&(f64, Option<String>, Option<String>)>| {
            let d = devices
                .entry((name.to_owned(), id.to_owned()))
                .or_insert_with(|| Device {
                    name: name.to_owned(),
                    id: id.to_owned(),
                    ..Device::default()
                });
            if d.info.is_empty() {
                let text = |v: Option<&Option<String>>| {
                    v.and_then(|v| v.as_deref())
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                d.info = [
                    ("org", Some(project.to_owned()).filter(|p| !p.is_empty())),
                    ("os", text(newest.map(|n| &n.1))),
                    ("version", text(newest.map(|n| &n.2))),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            }
        };
    for (k, agg) in &hosts {
        add_device(&k.device, &k.device_id, &k.project, agg.newest.as_ref());
    }
    for (client_id, (project, c)) in &clients {
        let host = c.client.hostname().unwrap_or(client_id.as_str());
        add_device(host, client_id, project, None);
    }
    for j in &jobs {
        if !j.device.is_empty() {
            add_device(&j.device, &j.device_id, &j.project, None);
        }
    }

    // Targets.
    let mut backup_targets = Vec::with_capacity(targets.len());
    for ((device, device_id, name), t) in &targets {
        let writers: Vec<&JobRef> = t.jobs.iter().map(|&i| &jobs[i]).collect();
        let active: Vec<&JobRef> = writers.iter().copied().filter(|j| j.plan.expects).collect();
        // The newest finished run with a result of any job writing the target.
        let by_jobs = writers
            .iter()
            .filter_map(|j| {
                let js = &j.job.job_schedule;
                let failed = match js.result()? {
                    "success" => false,
                    "fail" => true,
                    _ => return None,
                };
                Some((js.ended().or(js.started()).unwrap_or(0.0), failed))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, failed)| failed);
        let by_backups = t
            .newest
            .as_ref()
            .and_then(|(_, status)| match status.as_str() {
                "available" => Some(false),
                "error" => Some(true),
                _ => None,
            });
        let started = writers
            .iter()
            .filter_map(|j| j.job.job_schedule.started())
            .fold(None, |acc: Option<f64>, t| max_opt(acc, t));
        let created = writers
            .iter()
            .filter_map(|j| j.plan.since)
            .fold(None, |acc: Option<f64>, t| min_opt(acc, t));
        let period = active
            .iter()
            .filter_map(|j| j.plan.period)
            .fold(None, |acc: Option<f64>, p| min_opt(acc, p));
        backup_targets.push(BackupTarget {
            device: device.clone(),
            device_id: device_id.clone(),
            target: name.clone(),
            last_success: t.last_success,
            last_activity: match (t.last_activity, started) {
                (Some(a), Some(s)) => Some(a.max(s)),
                (a, s) => a.or(s),
            },
            archive_bytes: t.archive,
            last_run_failed: by_jobs.or(by_backups),
            first_seen: match (t.oldest, created) {
                (Some(a), Some(c)) => Some(a.min(c)),
                (a, c) => a.or(c),
            },
            // Only a job the scheduler will run again makes a backup expected.
            paused: active.is_empty(),
            schedule_period: period,
            ..BackupTarget::default()
        });
    }

    // Jobs.
    for j in &jobs {
        let js = &j.job.job_schedule;
        let l = Labels::new(&[
            ("project_id", &j.project),
            ("job_id", &j.job.job_id),
            ("device", &j.device),
            ("device_id", &j.device_id),
        ]);
        let schedule = js.schedule();
        let text = |v: &Option<String>| v.as_deref().unwrap_or("").to_owned();
        let names = j.job.backup_names().join(",");
        let kinds = j.job.action_kinds();
        let client_id = text(&j.job.client_id);
        let description = text(&j.job.description);
        let session = text(&j.job.session_id);
        set.add(
            &m::FZ_JOB_INFO,
            &[
                ("project_id", &j.project),
                ("job_id", &j.job.job_id),
                ("device", &j.device),
                ("device_id", &j.device_id),
                ("client_id", &client_id),
                ("description", &description),
                ("session_id", &session),
                ("schedule", schedule.label(js)),
                ("actions", &kinds),
                ("backup_name", &names),
            ],
            1.0,
        );
        let status: Vec<&str> = js.status().into_iter().collect();
        set.add_states_labels(&m::FZ_JOB_STATUS, &l, m::FREEZER_JOB_STATUSES, &status);
        if let Some(result) = js.result() {
            let active: Vec<&str> = Some(result).filter(|r| !r.is_empty()).into_iter().collect();
            set.add_states_labels(&m::FZ_JOB_LAST_RESULT, &l, m::FREEZER_RESULTS, &active);
        }
        for (desc, value) in [
            (&m::FZ_JOB_LAST_START, js.started()),
            (&m::FZ_JOB_LAST_END, js.ended()),
            (&m::FZ_JOB_CREATED, js.created()),
        ] {
            if let Some(v) = value {
                set.add_labels(desc, &l, v);
            }
        }
        let last_success = match (js.result(), js.ended()) {
            (Some("success"), Some(end)) => Some(end),
            _ => newest_ok_by_job.get(j.job.job_id.as_str()).copied(),
        };
        if let Some(t) = last_success {
            set.add_labels(&m::FZ_JOB_LAST_SUCCESS, &l, t);
        }
    }

    // Backups per host.
    for (k, agg) in &hosts {
        let l = Labels::new(&[
            ("project_id", &k.project),
            ("device", &k.device),
            ("device_id", &k.device_id),
        ]);
        let mut statuses: Vec<&str> = m::FREEZER_BACKUP_STATUSES.to_vec();
        statuses.extend(
            agg.by_status
                .keys()
                .map(String::as_str)
                .filter(|s| !m::FREEZER_BACKUP_STATUSES.contains(s)),
        );
        let mut with_status = |desc, status: &str, value: f64| {
            let mut sl = l.clone();
            sl.push("status", status);
            set.add_labels(desc, &sl, value);
        };
        for status in &statuses {
            let (count, _) = agg.by_status.get(*status).copied().unwrap_or((0, f64::NAN));
            with_status(&m::FZ_BACKUPS, status, count as f64);
        }
        for (status, (_, newest)) in &agg.by_status {
            if !newest.is_nan() {
                with_status(&m::FZ_BACKUP_NEWEST, status, *newest);
            }
        }
        if let Some(v) = agg.compressed {
            set.add_labels(&m::FZ_BACKUP_COMPRESSED, &l, v);
        }
        if let Some(v) = agg.uncompressed {
            set.add_labels(&m::FZ_BACKUP_UNCOMPRESSED, &l, v);
        }
    }

    // Clients.
    for (project, n) in &clients_per_project {
        set.add(&m::FZ_CLIENTS, &[("project_id", project)], *n as f64);
    }
    for (client_id, (project, c)) in &clients {
        let host = c.client.hostname().unwrap_or(client_id.as_str());
        let uuid = c.client.uuid.clone().unwrap_or_default();
        let description = c.client.description.clone().unwrap_or_default();
        let central = c
            .client
            .is_central
            .as_ref()
            .and_then(|b| b.get())
            .map(|b| b.to_string())
            .unwrap_or_default();
        set.add(
            &m::FZ_CLIENT_INFO,
            &[
                ("project_id", project),
                ("device", host),
                ("device_id", client_id),
                ("uuid", &uuid),
                ("description", &description),
                ("is_central", &central),
            ],
            1.0,
        );
    }

    // Sessions.
    let mut seen_sessions = HashSet::new();
    let mut sessions: Vec<(String, &Session)> = Vec::new();
    for p in &projects {
        for s in p.sessions.iter().flatten() {
            if seen_sessions.insert(s.session_id.as_str()) {
                let project = s
                    .project_id
                    .clone()
                    .or_else(|| p.project_id.clone())
                    .unwrap_or_default();
                sessions.push((project, s));
            }
        }
    }
    sessions.sort_by(|a, b| (&a.0, &a.1.session_id).cmp(&(&b.0, &b.1.session_id)));
    for (project, s) in &sessions {
        let l = Labels::new(&[("project_id", project), ("session_id", &s.session_id)]);
        let description = s.description.clone().unwrap_or_default();
        set.add(
            &m::FZ_SESSION_INFO,
            &[
                ("project_id", project),
                ("session_id", &s.session_id),
                ("description", &description),
                ("schedule", s.schedule.schedule().label(&s.schedule)),
            ],
            1.0,
        );
        let status: Vec<&str> = s.status().into_iter().collect();
        set.add_states_labels(
            &m::FZ_SESSION_STATUS,
            &l,
            m::FREEZER_SESSION_STATUSES,
            &status,
        );
        if let Some(result) = s.result() {
            set.add_states_labels(
                &m::FZ_SESSION_LAST_RESULT,
                &l,
                m::FREEZER_RESULTS,
                &[result],
            );
        }
        for (desc, value) in [
            (&m::FZ_SESSION_LAST_START, s.started()),
            (&m::FZ_SESSION_LAST_END, s.ended()),
        ] {
            if let Some(v) = value {
                set.add_labels(desc, &l, v);
            }
        }
        set.add_labels(&m::FZ_SESSION_JOBS, &l, s.jobs.len() as f64);
    }

    Snapshot::new(
        devices.into_values().collect(),
        backup_targets,
        set,
        warnings,
    )
}
