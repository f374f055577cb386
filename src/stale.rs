//! Staleness: the two families the BackupStale and BackupNeverCompleted rules compare
//! against, added to every source's snapshot after it is read.
//!
//! - `backup_stale_threshold_seconds`: how old a target's last successful backup may get. It
//!   comes from the configuration ([`StalePolicy`]), so one alert rule serves every device
//!   (`time() - backup_last_success_timestamp_seconds > on(...) group_left
//!   backup_stale_threshold_seconds`). A target the vendor says is paused gets none.
//! - `backup_first_seen_timestamp_seconds`: since when the target is known, the vendor's
//!   creation time where the API gives one, else when the exporter first read it
//!   ([`Memory`]). With a `state_file` it survives restarts; without one a restart starts it
//!   again, and a never-completed alert is then delayed by up to one threshold, never raised
//!   early.
//!
//! [`Memory`] also keeps each target's last success: a refresh in which the vendor gives none
//! (unreadable, or a success only an earlier refresh could see) exports the one known before.

use std::collections::HashMap;

use crate::exposition::Labels;
use crate::metrics as m;
use crate::settings::{SourceConfig, StaleOverride, StaleThreshold};
use crate::sources::{BackupTarget, Snapshot};

/// A target not read for this long is forgotten by [`Memory`]; one that is missing from a
/// few refreshes (an upstream hiccup) keeps its first-seen time.
const FORGET_AFTER_SECONDS: f64 = 7.0 * 86_400.0;

/// Added to a target's schedule period to make its least default threshold.
const SCHEDULE_SLACK_SECONDS: f64 = 86_400.0;

/// The stale thresholds of one source: its overrides in order, then its own threshold.
#[derive(Debug, Clone)]
pub struct StalePolicy {
    threshold: StaleThreshold,
    overrides: Vec<StaleOverride>,
}

impl StalePolicy {
    /// The policy of a validated source configuration.
    pub fn of(cfg: &SourceConfig) -> StalePolicy {
        StalePolicy {
            threshold: cfg
                .stale_threshold
                .unwrap_or_else(crate::settings::default_stale_threshold),
            overrides: cfg.stale_overrides.clone(),
        }
    }

    /// The threshold of a target in seconds; `None` when it has none (paused, or off).
    pub fn threshold(&self, t: &BackupTarget) -> Option<f64> {
        if t.paused {
            return None;
        }
        let matching = self.overrides.iter().find(|o| {
            o.device.as_ref().is_none_or(|p| p.matches(&t.device))
                && o.device_id.as_ref().is_none_or(|p| p.matches(&t.device_id))
                && o.target.as_ref().is_none_or(|p| p.matches(&t.target))
        });
        match matching {
            Some(o) => o.threshold.seconds(),
            // A schedule longer than the threshold allows: one missed run, plus a day.
            None => self.threshold.seconds().map(|threshold| {
                t.schedule_period.map_or(threshold, |period| {
                    threshold.max(period + SCHEDULE_SLACK_SECONDS)
                })
            }),
        }
    }
}

/// What the exporter has learned of each target of one source: when it first read it, when it
/// last read it, and the last success the vendor reported. One map keyed by device id and
/// target together (a map per device cost 6.9 MB at 40 000 targets, this one about 4 MB).
/// [`crate::state_file`] keeps it across restarts.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    targets: HashMap<Box<str>, Learned>,
    /// The vendor's last success is itself learned by the exporter (see
    /// `crate::sources::Vendor::last_success_learned`): a later one is never replaced by an
    /// earlier one.
    never_back: bool,
    /// The key being looked up, made again for each target without allocating.
    key: String,
}

/// What is known of one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    /// When the exporter first read it.
    pub first: f64,
    /// When it last read it.
    pub last: f64,
    /// The latest last success the vendor reported (`None`: none yet).
    pub success: Option<f64>,
}

