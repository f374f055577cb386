//! Alert states between evaluations, as Prometheus keeps them for a rule: pending until the
//! rule's `for` has passed, firing, kept firing for `keep_firing_for` after the condition
//! cleared, then resolved (and still sent for a while, so every Alertmanager hears of it).

use std::collections::HashMap;

use super::rules::{AlertLabels, Candidate, Page, Rule};

/// Resolved alerts are sent again for this long (seconds), as Prometheus does, so an
/// Alertmanager that missed the first resolution (down, restarted) still hears of it.
pub const RESOLVED_RETENTION_SECONDS: f64 = 15.0 * 60.0;

/// Alerts restored from before a restart keep when they began and fired if their condition
/// holds again within this long (seconds) of when they were saved, as Prometheus restores the
/// `for` state of its alerts after an outage of up to an hour (`rules.alert.for-outage-tolerance`).
pub const RESTORE_TOLERANCE_SECONDS: f64 = 3600.0;

/// A pending or firing alert as the state file keeps it: its labels, when its condition began
/// to hold, when it fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub labels: Vec<(String, String)>,
    pub active_since: f64,
    pub fired_at: Option<f64>,
}

/// The key of a label set, however its labels are ordered.
fn label_key<'a>(labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = labels.collect();
    pairs.sort_unstable();
    let mut key = String::new();
    for (k, v) in pairs {
        key.push_str(k);
        key.push('\u{1}');
        key.push_str(v);
        key.push('\u{0}');
    }
    key
}

/// An alert the bridge knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub rule: &'static Rule,
    pub labels: AlertLabels,
    pub summary: String,
    pub description: String,
    pub device: String,
    pub page: Page,
    /// When the condition began to hold (Unix seconds), as the evaluations saw it.
    pub active_since: f64,
    /// When the condition began, where the rule's inputs tell (a stale backup: when its
    /// threshold passed), which may be before the exporter saw it.
    pub began: Option<f64>,
    /// When it fired (`None`: pending).
    pub fired_at: Option<f64>,
    /// The last evaluation at which the condition held.
    pub last_held: f64,
    /// When it resolved.
    pub resolved_at: Option<f64>,
}

impl Alert {
    pub fn firing(&self) -> bool {
        self.fired_at.is_some() && self.resolved_at.is_none()
    }

    pub fn pending(&self) -> bool {
        self.fired_at.is_none()
    }

    /// The value of label `name` ("" when it has none, as in Prometheus).
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The alerts of every rule, by label set.
#[derive(Debug, Default)]
pub struct Tracker {
    alerts: HashMap<AlertLabels, Alert>,
    keep_firing_for: f64,
    /// The alerts about each device (`Page::Device`), by source and device id.
    by_device: HashMap<(String, String), Vec<AlertLabels>>,
    /// Counts the updates that changed an alert: one came or went, changed state or text.
    version: u64,
    /// Counts the updates that changed what [`Tracker::kept`] says: an alert came, went,
    /// fired or resolved (not a text that changed).
    kept_version: u64,
    /// Alerts of before a restart ([`Tracker::restore`]), by [`label_key`], until their
    /// condition holds again or `restored_until`.
    restored: HashMap<String, Kept>,
    restored_until: f64,
}

impl Tracker {
    pub fn new(keep_firing_for_seconds: f64) -> Tracker {
        Tracker {
            keep_firing_for: keep_firing_for_seconds,
            ..Tracker::default()
        }
    }

    /// The pending and firing alerts, for the state file; with those of before a restart
    /// whose condition has not been evaluated again yet (within the tolerance).
    pub fn kept(&self) -> Vec<Kept> {
        self.alerts
            .values()
            .filter(|a| a.resolved_at.is_none())
            .map(|a| Kept {
                labels: a
                    .labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                active_since: a.active_since,
                fired_at: a.fired_at,
            })
            .chain(self.restored.values().cloned())
            .collect()
    }

