//! Every configuration rule, one file each, in `tests/testdata/config/`.
//!
//! `invalid-<rule>.toml` must fail to load, or load and fail `check_runnable` (as `run` and
//! `check-config` do). Its leading comment lines say how:
//!
//! - `# expect: <text>` (one or more): each must appear in the error;
//! - `# absent: <text>`: must not appear (a secret, credentials in a URL);
//! - `# key: <key>`: the error names the key in backticks;
//! - `# figment-key: <path>`: a value that does not read (serde, reported by figment) names
//!   the key by its path, as `for key "default.<path>"`;
//! - `# no-key: <why>`: the error names no key (a TOML syntax error);
//! - `# source: <index> "<name>"`: the error names the source and the key together, as
//!   `source[<index>] (name "<name>"): key `<key>``.
//! - `# env: <NAME>=<value>` (one or more, in any file): the file is loaded with these
//!   environment variables set (`POD_NAME`, for `shard = "auto"`).
//!
//! The rule's group is the start of its name: `top-`, `alertmanager-`, or a source rule
//! (`source-`, `crashplan-`, `code42-`, `rackspace-`, `freezer-`), whose error must name the
//! source and the key (`# source:` with `# key:`).
//!
//! `valid-<name>.toml` must load and be runnable: `# expect-sources: N`, and optionally one
//! `# expect-summary:` line per source, in order, as `check-config` prints it
//! (`<name> (<kind>, <base url>), <stale summary>`), and `# expect-shard: shard <i> of <n>`;
//! an `# absent:` text must not show in the loaded configuration's `Debug` (secrets are
//! redacted).
//!
//! Paths in the files (secret files, CA files) are relative to the crate root, where cargo
//! runs integration tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use backup_exporter::config::{Config, ENV_PREFIX};

const DIR: &str = "tests/testdata/config";
/// Fewer invalid files than this means the directory was emptied or moved.
const MIN_INVALID: usize = 40;
const MIN_VALID: usize = 8;
const SOURCE_GROUPS: &[&str] = &["source-", "crashplan-", "code42-", "rackspace-", "freezer-"];
const OTHER_GROUPS: &[&str] = &["top-", "alertmanager-"];
const HEADERS: &[&str] = &[
    "expect",
    "absent",
    "key",
    "figment-key",
    "no-key",
    "source",
    "expect-sources",
    "expect-summary",
    "expect-shard",
    "env",
];

/// The leading comment lines `# name: value`, by name.
fn headers(path: &Path, text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut out = BTreeMap::<String, Vec<String>>::new();
    for line in text.lines() {
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        let Some((name, value)) = comment.trim_start().split_once(':') else {
            continue;
        };
        // A plain comment line has spaces or capitals before its first colon.
        if !name.chars().all(|c| c.is_ascii_lowercase() || c == '-') || name.is_empty() {
            continue;
        }
        if !HEADERS.contains(&name) {
            return Err(format!("{}: unknown header `# {name}:`", path.display()));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("{}: empty header `# {name}:`", path.display()));
        }
        out.entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
    }
    Ok(out)
}

fn all<'a>(h: &'a BTreeMap<String, Vec<String>>, name: &str) -> &'a [String] {
    h.get(name).map_or(&[], Vec::as_slice)
}

fn check_invalid(
    name: &str,
    h: &BTreeMap<String, Vec<String>>,
    result: Result<Config, String>,
) -> Result<(), String> {
    let msg = match result {
        Ok(_) => return Err("loaded, but should fail".into()),
        Err(msg) => msg,
    };
    let mut problems = Vec::new();
    let expects = all(h, "expect");
    if expects.is_empty() {
        problems.push("no `# expect:` header".into());
    }
    for stray in ["expect-sources", "expect-summary", "expect-shard"] {
        if h.contains_key(stray) {
            problems.push(format!("`# {stray}:` belongs in a valid-*.toml file"));
        }
    }
    for e in expects {
        if !msg.contains(e.as_str()) {
            problems.push(format!("expected {e:?} in the message"));
        }
    }
    for a in all(h, "absent") {
        if msg.contains(a.as_str()) {
            problems.push(format!("{a:?} must not appear in the message"));
        }
    }
    let keys = all(h, "key");
    let figment_keys = all(h, "figment-key");
    if keys.len() > 1 {
        problems.push("more than one `# key:` header".into());
    }
    if keys.is_empty() && figment_keys.is_empty() && !h.contains_key("no-key") {
        problems.push("no `# key:`, `# figment-key:` or `# no-key:` header".into());
    }
    for k in keys {
        if !msg.contains(&format!("`{k}`")) {
            problems.push(format!(
                "the message does not name the key `{k}` in backticks"
            ));
        }
    }
    for k in figment_keys {
        if !msg.contains(&format!("for key \"default.{k}\"")) {
            problems.push(format!(
                "the message does not name the key as figment does: for key \"default.{k}\""
            ));
        }
    }
    let sources = all(h, "source");
    if sources.len() > 1 {
        problems.push("more than one `# source:` header".into());
    }
    for s in sources {
        match (s.split_once(' '), keys.first()) {
            (Some((index, quoted)), Some(key)) => {
                let want = format!("source[{index}] (name {quoted}): key `{key}`");
                if !msg.contains(&want) {
                    problems.push(format!(
                        "the message does not name the source and key as {want}"
                    ));
                }
            }
            _ => problems.push(format!(
                "`# source: {s}` needs the form `<index> \"<name>\"` and a `# key:` header"
            )),
        }
    }
    let rule = name.trim_start_matches("invalid-");
    if SOURCE_GROUPS.iter().any(|g| rule.starts_with(g)) {
        // Every error about a source names it and the key the same way, whether the value
        // did not read or broke a rule.
        if sources.is_empty() {
            problems.push("a source rule: give `# source:` and `# key:`".into());
        }
    } else if rule.starts_with("alertmanager-") {
        let named = keys
            .iter()
            .any(|k| msg.contains(&format!("[alertmanager] key `{k}`")))
            || keys
                .iter()
                .chain(figment_keys)
                .any(|k| k.starts_with("alertmanager"));
        if !named {
            problems.push("the message does not name the [alertmanager] section".into());
        }
    } else if !OTHER_GROUPS.iter().any(|g| rule.starts_with(g)) {
        problems.push(format!(
            "the rule's name starts with none of {SOURCE_GROUPS:?} {OTHER_GROUPS:?}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n    message: {msg}", problems.join("\n    ")))
    }
}

