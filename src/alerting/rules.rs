//! The bundled alert rules (`alerts/backup_exporter.rules.yml`), evaluated in Rust over the
//! sources' snapshots: the same conditions, the same labels, and the annotation text the
//! rules' templates render. `tests` below pin each condition; the end-to-end tests compare the
//! text with what a real Prometheus renders.
//!
//! BackupExporterDown, BackupExporterSourceDown, BackupExporterRefreshStale and
//! BackupExporterConfigReloadFailed are about the exporter itself and carry its `instance`:
//! they stay with Prometheus.

use std::collections::{HashMap, VecDeque};

use super::humanize::{go_float, humanize_1024, humanize_duration, humanize_percentage};
use crate::sources::{BackupTarget, Device, Snapshot, Store};

/// One alert rule: its name, severity, `for` and runbook section.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub severity: &'static str,
    /// How long the condition must hold before the alert fires (the rule's `for`).
    pub hold_seconds: u32,
    /// The anchor of the rule's section of alerts/RUNBOOK.md (its name in lower case): its
    /// `runbook_url` is `[alertmanager] runbook_base_url`, `#`, this.
    pub runbook_anchor: &'static str,
}

pub static STALE: Rule = Rule {
    name: "BackupStale",
    severity: "critical",
    hold_seconds: 0,
    runbook_anchor: "backupstale",
};
pub static NEVER_COMPLETED: Rule = Rule {
    name: "BackupNeverCompleted",
    severity: "warning",
    hold_seconds: 0,
    runbook_anchor: "backupnevercompleted",
};
pub static FAILING: Rule = Rule {
    name: "BackupFailing",
    severity: "warning",
    hold_seconds: 0,
    runbook_anchor: "backupfailing",
};
pub static STORE_FILLING_UP: Rule = Rule {
    name: "BackupStoreFillingUp",
    severity: "warning",
    hold_seconds: 30 * 60,
    runbook_anchor: "backupstorefillingup",
};
pub static AGENT_OFFLINE: Rule = Rule {
    name: "BackupAgentOffline",
    severity: "warning",
    hold_seconds: 30 * 60,
    runbook_anchor: "backupagentoffline",
};

/// Every rule the bridge evaluates, in the rule file's order.
pub static RULES: [&Rule; 5] = [
    &STALE,
    &NEVER_COMPLETED,
    &FAILING,
    &STORE_FILLING_UP,
    &AGENT_OFFLINE,
];

/// The vendor alert states BackupFailing takes for a failing backup (CrashPlan PRO, Code42).
pub const FAILING_STATES: &[&str] = &["ALERT", "CriticalBackupAlert"];

/// A store with less free space than this (a ratio) is filling up.
pub const STORE_FREE_RATIO_LIMIT: f64 = 0.10;

/// Offline for longer than this by its last check-in (seconds).
pub const OFFLINE_AFTER_SECONDS: f64 = 86_400.0;

/// Labels of an alert, `alertname` first, then as the rule aggregates them. An empty value is
/// left out, as Prometheus does.
pub type AlertLabels = Vec<(&'static str, String)>;

/// Where an alert's `generatorURL` points on the exporter's own pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    Device { source: String, device_id: String },
    Alerts,
}

/// A condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub rule: &'static Rule,
    pub labels: AlertLabels,
    pub summary: String,
    pub description: String,
    /// The rule's `$value` (an age in seconds, a ratio, or 1).
    pub value: f64,
    /// The device the alert is about (empty for a store), for the status page.
    pub device: String,
    pub page: Page,
    /// When the condition began, where the rule's inputs tell (a stale backup: its last
    /// success plus its threshold), for the status page; `None`: when it was first seen.
    pub began: Option<f64>,
}

/// A source as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct SourceView<'a> {
    pub name: &'a str,
    pub system: &'a str,
    pub snapshot: &'a Snapshot,
}

