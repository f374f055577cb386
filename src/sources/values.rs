//! Readers for the value quirks vendor APIs share: ids beyond 2^53, ISO 8601 times with
//! offsets, .NET times (`"/Date(1357817400000-0600)/"`), sizes as text (`"35.3 MB"`), percents
//! as text (`"29%"`), numbers and booleans sent as strings, human durations (`"1.5 hrs"`) and
//! .NET time spans (`"00:04:33"`).
//!
//! A value that cannot be read makes that one value absent and is reported through
//! [`Warnings`]; it never fails a whole refresh (structural problems do, in the parsers).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

/// Deserializes an identifier that may be a JSON integer of any size or a string of digits,
/// keeping every digit (ids above 2^53 lose digits as floats; they are labels, never numbers).
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(IdVisitor)
        .and_then(|o| o.ok_or_else(|| de::Error::custom("id is null")))
}

/// Like [`id`], with `null` or absence meaning `None` (use with `#[serde(default)]`).
pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(IdVisitor)
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer id or a string id")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "id {v} is not an integer (digits would be lost)"
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        if v.is_empty() {
            Ok(None)
        } else {
            Ok(Some(v.to_owned()))
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A number that may come as a JSON number, a numeric string, or `null` (→ `None`).
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, a numeric string or null")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<f64>()
                .map(Some)
                .map_err(|_| E::custom(format!("{v:?} is not a number")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A boolean that may come as `true`/`false`, `"true"`/`"false"` (any case), `1`/`0`, or
/// `null` (→ `None`).
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean, \"true\"/\"false\", 1/0 or null")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            match v {
                0 => Ok(Some(false)),
                1 => Ok(Some(true)),
                _ => Err(E::custom(format!("{v} is not a boolean"))),
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_u64(u64::try_from(v).map_err(|_| E::custom("negative boolean"))?)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                "" => Ok(None),
                _ => Err(E::custom(format!("{v:?} is not a boolean"))),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// Text that may come as a string, a number or a boolean (kept as written), or `null` (→ `None`).
pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A time read while decoding, so that no text is kept for it: its Unix seconds, or the text
/// that could not be read (reported during mapping: one bad time makes one value absent).
#[derive(Debug, Clone, PartialEq)]
pub enum Time {
    At(f64),
    Unreadable(String),
}

/// A time as [`parse_time`] reads it (ISO 8601 with an offset, .NET `/Date(ms)/`, or epoch
/// seconds or milliseconds), string or number; `null` or an empty string → `None`. A time at or
/// before the Unix epoch is a "never" placeholder (.NET's `DateTime.MinValue`, a zero) → `None`.
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Time>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Time>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a time string, a number or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            Ok(match parse_time(v) {
                Ok(t) if t > 0.0 => Some(Time::At(t)),
                Ok(_) => None,
                Err(_) => Some(Time::Unreadable(v.to_owned())),
            })
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A list of strings that may come as a JSON list, one comma-separated string
/// (`"Blocked,Active"`), or `null` (→ empty). Items are trimmed; empty items dropped.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings, a comma-separated string or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(split_list(v))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<Option<String>>()? {
                out.extend(item.as_deref().map(split_list).unwrap_or_default());
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    d.deserialize_any(V)
}

/// Splits `"Blocked,Active"` into its trimmed, non-empty parts.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses an ISO 8601 date-time with an offset (`2008-10-28T10:58:47.632-05:00`,
/// `2010-03-30T18:36:10.221Z`, `...-0500`) into Unix seconds.
///
/// A bare integer is taken as Unix time: milliseconds when it has more than 11 digits, seconds
/// otherwise. The .NET form `/Date(1357817400000)/` holds Unix milliseconds; an offset after
/// them (`/Date(1357817400000-0600)/`) only names the writer's time zone and does not move the
/// instant.
pub fn parse_time(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if let Some(inner) = t.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        return parse_dotnet_date(inner)
            .ok_or_else(|| format!("{text:?} is not a /Date(ms)/ time"));
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: f64 = t.parse().map_err(|_| format!("{text:?} is not a time"))?;
        return Ok(if t.len() > 11 { n / 1000.0 } else { n });
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map_err(|_| format!("{text:?} is not an ISO 8601 time with an offset"))?;
    Ok(parsed.timestamp() as f64 + f64::from(parsed.timestamp_subsec_millis()) / 1000.0)
}

/// The inside of `/Date(...)/`: signed milliseconds, then an optional `+hhmm`/`-hhmm`.
fn parse_dotnet_date(inner: &str) -> Option<f64> {
    let digits_from = usize::from(inner.starts_with('-'));
    let end = inner[digits_from..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(inner.len(), |n| n + digits_from);
    let (ms, offset) = inner.split_at(end);
    if end == digits_from {
        return None;
    }
    let offset_ok = offset.is_empty()
        || (offset.len() == 5
            && offset.starts_with(['+', '-'])
            && offset[1..].bytes().all(|b| b.is_ascii_digit()));
    if !offset_ok {
        return None;
    }
    ms.parse::<i64>().ok().map(|ms| ms as f64 / 1000.0)
}

/// Parses a .NET time span (`"00:04:33"`, `"1.02:03:04"`, `"00:00:14.5230000"`: optional days
/// and a dot, hours, minutes, seconds with an optional fraction) into seconds.
pub fn parse_timespan(text: &str) -> Result<f64, String> {
    let bad = || format!("{text:?} is not a time span like \"00:04:33\"");
    let t = text.trim();
    let mut parts = t.split(':');
    let (Some(first), Some(minutes), Some(seconds), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (days, hours) = match first.split_once('.') {
        Some((d, h)) => (d, h),
        None => ("0", first),
    };
    let whole = |s: &str| -> Option<f64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<f64>().ok())
            .flatten()
    };
    let (Some(d), Some(h), Some(m)) = (whole(days), whole(hours), whole(minutes)) else {
        return Err(bad());
    };
    let s = match seconds.split_once('.') {
        Some((w, f)) if whole(f).is_some() => {
            whole(w).map(|w| w + format!("0.{f}").parse::<f64>().unwrap_or(0.0))
        }
        Some(_) => None,
        None => whole(seconds),
    }
    .ok_or_else(bad)?;
    if m >= 60.0 || s >= 60.0 {
        return Err(bad());
    }
    Ok(d * 86_400.0 + h * 3600.0 + m * 60.0 + s)
}

/// Parses a size written for humans (`"7.9 GB"`, `"44.3 MB"`, `"512 B"`, `"1,024 KB"`) into
/// bytes. Units are binary (`KB` = 1024 bytes), as the Java consoles that print them count.
pub fn parse_size(text: &str) -> Result<f64, String> {
    let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
    if cleaned.is_empty() {
        return Err("empty size".into());
    }
    parse_size::Config::new()
        .with_binary()
        .parse_size(cleaned.as_str())
        .map(|b| b as f64)
        .map_err(|e| format!("{text:?} is not a size: {e}"))
}

/// Parses a percent (`"29%"`, `"68 %"`, `"1.9"`) into a ratio (0.29, 0.68, 0.019).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim().trim_end_matches('%').trim();
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v / 100.0)
        .ok_or_else(|| format!("{text:?} is not a percent"))
}

