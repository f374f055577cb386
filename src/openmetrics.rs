//! OpenMetrics 1.0 text: which exposition format a scrape asks for (its `Accept` header), the
//! metadata lines of a family, and the conversion of Prometheus text 0.0.4 into OpenMetrics.
//!
//! The two formats differ little for what this exporter writes: the sample lines of the data
//! families are valid in both as they are (names, label escaping and values are written the
//! way both read them), so the data part of the OpenMetrics exposition is the same compressed
//! pieces as the 0.0.4 one with each family's metadata swapped (`crate::exposition`). What
//! differs is here:
//!
//! - `# TYPE`, `# UNIT`, `# HELP`, in that order (the order the specification recommends). A
//!   counter family is named without `_total` while its samples keep it; a "counter" whose
//!   name does not end in `_total` could not keep its samples' names as an OpenMetrics counter,
//!   so it is written `unknown` (none of this exporter's counters is such, but the series a
//!   query selects must be the same whichever format the scraper chose). `untyped` is
//!   `unknown`; gauges stay gauges (a gauge named `*_info` too: OpenMetrics' `info` type would
//!   only change its metadata, for no reader's benefit).
//! - `# UNIT` for a family whose name ends in `_<unit>` of the base units the specification
//!   names (`seconds`, `bytes`, `ratio`, ...); for a counter, the name without `_total`.
//! - `# HELP` text escapes the double quote too.
//! - No other comment lines, no empty lines; the exposition ends with `# EOF`.
//! - Timestamps (none written here) are seconds, not milliseconds.
//!
//! [`Converter`] turns any 0.0.4 text into OpenMetrics this way, a chunk at a time: the
//! self-metrics and the process metrics (written by the `prometheus` crate) go through it, and
//! the tests use it as the reference the pieces-based exposition must match.

use crate::sample_text::{escape_into, write_value};
use std::fmt::Write as _;

/// The content type of an OpenMetrics 1.0 exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of a Prometheus text 0.0.4 exposition.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The last line of every OpenMetrics exposition.
pub const EOF: &[u8] = b"# EOF\n";

/// An exposition format `/metrics` serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Prometheus text format 0.0.4: the default.
    #[default]
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => CONTENT_TYPE,
        }
    }
}

/// The format to answer a scrape whose `Accept` header is `accept`, as Prometheus' client
/// libraries choose: OpenMetrics when a media range `application/openmetrics-text` of version
/// 1.0.0 or 0.0.1 (or none) has a non-zero quality above that of every `text/plain` of version
/// 0.0.4 (or none) (on a tie, the one listed first wins); otherwise 0.0.4, whatever else is
/// asked (a protocol buffer, a wildcard, a version this exporter does not write).
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    // The best quality of each format, and where it was listed.
    let mut best: [Option<(f32, usize)>; 2] = [None, None];
    for (position, range) in accept.split(',').enumerate() {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let mut version = None;
        let mut quality = Some(1.0f32);
        for param in parts {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let value = value.trim().trim_matches('"');
            match key.trim() {
                k if k.eq_ignore_ascii_case("q") => {
                    quality = value
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q));
                }
                k if k.eq_ignore_ascii_case("version") => version = Some(value),
                _ => {}
            }
        }
        let format = if media.eq_ignore_ascii_case("application/openmetrics-text")
            && matches!(version, None | Some("1.0.0") | Some("0.0.1"))
        {
            Format::OpenMetrics
        } else if media.eq_ignore_ascii_case("text/plain")
            && matches!(version, None | Some("0.0.4"))
        {
            Format::Text
        } else {
            continue;
        };
        let Some(q) = quality.filter(|q| *q > 0.0) else {
            continue;
        };
        let slot = &mut best[usize::from(format == Format::OpenMetrics)];
        if slot.is_none_or(|(best_q, _)| q > best_q) {
            *slot = Some((q, position));
        }
    }
    match best {
        [_, None] => Format::Text,
        [None, Some(_)] => Format::OpenMetrics,
        [Some((text_q, text_at)), Some((om_q, om_at))] => {
            if om_q > text_q || (om_q == text_q && om_at < text_at) {
                Format::OpenMetrics
            } else {
                Format::Text
            }
        }
    }
}

