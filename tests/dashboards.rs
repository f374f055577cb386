//! The Grafana dashboards of dashboards/: a structural check of their JSON, and every panel
//! query, its variables expanded, answered with series by a real Prometheus that scraped the
//! exporter's demo (Prometheus comes with the `prometheus` Debian package; scripts/test.sh
//! installs it).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::stack::{self, label, secs, Process, Prometheus, PrometheusConfig};
use serde_json::{json, Value};

/// The variables every dashboard has besides `datasource`: multi-valued, All = `.*`.
const VARIABLES: [&str; 3] = ["system", "source", "device"];
/// Grafana's built-in interval variables, as the test expands them. Prometheus scrapes every
/// second here, so each window holds several samples once a few scrapes are in.
const BUILTINS: [(&str, &str); 3] = [
    ("__rate_interval", "1m"),
    ("__interval", "15s"),
    ("__range", "1h"),
];
const TAG: &str = "backup_exporter";

fn datasource_ref() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

struct Dashboard {
    file: String,
    json: Value,
}

fn dashboards() -> Vec<Dashboard> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("dashboards/{file} is not JSON: {e}"));
            Dashboard { file, json }
        })
        .collect()
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Top-level panels, then the panels nested in (collapsed) rows.
fn all_panels(d: &Value) -> Vec<&Value> {
    let top = arr(&d["panels"]);
    top.iter()
        .chain(top.iter().flat_map(|p| arr(&p["panels"])))
        .collect()
}

/// The names of the variables `expr` uses: `$name`, `${name}`, `${name:format}`, `[[name]]`.
fn variables_used(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let _ = expand(expr, &mut |name| {
        names.insert(name.to_owned());
        Some(String::new())
    });
    names
}

/// `expr` with each variable replaced by `value(name)`; the name of the first variable without
/// a value is the error.
fn expand(expr: &str, value: &mut dyn FnMut(&str) -> Option<String>) -> Result<String, String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(i) = rest.find(['$', '[']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let (name, len) = if let Some(r) = rest.strip_prefix("${") {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {expr}"))?;
            (r[..end].split(':').next().unwrap(), end + 3)
        } else if let Some(r) = rest.strip_prefix("[[") {
            match r.find("]]") {
                Some(end) if r[..end].chars().all(is_name) && end > 0 => (&r[..end], end + 4),
                _ => ("", 0),
            }
        } else if let Some(r) = rest.strip_prefix('$') {
            let end = r.find(|c| !is_name(c)).unwrap_or(r.len());
            (&r[..end], end + 1)
        } else {
            ("", 0)
        };
        if len == 0 || name.is_empty() {
            // A `[` of a range selector or a lone `$`: plain text.
            out.push_str(&rest[..1]);
            rest = &rest[1..];
            continue;
        }
        out.push_str(&value(name).ok_or_else(|| format!("unknown variable ${name}"))?);
        rest = &rest[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A value of a multi-valued variable as Grafana's Prometheus data source writes it into a
/// regex matcher: regex characters escaped (`\\.` in the PromQL string), alternatives grouped.
fn grafana_regex(values: &[&str]) -> String {
    let escaped: Vec<String> = values
        .iter()
        .map(|v| {
            v.chars().fold(String::new(), |mut s, c| {
                if c == '\\' {
                    s.push_str("\\\\\\\\");
                } else {
                    if "$^*{}[]'+?.()|".contains(c) {
                        s.push_str("\\\\");
                    }
                    s.push(c);
                }
                s
            })
        })
        .collect();
    format!("({})", escaped.join("|"))
}

/// Overlapping grid rectangles among `panels`.
fn overlaps(panels: &[&Value]) -> Vec<String> {
    let rect = |p: &Value| {
        let g = &p["gridPos"];
        let n = |k: &str| g[k].as_i64().unwrap_or(0);
        (n("x"), n("y"), n("w"), n("h"))
    };
    let mut out = Vec::new();
    for (i, a) in panels.iter().enumerate() {
        for b in &panels[i + 1..] {
            let (ax, ay, aw, ah) = rect(a);
            let (bx, by, bw, bh) = rect(b);
            if ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah {
                out.push(format!(
                    "panels {:?} and {:?} overlap",
                    a["title"].as_str().unwrap_or(""),
                    b["title"].as_str().unwrap_or("")
                ));
            }
        }
    }
    out
}

/// Every datasource reference is the `${datasource}` variable; no other `uid` than the
/// dashboard's own; no `${DS_...}` inputs of an export; links to dashboards by uid go to one
/// of `uids`.
fn check_references(v: &Value, path: &str, uids: &BTreeSet<String>, errors: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let at = format!("{path}.{k}");
                if k == "datasource" {
                    if *child != datasource_ref() {
                        let hard = match &child["uid"] {
                            Value::String(u) if u != "${datasource}" => "hard-coded uid: ",
                            _ => "",
                        };
                        errors.push(format!(
                            "{at}: {hard}{child} is not the ${{datasource}} variable"
                        ));
                    }
                    continue;
                }
                if k == "uid" && !path.is_empty() {
                    errors.push(format!("{at}: hard-coded uid {child}"));
                }
                check_references(child, &at, uids, errors);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                check_references(child, &format!("{path}[{i}]"), uids, errors);
            }
        }
        Value::String(s) => {
            if s.contains("${DS_") {
                errors.push(format!(
                    "{path}: data source input {s:?} (use ${{datasource}})"
                ));
            }
            if let Some((_, rest)) = s.split_once("/d/") {
                let uid = rest.split(['/', '?']).next().unwrap_or("");
                if !uids.contains(uid) {
                    errors.push(format!("{path}: link to unknown dashboard uid {uid:?}"));
                }
            }
        }
        _ => {}
    }
}

