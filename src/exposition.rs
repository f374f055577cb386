//! Prometheus text exposition (format 0.0.4) for the data families.
//!
//! Data families are rebuilt from each source's snapshot once per refresh (never per scrape):
//! a [`MetricSet`] holds, per family, the sample lines of one source. The server concatenates
//! the sets of every source under one `# HELP`/`# TYPE` header per family, so a family shared by
//! several sources (every vendor-neutral `backup_*` family) stays contiguous, as the format wants.
//!
//! Metric descriptors ([`Desc`]) are declared once, in `crate::metrics`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use crate::shard::{self, Shard};

/// The type written on a family's `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

/// Which identity labels every sample of a family starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Vendor-neutral family: `system` and `source` labels.
    Neutral,
    /// Vendor-specific family (its name carries the vendor prefix): `source` label only.
    Vendor,
}

/// A metric family's fixed description.
#[derive(Debug)]
pub struct Desc {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub scope: Scope,
    /// The labels a sample carries after the scope labels, in order (documentation and checks).
    pub labels: &'static [&'static str],
    /// Written only when the configuration includes it (`[families] include`); the default
    /// set is what the bundled rules, dashboards and alerting bridge need.
    pub opt_in: bool,
}

/// Which families a [`MetricSet`] writes: the default set (every family not marked opt-in),
/// plus the opt-in families the configuration includes, less those it excludes; and of them,
/// which series: this exporter's shard's (`crate::shard`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Every family, opt-in or not, whatever the lists say (tests of a vendor's mapping).
    everything: bool,
    /// Opt-in families turned on.
    included: HashSet<&'static str>,
    /// Families turned off; wins over `included`.
    excluded: HashSet<&'static str>,
    /// The devices written: the shard's; the families without a `device_id`, on shard 0 only.
    shard: Shard,
}

static EVERYTHING: LazyLock<Arc<Exposure>> = LazyLock::new(|| {
    Arc::new(Exposure {
        everything: true,
        ..Exposure::default()
    })
});

impl Exposure {
    /// The default set, with the opt-in families of `included` and without those of `excluded`.
    pub fn new(
        included: impl IntoIterator<Item = &'static str>,
        excluded: impl IntoIterator<Item = &'static str>,
    ) -> Exposure {
        Exposure {
            everything: false,
            included: included.into_iter().collect(),
            excluded: excluded.into_iter().collect(),
            shard: Shard::ONE,
        }
    }

    /// Every family, opt-in included (a vendor's mapping tests see all it writes).
    pub fn everything() -> &'static Arc<Exposure> {
        &EVERYTHING
    }

    /// The exposure, writing only the series of `shard`.
    pub fn sharded(self, shard: Shard) -> Exposure {
        Exposure { shard, ..self }
    }

    /// The shard whose series are written.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Whether samples of `desc` are written.
    pub fn writes(&self, desc: &Desc) -> bool {
        self.everything
            || (!self.excluded.contains(desc.name)
                && (!desc.opt_in || self.included.contains(desc.name)))
    }
}

/// Whose samples a [`MetricSet`] holds: the configured source's name, and what it exposes.
/// A bare name (`"hq".into()`) exposes every family.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub source: &'a str,
    pub exposure: &'a Arc<Exposure>,
}

impl<'a> From<&'a str> for Origin<'a> {
    fn from(source: &'a str) -> Origin<'a> {
        Origin {
            source,
            exposure: Exposure::everything(),
        }
    }
}

impl<'a> From<&'a String> for Origin<'a> {
    fn from(source: &'a String) -> Origin<'a> {
        Origin::from(source.as_str())
    }
}

/// The sample lines of one source, grouped by family.
#[derive(Debug, Clone)]
pub struct MetricSet {
    neutral_prefix: String,
    vendor_prefix: String,
    exposure: Arc<Exposure>,
    /// The source's half of its devices' shard keys (`crate::shard`).
    source_hash: u64,
    /// Few (one per family written), so found by a scan comparing `Desc` addresses: cheaper
    /// than a map keyed by name when every sample looks its family up.
    families: Vec<Family>,
}

#[derive(Debug, Clone)]
struct Family {
    desc: &'static Desc,
    /// Whether the exposure writes the family (decided once, when its first sample comes):
    /// on a shard but the first, only the families with a `device_id` label.
    on: bool,
    /// Whether each sample's `device_id` decides if it is written (sharded, and the family has
    /// the label).
    sharded: bool,
    body: String,
    samples: usize,
}

impl Default for MetricSet {
    fn default() -> MetricSet {
        MetricSet::new("", "")
    }
}