/// Evaluates the rules. Keeps a day of store free-space samples, for the filling-up trend
/// the store description states (the rule's `deriv(...[1d])`).
#[derive(Debug, Default)]
pub struct Evaluator {
    store_history: HashMap<(String, String), VecDeque<(f64, f64)>>,
}

/// A store's free bytes are sampled at most this often (seconds).
const STORE_SAMPLE_SECONDS: f64 = 60.0;
/// The trend window: the rule's `[1d]`.
const STORE_WINDOW_SECONDS: f64 = 86_400.0;

impl Evaluator {
    /// Every condition that holds at `now` (Unix seconds), one candidate per label set.
    pub fn evaluate(&mut self, sources: &[SourceView<'_>], now: f64) -> Vec<Candidate> {
        let mut out: Vec<Candidate> = Vec::new();
        let mut seen_stores = Vec::new();
        for s in sources {
            for t in &s.snapshot.targets {
                stale(s, t, now, &mut out);
                never_completed(s, t, now, &mut out);
                failing(s, t, now, &mut out);
            }
            for d in &s.snapshot.devices {
                agent_offline(s, d, now, &mut out);
            }
            for store in &s.snapshot.stores {
                let key = (s.name.to_owned(), store.id.clone());
                let to_full = store.free_bytes.and_then(|free| {
                    let history = self.store_history.entry(key.clone()).or_default();
                    record(history, now, free);
                    time_to_full(history, now)
                });
                seen_stores.push(key);
                store_filling_up(s, store, to_full, &mut out);
            }
        }
        self.store_history
            .retain(|k, h| seen_stores.contains(k) && !h.is_empty());
        dedupe(out)
    }
}

/// One candidate per label set, the largest value winning: the rules' `max by`.
fn dedupe(mut all: Vec<Candidate>) -> Vec<Candidate> {
    let mut index: HashMap<AlertLabels, usize> = HashMap::with_capacity(all.len());
    let mut out: Vec<Candidate> = Vec::with_capacity(all.len());
    for c in all.drain(..) {
        match index.get(&c.labels) {
            Some(&i) if out[i].value >= c.value => {}
            Some(&i) => out[i] = c,
            None => {
                index.insert(c.labels.clone(), out.len());
                out.push(c);
            }
        }
    }
    out
}

fn labels(rule: &Rule, pairs: &[(&'static str, &str)]) -> AlertLabels {
    let mut l = Vec::with_capacity(pairs.len() + 2);
    l.push(("alertname", rule.name.to_owned()));
    l.push(("severity", rule.severity.to_owned()));
    l.extend(
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, (*v).to_owned())),
    );
    l.sort_by_key(|(k, _)| *k);
    l
}

fn target_labels(rule: &Rule, s: &SourceView<'_>, t: &BackupTarget) -> AlertLabels {
    labels(
        rule,
        &[
            ("system", s.system),
            ("source", s.name),
            ("device", &t.device),
            ("device_id", &t.device_id),
            ("target", &t.target),
        ],
    )
}

fn device_page(s: &SourceView<'_>, device_id: &str) -> Page {
    Page::Device {
        source: s.name.to_owned(),
        device_id: device_id.to_owned(),
    }
}

/// " to {target}" when the target has a name.
fn to_target(t: &BackupTarget) -> String {
    if t.target.is_empty() {
        String::new()
    } else {
        format!(" to {}", t.target)
    }
}

/// "Its last backup activity ... ago." or the rule's words for none, after `lead`.
fn activity(t: &BackupTarget, now: f64, lead: &str, none: &str) -> String {
    match t.last_activity {
        Some(a) => format!(" {lead} {} ago.", humanize_duration(now - a)),
        None => format!(" {none}"),
    }
}

fn stale(s: &SourceView<'_>, t: &BackupTarget, now: f64, out: &mut Vec<Candidate>) {
    let (Some(last), Some(threshold)) = (t.last_success, t.stale_threshold) else {
        return;
    };
    let age = now - last;
    if age <= threshold {
        return;
    }
    let to = to_target(t);
    out.push(Candidate {
        rule: &STALE,
        labels: target_labels(&STALE, s, t),
        summary: format!(
            "Backup of {}{to} is stale: last success {} ago",
            t.device,
            humanize_duration(age)
        ),
        description: format!(
            "The last successful backup of device {} (id {}){to} on the {} source {} finished {} ago, threshold {}.{}",
            t.device,
            t.device_id,
            s.system,
            s.name,
            humanize_duration(age),
            humanize_duration(threshold),
            activity(
                t,
                now,
                "Its last backup activity, completed or not, was",
                "No backup activity of it is known."
            ),
        ),
        value: age,
        device: t.device.clone(),
        page: device_page(s, &t.device_id),
        began: Some(last + threshold),
    });
}

fn never_completed(s: &SourceView<'_>, t: &BackupTarget, now: f64, out: &mut Vec<Candidate>) {
    let (None, Some(first), Some(threshold)) = (t.last_success, t.first_seen, t.stale_threshold)
    else {
        return;
    };
    let age = now - first;
    if age <= threshold {
        return;
    }
    let to = to_target(t);
    out.push(Candidate {
        rule: &NEVER_COMPLETED,
        labels: target_labels(&NEVER_COMPLETED, s, t),
        summary: format!(
            "No backup of {}{to} has completed in {}",
            t.device,
            humanize_duration(age)
        ),
        description: format!(
            "Device {} (id {}) on the {} source {} was first seen {} ago (threshold {}), and no backup of it{to} has ever completed.{}",
            t.device,
            t.device_id,
            s.system,
            s.name,
            humanize_duration(age),
            humanize_duration(threshold),
            activity(
                t,
                now,
                "Its last backup activity was",
                "No backup activity of it is known either."
            ),
        ),
        value: age,
        device: t.device.clone(),
        page: device_page(s, &t.device_id),
        began: Some(first + threshold),
    });
}

fn failing(s: &SourceView<'_>, t: &BackupTarget, now: f64, out: &mut Vec<Candidate>) {
    let failed = t.last_run_failed == Some(true);
    let states: Vec<&str> = t
        .alert_states
        .iter()
        .map(String::as_str)
        .filter(|st| FAILING_STATES.contains(st))
        .collect();
    if !failed && states.is_empty() {
        return;
    }
    let mut why = String::new();
    if failed {
        why.push_str(" its latest finished run failed");
        if let Some(n) = t.last_run_errors.filter(|n| *n > 0.0) {
            why.push_str(&format!(
                " with {} error{}",
                go_float(n),
                if n == 1.0 { "" } else { "s" }
            ));
        }
    }
    if failed && !states.is_empty() {
        why.push_str(", and");
    }
    if !states.is_empty() {
        why.push_str(&format!(" {} reports it in alert state", s.system));
        for st in &states {
            why.push(' ');
            why.push_str(st);
        }
    }
    out.push(Candidate {
        rule: &FAILING,
        labels: target_labels(&FAILING, s, t),
        summary: format!("Backup of {}{} is failing", t.device, to_target(t)),
        description: format!(
            "The backup of device {} (id {}){} on the {} source {} is failing:{why}.{}",
            t.device,
            t.device_id,
            to_target(t),
            s.system,
            s.name,
            t.last_success.map_or(String::new(), |last| format!(
                " Its last successful backup finished {} ago.",
                humanize_duration(now - last)
            )),
        ),
        value: 1.0,
        device: t.device.clone(),
        page: device_page(s, &t.device_id),
        began: None,
    });
}

fn agent_offline(s: &SourceView<'_>, d: &Device, now: f64, out: &mut Vec<Candidate>) {
    if d.connected != Some(false) {
        return;
    }
    // The device's own limit where its system gives one (+Inf: nothing is due), else a day;
    // without a check-in time, only where the system gives no limit either.
    let (since, began) = match (d.last_connected, d.offline_threshold) {
        (Some(t), Some(limit)) if now - t > limit => (Some(now - t), Some(t + limit)),
        (Some(t), None) if now - t > OFFLINE_AFTER_SECONDS => {
            (Some(now - t), Some(t + OFFLINE_AFTER_SECONDS))
        }
        (None, None) => (None, None),
        _ => return,
    };
    let how = match since {
        Some(age) => {
            let mut how = format!(": it last checked in {} ago", humanize_duration(age));
            if let Some(limit) = d.offline_threshold {
                how.push_str(&format!(
                    ", longer than the {} its backup schedule allows",
                    humanize_duration(limit)
                ));
            }
            how
        }
        None => format!(
            " for more than 30 minutes ({} does not report when it last checked in)",
            s.system
        ),
    };
    out.push(Candidate {
        rule: &AGENT_OFFLINE,
        labels: labels(
            &AGENT_OFFLINE,
            &[
                ("system", s.system),
                ("source", s.name),
                ("device", &d.name),
                ("device_id", &d.id),
            ],
        ),
        summary: format!("Backup device {} is offline", d.name),
        description: format!(
            "Device {} (id {}) on the {} source {} is offline, not connected to its backup service{how}. Its backups cannot run until it connects again.",
            d.name, d.id, s.system, s.name
        ),
        value: 1.0,
        device: d.name.clone(),
        page: device_page(s, &d.id),
        began,
    });
}

fn store_filling_up(
    s: &SourceView<'_>,
    store: &Store,
    to_full: Option<f64>,
    out: &mut Vec<Candidate>,
) {
    let Some(ratio) = store.free_ratio.filter(|r| *r < STORE_FREE_RATIO_LIMIT) else {
        return;
    };
    let mut has = format!(" {} of its space free", humanize_percentage(ratio));
    if let Some(free) = store.free_bytes {
        has.push_str(&format!(" ({}B)", humanize_1024(free)));
    }
    let trend = match to_full {
        Some(t) => format!(
            "; at the rate of the last day it is full in {}",
            humanize_duration(t)
        ),
        None => "; it is not filling up now".to_owned(),
    };
    out.push(Candidate {
        rule: &STORE_FILLING_UP,
        labels: labels(
            &STORE_FILLING_UP,
            &[
                ("source", s.name),
                ("mount_point", &store.name),
                ("mount_point_id", &store.id),
            ],
        ),
        summary: format!(
            "Backup store {} of {} is filling up",
            store.name, s.name
        ),
        description: format!(
            "Mount point {} (id {}) of the source {} has{has}{trend}. When it is full, the archives on it cannot grow and the backups of their devices stop.",
            store.name, store.id, s.name
        ),
        value: ratio,
        device: String::new(),
        page: Page::Alerts,
        began: None,
    });
}

/// Adds a free-space sample (at most one a minute) and drops those older than the window.
fn record(history: &mut VecDeque<(f64, f64)>, now: f64, free: f64) {
    if history
        .back()
        .is_none_or(|(t, _)| now - t >= STORE_SAMPLE_SECONDS)
    {
        history.push_back((now, free));
    }
    while history
        .front()
        .is_some_and(|(t, _)| now - t > STORE_WINDOW_SECONDS)
    {
        history.pop_front();
    }
}

/// Seconds until the store is full at the rate of the window (least squares, as `deriv` and
/// `predict_linear` compute it), rounded to the minute; `None` when it is not filling up.
fn time_to_full(history: &VecDeque<(f64, f64)>, now: f64) -> Option<f64> {
    if history.len() < 2 {
        return None;
    }
    let n = history.len() as f64;
    let (sx, sy) = history
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (t, v)| (sx + (t - now), sy + v));
    let (mx, my) = (sx / n, sy / n);
    let (cov, var) = history.iter().fold((0.0, 0.0), |(c, v), (t, y)| {
        let dx = t - now - mx;
        (c + dx * (y - my), v + dx * dx)
    });
    if var == 0.0 {
        return None;
    }
    let slope = cov / var;
    if slope >= 0.0 {
        return None;
    }
    let free_now = my - slope * mx;
    Some((free_now / -slope / 60.0).round() * 60.0)
}

#[cfg(test)]
mod tests;