/// The units OpenMetrics names as base units (its "Units and Base Units"): a family whose name
/// ends in `_<one of them>` gets a `# UNIT` line.
const BASE_UNITS: &[&str] = &[
    "seconds", "bytes", "ratio", "joules", "grams", "meters", "volts", "amperes", "celsius",
];

/// The OpenMetrics name and type of a family written in 0.0.4 as `name` of type `kind`.
fn family<'a>(name: &'a str, kind: &str) -> (&'a str, &'static str) {
    match kind {
        "counter" => match name.strip_suffix("_total") {
            Some(family) if !family.is_empty() => (family, "counter"),
            // Its samples could not keep their names as a counter's.
            _ => (name, "unknown"),
        },
        "gauge" => (name, "gauge"),
        "summary" => (name, "summary"),
        "histogram" => (name, "histogram"),
        // `untyped`, and anything else.
        _ => (name, "unknown"),
    }
}

/// The unit of family `name` (its OpenMetrics name), when it ends in one of [`BASE_UNITS`].
fn unit(name: &str) -> Option<&'static str> {
    BASE_UNITS.iter().copied().find(|unit| {
        name.strip_suffix(unit)
            .and_then(|rest| rest.strip_suffix('_'))
            .is_some_and(|rest| !rest.is_empty())
    })
}

/// Appends the OpenMetrics metadata of the family written in 0.0.4 as `name` of type `kind`
/// (`counter`, `gauge`, `untyped`, ...), with `help` (the text itself, not escaped): `# TYPE`,
/// `# UNIT` where the name ends in a base unit, `# HELP` unless it is empty.
pub fn write_metadata(out: &mut String, name: &str, kind: &str, help: &str) {
    let (family, kind) = family(name, kind);
    let _ = writeln!(out, "# TYPE {family} {kind}");
    if let Some(unit) = unit(family) {
        let _ = writeln!(out, "# UNIT {family} {unit}");
    }
    if !help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(family);
        out.push(' ');
        escape_into(out, help);
        out.push('\n');
    }
}

/// A family's metadata read from 0.0.4 text, not written yet: its `# TYPE` may follow its
/// `# HELP`.
#[derive(Debug, Default)]
struct Pending {
    name: String,
    /// The help text, unescaped.
    help: Option<String>,
    kind: Option<String>,
}

/// Converts Prometheus text 0.0.4 into OpenMetrics 1.0 text (without the final `# EOF`, which
/// [`EOF`] is), fed in chunks that may end anywhere, mid-line included.
///
/// Samples keep their names, labels and values; their label values are escaped again and
/// their values written as OpenMetrics reads them (`+Inf`, `-Inf`, `NaN`), a timestamp in
/// seconds. A line that is not a valid sample is left out (the exporter's own texts have none).
#[derive(Debug, Default)]
pub struct Converter {
    /// The text pushed after the last line feed.
    partial: Vec<u8>,
    pending: Option<Pending>,
}

impl Converter {
    pub fn new() -> Converter {
        Converter::default()
    }