impl MetricSet {
    /// A set whose samples are labelled `system="<system>",source="<source>"` (neutral families)
    /// or `source="<source>"` (vendor families), holding the families `origin`'s exposure
    /// writes.
    pub fn new<'a>(system: &str, origin: impl Into<Origin<'a>>) -> Self {
        let origin = origin.into();
        let mut vendor_prefix = String::from("source=\"");
        escape_into(&mut vendor_prefix, origin.source);
        vendor_prefix.push('"');
        let mut neutral_prefix = String::from("system=\"");
        escape_into(&mut neutral_prefix, system);
        neutral_prefix.push_str("\",");
        neutral_prefix.push_str(&vendor_prefix);
        MetricSet {
            neutral_prefix,
            vendor_prefix,
            exposure: origin.exposure.clone(),
            source_hash: shard::source_hash(origin.source),
            families: Vec::new(),
        }
    }

    /// Adds one sample. `labels` follow the scope labels; a value that is not finite is written
    /// as Prometheus spells it (`NaN`, `+Inf`, `-Inf`).
    pub fn add(&mut self, desc: &'static Desc, labels: &[(&str, &str)], value: f64) {
        debug_assert!(
            labels_follow(labels, desc.labels),
            "labels of {} must be a subsequence of {:?}",
            desc.name,
            desc.labels
        );
        let device = || {
            labels
                .iter()
                .find(|(name, _)| *name == shard::DEVICE_ID)
                .map(|(_, id)| shard::device_hash(id))
        };
        self.sample(desc, value, device, |body| write_labels(body, labels));
    }

    /// Adds one sample with labels escaped beforehand (many families of one device share them).
    pub fn add_labels(&mut self, desc: &'static Desc, labels: &Labels, value: f64) {
        labels.check(desc);
        self.sample(
            desc,
            value,
            || labels.device_hash,
            |body| body.push_str(&labels.text),
        );
    }

    /// Writes one sample, when the exposure writes its family and, sharded, its device (the
    /// hash of its raw `device_id`, asked only then; a sample without one counts as
    /// fleet-wide).
    fn sample(
        &mut self,
        desc: &'static Desc,
        value: f64,
        device: impl FnOnce() -> Option<u64>,
        labels: impl FnOnce(&mut String),
    ) {
        let MetricSet {
            neutral_prefix,
            vendor_prefix,
            exposure,
            source_hash,
            families,
        } = self;
        let family = family_of(families, exposure, desc);
        if !family.on {
            return;
        }
        if family.sharded {
            let shard = exposure.shard;
            let owned = match device() {
                Some(device) => shard.owns(*source_hash, device),
                None => shard.writes_fleet_wide(),
            };
            if !owned {
                return;
            }
        }
        let body = &mut family.body;
        body.push_str(desc.name);
        body.push('{');
        body.push_str(match desc.scope {
            Scope::Neutral => neutral_prefix,
            Scope::Vendor => vendor_prefix,
        });
        labels(body);
        body.push_str("} ");
        write_value(body, value);
        body.push('\n');
        family.samples += 1;
    }

    /// Reserves room for `samples` more samples of `desc` whose labels (after the scope labels)
    /// take about `label_bytes`: a family written for every target grows once, not by doubling.
    pub fn reserve(&mut self, desc: &'static Desc, samples: usize, label_bytes: usize) {
        let prefix = match desc.scope {
            Scope::Neutral => self.neutral_prefix.len(),
            Scope::Vendor => self.vendor_prefix.len(),
        };
        let line = desc.name.len() + prefix + label_bytes + 24;
        let family = family_of(&mut self.families, &self.exposure, desc);
        if family.on {
            let samples = if family.sharded {
                samples.div_ceil(self.exposure.shard.total() as usize)
            } else {
                samples
            };
            family.body.reserve(samples * line);
        }
    }

    /// Adds a sample only when the value is known: unknown times and sizes are absent, never 0.
    pub fn add_opt(&mut self, desc: &'static Desc, labels: &[(&str, &str)], value: Option<f64>) {
        if let Some(v) = value {
            self.add(desc, labels, v);
        }
    }

    /// Adds one series of value 1 per state that holds (`active`): the `known` states first,
    /// in their order, then any other state the vendor reported. States that do not hold get
    /// no series (a state set written in full costs one series per state for every item, and
    /// nearly all of them 0); a state that stops holding ends its series, which Prometheus
    /// marks stale at the next scrape. The state goes in the family's last declared label
    /// (`state`, `status`, ...).
    pub fn add_states(
        &mut self,
        desc: &'static Desc,
        labels: &[(&str, &str)],
        known: &[&str],
        active: &[&str],
    ) {
        self.add_states_labels(desc, &Labels::new(labels), known, active);
    }

    /// [`MetricSet::add_states`] with labels escaped beforehand.
    pub fn add_states_labels(
        &mut self,
        desc: &'static Desc,
        labels: &Labels,
        known: &[&str],
        active: &[&str],
    ) {
        let state_label = desc.labels.last().copied().unwrap_or("state");
        let mut state_labels = labels.clone();
        state_labels.push(state_label, "");
        let base = labels.text.len();
        let mut series = |this: &mut Self, state: &str, value: f64| {
            state_labels.text.truncate(base);
            write_labels(&mut state_labels.text, &[(state_label, state)]);
            this.add_labels(desc, &state_labels, value);
        };
        for state in known.iter().filter(|s| active.contains(s)) {
            series(self, state, 1.0);
        }
        let mut others: Vec<&str> = Vec::new();
        for state in active.iter().filter(|s| !known.contains(s)) {
            if !others.contains(state) {
                others.push(state);
                series(self, state, 1.0);
            }
        }
    }

    /// Number of samples in the set.
    pub fn samples(&self) -> usize {
        self.families.iter().map(|f| f.samples).sum()
    }

    /// Whether the set holds any sample of the family.
    pub fn has(&self, name: &str) -> bool {
        self.family(name).is_some_and(|f| f.samples > 0)
    }

    fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.desc.name == name)
    }
}