fn check_dashboard(file: &str, d: &Value, uids: &BTreeSet<String>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut err = |e: String| errors.push(format!("{file}: {e}"));

    let uid = d["uid"].as_str().unwrap_or("");
    if uid.is_empty()
        || uid.len() > 40
        || !uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        err(format!("uid {:?} is not a stable slug", d["uid"]));
    }
    if d["title"].as_str().unwrap_or("").is_empty() {
        err("no title".into());
    }
    if !d["id"].is_null() {
        err(format!("id {} (must be null: Grafana assigns it)", d["id"]));
    }
    if d["schemaVersion"].as_i64().unwrap_or(0) < 39 {
        err(format!("schemaVersion {} < 39", d["schemaVersion"]));
    }
    if !arr(&d["tags"]).iter().any(|t| t == TAG) {
        err(format!("tags lack {TAG}"));
    }
    if d.get("__inputs").is_some() {
        err("__inputs (an export for sharing): use the ${datasource} variable".into());
    }
    if !arr(&d["links"]).iter().any(|l| {
        l["type"] == "dashboards"
            && arr(&l["tags"]).iter().any(|t| t == TAG)
            && l["includeVars"] == true
    }) {
        err(format!(
            "no link to the other dashboards (type dashboards, tag {TAG}, includeVars)"
        ));
    }

    // Variables.
    let vars = arr(&d["templating"]["list"]);
    let var = |name: &str| vars.iter().find(|v| v["name"] == name);
    match var("datasource") {
        Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
        other => err(format!(
            "variable datasource must be of type datasource, query prometheus: {other:?}"
        )),
    }
    for name in VARIABLES {
        match var(name) {
            None => err(format!("variable {name} missing")),
            Some(v) => {
                for (k, want) in [
                    ("type", json!("query")),
                    ("multi", json!(true)),
                    ("includeAll", json!(true)),
                    ("allValue", json!(".*")),
                    ("datasource", datasource_ref()),
                ] {
                    if v[k] != want {
                        err(format!("variable {name}: {k} is {}, want {want}", v[k]));
                    }
                }
            }
        }
    }

    // Panels.
    let mut ids = BTreeSet::new();
    for p in all_panels(d) {
        let title = p["title"].as_str().unwrap_or("");
        let kind = p["type"].as_str().unwrap_or("");
        let name = format!("panel {title:?}");
        if title.is_empty() || kind.is_empty() {
            err(format!("{name}: no title or type"));
        }
        match p["id"].as_i64() {
            Some(id) if ids.insert(id) => {}
            Some(id) => err(format!("{name}: duplicate id {id}")),
            None => err(format!("{name}: no integer id")),
        }
        let g = &p["gridPos"];
        let n = |k: &str| g[k].as_i64();
        match (n("x"), n("y"), n("w"), n("h")) {
            (Some(x), Some(y), Some(w), Some(h))
                if x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24 => {}
            _ => err(format!("{name}: gridPos {g} outside the 24-column grid")),
        }
        if kind == "row" {
            if p["collapsed"] != true && !arr(&p["panels"]).is_empty() {
                err(format!(
                    "{name}: an open row holds panels (they belong at top level)"
                ));
            }
            continue;
        }
        if p["datasource"] != datasource_ref() {
            err(format!("{name}: datasource is not ${{datasource}}"));
        }
        let targets = arr(&p["targets"]);
        if targets.is_empty() {
            err(format!("{name}: no targets"));
        }
        let mut refs = BTreeSet::new();
        for t in targets {
            let ref_id = t["refId"].as_str().unwrap_or("");
            if ref_id.is_empty() || !refs.insert(ref_id) {
                err(format!(
                    "{name}: missing or duplicate refId {:?}",
                    t["refId"]
                ));
            }
            if t["datasource"] != datasource_ref() {
                err(format!(
                    "{name} {ref_id}: datasource is not ${{datasource}}"
                ));
            }
            let expr = t["expr"].as_str().unwrap_or("");
            if expr.trim().is_empty() {
                err(format!("{name} {ref_id}: no expr"));
            }
            for v in variables_used(expr) {
                if !VARIABLES.contains(&v.as_str()) && !BUILTINS.iter().any(|(b, _)| *b == v) {
                    err(format!("{name} {ref_id}: unknown variable ${v}"));
                }
            }
        }
    }
    let top: Vec<&Value> = arr(&d["panels"]).iter().collect();
    for o in overlaps(&top) {
        err(o);
    }
    for row in &top {
        let nested: Vec<&Value> = arr(&row["panels"]).iter().collect();
        for o in overlaps(&nested) {
            err(o);
        }
    }
    check_references(d, "", uids, &mut errors);
    errors
}