    /// Converts the whole lines `chunk` completes, appending them to `out`, and keeps the rest
    /// for the next chunk.
    pub fn push(&mut self, chunk: &[u8], out: &mut String) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(end);
            if self.partial.is_empty() {
                self.line(line, out);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole, out);
                // The buffer is kept for the next straddling line.
                whole.clear();
                self.partial = whole;
            }
            rest = &after[1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// Converts what is left (a last line without a line feed, metadata of a family without
    /// samples).
    pub fn finish(mut self, out: &mut String) {
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line(&last, out);
        }
        self.flush(out);
    }

    /// `text` converted as a whole.
    pub fn convert(text: &[u8]) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 8);
        let mut converter = Converter::new();
        converter.push(text, &mut out);
        converter.finish(&mut out);
        out
    }

    /// Writes the pending family's metadata.
    fn flush(&mut self, out: &mut String) {
        if let Some(p) = self.pending.take() {
            write_metadata(
                out,
                &p.name,
                p.kind.as_deref().unwrap_or("untyped"),
                p.help.as_deref().unwrap_or(""),
            );
        }
    }

    /// The pending metadata of family `name`, after writing that of another family.
    fn pending(&mut self, name: &str, out: &mut String) -> &mut Pending {
        if self.pending.as_ref().is_some_and(|p| p.name != name) {
            self.flush(out);
        }
        self.pending.get_or_insert_with(|| Pending {
            name: name.to_owned(),
            ..Pending::default()
        })
    }

    fn line(&mut self, line: &[u8], out: &mut String) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let (keyword, name, rest) = (words.next(), words.next(), words.next());
            match (keyword, name) {
                (Some("HELP"), Some(name)) if valid_name(name) => {
                    let help = unescape_help(rest.unwrap_or(""));
                    self.pending(name, out).help = Some(help);
                }
                (Some("TYPE"), Some(name)) if valid_name(name) => {
                    let kind = rest.unwrap_or("").trim().to_ascii_lowercase();
                    self.pending(name, out).kind = Some(kind);
                }
                // Other comments have no place in OpenMetrics.
                _ => {}
            }
            return;
        }
        if line.trim().is_empty() {
            return;
        }
        self.flush(out);
        let start = out.len();
        if write_sample(out, line).is_none() {
            out.truncate(start);
        }
    }
}

/// Whether `name` is a metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The help text of a 0.0.4 `# HELP` line: `\\` is a backslash, `\n` a line feed, any other
/// backslash itself.
fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            ('\\', Some('n')) => {
                out.push('\n');
                chars.next();
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// Writes the 0.0.4 sample `line` in OpenMetrics; `None` when it is not a sample (what was
/// written of it is then to be dropped).
fn write_sample(out: &mut String, line: &str) -> Option<()> {
    let line = line.trim_start();
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    if !valid_name(name) {
        return None;
    }
    out.push_str(name);
    if let Some(labels) = rest.strip_prefix('{') {
        rest = write_labels(out, labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    out.push(' ');
    write_number(out, fields.next()?)?;
    if let Some(ms) = fields.next() {
        // 0.0.4 timestamps are milliseconds, OpenMetrics' seconds.
        let ms: i64 = ms.parse().ok()?;
        let sign = if ms < 0 { "-" } else { "" };
        let ms = ms.unsigned_abs();
        let _ = write!(out, " {sign}{}.{:03}", ms / 1000, ms % 1000);
    }
    if fields.next().is_some() {
        return None;
    }
    out.push('\n');
    Some(())
}

/// Writes the label pairs that start `text` (after its `{`) as OpenMetrics: `{a="x",b="y"}`,
/// nothing when there are none. Returns the text after the closing `}`.
fn write_labels<'a>(out: &mut String, text: &'a str) -> Option<&'a str> {
    let mut rest = text.trim_start();
    let mut first = true;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            if !first {
                out.push('}');
            }
            return Some(after);
        }
        let name_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
        let name = &rest[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        rest = rest[name_end..].trim_start().strip_prefix('=')?;
        rest = rest.trim_start().strip_prefix('"')?;
        // The value, up to its closing quote; escapes kept, a lone backslash doubled.
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()? {
                    (_, c @ ('\\' | '"' | 'n')) => {
                        out.push('\\');
                        out.push(c);
                    }
                    (_, c) => {
                        out.push_str("\\\\");
                        out.push(c);
                    }
                },
                (_, c) => out.push(c),
            }
        };
        out.push('"');
        rest = rest[end + 1..].trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.starts_with('}') {
            return None;
        }
    }
}

