//! Prometheus text exposition (format 0.0.4) for the data families.
//!
//! Data families are rebuilt from each source's snapshot once per refresh (never per scrape):
//! a [`MetricSet`] holds, per family, the sample lines of one source. The server concatenates
//! the sets of every source under one `# HELP`/`# TYPE` header per family, so a family shared by
//! several sources (every vendor-neutral `backup_*` family) stays contiguous, as the format wants.
//!
//! Metric descriptors ([`Desc`]) are declared once, in `crate::metrics`.

use std::fmt::Write as _;

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
}

/// The sample lines of one source, grouped by family.
#[derive(Debug, Default, Clone)]
pub struct MetricSet {
    neutral_prefix: String,
    vendor_prefix: String,
    /// Few (one per family written), so found by a scan comparing `Desc` addresses: cheaper
    /// than a map keyed by name when every sample looks its family up.
    families: Vec<Family>,
}

#[derive(Debug, Clone)]
struct Family {
    desc: &'static Desc,
    body: String,
    samples: usize,
}

impl MetricSet {
    /// A set whose samples are labelled `system="<system>",source="<source>"` (neutral families)
    /// or `source="<source>"` (vendor families).
    pub fn new(system: &str, source: &str) -> Self {
        let mut vendor_prefix = String::from("source=\"");
        escape_into(&mut vendor_prefix, source);
        vendor_prefix.push('"');
        let mut neutral_prefix = String::from("system=\"");
        escape_into(&mut neutral_prefix, system);
        neutral_prefix.push_str("\",");
        neutral_prefix.push_str(&vendor_prefix);
        MetricSet {
            neutral_prefix,
            vendor_prefix,
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
        self.sample(desc, value, |body| write_labels(body, labels));
    }

    /// Adds one sample with labels escaped beforehand (many families of one device share them).
    pub fn add_labels(&mut self, desc: &'static Desc, labels: &Labels, value: f64) {
        labels.check(desc);
        self.sample(desc, value, |body| body.push_str(&labels.text));
    }

    fn sample(&mut self, desc: &'static Desc, value: f64, labels: impl FnOnce(&mut String)) {
        let MetricSet {
            neutral_prefix,
            vendor_prefix,
            families,
        } = self;
        let family = family_of(families, desc);
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
        family_of(&mut self.families, desc)
            .body
            .reserve(samples * line);
    }

    /// Adds a sample only when the value is known: unknown times and sizes are absent, never 0.
    pub fn add_opt(&mut self, desc: &'static Desc, labels: &[(&str, &str)], value: Option<f64>) {
        if let Some(v) = value {
            self.add(desc, labels, v);
        }
    }

    /// Adds one 0/1 series per state: every `known` state, then any other state the vendor
    /// reported. `active` holds the states that are on. The state goes in the family's last
    /// declared label (`state`, `status`, ...).
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
        for state in known {
            series(self, state, f64::from(u8::from(active.contains(state))));
        }
        for state in active.iter().filter(|s| !known.contains(s)) {
            series(self, state, 1.0);
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

fn family_of<'a>(families: &'a mut Vec<Family>, desc: &'static Desc) -> &'a mut Family {
    match families.iter().position(|f| std::ptr::eq(f.desc, desc)) {
        Some(i) => &mut families[i],
        None => {
            families.push(Family {
                desc,
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
    };
    static V: Desc = Desc {
        name: "crashplan_test_total",
        help: "Vendor test.",
        kind: Kind::Counter,
        scope: Scope::Vendor,
        labels: &["device"],
    };
    static S: Desc = Desc {
        name: "backup_test_state",
        help: "States.",
        kind: Kind::Gauge,
        scope: Scope::Neutral,
        labels: &["device", "state"],
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
    fn states_are_one_series_each_with_unknown_states_added() {
        let mut set = MetricSet::new("crashplan", "hq");
        set.add_states(
            &S,
            &[("device", "d")],
            &["OK", "WARN", "ALERT"],
            &["ALERT", "Odd"],
        );
        let mut out = String::new();
        assemble(&mut out, &[&set]);
        let samples: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            vec![
                "backup_test_state{system=\"crashplan\",source=\"hq\",device=\"d\",state=\"OK\"} 0",
                "backup_test_state{system=\"crashplan\",source=\"hq\",device=\"d\",state=\"WARN\"} 0",
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
}