impl Memory {
    /// A memory for a source whose last successes are learned by the exporter (they never
    /// move back), or given by the vendor (the vendor's value always wins).
    pub fn with_learned_successes(mut self, learned: bool) -> Memory {
        self.never_back = learned;
        self
    }

    /// Records that the target was read at `now`, with the last success the vendor gave
    /// (`None`: none, or unreadable). Returns when it was first read and the last success to
    /// export: the vendor's, else the one it reported before (a value unreadable in one
    /// refresh, a success only an earlier refresh could see, one learned before a restart).
    pub fn touch(
        &mut self,
        device_id: &str,
        target: &str,
        now: f64,
        success: Option<f64>,
    ) -> (f64, Option<f64>) {
        make_key(&mut self.key, device_id, target);
        match self.targets.get_mut(self.key.as_str()) {
            Some(known) => {
                known.last = known.last.max(now);
                known.success = match (success, known.success) {
                    (Some(new), Some(old)) if self.never_back => Some(new.max(old)),
                    (Some(new), _) => Some(new),
                    (None, old) => old,
                };
                (known.first, known.success)
            }
            None => {
                self.targets.insert(
                    self.key.as_str().into(),
                    Learned {
                        first: now,
                        last: now,
                        success,
                    },
                );
                (now, success)
            }
        }
    }

    /// Forgets targets not read since `FORGET_AFTER_SECONDS` before `now`.
    pub fn forget_old(&mut self, now: f64) {
        self.targets
            .retain(|_, seen| now - seen.last <= FORGET_AFTER_SECONDS);
    }

