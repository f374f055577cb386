//! The Freezer source against the REAL OpenStack freezer-api 19.0.0 (PyPI; SQLite backend,
//! keystone replaced by a no-auth filter): `tests/common/freezer_real.rs` starts it through
//! `scripts/freezer-api.sh` and seeds it over its v2 API the way freezer-scheduler and
//! freezer-agent do; the exporter then reads it with `kind = "freezer"`, `auth = "none"`, and
//! every value it exports is compared with the seeded facts.
//!
//! Needs the venv `scripts/test.sh` prepares (`bash scripts/freezer-api.sh install`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sources::Source;
use common::freezer_real::{seed, Facts, FreezerApi, JobFacts, PROJECT_A, PROJECT_B};
use common::{samples, EVERY_FAMILY};

const SOURCE: &str = "openstack";
/// The default stale threshold (3 days): every scheduled job of the fleet runs at most daily,
/// and one period plus a day of slack stays below it.
const STALE_THRESHOLD: f64 = 3.0 * 86_400.0;

const JOB_STATUSES: &[&str] = &[
    "scheduled",
    "running",
    "completed",
    "stop",
    "aborting",
    "removed",
];
const RESULTS: &[&str] = &["success", "fail", "aborted"];
const SESSION_STATUSES: &[&str] = &["active", "running", "completed"];

/// Every family the source may export (spec of issue 7), neutral ones first.
const NEUTRAL_FAMILIES: &[&str] = &[
    "backup_last_success_timestamp_seconds",
    "backup_last_activity_timestamp_seconds",
    "backup_archive_bytes",
    "backup_last_run_failed",
    "backup_stale_threshold_seconds",
    "backup_first_seen_timestamp_seconds",
    "backup_device_info",
];
const FREEZER_FAMILIES: &[&str] = &[
    "freezer_job_info",
    "freezer_job_status",
    "freezer_job_last_result",
    "freezer_job_last_start_timestamp_seconds",
    "freezer_job_last_end_timestamp_seconds",
    "freezer_job_created_timestamp_seconds",
    "freezer_job_last_success_timestamp_seconds",
    "freezer_backups",
    "freezer_backup_newest_timestamp_seconds",
    "freezer_backup_compressed_bytes",
    "freezer_backup_uncompressed_bytes",
    "freezer_clients",
    "freezer_client_info",
    "freezer_session_info",
    "freezer_session_status",
    "freezer_session_last_result",
    "freezer_session_last_start_timestamp_seconds",
    "freezer_session_last_end_timestamp_seconds",
    "freezer_session_jobs",
];

/// `concurrency` 1 reads one page at a time (exactly the pages needed); more asks for that
/// many pages at once after a full first page.
fn config(url: &str, projects: &[&str], page_size: usize, concurrency: usize) -> Config {
    let projects: Vec<String> = projects.iter().map(|p| format!("\"{p}\"")).collect();
    Config::from_toml_str(&format!(
        r#"
        {EVERY_FAMILY}
        [[source]]
        name = "{SOURCE}"
        kind = "freezer"
        auth = "none"
        endpoint = "{url}"
        projects = [{}]
        page_size = {page_size}
        concurrency = {concurrency}
        timeout = "10s"
        "#,
        projects.join(", ")
    ))
    .expect("freezer test configuration is valid")
}

