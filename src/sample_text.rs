//! What the Prometheus text format 0.0.4 and OpenMetrics 1.0 write alike: escaped label
//! values and sample values. `crate::exposition` writes its samples with them, and
//! `crate::openmetrics` its help texts and converted values; neither imports the other for
//! them.

use std::fmt::Write as _;

/// Escapes a label value (or an OpenMetrics help text): backslash, double quote and line feed,
/// as 0.0.4 and OpenMetrics both want.
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
/// round-trips, never an exponent: forms 0.0.4 and OpenMetrics both read.
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