    /// Every target known: device id, target, what is known.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Learned)> + '_ {
        self.targets.iter().filter_map(|(key, learned)| {
            let (device_id, target) = split_key(key)?;
            Some((device_id, target, learned))
        })
    }

    /// Adds what was known of a target (from the state file); a target already known keeps
    /// what this process learned.
    pub fn restore(&mut self, device_id: &str, target: &str, learned: Learned) {
        make_key(&mut self.key, device_id, target);
        if !self.targets.contains_key(self.key.as_str()) {
            self.targets.insert(self.key.as_str().into(), learned);
        }
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// The map key of a target: the device id's length first, so that no two (device id, target)
/// pairs share a key.
fn make_key(key: &mut String, device_id: &str, target: &str) {
    key.clear();
    key.push_str(itoa::Buffer::new().format(device_id.len()));
    key.push(':');
    key.push_str(device_id);
    key.push_str(target);
}

/// The device id and target of a key of [`make_key`].
fn split_key(key: &str) -> Option<(&str, &str)> {
    let (len, rest) = key.split_once(':')?;
    let len: usize = len.parse().ok()?;
    (rest.is_char_boundary(len) && len <= rest.len()).then(|| rest.split_at(len))
}

/// Adds the staleness families of every target of `snapshot`, read at `now`.
pub fn annotate(snapshot: &mut Snapshot, policy: &StalePolicy, memory: &mut Memory, now: f64) {
    let Snapshot {
        targets, metrics, ..
    } = snapshot;
    // A fleet's first-seen and threshold samples are compressed on a thread beside while the
    // next targets are written, and taken back at the end.
    metrics.compress_beside();
    if let Some(first) = targets.first() {
        let label_bytes = 40 + first.device.len() + first.device_id.len() + first.target.len();
        metrics.reserve(&m::FIRST_SEEN, targets.len(), label_bytes);
        metrics.reserve(&m::STALE_THRESHOLD, targets.len(), label_bytes);
    }
    let mut l = Labels::default();
    for t in targets.iter_mut() {
        crate::sources::set_target_labels(&mut l, t);
        // Recorded even when the vendor gives a creation time, so a target whose creation
        // time turns unreadable keeps a first-seen time.
        let (read_first, success) = memory.touch(&t.device_id, &t.target, now, t.last_success);
        let first_seen = t.first_seen.unwrap_or(read_first);
        // The vendor gave none this time, but one is known: exported as the vendor's are
        // (the mapping wrote those).
        if t.last_success.is_none() {
            if let Some(success) = success {
                metrics.add_labels(&m::LAST_SUCCESS, &l, success);
                t.last_success = Some(success);
            }
        }
        // Needed only while no completed backup is known (BackupNeverCompleted); once one is,
        // the last success says more, and a series per target is saved.
        if t.last_success.is_none() {
            metrics.add_labels(&m::FIRST_SEEN, &l, first_seen);
        }
        let threshold = policy.threshold(t);
        if let Some(threshold) = threshold {
            metrics.add_labels(&m::STALE_THRESHOLD, &l, threshold);
        }
        // What the alerting bridge evaluates: the values exported.
        t.first_seen = Some(first_seen);
        t.stale_threshold = threshold;
    }
    memory.forget_old(now);
    metrics.settle();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::exposition::{assemble, MetricSet};
    use crate::sources::values::Warnings;

    fn policy(extra: &str) -> StalePolicy {
        let cfg = Config::from_toml_str(&format!(
            "[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"https://cp.example\"\nusername = \"u\"\npassword = \"p\"\n{extra}"
        ))
        .unwrap();
        StalePolicy::of(&cfg.sources[0])
    }

    fn target(device: &str, target: &str) -> BackupTarget {
        BackupTarget {
            device: device.into(),
            device_id: format!("id-{device}"),
            target: target.into(),
            ..Default::default()
        }
    }

    #[test]
    fn first_matching_override_wins_then_the_source_then_the_default() {
        let p = policy("");
        assert_eq!(p.threshold(&target("web01", "cloud")), Some(259_200.0));

        let p = policy(
            r#"stale_threshold = "36h"
[[source.stale_override]]
device = "db-.*"
target = "offsite"
threshold = "8h"
[[source.stale_override]]
device = "db-.*"
threshold = "1d"
[[source.stale_override]]
device_id = "id-laptop-\\d+"
threshold = "off"
"#,
        );
        assert_eq!(p.threshold(&target("db-01", "offsite")), Some(28_800.0));
        assert_eq!(p.threshold(&target("db-01", "local")), Some(86_400.0));
        // Anchored: a name that only contains the pattern does not match.
        assert_eq!(p.threshold(&target("old-db-01", "local")), Some(129_600.0));
        assert_eq!(p.threshold(&target("laptop-7", "cloud")), None);
        assert_eq!(p.threshold(&target("laptop-x", "cloud")), Some(129_600.0));
        let mut paused = target("web01", "cloud");
        paused.paused = true;
        assert_eq!(p.threshold(&paused), None);
    }

    #[test]
    fn a_long_schedule_raises_the_default_not_an_override() {
        let p = policy("[[source.stale_override]]\ntarget = \"strict\"\nthreshold = \"2d\"\n");
        let mut weekly = target("web01", "weekly");
        weekly.schedule_period = Some(7.0 * 86_400.0);
        assert_eq!(p.threshold(&weekly), Some(8.0 * 86_400.0));
        let mut daily = target("web01", "daily");
        daily.schedule_period = Some(86_400.0);
        assert_eq!(p.threshold(&daily), Some(3.0 * 86_400.0));
        let mut strict = target("web01", "strict");
        strict.schedule_period = Some(7.0 * 86_400.0);
        assert_eq!(p.threshold(&strict), Some(2.0 * 86_400.0));
    }

    #[test]
    fn the_top_level_threshold_is_every_source_default() {
        let cfg = Config::from_toml_str(
            "stale_threshold = \"2d\"\n[[source]]\nname = \"a\"\nkind = \"crashplan\"\nurl = \"https://cp.example\"\nusername = \"u\"\npassword = \"p\"\n[[source]]\nname = \"b\"\nkind = \"crashplan\"\nurl = \"https://cp.example\"\nusername = \"u\"\npassword = \"p\"\nstale_threshold = \"off\"\n",
        )
        .unwrap();
        let t = target("web01", "cloud");
        assert_eq!(
            StalePolicy::of(&cfg.sources[0]).threshold(&t),
            Some(172_800.0)
        );
        assert_eq!(StalePolicy::of(&cfg.sources[1]).threshold(&t), None);
    }

    #[test]
    fn bad_thresholds_and_patterns_are_named() {
        let base = "[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"https://cp.example\"\nusername = \"u\"\npassword = \"p\"\n";
        for (extra, wants) in [
            ("stale_threshold = \"3 fortnights\"", "stale_threshold"),
            ("stale_threshold = \"0s\"", "more than 0s"),
            (
                "[[source.stale_override]]\ndevice = \"db-(\"\nthreshold = \"1d\"",
                "not a valid regular expression",
            ),
            (
                "[[source.stale_override]]\nthreshold = \"1d\"",
                "stale_override[0]",
            ),
            (
                "[[source.stale_override]]\ndevice = \"x\"\nthreshold = \"1d\"\ncolour = \"red\"",
                "colour",
            ),
            ("[[source.stale_override]]\ndevice = \"x\"", "threshold"),
        ] {
            let err = Config::from_toml_str(&format!("{base}{extra}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(wants), "{extra}: {err}");
        }
    }

    #[test]
    fn first_seen_is_kept_across_refreshes_and_forgotten_after_a_week() {
        let mut seen = Memory::default();
        let first = |seen: &mut Memory, d: &str, t: &str, now: f64| seen.touch(d, t, now, None).0;
        assert_eq!(first(&mut seen, "1", "cloud", 100.0), 100.0);
        assert_eq!(first(&mut seen, "1", "cloud", 200.0), 100.0);
        assert_eq!(first(&mut seen, "1", "local", 200.0), 200.0);
        seen.forget_old(200.0 + FORGET_AFTER_SECONDS);
        assert_eq!(seen.len(), 2);
        first(&mut seen, "1", "cloud", 300.0 + FORGET_AFTER_SECONDS);
        seen.forget_old(300.0 + FORGET_AFTER_SECONDS);
        assert_eq!(seen.len(), 1, "local was not read for over a week");
        assert_eq!(
            first(&mut seen, "1", "local", 400.0 + FORGET_AFTER_SECONDS),
            400.0 + FORGET_AFTER_SECONDS
        );
        // A device id and target are told apart however they split.
        assert_eq!(first(&mut seen, "1c", "loud", 500.0), 500.0);
        assert_eq!(first(&mut seen, "1", "cloud", 600.0), 100.0);
        assert_eq!(seen.len(), 3);
        let mut known: Vec<(&str, &str, f64)> =
            seen.iter().map(|(d, t, l)| (d, t, l.first)).collect();
        known.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            known,
            [
                ("1", "cloud", 100.0),
                ("1", "local", 400.0 + FORGET_AFTER_SECONDS),
                ("1c", "loud", 500.0)
            ]
        );
    }

    #[test]
    fn a_last_success_the_vendor_stops_giving_is_the_one_known_before() {
        let mut seen = Memory::default();
        assert_eq!(seen.touch("1", "cloud", 100.0, None), (100.0, None));
        assert_eq!(
            seen.touch("1", "cloud", 200.0, Some(150.0)),
            (100.0, Some(150.0))
        );
        assert_eq!(seen.touch("1", "cloud", 300.0, None), (100.0, Some(150.0)));
        // The vendor's own value wins, even an older one (an archive started again).
        assert_eq!(
            seen.touch("1", "cloud", 400.0, Some(120.0)),
            (100.0, Some(120.0))
        );
        // What a state file restores does not replace what this process learned.
        seen.restore(
            "1",
            "cloud",
            Learned {
                first: 1.0,
                last: 2.0,
                success: Some(3.0),
            },
        );
        seen.restore(
            "2",
            "cloud",
            Learned {
                first: 10.0,
                last: 20.0,
                success: Some(15.0),
            },
        );
        assert_eq!(seen.touch("1", "cloud", 500.0, None), (100.0, Some(120.0)));
        assert_eq!(seen.touch("2", "cloud", 500.0, None), (10.0, Some(15.0)));

        // Where the exporter learns the last success itself, an earlier one (all the vendor
        // tells after a restart) does not replace a later one learned before.
        let mut learned = Memory::default().with_learned_successes(true);
        learned.touch("1", "cloud", 100.0, Some(150.0));
        assert_eq!(
            learned.touch("1", "cloud", 200.0, Some(120.0)),
            (100.0, Some(150.0))
        );
        assert_eq!(
            learned.touch("1", "cloud", 300.0, Some(250.0)),
            (100.0, Some(250.0))
        );
    }

    #[test]
    fn annotate_writes_thresholds_and_first_seen() {
        let mut created = target("web01", "cloud");
        created.first_seen = Some(50.0);
        let mut paused = target("ci01", "cloud");
        paused.paused = true;
        let mut done = target("ok01", "cloud");
        done.last_success = Some(900.0);
        let targets = vec![created, paused, target("new01", "cloud"), done];
        let mut snapshot = Snapshot::new(
            Vec::new(),
            targets,
            MetricSet::new("code42", "console"),
            Warnings::default(),
        );
        let mut seen = Memory::default();
        annotate(&mut snapshot, &policy(""), &mut seen, 1000.0);
        let mut out = String::new();
        assemble(&mut out, &[&snapshot.metrics]);
        let l = |d: &str| {
            format!("system=\"code42\",source=\"console\",device=\"{d}\",device_id=\"id-{d}\",target=\"cloud\"")
        };
        for line in [
            format!("backup_first_seen_timestamp_seconds{{{}}} 50\n", l("web01")),
            format!(
                "backup_first_seen_timestamp_seconds{{{}}} 1000\n",
                l("ci01")
            ),
            format!(
                "backup_first_seen_timestamp_seconds{{{}}} 1000\n",
                l("new01")
            ),
            format!("backup_stale_threshold_seconds{{{}}} 259200\n", l("web01")),
            format!("backup_stale_threshold_seconds{{{}}} 259200\n", l("new01")),
        ] {
            assert!(out.contains(&line), "{line} missing from\n{out}");
        }
        assert!(!out.contains(&format!("backup_stale_threshold_seconds{{{}}}", l("ci01"))));
        // A target with a known success gets a threshold but no first-seen series (the
        // bridge still gets the time).
        assert!(out.contains(&format!(
            "backup_stale_threshold_seconds{{{}}} 259200\n",
            l("ok01")
        )));
        assert!(!out.contains(&format!(
            "backup_first_seen_timestamp_seconds{{{}}}",
            l("ok01")
        )));
        assert_eq!(snapshot.targets[3].first_seen, Some(1000.0));
        assert_eq!(seen.len(), 4);

        // The next refresh cannot read ok01's last success: the one known is exported, and
        // no first-seen series comes back.
        let mut snapshot = Snapshot::new(
            Vec::new(),
            vec![target("ok01", "cloud")],
            MetricSet::new("code42", "console"),
            Warnings::default(),
        );
        annotate(&mut snapshot, &policy(""), &mut seen, 2000.0);
        let mut out = String::new();
        assemble(&mut out, &[&snapshot.metrics]);
        assert!(out.contains(&format!(
            "backup_last_success_timestamp_seconds{{{}}} 900\n",
            l("ok01")
        )));
        assert!(!out.contains("backup_first_seen_timestamp_seconds{"));
        assert_eq!(snapshot.targets[0].last_success, Some(900.0));
    }
}