#[test]
fn dashboards_are_well_formed() {
    let all = dashboards();
    let uids: BTreeSet<String> = all
        .iter()
        .filter_map(|d| d.json["uid"].as_str().map(str::to_owned))
        .collect();
    let mut errors = Vec::new();
    if uids.len() != all.len() {
        errors.push("dashboards share a uid".to_owned());
    }
    let titles: BTreeSet<&str> = all
        .iter()
        .filter_map(|d| d.json["title"].as_str())
        .collect();
    if titles.len() != all.len() {
        errors.push("dashboards share a title".to_owned());
    }
    for d in &all {
        errors.extend(check_dashboard(&d.file, &d.json, &uids));
    }
    assert!(
        errors.is_empty(),
        "{} problem(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn the_structural_check_catches_the_usual_mistakes() {
    let all = dashboards();
    let uids: BTreeSet<String> = all
        .iter()
        .filter_map(|d| d.json["uid"].as_str().map(str::to_owned))
        .collect();
    let mut d = all[0].json.clone();
    let panels = d["panels"].as_array_mut().unwrap();
    let first_id = panels[0]["id"].clone();
    let (p, rest) = panels.split_first_mut().unwrap();
    // What an export from a Grafana UI typically brings along.
    p["datasource"] = json!({"type": "prometheus", "uid": "P1809F7CD0C75ACF3"});
    rest[0]["id"] = first_id;
    rest[0]["gridPos"] = p["gridPos"].clone();
    rest[1]["targets"][0]["expr"] = json!("up{instance=~\"$instance\"}");
    rest[1]["targets"][0]["refId"] = json!("");
    rest[2]["links"] = json!([{"url": "/d/no-such-dashboard/x"}]);
    d["templating"]["list"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["name"] != "device");
    let errors = check_dashboard("mutated.json", &d, &uids).join("\n");
    for want in [
        "datasource is not ${datasource}",
        "hard-coded uid",
        "duplicate id",
        "overlap",
        "unknown variable $instance",
        "missing or duplicate refId",
        "unknown dashboard uid \"no-such-dashboard\"",
        "variable device missing",
    ] {
        assert!(errors.contains(want), "{want:?} not reported:\n{errors}");
    }
}

#[test]
fn the_expander_knows_grafanas_forms() {
    let mut v = |n: &str| (n == "device").then(|| "X".to_owned());
    assert_eq!(
        expand(
            r#"a{d=~"$device"}[5m] ${device} ${device:regex} [[device]] [1h]"#,
            &mut v
        )
        .unwrap(),
        r#"a{d=~"X"}[5m] X X X [1h]"#
    );
    assert!(expand("$system", &mut v).is_err());
    assert_eq!(grafana_regex(&["a.b", "c"]), r"(a\\.b|c)");
}

/// One query of a dashboard, and what the panel needs of its result.
struct PanelQuery {
    dashboard: String,
    panel: String,
    ref_id: String,
    expr: String,
    /// Labels the legend names (`{{label}}`).
    legend_labels: Vec<String>,
    /// The panel merges its queries into one table: all must give the same labels.
    merged: bool,
}

fn panel_queries(all: &[Dashboard]) -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for d in all {
        for p in all_panels(&d.json) {
            let merged = arr(&p["transformations"])
                .iter()
                .any(|t| t["id"] == "merge");
            for t in arr(&p["targets"]) {
                let legend = t["legendFormat"].as_str().unwrap_or("");
                let legend_labels = legend
                    .split("{{")
                    .skip(1)
                    .filter_map(|s| s.split_once("}}"))
                    .map(|(l, _)| l.trim().to_owned())
                    .collect();
                out.push(PanelQuery {
                    dashboard: d.file.clone(),
                    panel: p["title"].as_str().unwrap_or("").to_owned(),
                    ref_id: t["refId"].as_str().unwrap_or("").to_owned(),
                    expr: t["expr"].as_str().unwrap_or("").to_owned(),
                    legend_labels,
                    merged,
                });
            }
        }
    }
    out
}