/// Parses a human duration as consoles print it (`"1.5 hrs"`, `"3 days"`, `"25 mins"`,
/// `"40 secs"`) into seconds.
pub fn parse_human_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    let unit = unit.trim().trim_end_matches('.').to_ascii_lowercase();
    let factor = match unit.as_str() {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 0.001,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "wk" | "wks" | "week" | "weeks" => 604_800.0,
        _ => return Err(format!("{text:?}: unknown duration unit {unit:?}")),
    };
    Ok(n * factor)
}

/// Values of one refresh that could not be read: counted, the first few kept for the log.
#[derive(Debug, Default, Clone)]
pub struct Warnings {
    pub count: usize,
    pub first: Vec<String>,
}

impl Warnings {
    const KEEP: usize = 5;

    pub fn push(&mut self, what: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < Self::KEEP {
            self.first.push(what());
        }
    }

    /// Adds the warnings of another part of the same refresh.
    pub fn merge(&mut self, other: Warnings) {
        self.count += other.count;
        let room = Self::KEEP.saturating_sub(self.first.len());
        self.first.extend(other.first.into_iter().take(room));
    }

    /// Reads an optional text value with `parse`; a failure is recorded under `field`.
    pub fn read(
        &mut self,
        field: impl FnOnce() -> String,
        value: Option<&str>,
        parse: impl Fn(&str) -> Result<f64, String>,
    ) -> Option<f64> {
        let value = value?;
        match parse(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(|| format!("{}: {e}", field()));
                None
            }
        }
    }
}

impl Warnings {
    /// A time read by [`opt_time`]; an unreadable one is recorded under `field`.
    pub fn time(&mut self, field: impl FnOnce() -> String, value: &Option<Time>) -> Option<f64> {
        match value {
            None => None,
            Some(Time::At(t)) => Some(*t),
            Some(Time::Unreadable(text)) => {
                let e = parse_time(text).err().unwrap_or_default();
                self.push(|| format!("{}: {e}", field()));
                None
            }
        }
    }
}