fn family_of<'a>(
    families: &'a mut Vec<Family>,
    exposure: &Exposure,
    desc: &'static Desc,
) -> &'a mut Family {
    match families.iter().position(|f| std::ptr::eq(f.desc, desc)) {
        Some(i) => &mut families[i],
        None => {
            let per_device = desc.labels.contains(&shard::DEVICE_ID);
            let shard = exposure.shard;
            families.push(Family {
                desc,
                on: exposure.writes(desc) && (per_device || shard.writes_fleet_wide()),
                sharded: per_device && shard.is_sharded(),
                body: String::new(),
                samples: 0,
            });
            families.last_mut().expect("just pushed")
        }
    }
}

/// Label pairs escaped once, written on many samples.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    text: String,
    /// The hash of the raw `device_id` value, for the shard (`crate::shard::device_hash`).
    device_hash: Option<u64>,
    #[cfg(debug_assertions)]
    names: Vec<String>,
}

impl Labels {
    pub fn new(labels: &[(&str, &str)]) -> Labels {
        let mut l = Labels::default();
        for (name, value) in labels {
            l.push(name, value);
        }
        l
    }

    /// Appends a label. For [`MetricSet::add_states_labels`], the state label comes last.
    pub fn push(&mut self, name: &str, value: &str) {
        write_labels(&mut self.text, &[(name, value)]);
        if name == shard::DEVICE_ID {
            self.device_hash = Some(shard::device_hash(value));
        }
        #[cfg(debug_assertions)]
        self.names.push(name.to_owned());
    }

    fn check(&self, _desc: &Desc) {
        #[cfg(debug_assertions)]
        {
            let pairs: Vec<(&str, &str)> = self.names.iter().map(|n| (n.as_str(), "")).collect();
            assert!(
                labels_follow(&pairs, _desc.labels),
                "labels of {} must be a subsequence of {:?}",
                _desc.name,
                _desc.labels
            );
        }
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)]) {
    for (name, value) in labels {
        out.push(',');
        out.push_str(name);
        out.push_str("=\"");
        escape_into(out, value);
        out.push('"');
    }
}

/// Whether `labels` name a subsequence of `declared`, in order (optional labels may be left out).
fn labels_follow(labels: &[(&str, &str)], declared: &[&str]) -> bool {
    let mut rest = declared.iter();
    labels.iter().all(|(k, _)| rest.any(|d| d == k))
}

/// Writes every family of every set: one header per family name, families sorted by name,
/// each family's samples in set order.
pub fn assemble(out: &mut String, sets: &[&MetricSet]) {
    let mut names: Vec<&'static str> = sets
        .iter()
        .flat_map(|s| s.families.iter())
        .filter(|f| f.samples > 0)
        .map(|f| f.desc.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let mut header = false;
        for set in sets {
            if let Some(family) = set.family(name).filter(|f| f.samples > 0) {
                if !header {
                    write_header(out, family.desc);
                    header = true;
                }
                out.push_str(&family.body);
            }
        }
    }
}