/// Label names of a result (all series; a label with an empty value is absent from a series),
/// without the target labels Prometheus adds.
fn label_names(result: &[Value]) -> BTreeSet<String> {
    result
        .iter()
        .filter_map(|s| s["metric"].as_object())
        .flat_map(|m| m.keys())
        .filter(|k| !["instance", "job", "__name__"].contains(&k.as_str()))
        .cloned()
        .collect()
}

/// Runs every query of one selection of the variables; the problems found.
async fn check_queries(
    prom: &Prometheus,
    queries: &[PanelQuery],
    selection: &str,
    vars: &BTreeMap<&str, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut merged_labels: BTreeMap<(&str, &str), (String, BTreeSet<String>)> = BTreeMap::new();
    for q in queries {
        let at = format!("{} / {:?} {} [{selection}]", q.dashboard, q.panel, q.ref_id);
        let expr = match expand(&q.expr, &mut |n| vars.get(n).cloned()) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("{at}: {e}\n    {}", q.expr));
                continue;
            }
        };
        let result = match prom.try_query(&expr).await {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{at}: {e}\n    {expr}"));
                continue;
            }
        };
        if result.is_empty() {
            problems.push(format!("{at}: no series\n    {expr}"));
            continue;
        }
        for l in &q.legend_labels {
            if !result.iter().any(|s| !label(s, l).is_empty()) {
                problems.push(format!(
                    "{at}: the legend names {{{{{l}}}}}, no series has it\n    {expr}"
                ));
            }
        }
        if q.merged {
            let names = label_names(&result);
            match merged_labels.get(&(q.dashboard.as_str(), q.panel.as_str())) {
                None => {
                    merged_labels.insert(
                        (q.dashboard.as_str(), q.panel.as_str()),
                        (q.ref_id.clone(), names),
                    );
                }
                Some((first, want)) if *want != names => problems.push(format!(
                    "{at}: labels {names:?} differ from those of {first} ({want:?}): \
                     the table cannot merge the rows\n    {expr}"
                )),
                Some(_) => {}
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_query_returns_series_from_a_real_prometheus() {
    let started = Instant::now();
    // Fail (not skip) at once when Prometheus is missing.
    stack::require_binary(&stack::PROMETHEUS);
    let all = dashboards();
    let queries = panel_queries(&all);

    // The exporter's demo: simulated CrashPlan PRO, Code42 and Rackspace upstreams.
    let addr = format!("127.0.0.1:{}", stack::free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup_exporter"));
    cmd.args(["demo", "--listen", &addr])
        .env_remove("BACKUP_EXPORTER_CONFIG")
        .env_remove("BACKUP_EXPORTER_LISTEN")
        .env_remove("RUST_LOG");
    let mut exporter = Process::spawn("backup_exporter demo", Process::tempdir("exporter"), cmd);
    exporter
        .wait_http_ok(&format!("http://{addr}/ready"), secs(60))
        .await;

    // Prometheus scraping it every second, with the bundled rules (the overview counts the
    // firing alerts).
    let mut config = PrometheusConfig::new().scrape("backup_exporter", &[&addr]);
    let alerts_dir = stack::repo_path("alerts");
    let mut rule_files: Vec<_> = std::fs::read_dir(&alerts_dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    rule_files.retain(|p: &std::path::PathBuf| p.to_string_lossy().ends_with(".rules.yml"));
    rule_files.sort();
    for f in rule_files {
        config = config.rule_file(f);
    }
    let prom = Prometheus::start(config).await;
    prom.wait_for_scrapes("backup_exporter", 3, secs(60)).await;
    let ready_after = started.elapsed();

    // A concrete device: a CrashPlan one with a completed backup, a threshold and a
    // connection state, the first by name.
    let picked = prom
        .query(
            r#"group by (device) (backup_last_success_timestamp_seconds{system="crashplan"}
                 and on (system, source, device_id, target) backup_stale_threshold_seconds
                 and on (system, source, device_id) backup_device_connected)"#,
        )
        .await;
    let device = picked
        .iter()
        .map(|s| label(s, "device").to_owned())
        .min()
        .unwrap_or_else(|| {
            panic!(
                "the demo has no CrashPlan device with backup_last_success_timestamp_seconds, \
                 backup_stale_threshold_seconds and backup_device_connected"
            )
        });

    let mut all_vars: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in BUILTINS {
        all_vars.insert(name, value.to_owned());
    }
    for name in VARIABLES {
        all_vars.insert(name, ".*".to_owned());
    }
    let mut one_device = all_vars.clone();
    one_device.insert("device", grafana_regex(&[&device]));
    let selections = [
        ("all".to_owned(), all_vars),
        (format!("device={device}"), one_device),
    ];

    // Series appear with the scrapes and rule evaluations: poll until all answer, or report
    // what still does not after the deadline.
    let deadline = Instant::now() + secs(30);
    let problems = loop {
        let mut problems = Vec::new();
        for (selection, vars) in &selections {
            problems.extend(check_queries(&prom, &queries, selection, vars).await);
        }
        if problems.is_empty() || Instant::now() >= deadline {
            break problems;
        }
        exporter.assert_running();
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        problems.is_empty(),
        "{} of {} panel queries ({} dashboards, 2 selections) fail:\n{}",
        problems.len(),
        queries.len() * selections.len(),
        all.len(),
        problems.join("\n")
    );
    eprintln!(
        "{} panel queries of {} dashboards answered for all devices and for {device}; \
         exporter and Prometheus ready after {ready_after:?}, all done after {:?}",
        queries.len(),
        all.len(),
        started.elapsed()
    );
}