impl fmt::Display for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} value(s) unreadable", self.count)?;
        if !self.first.is_empty() {
            write!(f, ", first: {}", self.first.join("; "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Ids {
        #[serde(deserialize_with = "id")]
        a: String,
        #[serde(default, deserialize_with = "opt_id")]
        b: Option<String>,
    }

    #[test]
    fn dotnet_dates_are_utc_milliseconds_whatever_the_offset() {
        for text in [
            "/Date(1357817400000)/",
            "/Date(1357817400000+0000)/",
            "/Date(1357817400000-0600)/",
            " /Date(1357817400000+0530)/ ",
        ] {
            assert_eq!(parse_time(text), Ok(1_357_817_400.0), "{text}");
        }
        assert_eq!(parse_time("/Date(1358535352123)/"), Ok(1_358_535_352.123));
        assert_eq!(parse_time("/Date(-62135578800000)/"), Ok(-62_135_578_800.0));
        for bad in [
            "/Date()/",
            "/Date(abc)/",
            "/Date(135781740000-06)/",
            "/Date(1357817400000",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[derive(Deserialize)]
    struct Times {
        #[serde(default, deserialize_with = "opt_time")]
        t: Option<Time>,
    }

    #[test]
    fn never_placeholders_are_absent_times() {
        let read = |json: &str| serde_json::from_str::<Times>(json).unwrap().t;
        // JSON's escaped slashes, as .NET writes them.
        assert_eq!(
            read(r#"{"t": "\/Date(1357817400000)\/"}"#),
            Some(Time::At(1_357_817_400.0))
        );
        // .NET's DateTime.MinValue and zero mean "never".
        assert_eq!(read(r#"{"t": "\/Date(-62135578800000)\/"}"#), None);
        assert_eq!(read(r#"{"t": "/Date(0)/"}"#), None);
        assert_eq!(read(r#"{"t": 0}"#), None);
        assert_eq!(read(r#"{"t": null}"#), None);
        assert_eq!(
            read(r#"{"t": "/Date(soon)/"}"#),
            Some(Time::Unreadable("/Date(soon)/".into()))
        );
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("00:04:33"), Ok(273.0));
        assert_eq!(parse_timespan("01:12:09"), Ok(4329.0));
        assert_eq!(parse_timespan("1.02:03:04"), Ok(93_784.0));
        assert_eq!(parse_timespan("00:00:14.5"), Ok(14.5));
        assert_eq!(parse_timespan("00:00:14.5230000"), Ok(14.523));
        for bad in [
            "",
            "4:33",
            "00:61:00",
            "aa:bb:cc",
            "00:04:33:00",
            "-00:04:33",
            "00:04:3x",
        ] {
            assert!(parse_timespan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_keep_every_digit() {
        let v: Ids =
            serde_json::from_str(r#"{"a": 343195742699662015, "b": "345095742699645987"}"#)
                .unwrap();
        assert_eq!(v.a, "343195742699662015");
        assert_eq!(v.b.as_deref(), Some("345095742699645987"));
        // Beyond i64 and u64 alike.
        let v: Ids = serde_json::from_str(r#"{"a": 18446744073709551615, "b": null}"#).unwrap();
        assert_eq!(v.a, "18446744073709551615");
        assert_eq!(v.b, None);
        let v: Ids = serde_json::from_str(r#"{"a": -42}"#).unwrap();
        assert_eq!(v.a, "-42");
        assert!(serde_json::from_str::<Ids>(r#"{"a": 3.4319574269966e17}"#).is_err());
    }

    #[derive(Deserialize)]
    struct Lenient {
        #[serde(default, deserialize_with = "opt_f64")]
        n: Option<f64>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
    }

    #[test]
    fn numbers_and_booleans_as_strings() {
        let v: Lenient = serde_json::from_str(r#"{"n": "1828461229332", "b": "True"}"#).unwrap();
        assert_eq!(v.n, Some(1_828_461_229_332.0));
        assert_eq!(v.b, Some(true));
        let v: Lenient = serde_json::from_str(r#"{"n": null, "b": null}"#).unwrap();
        assert_eq!((v.n, v.b), (None, None));
        let v: Lenient = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!((v.n, v.b), (None, None));
        let v: Lenient = serde_json::from_str(r#"{"n": 68.6, "b": false}"#).unwrap();
        assert_eq!((v.n, v.b), (Some(68.6), Some(false)));
        let v: Lenient = serde_json::from_str(r#"{"b": 0}"#).unwrap();
        assert_eq!(v.b, Some(false));
        assert!(serde_json::from_str::<Lenient>(r#"{"n": "lots"}"#).is_err());
        assert!(serde_json::from_str::<Lenient>(r#"{"b": "maybe"}"#).is_err());
    }

    #[derive(Deserialize)]
    struct Lists {
        #[serde(default, deserialize_with = "string_list")]
        l: Vec<String>,
        #[serde(default, deserialize_with = "opt_text")]
        t: Option<String>,
    }

    #[test]
    fn lists_and_text() {
        let v: Lists = serde_json::from_str(r#"{"l": "Blocked,Active", "t": 4242}"#).unwrap();
        assert_eq!(v.l, vec!["Blocked", "Active"]);
        assert_eq!(v.t.as_deref(), Some("4242"));
        let v: Lists =
            serde_json::from_str(r#"{"l": ["OK", " WARN ", null, ""], "t": null}"#).unwrap();
        assert_eq!(v.l, vec!["OK", "WARN"]);
        assert_eq!(v.t, None);
        let v: Lists = serde_json::from_str(r#"{"l": null}"#).unwrap();
        assert!(v.l.is_empty());
        let v: Lists = serde_json::from_str(r#"{"l": []}"#).unwrap();
        assert!(v.l.is_empty());
    }

    #[test]
    fn times_with_offsets_and_z() {
        // 2008-10-28T15:58:47.632Z
        assert_eq!(
            parse_time("2008-10-28T10:58:47.632-05:00").unwrap(),
            1_225_209_527.632
        );
        assert_eq!(
            parse_time("2010-03-30T18:36:10.221Z").unwrap(),
            1_269_974_170.221
        );
        assert_eq!(
            parse_time("2008-10-28T10:58:47.632-0500").unwrap(),
            1_225_209_527.632
        );
        assert_eq!(
            parse_time("2010-09-01T19:10:13-05:00").unwrap(),
            1_283_386_213.0
        );
        assert!(parse_time("2010-09-01T19:10:13").is_err());
        assert_eq!(parse_time("1357817400000").unwrap(), 1_357_817_400.0);
        assert_eq!(parse_time("1357817400").unwrap(), 1_357_817_400.0);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn sizes_as_text() {
        assert_eq!(
            parse_size("7.9 GB").unwrap(),
            (7.9 * 1024.0 * 1024.0 * 1024.0f64).round()
        );
        assert_eq!(
            parse_size("44.3 MB").unwrap(),
            (44.3 * 1024.0 * 1024.0f64).round()
        );
        assert_eq!(
            parse_size("35.3 MB").unwrap(),
            (35.3 * 1_048_576.0f64).round()
        );
        assert_eq!(parse_size("512 B").unwrap(), 512.0);
        assert_eq!(parse_size("1,024 KB").unwrap(), 1_048_576.0);
        assert_eq!(parse_size("2 TB").unwrap(), 2.0 * 1024f64.powi(4));
        assert!(parse_size("").is_err());
        assert!(parse_size("big").is_err());
    }

    #[test]
    fn percents_become_ratios() {
        assert_eq!(parse_percent("29%").unwrap(), 0.29);
        assert_eq!(parse_percent(" 68 % ").unwrap(), 0.68);
        assert_eq!(parse_percent("1.9").unwrap(), 0.019);
        assert!(parse_percent("n/a").is_err());
    }

    #[test]
    fn human_durations() {
        assert_eq!(parse_human_duration("1.5 hrs").unwrap(), 5400.0);
        assert_eq!(parse_human_duration("3 days").unwrap(), 259_200.0);
        assert_eq!(parse_human_duration("25 mins").unwrap(), 1500.0);
        assert_eq!(parse_human_duration("40 secs").unwrap(), 40.0);
        assert!(parse_human_duration("forever").is_err());
        assert!(parse_human_duration("3 fortnights").is_err());
    }

    #[test]
    fn warnings_keep_the_first_few() {
        let mut w = Warnings::default();
        for i in 0..8 {
            assert_eq!(w.read(|| format!("x[{i}]"), Some("bad"), parse_time), None);
        }
        assert_eq!(
            w.read(|| "ok".into(), Some("2010-03-30T18:36:10.221Z"), parse_time),
            Some(1_269_974_170.221)
        );
        assert_eq!(w.read(|| "none".into(), None, parse_time), None);
        assert_eq!(w.count, 8);
        assert_eq!(w.first.len(), 5);
        assert!(w
            .to_string()
            .starts_with("8 value(s) unreadable, first: x[0]: \"bad\""));
    }
}