fn write_header(out: &mut String, desc: &Desc) {
    out.push_str("# HELP ");
    out.push_str(desc.name);
    out.push(' ');
    for c in desc.help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(desc.name);
    out.push(' ');
    out.push_str(desc.kind.as_str());
    out.push('\n');
}

/// Escapes a label value: backslash, double quote and line feed.
pub fn escape_into(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes a sample value. Integral values within the exact range of f64 are written without a
/// fraction (byte counts stay readable); others use the shortest representation that
/// round-trips.
pub fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static G: Desc = Desc {
        name: "backup_test_bytes",
        help: "Test family.\nSecond line with \\ backslash.",
        kind: Kind::Gauge,
        scope: Scope::Neutral,
        labels: &["device"],
        opt_in: false,
    };
    static V: Desc = Desc {
        name: "crashplan_test_total",
        help: "Vendor test.",
        kind: Kind::Counter,
        scope: Scope::Vendor,
        labels: &["device"],
        opt_in: false,
    };
    static S: Desc = Desc {
        name: "backup_test_state",
        help: "States.",
        kind: Kind::Gauge,
        scope: Scope::Neutral,
        labels: &["device", "state"],
        opt_in: false,
    };

    #[test]
    fn escapes_label_values_and_help() {
        let mut set = MetricSet::new("crashplan", "h\"q");
        set.add(&G, &[("device", "a\\b\"c\nd")], 1.0);
        let mut out = String::new();
        assemble(&mut out, &[&set]);
        assert_eq!(
            out,
            "# HELP backup_test_bytes Test family.\\nSecond line with \\\\ backslash.\n\
             # TYPE backup_test_bytes gauge\n\
             backup_test_bytes{system=\"crashplan\",source=\"h\\\"q\",device=\"a\\\\b\\\"c\\nd\"} 1\n"
        );
    }

    #[test]
    fn families_of_several_sources_stay_contiguous() {
        let mut a = MetricSet::new("crashplan", "a");
        let mut b = MetricSet::new("crashplan", "b");
        a.add(&V, &[("device", "x")], 2.0);
        a.add(&G, &[("device", "x")], 1.0);
        b.add(&G, &[("device", "y")], 3.0);
        let mut out = String::new();
        assemble(&mut out, &[&a, &b]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            vec![
                "# HELP backup_test_bytes Test family.\\nSecond line with \\\\ backslash.",
                "# TYPE backup_test_bytes gauge",
                "backup_test_bytes{system=\"crashplan\",source=\"a\",device=\"x\"} 1",
                "backup_test_bytes{system=\"crashplan\",source=\"b\",device=\"y\"} 3",
                "# HELP crashplan_test_total Vendor test.",
                "# TYPE crashplan_test_total counter",
                "crashplan_test_total{source=\"a\",device=\"x\"} 2",
            ]
        );
        assert_eq!(a.samples(), 2);
    }

    #[test]
    fn values_are_written_as_prometheus_reads_them() {
        let cases = [
            (0.0, "0"),
            (19_839_461_229_438.0, "19839461229438"),
            (0.686, "0.686"),
            (1_285_986_013.45, "1285986013.45"),
            (-1.5, "-1.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1e20, "100000000000000000000"),
        ];
        for (v, want) in cases {
            let mut s = String::new();
            write_value(&mut s, v);
            assert_eq!(s, want, "{v}");
            if v.is_finite() {
                assert_eq!(s.parse::<f64>().unwrap(), v);
            }
        }
    }

    #[test]
    fn states_that_hold_are_one_series_each_known_ones_first() {
        let mut set = MetricSet::new("crashplan", "hq");
        set.add_states(
            &S,
            &[("device", "d")],
            &["OK", "WARN", "ALERT"],
            &["Odd", "ALERT", "Odd"],
        );
        let mut out = String::new();
        assemble(&mut out, &[&set]);
        let samples: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            vec![
                "backup_test_state{system=\"crashplan\",source=\"hq\",device=\"d\",state=\"ALERT\"} 1",
                "backup_test_state{system=\"crashplan\",source=\"hq\",device=\"d\",state=\"Odd\"} 1",
            ]
        );
    }

    #[test]
    fn absent_values_write_nothing() {
        let mut set = MetricSet::new("crashplan", "hq");
        set.add_opt(&G, &[("device", "d")], None);
        assert_eq!(set.samples(), 0);
        assert!(!set.has("backup_test_bytes"));
    }

    /// The sample lines `exposure` writes of a small fleet: per-device families by pairs, by
    /// escaped labels and as state sets, a fleet-wide family, and a device family sample
    /// without its `device_id`.
    fn fleet_lines(exposure: &Arc<Exposure>) -> Vec<String> {
        static FLEET: Desc = Desc {
            name: "crashplan_test_orgs",
            help: "Fleet-wide.",
            kind: Kind::Gauge,
            scope: Scope::Vendor,
            labels: &["org"],
            opt_in: false,
        };
        static PER_DEVICE: Desc = Desc {
            name: "backup_test_targets",
            help: "Per device.",
            kind: Kind::Gauge,
            scope: Scope::Neutral,
            labels: &["device", "device_id", "target"],
            opt_in: false,
        };
        static STATES: Desc = Desc {
            name: "backup_test_device_state",
            help: "Per device, states.",
            kind: Kind::Gauge,
            scope: Scope::Neutral,
            labels: &["device", "device_id", "state"],
            opt_in: false,
        };
        let mut set = MetricSet::new(
            "crashplan",
            Origin {
                source: "hq",
                exposure,
            },
        );
        set.reserve(&PER_DEVICE, 40, 30);
        for i in 0..40 {
            let id = format!("id-{i}\"q");
            set.add(&PER_DEVICE, &[("device", "d"), ("device_id", &id)], 1.0);
            let labels = Labels::new(&[("device", "d"), ("device_id", &id), ("target", "t")]);
            set.add_labels(&PER_DEVICE, &labels, 2.0);
            let states = [("device", "d"), ("device_id", id.as_str())];
            set.add_states(&STATES, &states, &["OK"], &["OK", "Odd"]);
        }
        set.add(&PER_DEVICE, &[("device", "no-id")], 3.0);
        set.add(&FLEET, &[("org", "o")], 4.0);
        let mut out = String::new();
        assemble(&mut out, &[&set]);
        let lines: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        assert_eq!(set.samples(), lines.len());
        lines
    }

    #[test]
    fn shards_partition_the_devices_and_shard_0_writes_the_fleet_wide_families() {
        let all = fleet_lines(&Arc::new(Exposure::default()));
        assert_eq!(all.len(), 40 * 4 + 2);
        for total in 1..=3 {
            let mut union: Vec<String> = Vec::new();
            for index in 0..total {
                let shard = Shard::new(index, total).unwrap();
                let lines = fleet_lines(&Arc::new(Exposure::default().sharded(shard)));
                let fleet_wide = lines
                    .iter()
                    .filter(|l| l.contains("org=") || l.contains("no-id"))
                    .count();
                assert_eq!(fleet_wide, if index == 0 { 2 } else { 0 }, "{shard}");
                // A device's series, written by pairs or by escaped labels, stay together.
                for i in 0..40 {
                    let label = format!("device_id=\"id-{i}\\\"q\"");
                    let n = lines.iter().filter(|l| l.contains(&label)).count();
                    assert!(n == 0 || n == 4, "{shard}: {label}: {n}");
                }
                if total > 1 {
                    assert!(lines.len() < all.len() * 3 / 4, "{shard}: {}", lines.len());
                }
                union.extend(lines);
            }
            let mut sorted_all = all.clone();
            sorted_all.sort();
            union.sort();
            assert_eq!(union, sorted_all, "{total} shard(s)");
        }
    }

    #[test]
    fn the_exposure_writes_defaults_and_included_opt_ins_less_the_excluded() {
        static OPT: Desc = Desc {
            name: "backup_test_files",
            help: "Opt-in.",
            kind: Kind::Gauge,
            scope: Scope::Neutral,
            labels: &["device"],
            opt_in: true,
        };
        let written = |exposure: &Arc<Exposure>| {
            let mut set = MetricSet::new(
                "crashplan",
                Origin {
                    source: "hq",
                    exposure,
                },
            );
            for desc in [&G, &OPT] {
                set.add(desc, &[("device", "d")], 1.0);
                set.reserve(desc, 10, 10);
            }
            let mut out = String::new();
            assemble(&mut out, &[&set]);
            let names: Vec<String> = out
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.split('{').next().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(set.samples(), names.len());
            names
        };
        let defaults = Arc::new(Exposure::default());
        assert_eq!(written(&defaults), ["backup_test_bytes"]);
        let included = Arc::new(Exposure::new(["backup_test_files"], []));
        assert_eq!(
            written(&included),
            ["backup_test_bytes", "backup_test_files"]
        );
        let excluded = Arc::new(Exposure::new(
            ["backup_test_files"],
            ["backup_test_files", "backup_test_bytes"],
        ));
        assert!(written(&excluded).is_empty());
        assert_eq!(
            written(Exposure::everything()),
            ["backup_test_bytes", "backup_test_files"]
        );
    }
}
