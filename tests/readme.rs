//! The README documents every metric family, and its two commands are the ones the project
//! really runs (CI calls the same test command).

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_metric_family_is_documented() {
    let readme = read("README.md");
    let families = backup_exporter::sources::registry::families();
    let mut names: Vec<&str> = families.iter().map(|d| d.name).collect();
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
    let text = String::from_utf8(text).unwrap();
    names.extend(
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next()),
    );
    assert_eq!(names.len(), families.len() + 14);
    let missing: Vec<&&str> = names
        .iter()
        .filter(|n| !readme.contains(&format!("`{n}`")))
        .collect();
    assert!(missing.is_empty(), "not in README.md: {missing:?}");
}

#[test]
fn the_two_commands_are_there_and_ci_runs_the_test_command() {
    let readme = read("README.md");
    assert!(readme.contains("```sh\ncargo run --release -- demo\n```"));
    assert!(readme.contains("```sh\nbash scripts/test.sh\n```"));
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "bash scripts/test.sh"),
        "{ci}"
    );
}