    /// Takes the alerts of before a restart, saved at `saved_at`: one whose condition holds
    /// again within [`RESTORE_TOLERANCE_SECONDS`] of then keeps when it began (its `for` goes
    /// on) and, if it had fired, stays fired with the same start, so Alertmanager sees the
    /// same alert go on rather than a new one.
    pub fn restore(&mut self, kept: Vec<Kept>, saved_at: f64) {
        self.restored_until = saved_at + RESTORE_TOLERANCE_SECONDS;
        for k in kept {
            let key = label_key(k.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            self.restored.insert(key, k);
        }
    }

    /// Changes whenever an update changed an alert (what the status page shows of them).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Changes whenever an update changed the pending and firing alerts the state file keeps.
    pub fn kept_version(&self) -> u64 {
        self.kept_version
    }

    /// The alerts (any state) about one device, without looking at the others.
    pub fn device_alerts<'a>(
        &'a self,
        source: &str,
        device_id: &str,
    ) -> impl Iterator<Item = &'a Alert> + 'a {
        self.by_device
            .get(&(source.to_owned(), device_id.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|labels| self.alerts.get(labels))
    }

    /// Takes one evaluation's conditions at `now`. Returns whether an alert fired or resolved
    /// (the firing set changed, so it is worth sending at once).
    pub fn update(&mut self, candidates: Vec<Candidate>, now: f64) -> bool {
        let mut changed = false;
        // An alert came or went (the index by device is rebuilt), or one changed.
        let mut added_or_removed = false;
        let mut edited = false;
        let mut held = std::collections::HashSet::with_capacity(candidates.len());
        if now > self.restored_until {
            self.restored = HashMap::new();
        }
        for c in candidates {
            held.insert(c.labels.clone());
            let hold = f64::from(c.rule.hold_seconds);
            match self.alerts.get_mut(&c.labels) {
                Some(a) if a.resolved_at.is_none() => {
                    edited |= a.summary != c.summary || a.description != c.description;
                    a.summary = c.summary;
                    a.description = c.description;
                    a.began = c.began;
                    a.last_held = now;
                    if a.fired_at.is_none() && now - a.active_since >= hold {
                        a.fired_at = Some(now);
                        changed = true;
                    }
                }
                // New, or back after it resolved: a new alert (or one of before a restart).
                _ => {
                    added_or_removed = true;
                    let restored = if self.restored.is_empty() {
                        None
                    } else {
                        self.restored
                            .remove(&label_key(c.labels.iter().map(|(k, v)| (*k, v.as_str()))))
                    };
                    let (active_since, fired_at) = match restored {
                        Some(k) if k.active_since <= now => (
                            k.active_since,
                            k.fired_at.or((now - k.active_since >= hold).then_some(now)),
                        ),
                        _ => (now, (hold <= 0.0).then_some(now)),
                    };
                    changed |= fired_at.is_some();
                    self.alerts.insert(
                        c.labels.clone(),
                        Alert {
                            rule: c.rule,
                            labels: c.labels,
                            summary: c.summary,
                            description: c.description,
                            device: c.device,
                            page: c.page,
                            began: c.began,
                            active_since,
                            fired_at,
                            last_held: now,
                            resolved_at: None,
                        },
                    );
                }
            }
        }
        let keep = self.keep_firing_for;
        let before = self.alerts.len();
        self.alerts.retain(|labels, a| {
            if held.contains(labels) {
                return true;
            }
            match (a.fired_at, a.resolved_at) {
                // Pending alerts end silently, as in Prometheus.
                (None, _) => false,
                (Some(_), None) => {
                    if now - a.last_held >= keep {
                        a.resolved_at = Some(now);
                        changed = true;
                    }
                    true
                }
                (Some(_), Some(resolved)) => now - resolved <= RESOLVED_RETENTION_SECONDS,
            }
        });
        added_or_removed |= self.alerts.len() != before;
        if added_or_removed {
            self.by_device.clear();
            for (labels, a) in &self.alerts {
                if let Page::Device { source, device_id } = &a.page {
                    self.by_device
                        .entry((source.clone(), device_id.clone()))
                        .or_default()
                        .push(labels.clone());
                }
            }
        }
        if changed || added_or_removed || edited {
            self.version += 1;
        }
        if changed || added_or_removed {
            self.kept_version += 1;
        }
        changed
    }

    /// Every alert known: pending, firing, and recently resolved.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// Alerts firing now, per rule name.
    pub fn firing_count(&self, rule: &Rule) -> usize {
        self.alerts
            .values()
            .filter(|a| a.firing() && std::ptr::eq(a.rule, rule))
            .count()
    }

    /// Whether there is anything to send: firing or resolved alerts.
    pub fn has_news(&self) -> bool {
        self.alerts.values().any(|a| a.fired_at.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::{AGENT_OFFLINE, STALE};
    use super::*;

    fn candidate(rule: &'static Rule, device: &str) -> Candidate {
        Candidate {
            rule,
            labels: vec![
                ("alertname", rule.name.into()),
                ("device", device.into()),
                ("severity", rule.severity.into()),
            ],
            summary: format!("summary of {device}"),
            description: String::new(),
            value: 1.0,
            device: device.into(),
            page: Page::Alerts,
            began: None,
        }
    }

    fn states(t: &Tracker) -> Vec<(String, &'static str)> {
        let mut v: Vec<_> = t
            .alerts()
            .map(|a| {
                let state = if a.pending() {
                    "pending"
                } else if a.firing() {
                    "firing"
                } else {
                    "resolved"
                };
                (a.device.clone(), state)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn fires_at_once_without_for_and_resolves_when_cleared() {
        let mut t = Tracker::new(0.0);
        assert!(t.update(vec![candidate(&STALE, "a")], 100.0));
        assert_eq!(states(&t), [("a".into(), "firing")]);
        // Still holding: nothing new to say.
        assert!(!t.update(vec![candidate(&STALE, "a")], 160.0));
        let a = t.alerts().next().unwrap();
        assert_eq!(
            (a.active_since, a.fired_at, a.last_held),
            (100.0, Some(100.0), 160.0)
        );
        assert!(t.update(vec![], 220.0));
        assert_eq!(states(&t), [("a".into(), "resolved")]);
        assert_eq!(t.alerts().next().unwrap().resolved_at, Some(220.0));
        assert!(t.has_news());
        // Sent on for 15 minutes, then forgotten.
        assert!(!t.update(vec![], 220.0 + RESOLVED_RETENTION_SECONDS));
        assert!(!t.update(vec![], 221.0 + RESOLVED_RETENTION_SECONDS));
        assert_eq!(states(&t), []);
    }

    #[test]
    fn a_rule_with_for_pends_first_and_a_pending_alert_ends_silently() {
        let mut t = Tracker::new(0.0);
        assert!(!t.update(vec![candidate(&AGENT_OFFLINE, "a")], 0.0));
        assert_eq!(states(&t), [("a".into(), "pending")]);
        assert!(!t.has_news());
        assert!(!t.update(vec![candidate(&AGENT_OFFLINE, "a")], 1799.0));
        assert!(t.update(vec![candidate(&AGENT_OFFLINE, "a")], 1800.0));
        assert_eq!(states(&t), [("a".into(), "firing")]);
        assert_eq!(t.firing_count(&AGENT_OFFLINE), 1);
        assert_eq!(t.firing_count(&STALE), 0);

        let both = || {
            vec![
                candidate(&AGENT_OFFLINE, "a"),
                candidate(&AGENT_OFFLINE, "b"),
            ]
        };
        assert!(!t.update(both(), 2000.0));
        assert_eq!(
            states(&t),
            [("a".into(), "firing"), ("b".into(), "pending")]
        );
        // b clears before its 30 minutes: gone without a word.
        assert!(!t.update(vec![candidate(&AGENT_OFFLINE, "a")], 2100.0));
        assert_eq!(states(&t), [("a".into(), "firing")]);
    }

    #[test]
    fn what_the_state_file_keeps_changes_with_alerts_not_with_their_text() {
        let mut t = Tracker::new(0.0);
        t.update(vec![candidate(&STALE, "a")], 0.0);
        let (version, kept) = (t.version(), t.kept_version());
        // The same alert, its summary one minute older: the page changes, the state does not.
        let mut older = candidate(&STALE, "a");
        older.summary = "a minute later".into();
        t.update(vec![older], 60.0);
        assert_ne!(t.version(), version);
        assert_eq!(t.kept_version(), kept);
        t.update(
            vec![candidate(&STALE, "a"), candidate(&AGENT_OFFLINE, "b")],
            120.0,
        );
        assert_ne!(t.kept_version(), kept, "a new pending alert");
        let kept = t.kept_version();
        t.update(
            vec![candidate(&STALE, "a"), candidate(&AGENT_OFFLINE, "b")],
            1920.0,
        );
        assert_ne!(t.kept_version(), kept, "b fired");
    }

    #[test]
    fn alerts_of_before_a_restart_go_on_where_they_were() {
        let mut before = Tracker::new(0.0);
        before.update(vec![candidate(&AGENT_OFFLINE, "a")], 0.0);
        before.update(
            vec![
                candidate(&AGENT_OFFLINE, "a"),
                candidate(&AGENT_OFFLINE, "b"),
            ],
            1800.0,
        );
        before.update(
            vec![
                candidate(&AGENT_OFFLINE, "a"),
                candidate(&AGENT_OFFLINE, "b"),
                candidate(&STALE, "c"),
            ],
            1900.0,
        );
        let mut kept = before.kept();
        kept.sort_by(|x, y| x.labels.cmp(&y.labels));
        assert_eq!(kept.len(), 3);
        // Labels in another order are the same alert.
        for k in &mut kept {
            k.labels.reverse();
        }

        // Restarted at 2000: a (fired) and b (pending since 1800) hold again at 2100.
        let mut after = Tracker::new(0.0);
        after.restore(kept.clone(), 1900.0);
        // Until they are evaluated again, they are kept as they were.
        let mut again = after.kept();
        again.sort_by(|x, y| x.labels.cmp(&y.labels));
        assert_eq!(again.len(), 3);
        after.update(
            vec![
                candidate(&AGENT_OFFLINE, "a"),
                candidate(&AGENT_OFFLINE, "b"),
            ],
            2100.0,
        );
        let times = |t: &Tracker, d: &str| {
            let a = t.alerts().find(|a| a.device == d).unwrap();
            (a.active_since, a.fired_at)
        };
        assert_eq!(times(&after, "a"), (0.0, Some(1800.0)));
        assert_eq!(times(&after, "b"), (1800.0, None));
        // b's 30 minutes since 1800 are up at 3600, not 30 minutes after the restart.
        assert!(after.update(vec![candidate(&AGENT_OFFLINE, "b")], 3600.0));
        assert_eq!(times(&after, "b"), (1800.0, Some(3600.0)));
        // c's condition came back only after the tolerance: a new alert.
        after.update(
            vec![candidate(&STALE, "c")],
            1900.0 + RESTORE_TOLERANCE_SECONDS + 1.0,
        );
        assert_eq!(
            times(&after, "c"),
            (
                1901.0 + RESTORE_TOLERANCE_SECONDS,
                Some(1901.0 + RESTORE_TOLERANCE_SECONDS)
            )
        );

        // Without restoring, b would pend again for 30 minutes from the restart.
        let mut afresh = Tracker::new(0.0);
        afresh.update(vec![candidate(&AGENT_OFFLINE, "b")], 2100.0);
        assert_eq!(times(&afresh, "b"), (2100.0, None));
    }

    #[test]
    fn keep_firing_for_delays_the_resolution_and_a_return_is_a_new_alert() {
        let mut t = Tracker::new(600.0);
        t.update(vec![candidate(&STALE, "a")], 0.0);
        assert!(!t.update(vec![], 60.0));
        assert!(!t.update(vec![], 599.0));
        assert_eq!(states(&t), [("a".into(), "firing")]);
        // Holding again within the window: still the same alert.
        assert!(!t.update(vec![candidate(&STALE, "a")], 650.0));
        assert!(!t.update(vec![], 1000.0));
        assert!(t.update(vec![], 1250.0));
        assert_eq!(states(&t), [("a".into(), "resolved")]);
        // Back after resolving: a new alert, firing from now.
        assert!(t.update(vec![candidate(&STALE, "a")], 1300.0));
        let a = t.alerts().next().unwrap();
        assert_eq!(
            (a.active_since, a.fired_at, a.resolved_at),
            (1300.0, Some(1300.0), None)
        );
    }
}