/// Writes a 0.0.4 sample value as OpenMetrics reads it: `+Inf`, `-Inf`, `NaN` spelt so, a
/// number written in the forms OpenMetrics allows as it is, any other float Rust reads
/// written again. `None` when it is not a number.
fn write_number(out: &mut String, value: &str) -> Option<()> {
    let unsigned = value.trim_start_matches(['+', '-']);
    let lower = unsigned.to_ascii_lowercase();
    if value.len() - unsigned.len() <= 1 && (lower == "inf" || lower == "infinity") {
        out.push_str(if value.starts_with('-') {
            "-Inf"
        } else {
            "+Inf"
        });
    } else if value.eq_ignore_ascii_case("nan") {
        out.push_str("NaN");
    } else if is_real_number(value) {
        out.push_str(value);
    } else {
        let v: f64 = value.parse().ok()?;
        write_value(out, v);
    }
    Some(())
}

/// Whether `s` is a `realnumber` of OpenMetrics' grammar: an optional sign, digits with an
/// optional fraction (at least one digit in all), an optional exponent.
fn is_real_number(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus 2.42's `Accept` (a constant of its scraper up to 2.48).
    const PROMETHEUS_2_42: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// Prometheus 2.49 to 2.55, default `scrape_protocols` (OpenMetricsText1.0.0,
    /// OpenMetricsText0.0.1, PrometheusText0.0.4), weighted down from q=0.5.
    const PROMETHEUS_2_49: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    /// Prometheus 2.49 to 2.55 with native histograms on: the protocol buffer format first.
    const PROMETHEUS_2_49_PROTO_FIRST: &str = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    /// Prometheus 2.49+ with `scrape_protocols: [PrometheusText0.0.4]`.
    const PROMETHEUS_TEXT_ONLY: &str = "text/plain;version=0.0.4;q=0.5,*/*;q=0.4";
    /// Prometheus 2.49+ with `scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]`.
    const PROMETHEUS_TEXT_FIRST: &str =
        "text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.3";
    /// Prometheus 3 defaults (OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText1.0.0,
    /// PrometheusText0.0.4), UTF-8 names allowed: the newer versions carry `escaping`.
    const PROMETHEUS_3: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    /// Prometheus 3 with `scrape_protocols: [PrometheusText1.0.0, PrometheusText0.0.4]`.
    const PROMETHEUS_3_TEXT: &str = "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.4";

    #[test]
    fn negotiation_follows_the_scrapers_preferences() {
        use Format::{OpenMetrics as Om, Text};
        let table: &[(Option<&str>, Format)] = &[
            (None, Text),
            (Some(""), Text),
            (Some("*/*"), Text),
            (Some(PROMETHEUS_2_42), Om),
            (Some(PROMETHEUS_2_49), Om),
            (Some(PROMETHEUS_2_49_PROTO_FIRST), Om),
            (Some(PROMETHEUS_TEXT_ONLY), Text),
            (Some(PROMETHEUS_TEXT_FIRST), Text),
            (Some(PROMETHEUS_3), Om),
            (Some(PROMETHEUS_3_TEXT), Text),
            (Some("application/openmetrics-text"), Om),
            (Some("application/openmetrics-text; version=0.0.1"), Om),
            (
                Some("Application/OpenMetrics-Text; Version=\"1.0.0\"; Q=1"),
                Om,
            ),
            // A version this exporter does not write.
            (Some("application/openmetrics-text;version=2.0.0"), Text),
            // Refused, or not preferred.
            (Some("application/openmetrics-text;version=1.0.0;q=0"), Text),
            (Some("application/openmetrics-text;q=0.0,text/plain"), Text),
            (Some("application/openmetrics-text;q=abc"), Text),
            (
                Some("application/openmetrics-text;q=0.5,text/plain;q=0.9"),
                Text,
            ),
            (
                Some("text/plain;q=0.5,application/openmetrics-text;q=0.9"),
                Om,
            ),
            (
                Some("text/plain;version=0.0.4;q=0,application/openmetrics-text;q=0.1"),
                Om,
            ),
            // A text/plain of a version this exporter does not write does not compete.
            (
                Some("text/plain;version=1.0.0,application/openmetrics-text;q=0.2"),
                Om,
            ),
            // Equal qualities: the first listed.
            (Some("application/openmetrics-text,text/plain"), Om),
            (Some("text/plain, application/openmetrics-text"), Text),
            (Some("text/html,application/xhtml+xml,*/*;q=0.8"), Text),
        ];
        for (accept, want) in table {
            assert_eq!(negotiate(*accept), *want, "{accept:?}");
        }
    }

    #[test]
    fn metadata_names_counters_without_total_and_gives_units() {
        let meta = |name: &str, kind: &str, help: &str| {
            let mut out = String::new();
            write_metadata(&mut out, name, kind, help);
            out
        };
        assert_eq!(
            meta("process_cpu_seconds_total", "counter", "CPU \"time\"."),
            "# TYPE process_cpu_seconds counter\n# UNIT process_cpu_seconds seconds\n\
             # HELP process_cpu_seconds CPU \\\"time\\\".\n"
        );
        assert_eq!(
            meta("backup_exporter_refresh_errors_total", "counter", "Errors."),
            "# TYPE backup_exporter_refresh_errors counter\n\
             # HELP backup_exporter_refresh_errors Errors.\n"
        );
        // A counter not named *_total keeps its name, as unknown.
        assert_eq!(
            meta("odd_requests", "counter", ""),
            "# TYPE odd_requests unknown\n"
        );
        assert_eq!(meta("_total", "counter", ""), "# TYPE _total unknown\n");
        assert_eq!(
            meta("backup_completion_ratio", "gauge", "a\\b\nc"),
            "# TYPE backup_completion_ratio gauge\n# UNIT backup_completion_ratio ratio\n\
             # HELP backup_completion_ratio a\\\\b\\nc\n"
        );
        assert_eq!(
            meta("backup_last_success_timestamp_seconds", "gauge", ""),
            "# TYPE backup_last_success_timestamp_seconds gauge\n\
             # UNIT backup_last_success_timestamp_seconds seconds\n"
        );
        // Units only as a whole last word, and not a whole name.
        for name in [
            "code42_backup_send_rate_bytes_per_second",
            "backup_selected_files",
            "megabytes",
            "bytes",
            "foo_xbytes",
        ] {
            assert_eq!(
                meta(name, "gauge", ""),
                format!("# TYPE {name} gauge\n"),
                "{name}"
            );
        }
        assert_eq!(
            meta("x_bytes", "untyped", ""),
            "# TYPE x_bytes unknown\n# UNIT x_bytes bytes\n"
        );
        assert_eq!(
            meta("h_seconds", "histogram", ""),
            "# TYPE h_seconds histogram\n# UNIT h_seconds seconds\n"
        );
    }

    /// A 0.0.4 text with what the conversion must handle, and its OpenMetrics form.
    const TEXT: &str = "\
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 0.35
# A comment OpenMetrics has no place for.

# TYPE backup_exporter_refresh_errors_total counter
# HELP backup_exporter_refresh_errors_total Failed refreshes, \"quoted\", a \\\\ backslash,\\na second line.
backup_exporter_refresh_errors_total{reason=\"timeout\",source=\"h\\\"q\\\\\",system=\"crashplan\"} 3
backup_exporter_refresh_errors_total{ reason = \"x\\ty\" , } 0
# HELP backup_threshold_seconds Thresholds.
# TYPE backup_threshold_seconds gauge
backup_threshold_seconds{device=\"a\\nb\"} +Inf
backup_threshold_seconds{device=\"c\"} inf
backup_threshold_seconds{device=\"d\"} -inf
backup_threshold_seconds{device=\"e\"} NaN
backup_threshold_seconds{device=\"f\"} 1e+20
backup_threshold_seconds{device=\"g\"} 0x1p3
backup_threshold_seconds{device=\"h\"} 1.5 1700000000123
backup_threshold_seconds{device=\"i\"} -0.5 -1500
backup_threshold_seconds{} 7
# TYPE odd_requests counter
odd_requests 4
# HELP untyped_thing Untyped.
untyped_thing 1
broken{a=\"b\" 1
broken 1 2 3
# HELP described_only Metadata, no samples.
# TYPE described_only gauge
";

    const OPENMETRICS: &str = "\
# TYPE process_cpu_seconds counter
# UNIT process_cpu_seconds seconds
# HELP process_cpu_seconds Total user and system CPU time spent in seconds.
process_cpu_seconds_total 0.35
# TYPE backup_exporter_refresh_errors counter
# HELP backup_exporter_refresh_errors Failed refreshes, \\\"quoted\\\", a \\\\ backslash,\\na second line.
backup_exporter_refresh_errors_total{reason=\"timeout\",source=\"h\\\"q\\\\\",system=\"crashplan\"} 3
backup_exporter_refresh_errors_total{reason=\"x\\\\ty\"} 0
# TYPE backup_threshold_seconds gauge
# UNIT backup_threshold_seconds seconds
# HELP backup_threshold_seconds Thresholds.
backup_threshold_seconds{device=\"a\\nb\"} +Inf
backup_threshold_seconds{device=\"c\"} +Inf
backup_threshold_seconds{device=\"d\"} -Inf
backup_threshold_seconds{device=\"e\"} NaN
backup_threshold_seconds{device=\"f\"} 1e+20
backup_threshold_seconds{device=\"h\"} 1.5 1700000000.123
backup_threshold_seconds{device=\"i\"} -0.5 -1.500
backup_threshold_seconds 7
# TYPE odd_requests unknown
odd_requests 4
# TYPE untyped_thing unknown
# HELP untyped_thing Untyped.
untyped_thing 1
# TYPE described_only gauge
# HELP described_only Metadata, no samples.
";

    #[test]
    fn conversion_of_tricky_text() {
        let got = Converter::convert(TEXT.as_bytes());
        let (got_lines, want_lines): (Vec<&str>, Vec<&str>) =
            (got.lines().collect(), OPENMETRICS.lines().collect());
        for (i, (g, w)) in got_lines.iter().zip(&want_lines).enumerate() {
            assert_eq!(g, w, "line {}", i + 1);
        }
        assert_eq!(got, OPENMETRICS);
    }

    #[test]
    fn conversion_does_not_depend_on_where_chunks_end() {
        let text = TEXT.as_bytes();
        // Every split in two (mid-line, mid-`# TYPE`, mid-escape, between \ and n...).
        for cut in 0..=text.len() {
            let mut out = String::new();
            let mut c = Converter::new();
            c.push(&text[..cut], &mut out);
            c.push(&text[cut..], &mut out);
            c.finish(&mut out);
            assert_eq!(out, OPENMETRICS, "cut at {cut}");
        }
        // One byte at a time, and in chunks of every small size.
        for size in 1..=17 {
            let mut out = String::new();
            let mut c = Converter::new();
            for chunk in text.chunks(size) {
                c.push(chunk, &mut out);
            }
            c.finish(&mut out);
            assert_eq!(out, OPENMETRICS, "chunks of {size}");
        }
        // A multi-byte character cut in the middle.
        let text = "# TYPE g gauge\ng{city=\"Zürich\"} 1\n".as_bytes();
        let cut = text.iter().position(|&b| b >= 0x80).unwrap() + 1;
        let mut out = String::new();
        let mut c = Converter::new();
        c.push(&text[..cut], &mut out);
        c.push(&text[cut..], &mut out);
        c.finish(&mut out);
        assert_eq!(out, "# TYPE g gauge\ng{city=\"Zürich\"} 1\n");
    }

    #[test]
    fn a_last_line_without_line_feed_is_converted() {
        assert_eq!(
            Converter::convert(b"# TYPE up gauge\nup 1"),
            "# TYPE up gauge\nup 1\n"
        );
        assert_eq!(Converter::convert(b""), "");
    }

    #[test]
    fn real_numbers_are_recognised_as_the_grammar_says() {
        for ok in [
            "0", "-1", "+1.5", "1.", ".5", "1e5", "1E-5", "0042", "1.5e+10",
        ] {
            assert!(is_real_number(ok), "{ok}");
        }
        for bad in [
            "", ".", "e5", "1e", "1e+", "--1", "0x10", "1_000", "inf", "1.2.3",
        ] {
            assert!(!is_real_number(bad), "{bad}");
        }
    }
}