fn check_valid(
    h: &BTreeMap<String, Vec<String>>,
    result: Result<Config, String>,
) -> Result<(), String> {
    for stray in ["expect", "key", "figment-key", "no-key", "source"] {
        if h.contains_key(stray) {
            return Err(format!("`# {stray}:` belongs in an invalid-*.toml file"));
        }
    }
    let [count] = all(h, "expect-sources") else {
        return Err("needs exactly one `# expect-sources: N` header".into());
    };
    let count: usize = count
        .parse()
        .map_err(|_| format!("`# expect-sources: {count}` is not a number"))?;
    let config = result.map_err(|e| format!("does not load: {e}"))?;
    config
        .check_runnable()
        .map_err(|e| format!("loads, but is not runnable: {e}"))?;
    if config.sources.len() != count {
        return Err(format!(
            "{} source(s), expected {count}",
            config.sources.len()
        ));
    }
    let summaries = all(h, "expect-summary");
    if !summaries.is_empty() {
        let actual: Vec<String> = config
            .sources
            .iter()
            .map(|s| {
                format!(
                    "{} ({}, {}), {}",
                    s.name,
                    s.kind,
                    s.base_url(),
                    s.stale_summary()
                )
            })
            .collect();
        if actual != summaries {
            return Err(format!(
                "summaries differ:\n    expected {summaries:#?}\n    actual {actual:#?}"
            ));
        }
    }
    if let [shard] = all(h, "expect-shard") {
        if config.sharding.to_string() != *shard {
            return Err(format!("{}, expected {shard}", config.sharding));
        }
    }
    let debug = format!("{config:?}");
    for a in all(h, "absent") {
        if debug.contains(a.as_str()) {
            return Err(format!("{a:?} shows in the loaded configuration's Debug"));
        }
    }
    Ok(())
}

#[test]
fn every_rule_has_a_file_and_each_file_behaves_as_its_headers_say() {
    // The loader merges BACKUP_EXPORTER_* over the file, and `shard = "auto"` reads POD_NAME:
    // none may leak in from the caller. This is the only test in this binary, so no other
    // thread reads the environment.
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with(ENV_PREFIX) || key_text == "POD_NAME" {
            std::env::remove_var(&key);
        }
    }

    let mut paths: Vec<PathBuf> = std::fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("{DIR}: {e}"))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "files"))
        .collect();
    paths.sort();

    let (mut invalid, mut valid) = (0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        let text = match std::fs::read_to_string(path) {
            Ok(text) if is_toml => text,
            Ok(_) => {
                failures.push(format!("{}: not a .toml file", path.display()));
                continue;
            }
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let h = match headers(path, &text) {
            Ok(h) => h,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let mut env = Vec::new();
        for pair in all(&h, "env") {
            match pair.split_once('=') {
                Some((name, value)) => env.push((name, value)),
                None => failures.push(format!(
                    "{}: `# env: {pair}` is not NAME=value",
                    path.display()
                )),
            }
        }
        for (name, value) in &env {
            std::env::set_var(name, value);
        }
        let result = Config::load(Some(path)).map_err(|e| e.to_string());
        for (name, _) in &env {
            std::env::remove_var(name);
        }
        let outcome = if name.starts_with("invalid-") {
            invalid += 1;
            let result =
                result.and_then(|c| c.check_runnable().map(|()| c).map_err(|e| e.to_string()));
            check_invalid(&name, &h, result)
        } else if name.starts_with("valid-") {
            valid += 1;
            check_valid(&h, result)
        } else {
            Err("the name starts with neither `invalid-` nor `valid-`".into())
        };
        if let Err(e) = outcome {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} file(s) failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
    assert!(
        invalid >= MIN_INVALID,
        "{DIR}: {invalid} invalid-*.toml file(s), expected at least {MIN_INVALID}"
    );
    assert!(
        valid >= MIN_VALID,
        "{DIR}: {valid} valid-*.toml file(s), expected at least {MIN_VALID}"
    );
}
