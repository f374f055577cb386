//! Alert states between evaluations, as Prometheus keeps them for a rule: pending until the
//! rule's `for` has passed, firing, kept firing for `keep_firing_for` after the condition
//! cleared, then resolved (and still sent for a while, so every Alertmanager hears of it).

use std::collections::HashMap;

use super::rules::{AlertLabels, Candidate, Page, Rule};

/// Resolved alerts are sent again for this long (seconds), as Prometheus does, so an
/// Alertmanager that missed the first resolution (down, restarted) still hears of it.
pub const RESOLVED_RETENTION_SECONDS: f64 = 15.0 * 60.0;

/// An alert the bridge knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub rule: &'static Rule,
    pub labels: AlertLabels,
    pub summary: String,
    pub description: String,
    pub device: String,
    pub page: Page,
    /// When the condition began to hold (Unix seconds).
    pub active_since: f64,
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
}

impl Tracker {
    pub fn new(keep_firing_for_seconds: f64) -> Tracker {
        Tracker {
            keep_firing_for: keep_firing_for_seconds,
            ..Tracker::default()
        }
    }

    /// Changes whenever an update changed an alert (what the status page shows of them).
    pub fn version(&self) -> u64 {
        self.version
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
        for c in candidates {
            held.insert(c.labels.clone());
            let hold = f64::from(c.rule.hold_seconds);
            match self.alerts.get_mut(&c.labels) {
                Some(a) if a.resolved_at.is_none() => {
                    edited |= a.summary != c.summary || a.description != c.description;
                    a.summary = c.summary;
                    a.description = c.description;
                    a.last_held = now;
                    if a.fired_at.is_none() && now - a.active_since >= hold {
                        a.fired_at = Some(now);
                        changed = true;
                    }
                }
                // New, or back after it resolved: a new alert.
                _ => {
                    added_or_removed = true;
                    let fired_at = (hold <= 0.0).then_some(now);
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
                            active_since: now,
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
