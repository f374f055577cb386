//! The documentation follows the code: docs/metrics.md documents every metric family and no
//! other, docs/configuration.md every key the example configurations use, every relative link
//! of README.md, CONTRIBUTING.md, docs/ and alerts/RUNBOOK.md leads to a file and heading that
//! exist, and the README's two commands are the ones the project really runs (CI calls the same
//! test command).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every data family the exporter declares. The one place the test reads that list.
fn data_family_names() -> Vec<&'static str> {
    backup_exporter::sources::registry::families()
        .iter()
        .map(|d| d.name)
        .collect()
}

/// The metric names of docs/metrics.md: the first cell of each table row, when it is one
/// name in backticks.
fn documented_metrics(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |"))
        .map(|(name, _)| name)
        .filter(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

/// docs/metrics.md marks a family *(opt-in)* exactly when the registry does.
#[test]
fn opt_in_families_are_marked_as_such() {
    let doc = read("docs/metrics.md");
    for d in backup_exporter::sources::registry::families() {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", d.name)))
            .unwrap_or_else(|| panic!("{} has no row", d.name));
        assert_eq!(
            row.contains("*(opt-in)*"),
            d.opt_in,
            "docs/metrics.md: the row of {} must say *(opt-in)* when, and only when, the family is",
            d.name
        );
    }
}

#[test]
fn every_metric_family_is_documented() {
    let doc = read("docs/metrics.md");
    let mut names = data_family_names();
    let data_families = names.len();
    let selfmetrics = backup_exporter::selfmetrics::SelfMetrics::new(&[("s".into(), "crashplan")])
        .with_alerting(&["http://am:9093/".into()], &["BackupStale"]);
    // Give every self-metric a child, so that each family is gathered.
    let l = ["s", "crashplan"];
    selfmetrics.last_success.with_label_values(&l).set(1.0);
    selfmetrics.last_attempt.with_label_values(&l).set(1.0);
    selfmetrics.duration.with_label_values(&l).set(1.0);
    selfmetrics.samples.with_label_values(&l).set(1);
    selfmetrics
        .upstream_requests
        .with_label_values(&["s", "crashplan", "usages", "200"])
        .inc();
    let mut text = Vec::new();
    selfmetrics.encode(&mut text);
    backup_exporter::selfmetrics::encode_process(&mut text);
    let text = String::from_utf8(text).unwrap();
    names.extend(
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next()),
    );
    assert_eq!(names.len(), data_families + 18 + 7);

    let documented = documented_metrics(&doc);
    let missing: Vec<&&str> = names
        .iter()
        .filter(|n| !documented.iter().any(|d| d == *n))
        .collect();
    assert!(missing.is_empty(), "not in docs/metrics.md: {missing:?}");
    let unknown: Vec<&String> = documented
        .iter()
        .filter(|d| !names.contains(&d.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "in docs/metrics.md but not exported: {unknown:?}"
    );
    let mut seen = BTreeSet::new();
    let twice: Vec<&String> = documented.iter().filter(|d| !seen.insert(*d)).collect();
    assert!(
        twice.is_empty(),
        "listed twice in docs/metrics.md: {twice:?}"
    );
}

#[test]
fn every_key_of_the_example_configurations_is_documented() {
    let doc = read("docs/configuration.md");
    let files = [
        "examples/config.toml",
        "examples/code42.toml",
        "examples/rackspace.toml",
        "examples/freezer.toml",
        "examples/compose/config.toml",
    ];
    let mut missing = Vec::new();
    for file in files {
        let mut prefix = "";
        for line in read(file).lines().map(str::trim) {
            if line.starts_with('[') {
                let table = line.trim_matches(|c| c == '[' || c == ']');
                prefix = if table.ends_with(".tls") { "tls." } else { "" };
                let last = table.rsplit('.').next().unwrap();
                if last != "tls" && !doc.contains(&format!("`{last}`")) {
                    missing.push(format!("{file}: [{table}]"));
                }
            } else if let Some((key, _)) = line.split_once(" = ") {
                let key = key.trim();
                if key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    && !doc.contains(&format!("`{prefix}{key}`"))
                {
                    missing.push(format!("{file}: {prefix}{key}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

#[test]
fn every_source_key_of_every_kind_is_documented() {
    let doc = read("docs/configuration.md");
    let mut missing = Vec::new();
    for key in backup_exporter::config::common_keys() {
        if !doc.contains(&format!("`{key}`")) {
            missing.push(format!("common: {key}"));
        }
    }
    for vendor in backup_exporter::sources::registry::VENDORS {
        for key in vendor.section_keys() {
            if !doc.contains(&format!("`{key}`")) {
                missing.push(format!("{}: {key}", vendor.kind()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}

/// GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown file outside code fences.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in prose(text) {
        let Some(heading) = line.trim_start_matches('#').strip_prefix(' ') else {
            continue;
        };
        if !line.starts_with('#') {
            continue;
        }
        let base = anchor(heading);
        let mut a = base.clone();
        let mut n = 0;
        while !found.insert(a.clone()) {
            n += 1;
            a = format!("{base}-{n}");
        }
    }
    found
}

fn markdown_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("README.md"),
        root.join("CONTRIBUTING.md"),
        root.join("alerts/RUNBOOK.md"),
    ];
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn every_link_of_the_documentation_leads_somewhere() {
    let mut broken = Vec::new();
    let mut links = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        for line in prose(&text) {
            for (_, rest) in line.match_indices("](").map(|(i, _)| line.split_at(i + 2)) {
                let Some(target) = rest.split(')').next() else {
                    continue;
                };
                if target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                    continue;
                }
                links += 1;
                let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
                let dest = if path.is_empty() {
                    file.clone()
                } else {
                    file.parent().unwrap().join(path)
                };
                if !dest.exists() {
                    broken.push(format!("{}: {target}: no such file", file.display()));
                    continue;
                }
                if !fragment.is_empty() && dest.is_file() {
                    let dest_text = std::fs::read_to_string(&dest).unwrap();
                    if !anchors(&dest_text).contains(fragment) {
                        broken.push(format!("{}: {target}: no such heading", file.display()));
                    }
                }
            }
        }
    }
    assert!(links > 100, "only {links} links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_two_commands_are_there_and_ci_runs_the_test_command() {
    let readme = read("README.md");
    assert!(readme.contains("```sh\ncargo run -- demo\n```"));
    assert!(readme.contains("```sh\nbash scripts/test.sh\n```"));
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "bash scripts/test.sh"),
        "{ci}"
    );
}