/// One refresh of a fresh exporter with `cfg`: the exposition text.
async fn refresh(cfg: &Config, api: &FreezerApi) -> String {
    let (exporter, mut sources): (Arc<Exporter>, Vec<Box<dyn Source>>) =
        Exporter::new(cfg).expect("exporter from the test configuration");
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    if let Outcome::Failed { reason, message } = &outcome {
        panic!(
            "refresh failed: {reason}: {message}\nfreezer-api log (end):\n{}",
            tail(&api.log(), 40)
        );
    }
    String::from_utf8(exporter.rendered().text().to_vec()).unwrap()
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ------------------------------------------------------------------------------------------
// Series keys and comparison
// ------------------------------------------------------------------------------------------

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `name{k="v",...}` with the labels in the order given, as the exposition writes them.
fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
        .collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// A series key split into its name and labels (values unescaped).
fn parse_key(key: &str) -> (String, Vec<(String, String)>) {
    let Some((name, rest)) = key.split_once('{') else {
        return (key.to_owned(), Vec::new());
    };
    let mut labels = Vec::new();
    let mut chars = rest.strip_suffix('}').expect("labels end with }").chars();
    loop {
        let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if label.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label value quoted in {key}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(c) => value.push(c),
                    None => panic!("dangling escape in {key}"),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((label.trim_start_matches(',').to_owned(), value));
        match chars.next() {
            Some(',') | None => {}
            Some(c) => panic!("unexpected {c:?} after a label value in {key}"),
        }
    }
    (name.to_owned(), labels)
}

/// The series of a family in an exposition map: full key → value.
fn family(got: &BTreeMap<String, f64>, name: &str) -> BTreeMap<String, f64> {
    let prefix = format!("{name}{{");
    got.range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Collects every difference, so one run shows all of them.
#[derive(Default)]
struct Check {
    problems: Vec<String>,
}

impl Check {
    fn fail(&mut self, p: String) {
        self.problems.push(p);
    }

    fn ok(&mut self, cond: bool, p: impl FnOnce() -> String) {
        if !cond {
            self.fail(p());
        }
    }

    /// The family `name` must hold exactly `want` (keys and values).
    fn family(&mut self, got: &BTreeMap<String, f64>, name: &str, want: &BTreeMap<String, f64>) {
        let have = family(got, name);
        for (k, v) in want {
            match have.get(k) {
                None => self.fail(format!("missing   {k} (want {v})")),
                Some(h) if h != v => self.fail(format!("wrong     {k} = {h}, want {v}")),
                Some(_) => {}
            }
        }
        for (k, v) in &have {
            if !want.contains_key(k) {
                self.fail(format!("unexpected {k} = {v}"));
            }
        }
    }

    fn finish(self, facts: &Facts, text: &str) {
        if !self.problems.is_empty() {
            panic!(
                "{} problem(s):\n  {}\n\nseeded facts:\n{}\nexposition:\n{}",
                self.problems.len(),
                self.problems.join("\n  "),
                facts.table(),
                text.lines()
                    .filter(|l| !l.starts_with('#'))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// What the exporter must export, from the facts
// ------------------------------------------------------------------------------------------

fn neutral(name: &str, device: &str, device_id: &str, target: &str) -> String {
    key(
        name,
        &[
            ("system", "freezer"),
            ("source", SOURCE),
            ("device", device),
            ("device_id", device_id),
            ("target", target),
        ],
    )
}

fn ts(t: i64) -> f64 {
    t as f64
}

/// Expected series per family, for the projects read.
fn expected(facts: &Facts, projects: &[&str]) -> BTreeMap<&'static str, BTreeMap<String, f64>> {
    let mut e: BTreeMap<&'static str, BTreeMap<String, f64>> = BTreeMap::new();
    let mut put = |family: &'static str, k: String, v: f64| {
        e.entry(family).or_default().insert(k, v);
    };
    let read = |p: &str| projects.contains(&p);

    // Vendor-neutral, per (device, device_id, target).
    for t in facts.targets.iter().filter(|t| read(&t.project)) {
        let k = |name| neutral(name, &t.device, &t.device_id, &t.target);
        if let Some(v) = t.last_success {
            put(NEUTRAL_FAMILIES[0], k(NEUTRAL_FAMILIES[0]), ts(v));
        }
        if let Some(v) = t.last_activity {
            put(NEUTRAL_FAMILIES[1], k(NEUTRAL_FAMILIES[1]), ts(v));
        }
        if let Some(v) = t.archive_bytes {
            put(NEUTRAL_FAMILIES[2], k(NEUTRAL_FAMILIES[2]), v as f64);
        }
        if let Some(v) = t.last_run_failed {
            put(
                NEUTRAL_FAMILIES[3],
                k(NEUTRAL_FAMILIES[3]),
                f64::from(u8::from(v)),
            );
        }
        if t.scheduled {
            // A schedule longer than the default raises it to its longest gap plus a day.
            let threshold = t.longest_gap.map_or(STALE_THRESHOLD, |g| {
                STALE_THRESHOLD.max((g + 86_400) as f64)
            });
            put(NEUTRAL_FAMILIES[4], k(NEUTRAL_FAMILIES[4]), threshold);
        }
    }

    // Jobs.
    for j in facts.jobs.iter().filter(|j| read(&j.project)) {
        let base = job_labels(j);
        let with = |extra: (&'static str, &'static str)| {
            let mut l: Vec<(&str, &str)> = base.clone();
            l.push(extra);
            l
        };
        let status = j.status.as_deref().unwrap_or("");
        for s in JOB_STATUSES {
            // State sets write only the state that holds.
            if status == *s {
                put(
                    "freezer_job_status",
                    key("freezer_job_status", &with(("status", s))),
                    1.0,
                );
            }
        }
        let ran = match j.result.as_deref() {
            None => false,
            Some("") => j.time_started != -1,
            Some(_) => true,
        };
        if ran {
            let result = j.result.as_deref().unwrap_or("");
            for r in RESULTS {
                // State sets write only the state that holds.
                if result == *r {
                    put(
                        "freezer_job_last_result",
                        key("freezer_job_last_result", &with(("result", r))),
                        1.0,
                    );
                }
            }
        }
        for (family, t) in [
            ("freezer_job_last_start_timestamp_seconds", j.time_started),
            ("freezer_job_last_end_timestamp_seconds", j.time_ended),
            ("freezer_job_created_timestamp_seconds", j.time_created),
        ] {
            if t >= 0 {
                put(family, key(family, &base), ts(t));
            }
        }
        if let Some(t) = j.last_success {
            let f = "freezer_job_last_success_timestamp_seconds";
            put(f, key(f, &base), ts(t));
        }
    }

    // Backups per host.
    for h in facts.hosts.iter().filter(|h| read(&h.project)) {
        let base = [
            ("source", SOURCE),
            ("project_id", h.project.as_str()),
            ("device", h.hostname.as_str()),
            ("device_id", h.device_id.as_str()),
        ];
        let with = |family: &str, status: &str| {
            let mut l = base.to_vec();
            l.push(("status", status));
            key(family, &l)
        };
        for (status, n) in &h.counts {
            put(
                "freezer_backups",
                with("freezer_backups", status),
                *n as f64,
            );
        }
        for (status, t) in &h.newest {
            let f = "freezer_backup_newest_timestamp_seconds";
            put(f, with(f, status), ts(*t));
        }
        if let Some(v) = h.compressed_bytes {
            let f = "freezer_backup_compressed_bytes";
            put(f, key(f, &base), v as f64);
        }
        if let Some(v) = h.uncompressed_bytes {
            let f = "freezer_backup_uncompressed_bytes";
            put(f, key(f, &base), v as f64);
        }
    }

    // Clients per project.
    for p in projects {
        let n = facts.clients.iter().filter(|c| c.project == *p).count();
        put(
            "freezer_clients",
            key("freezer_clients", &[("source", SOURCE), ("project_id", p)]),
            n as f64,
        );
    }

    // Sessions.
    for s in facts.sessions.iter().filter(|s| read(&s.project)) {
        let base = [
            ("source", SOURCE),
            ("project_id", s.project.as_str()),
            ("session_id", s.session_id.as_str()),
        ];
        for st in SESSION_STATUSES {
            let mut l = base.to_vec();
            l.push(("status", st));
            // State sets write only the state that holds.
            if s.status == *st {
                put(
                    "freezer_session_status",
                    key("freezer_session_status", &l),
                    1.0,
                );
            }
        }
        if let Some(result) = s.result.as_deref().filter(|r| !r.is_empty()) {
            for r in RESULTS {
                let mut l = base.to_vec();
                l.push(("result", r));
                // State sets write only the state that holds.
                if result == *r {
                    put(
                        "freezer_session_last_result",
                        key("freezer_session_last_result", &l),
                        1.0,
                    );
                }
            }
        }
        for (family, t) in [
            ("freezer_session_last_start_timestamp_seconds", s.time_start),
            ("freezer_session_last_end_timestamp_seconds", s.time_end),
        ] {
            if t >= 0 {
                put(family, key(family, &base), ts(t));
            }
        }
        put(
            "freezer_session_jobs",
            key("freezer_session_jobs", &base),
            s.jobs.len() as f64,
        );
    }
    e
}

fn job_labels(j: &JobFacts) -> Vec<(&'static str, &str)> {
    vec![
        ("source", SOURCE),
        ("project_id", j.project.as_str()),
        ("job_id", j.job_id.as_str()),
        ("device", j.hostname.as_str()),
        ("device_id", j.client_id.as_str()),
    ]
}

/// The `_info` families, whose `schedule` and `actions` labels have no fixed spelling in the
/// spec: every other label exactly, those two non-empty (and naming the job's actions).
fn check_info(c: &mut Check, got: &BTreeMap<String, f64>, facts: &Facts, projects: &[&str]) {
    let read = |p: &str| projects.contains(&p);
    let names = |labels: &[(String, String)]| -> Vec<String> {
        labels.iter().map(|(k, _)| k.clone()).collect()
    };
    let get = |labels: &[(String, String)], k: &str| -> String {
        labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };

    let mut seen = BTreeSet::new();
    for (k, v) in family(got, "freezer_job_info") {
        let (_, labels) = parse_key(&k);
        c.ok(
            names(&labels)
                == [
                    "source",
                    "project_id",
                    "job_id",
                    "device",
                    "device_id",
                    "client_id",
                    "description",
                    "session_id",
                    "schedule",
                    "actions",
                    "backup_name",
                ],
            || format!("labels of {k}"),
        );
        c.ok(v == 1.0, || format!("{k} = {v}, want 1"));
        let id = get(&labels, "job_id");
        let Some(j) = facts.jobs.iter().find(|j| j.job_id == id) else {
            c.fail(format!("unexpected {k} (no such job seeded)"));
            continue;
        };
        seen.insert(j.key.clone());
        let want = [
            ("source", SOURCE),
            ("project_id", j.project.as_str()),
            ("device", j.hostname.as_str()),
            ("device_id", j.client_id.as_str()),
            ("client_id", j.client_id.as_str()),
            ("description", j.description.as_str()),
            ("session_id", j.session_id.as_str()),
            ("backup_name", j.backup_name.as_str()),
        ];
        for (name, value) in want {
            let have = get(&labels, name);
            c.ok(have == value, || {
                format!("{}: job_info {name}={have:?}, want {value:?}", j.key)
            });
        }
        c.ok(!get(&labels, "schedule").is_empty(), || {
            format!("{}: job_info schedule is empty", j.key)
        });
        let actions = get(&labels, "actions");
        for a in &j.actions {
            c.ok(actions.contains(a.as_str()), || {
                format!("{}: job_info actions={actions:?} lacks {a}", j.key)
            });
        }
    }
    let want: BTreeSet<String> = facts
        .jobs
        .iter()
        .filter(|j| read(&j.project))
        .map(|j| j.key.clone())
        .collect();
    c.ok(seen == want, || {
        format!("freezer_job_info for jobs {seen:?}, want {want:?}")
    });

    let mut seen = BTreeSet::new();
    for (k, v) in family(got, "freezer_client_info") {
        let (_, labels) = parse_key(&k);
        c.ok(
            names(&labels)
                == [
                    "source",
                    "project_id",
                    "device",
                    "device_id",
                    "uuid",
                    "description",
                    "is_central",
                ],
            || format!("labels of {k}"),
        );
        c.ok(v == 1.0, || format!("{k} = {v}, want 1"));
        let id = get(&labels, "device_id");
        let Some(cl) = facts.clients.iter().find(|x| x.client_id == id) else {
            c.fail(format!("unexpected {k} (no such client seeded)"));
            continue;
        };
        seen.insert(cl.client_id.clone());
        for (name, value) in [
            ("source", SOURCE),
            ("project_id", cl.project.as_str()),
            ("device", cl.hostname.as_str()),
            ("uuid", cl.uuid.as_str()),
            ("description", cl.description.as_str()),
        ] {
            let have = get(&labels, name);
            c.ok(have == value, || {
                format!(
                    "{}: client_info {name}={have:?}, want {value:?}",
                    cl.hostname
                )
            });
        }
        let central = get(&labels, "is_central");
        c.ok(matches!(central.as_str(), "false" | "0"), || {
            format!(
                "{}: client_info is_central={central:?}, want false",
                cl.hostname
            )
        });
    }
    let want: BTreeSet<String> = facts
        .clients
        .iter()
        .filter(|x| read(&x.project))
        .map(|x| x.client_id.clone())
        .collect();
    c.ok(seen == want, || {
        format!("freezer_client_info for clients {seen:?}, want {want:?}")
    });

    let mut seen = BTreeSet::new();
    for (k, v) in family(got, "freezer_session_info") {
        let (_, labels) = parse_key(&k);
        c.ok(
            names(&labels)
                == [
                    "source",
                    "project_id",
                    "session_id",
                    "description",
                    "schedule",
                ],
            || format!("labels of {k}"),
        );
        c.ok(v == 1.0, || format!("{k} = {v}, want 1"));
        let id = get(&labels, "session_id");
        let Some(s) = facts.sessions.iter().find(|s| s.session_id == id) else {
            c.fail(format!("unexpected {k} (no such session seeded)"));
            continue;
        };
        seen.insert(s.key.clone());
        for (name, value) in [
            ("source", SOURCE),
            ("project_id", s.project.as_str()),
            ("description", s.description.as_str()),
        ] {
            let have = get(&labels, name);
            c.ok(have == value, || {
                format!("session {}: {name}={have:?}, want {value:?}", s.key)
            });
        }
        c.ok(!get(&labels, "schedule").is_empty(), || {
            format!("session {}: schedule is empty", s.key)
        });
    }
    let want: BTreeSet<String> = facts
        .sessions
        .iter()
        .filter(|s| read(&s.project))
        .map(|s| s.key.clone())
        .collect();
    c.ok(seen == want, || {
        format!("freezer_session_info for sessions {seen:?}, want {want:?}")
    });
}

/// `backup_exporter_upstream_requests_total` of `endpoint`, by status code.
fn requests(got: &BTreeMap<String, f64>, endpoint: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (k, v) in family(got, "backup_exporter_upstream_requests_total") {
        let (_, labels) = parse_key(&k);
        let get = |n: &str| labels.iter().find(|(l, _)| l == n).map(|(_, v)| v.clone());
        if get("endpoint").as_deref() == Some(endpoint) {
            out.insert(get("code").unwrap_or_default(), v);
        }
    }
    out
}

/// Requests needed to page through lists of these lengths: full pages, then the first shorter
/// one (empty after an exact multiple: there is no total or next link to stop earlier).
fn pages(lengths: &[usize], page_size: usize) -> f64 {
    lengths.iter().map(|n| (n / page_size + 1) as f64).sum()
}

/// Problems the exporter counted while reading: item and value errors must all be 0.
fn check_no_errors(c: &mut Check, got: &BTreeMap<String, f64>) {
    for f in [
        "backup_exporter_item_errors_total",
        "backup_exporter_upstream_value_errors_total",
        "backup_exporter_refresh_errors_total",
    ] {
        for (k, v) in family(got, f) {
            c.ok(v == 0.0, || format!("{k} = {v}, want 0"));
        }
    }
}

fn source_up(got: &BTreeMap<String, f64>) -> Option<f64> {
    got.get(&key(
        "backup_exporter_source_up",
        &[("source", SOURCE), ("system", "freezer")],
    ))
    .copied()
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

/// Two projects read as a member of each, in pages of 5: every exported value of every family
/// matches what was seeded.
#[tokio::test(flavor = "multi_thread")]
async fn every_value_matches_the_seeded_fleet() {
    let clock = std::time::Instant::now();
    let api = FreezerApi::start("member,reader");
    let started = clock.elapsed();
    let facts = seed(api.url()).await;
    eprintln!(
        "freezer-api {} started in {started:.1?}, seeded in {:.1?}\n{}",
        api.url(),
        clock.elapsed() - started,
        facts.table()
    );
    // The fleet covers what the issue asks for, and paging has work to do.
    assert!(facts.backup_count(PROJECT_A) > 5 && facts.backup_count(PROJECT_A) % 5 == 0);
    assert!(facts.backup_count(PROJECT_B) > 5);
    assert!(facts.host("archive-01").newest_available.unwrap() < facts.now - 3 * 86_400);
    assert!(facts.host("ledger-db").newest["error"] > facts.host("ledger-db").newest["available"]);

    let text = refresh(&config(api.url(), &[PROJECT_A, PROJECT_B], 5, 1), &api).await;
    let got = samples(&text);
    let mut c = Check::default();

    c.ok(source_up(&got) == Some(1.0), || {
        format!("backup_exporter_source_up = {:?}, want 1", source_up(&got))
    });

    // Nothing but the spec's families (and the exporter's own).
    let families: BTreeSet<String> = got
        .keys()
        .map(|k| parse_key(k).0)
        .filter(|n| !n.starts_with("backup_exporter_"))
        .collect();
    for f in &families {
        c.ok(
            NEUTRAL_FAMILIES.contains(&f.as_str()) || FREEZER_FAMILIES.contains(&f.as_str()),
            || format!("unexpected family {f}"),
        );
    }

    let want = expected(&facts, &[PROJECT_A, PROJECT_B]);
    for f in NEUTRAL_FAMILIES[..5].iter().chain(FREEZER_FAMILIES) {
        if f.ends_with("_info") {
            continue;
        }
        let empty = BTreeMap::new();
        c.family(&got, f, want.get(f).unwrap_or(&empty));
    }
    check_info(&mut c, &got, &facts, &[PROJECT_A, PROJECT_B]);
    // Every host is a device, its project the org.
    for h in &facts.hosts {
        let info = format!(
            "backup_device_info{{system=\"freezer\",source=\"{SOURCE}\",device=\"{}\",device_id=\"{}\",org=\"{}\"",
            h.hostname, h.device_id, h.project
        );
        c.ok(text.lines().any(|l| l.starts_with(&info)), || {
            format!("no {info}...}} 1")
        });
    }

    // First seen: one per target without a known success (its value is the exporter's or the
    // vendor's time).
    let first_seen = family(&got, NEUTRAL_FAMILIES[5]);
    let want_targets: BTreeSet<String> = facts
        .targets
        .iter()
        .filter(|t| t.last_success.is_none())
        .map(|t| neutral(NEUTRAL_FAMILIES[5], &t.device, &t.device_id, &t.target))
        .collect();
    let have_targets: BTreeSet<String> = first_seen.keys().cloned().collect();
    c.ok(have_targets == want_targets, || {
        format!("first-seen targets {have_targets:?}, want {want_targets:?}")
    });

    // Every page read, once: the backups counted are the backups seeded, and each list took
    // its full pages plus the first short one.
    check_no_errors(&mut c, &got);
    let count = |n: &dyn Fn(&str) -> usize| [n(PROJECT_A), n(PROJECT_B)];
    for (endpoint, lengths) in [
        ("backups", count(&|p| facts.backup_count(p))),
        (
            "jobs",
            count(&|p| facts.jobs.iter().filter(|j| j.project == p).count()),
        ),
        (
            "clients",
            count(&|p| facts.clients.iter().filter(|x| x.project == p).count()),
        ),
        (
            "sessions",
            count(&|p| facts.sessions.iter().filter(|x| x.project == p).count()),
        ),
    ] {
        let have = requests(&got, endpoint);
        let want = BTreeMap::from([("200".to_owned(), pages(&lengths, 5))]);
        c.ok(have == want, || {
            format!(
                "upstream requests to {endpoint}: {have:?}, want {want:?} \
                 (lists of {lengths:?}, pages of 5)"
            )
        });
    }
    for p in [PROJECT_A, PROJECT_B] {
        let counted: f64 = family(&got, "freezer_backups")
            .iter()
            .filter(|(k, _)| k.contains(&format!("project_id=\"{p}\"")))
            .map(|(_, v)| v)
            .sum();
        c.ok(counted == facts.backup_count(p) as f64, || {
            format!(
                "freezer_backups of {p} sum to {counted}, {} seeded",
                facts.backup_count(p)
            )
        });
    }
    // Sanity of the fleet's special cases, spelled out (the comparisons above cover them).
    let failing = facts.job("ledger-mysql-hourly");
    c.ok(
        failing.result.as_deref() == Some("fail")
            && failing.last_success == facts.host("ledger-db").newest.get("available").copied(),
        || "ledger-mysql-hourly: failing job's last success = its newest available backup".into(),
    );
    c.ok(
        !facts.target("web-a2", "web-a2-pre-upgrade").scheduled
            && !facts.target("lab-app2", "lab-app2-instance").scheduled,
        || "manual and finished one-shot targets have no stale threshold".into(),
    );
    let workdays = facts.target("ledger-db", "ledger-db-reports");
    c.ok(workdays.longest_gap == Some(3 * 86_400), || {
        "ledger-db-reports: the Tue-Sat job's longest gap is 3 days (threshold 4 days)".into()
    });
    c.finish(&facts, &text);
}

/// As admin, a job list spans every project: reading project A alone shows project B's jobs
/// too, each with its own project_id; backups, clients and sessions stay A's.
#[tokio::test(flavor = "multi_thread")]
async fn the_admin_view_lists_every_projects_jobs() {
    let api = FreezerApi::start("admin");
    let facts = seed(api.url()).await;
    let text = refresh(&config(api.url(), &[PROJECT_A], 5, 1), &api).await;
    let got = samples(&text);
    let mut c = Check::default();
    c.ok(source_up(&got) == Some(1.0), || {
        format!("backup_exporter_source_up = {:?}, want 1", source_up(&got))
    });

    // Job families, compared on (project_id, job_id, status|result): the device of a job
    // whose client belongs to another project is not read here.
    let project = |k: &str, extra: &str| -> (String, String, String) {
        let (_, labels) = parse_key(k);
        let get = |n: &str| {
            labels
                .iter()
                .find(|(l, _)| l == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        (get("project_id"), get("job_id"), get(extra))
    };
    let all = expected(&facts, &[PROJECT_A, PROJECT_B]);
    for (f, extra) in [
        ("freezer_job_status", "status"),
        ("freezer_job_last_result", "result"),
        ("freezer_job_last_start_timestamp_seconds", ""),
        ("freezer_job_last_end_timestamp_seconds", ""),
        ("freezer_job_created_timestamp_seconds", ""),
    ] {
        let want: BTreeMap<_, f64> = all
            .get(f)
            .into_iter()
            .flatten()
            .map(|(k, v)| (project(k, extra), *v))
            .collect();
        let have: BTreeMap<_, f64> = family(&got, f)
            .iter()
            .map(|(k, v)| (project(k, extra), *v))
            .collect();
        c.ok(have == want, || format!("{f}: {have:?}\n  want {want:?}"));
    }
    let info: BTreeSet<(String, String, String)> = family(&got, "freezer_job_info")
        .keys()
        .map(|k| project(k, ""))
        .collect();
    let want: BTreeSet<(String, String, String)> = facts
        .jobs
        .iter()
        .map(|j| (j.project.clone(), j.job_id.clone(), String::new()))
        .collect();
    c.ok(info == want, || {
        format!("freezer_job_info (project_id, job_id): {info:?}\n  want {want:?}")
    });
    c.ok(facts.jobs.iter().any(|j| j.project == PROJECT_B), || {
        "the fleet has jobs in project B".into()
    });
    // The cross-project job list is paged to its end too.
    check_no_errors(&mut c, &got);
    let have = requests(&got, "jobs");
    let want = BTreeMap::from([("200".to_owned(), pages(&[facts.jobs.len()], 5))]);
    c.ok(have == want, || {
        format!("upstream requests to jobs: {have:?}, want {want:?}")
    });

    // Everything else is project A's only.
    let only_a = expected(&facts, &[PROJECT_A]);
    for f in [
        "freezer_backups",
        "freezer_backup_newest_timestamp_seconds",
        "freezer_backup_compressed_bytes",
        "freezer_backup_uncompressed_bytes",
        "freezer_clients",
        "freezer_session_status",
        "freezer_session_jobs",
    ] {
        let empty = BTreeMap::new();
        c.family(&got, f, only_a.get(f).unwrap_or(&empty));
    }
    c.finish(&facts, &text);
}

/// Pages of 5 and one page holding everything give the same exposition.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_size_does_not_change_the_result() {
    let api = FreezerApi::start("member,reader");
    let facts = seed(api.url()).await;
    let largest = facts.backups.len().max(facts.jobs.len()) + 100;
    let small = samples(&refresh(&config(api.url(), &[PROJECT_A, PROJECT_B], 5, 4), &api).await);
    let large = samples(
        &refresh(
            &config(api.url(), &[PROJECT_A, PROJECT_B], largest, 1),
            &api,
        )
        .await,
    );
    assert_eq!(source_up(&small), Some(1.0));
    assert_eq!(source_up(&large), Some(1.0));
    // The exporter's own metrics differ (requests, durations); first-seen times may be each
    // exporter's own clock.
    let data = |m: &BTreeMap<String, f64>| -> BTreeMap<String, Option<f64>> {
        m.iter()
            .filter(|(k, _)| !k.starts_with("backup_exporter_"))
            .map(|(k, v)| {
                let v = (!k.starts_with("backup_first_seen_timestamp_seconds{")).then_some(*v);
                (k.clone(), v)
            })
            .collect()
    };
    let (small, large) = (data(&small), data(&large));
    assert!(small.len() > 100, "{} series", small.len());
    for (k, v) in &small {
        assert_eq!(large.get(k), Some(v), "{k} with page_size {largest}");
    }
    assert_eq!(
        small.len(),
        large.len(),
        "series with page sizes 5 and {largest}"
    );
}
