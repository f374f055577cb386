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

/// A value read while decoding, so that a bad one never fails the decoding: the value, or the
/// text that could not be read (reported during mapping through [`Warnings`], with the field's
/// name: one bad value makes that one value absent).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<T> {
    Is(T),
    Unreadable(String),
}

/// A number read by [`opt_num`].
pub type Num = Scalar<f64>;
/// A boolean read by [`opt_flag`].
pub type Flag = Scalar<bool>;

impl<T: Copy> Scalar<T> {
    /// The value if it could be read (without reporting: for tests and derived values).
    pub fn get(&self) -> Option<T> {
        match self {
            Scalar::Is(v) => Some(*v),
            Scalar::Unreadable(_) => None,
        }
    }
}

/// Drains a map or a list where a scalar was expected; it is unreadable, never an error.
fn drain_map<'de, A: de::MapAccess<'de>>(mut map: A) -> Result<String, A::Error> {
    while map
        .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
        .is_some()
    {}
    Ok("an object".into())
}

fn drain_seq<'de, A: de::SeqAccess<'de>>(mut seq: A) -> Result<String, A::Error> {
    while seq.next_element::<de::IgnoredAny>()?.is_some() {}
    Ok("a list".into())
}

/// A number that may come as a JSON number or a numeric string; `null` or an empty string →
/// `None`. Anything else (`"lots"`, `"inf"`, `true`, an object, a list, an out-of-range number
/// that [`crate::sources::http::decode_seed`] turned into text) is [`Scalar::Unreadable`],
/// never a decoding error.
pub fn opt_num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Num>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Num>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, a numeric string or null")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Scalar::Is(v as f64)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Scalar::Is(v as f64)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(if v.is_finite() {
                Scalar::Is(v)
            } else {
                Scalar::Unreadable(v.to_string())
            }))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let t = v.trim();
            if t.is_empty() {
                return Ok(None);
            }
            Ok(Some(match t.parse::<f64>() {
                Ok(n) if n.is_finite() => Scalar::Is(n),
                _ => Scalar::Unreadable(v.to_owned()),
            }))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(Scalar::Unreadable(v.to_string())))
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok(Some(Scalar::Unreadable(drain_map(map)?)))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Ok(Some(Scalar::Unreadable(drain_seq(seq)?)))
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

/// A boolean as [`opt_bool`] reads it; anything else is [`Scalar::Unreadable`], never a
/// decoding error.
pub fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Flag>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Flag>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean, \"true\"/\"false\", 1/0 or null")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(Scalar::Is(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(match v {
                0 => Scalar::Is(false),
                1 => Scalar::Is(true),
                _ => Scalar::Unreadable(v.to_string()),
            }))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Ok(Some(Scalar::Unreadable(v.to_string()))),
            }
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(Scalar::Unreadable(v.to_string())))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(match v.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Some(Scalar::Is(true)),
                "false" | "no" | "0" => Some(Scalar::Is(false)),
                "" => None,
                _ => Some(Scalar::Unreadable(v.to_owned())),
            })
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok(Some(Scalar::Unreadable(drain_map(map)?)))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Ok(Some(Scalar::Unreadable(drain_seq(seq)?)))
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
    d.deserialize_any(Text(|text: Option<&str>| text.map(str::to_owned)))
}

/// Reads a value as text, as [`opt_text`] does, and hands it to the function: a string, a
/// number or a boolean as written; `None` for `null`, and for an object or a list (drained,
/// never a decoding error). The text is lent, not copied.
struct Text<F>(F);

impl<'de, T, F: FnOnce(Option<&str>) -> T> Visitor<'de> for Text<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, a number or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok((self.0)(Some(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        drain_map(map).map(|_| (self.0)(None))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        drain_seq(seq).map(|_| (self.0)(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok((self.0)(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok((self.0)(None))
    }
}

/// A time read while decoding, so that no text is kept for it: its Unix seconds, or the text
/// that could not be read (reported during mapping: one bad time makes one value absent).
#[derive(Debug, Clone, PartialEq)]
pub enum Time {
    At(f64),
    Unreadable(String),
}

impl Time {
    /// The time if it could be read (without reporting or checking it).
    pub fn get(&self) -> Option<f64> {
        match self {
            Time::At(t) => Some(*t),
            Time::Unreadable(_) => None,
        }
    }
}

/// A time as [`parse_time`] reads it (ISO 8601 with an offset, .NET `/Date(ms)/`, or epoch
/// seconds or milliseconds), string or number; `null` or an empty string → `None`. A time at or
/// before the Unix epoch is a "never" placeholder (.NET's `DateTime.MinValue`, a zero, `-1`) →
/// `None`. Anything else that is no time (text, a boolean, an object, a list) is
/// [`Time::Unreadable`], never a decoding error.
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
            if v <= 0 {
                return Ok(None);
            }
            self.visit_str(&v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v <= 0.0 {
                return Ok(None);
            }
            self.visit_str(&v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(Time::Unreadable(v.to_string())))
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok(Some(Time::Unreadable(drain_map(map)?)))
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            Ok(Some(Time::Unreadable(drain_seq(seq)?)))
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
            while seq.next_element_seed(PushParts(&mut out))?.is_some() {}
            Ok(out)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map).map(|_| Vec::new())
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
    let mut parts = Vec::new();
    push_parts(&mut parts, text);
    parts
}

fn push_parts(out: &mut Vec<String>, text: &str) {
    out.extend(
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    );
}

/// One item of a [`string_list`] list, read as [`opt_text`] reads text and split into
/// `out` as it is read (no copy of the item's text is made first).
struct PushParts<'a>(&'a mut Vec<String>);

impl<'de> de::DeserializeSeed<'de> for PushParts<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let out = self.0;
        d.deserialize_any(Text(|text: Option<&str>| {
            if let Some(text) = text {
                push_parts(out, text);
            }
        }))
    }
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
    if let Some(at) = parse_iso_fast(t.as_bytes()) {
        return Ok(at);
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .map_err(|_| format!("{text:?} is not an ISO 8601 time with an offset"))?;
    Ok(parsed.timestamp() as f64 + f64::from(parsed.timestamp_subsec_millis()) / 1000.0)
}

/// The common spelling of an ISO 8601 time, `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM|±HHMM]`, read
/// without chrono's general parser (a fleet's pages hold hundreds of thousands of them), to
/// the same value: whole seconds plus the fraction's milliseconds. `None` for anything else
/// (another spelling, a leap second, a value out of range), which chrono then reads or
/// refuses.
fn parse_iso_fast(t: &[u8]) -> Option<f64> {
    fn num(t: &[u8], at: usize, len: usize) -> Option<i64> {
        let digits = t.get(at..at + len)?;
        digits.iter().try_fold(0i64, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))
        })
    }
    let sep = |at: usize, b: u8| (t.get(at) == Some(&b)).then_some(());
    let year = num(t, 0, 4)?;
    sep(4, b'-')?;
    let month = num(t, 5, 2)?;
    sep(7, b'-')?;
    let day = num(t, 8, 2)?;
    sep(10, b'T')?;
    let hour = num(t, 11, 2)?;
    sep(13, b':')?;
    let minute = num(t, 14, 2)?;
    sep(16, b':')?;
    let second = num(t, 17, 2)?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year == 0
        || !(1..=12).contains(&month)
        || day < 1
        || day > month_days[month as usize - 1]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if t.get(at) == Some(&b'.') {
        let digits = t[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if !(1..=9).contains(&digits) {
            return None;
        }
        for i in 0..3 {
            millis = millis * 10
                + if i < digits {
                    num(t, at + 1 + i, 1)?
                } else {
                    0
                };
        }
        at += 1 + digits;
    }
    let offset = match &t[at..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [_, _, b':', _, _] => (num(rest, 0, 2)?, num(rest, 3, 2)?),
                [_, _, _, _] => (num(rest, 0, 2)?, num(rest, 2, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let seconds = h * 3600 + m * 60;
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(seconds as f64 + millis as f64 / 1000.0)
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

/// The earliest plausible time: 1990-01-01T00:00:00Z. No backup product read here existed
/// before; an earlier time (other than a "never" placeholder) is a bad value.
pub const EARLIEST_TIME: f64 = 631_152_000.0;
/// How far ahead of this machine's clock a time may be (clock skew); a time later than that
/// (a last success in year 9999) would never look stale.
pub const FUTURE_SLACK_SECONDS: f64 = 86_400.0;

/// A time that is plausible: from [`EARLIEST_TIME`] to [`FUTURE_SLACK_SECONDS`] after `now`.
pub fn check_time(t: f64, now: f64) -> Result<f64, String> {
    if !t.is_finite() || t < EARLIEST_TIME {
        Err(format!("{} is before 1990-01-01", show_time(t)))
    } else if t > now + FUTURE_SLACK_SECONDS {
        Err(format!("{} is too far in the future", show_time(t)))
    } else {
        Ok(t)
    }
}

/// A size, a byte count or a count: finite and not negative.
pub fn check_amount(v: f64) -> Result<f64, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("{v} is negative"))
    }
}

fn show_time(t: f64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("Unix time {t}"))
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A time that the mapping needs without reporting it (the same value is reported where it is
/// exported): the time if plausible, else `None`.
pub fn plausible_time(value: &Option<Time>) -> Option<f64> {
    match value {
        Some(Time::At(t)) => check_time(*t, now_seconds()).ok(),
        _ => None,
    }
}

/// Values of one refresh that could not be read or are implausible: counted, and grouped by
/// field (`usages.selectedBytes`: the path without its list indices) with one example each, so
/// that the log has one line per field and refresh, not one per device.
#[derive(Debug, Default, Clone)]
pub struct Warnings {
    pub count: usize,
    fields: std::collections::BTreeMap<String, FieldWarnings>,
    /// The time plausibility is judged against; this machine's clock when `None`.
    now: Option<f64>,
}

#[derive(Debug, Clone)]
struct FieldWarnings {
    count: usize,
    example: String,
}

/// The field a warning is about: its text before the first `": "`, without list indices
/// (`usages[3].selectedBytes: ...` → `usages.selectedBytes`).
fn field_of(message: &str) -> String {
    let path = message.split_once(": ").map_or(message, |(p, _)| p);
    let mut field = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => field.push(c),
            _ => {}
        }
    }
    field
}

impl Warnings {
    /// Warnings that judge times against `now` (Unix seconds) instead of the clock (tests,
    /// replays of recorded payloads).
    pub fn at(now: f64) -> Warnings {
        Warnings {
            now: Some(now),
            ..Warnings::default()
        }
    }

    fn now(&self) -> f64 {
        self.now.unwrap_or_else(now_seconds)
    }

    /// Records one value that could not be read, told as `path: why` (the path names the item,
    /// `usages[3].selectedBytes`; it is grouped without its indices).
    pub fn push(&mut self, what: impl FnOnce() -> String) {
        self.count += 1;
        let message = what();
        let field = field_of(&message);
        self.fields
            .entry(field)
            .and_modify(|f| f.count += 1)
            .or_insert(FieldWarnings {
                count: 1,
                example: message,
            });
    }

    /// Adds the warnings of another part of the same refresh.
    pub fn merge(&mut self, other: Warnings) {
        self.count += other.count;
        for (field, w) in other.fields {
            self.fields
                .entry(field)
                .and_modify(|f| f.count += w.count)
                .or_insert(w);
        }
    }

    /// Each field with warnings: its name, how many values, and the first one as an example.
    pub fn fields(&self) -> impl Iterator<Item = (&str, usize, &str)> {
        self.fields
            .iter()
            .map(|(k, f)| (k.as_str(), f.count, f.example.as_str()))
    }

    /// How many values of `field` (`usages.selectedBytes`) were unreadable or implausible.
    pub fn of(&self, field: &str) -> usize {
        self.fields.get(field).map_or(0, |f| f.count)
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

    /// Like [`Warnings::read`], for a size, byte count or count: a negative one is recorded too.
    pub fn read_amount(
        &mut self,
        field: impl FnOnce() -> String,
        value: Option<&str>,
        parse: impl Fn(&str) -> Result<f64, String>,
    ) -> Option<f64> {
        self.read(field, value, |t| parse(t).and_then(check_amount))
    }

    /// A number read by [`opt_num`] that may be negative (a delta); an unreadable one is
    /// recorded under `field`.
    pub fn num(&mut self, field: impl FnOnce() -> String, value: &Option<Num>) -> Option<f64> {
        self.scalar(field, value, Ok, "a number")
    }

    /// A size, a byte count or a count read by [`opt_num`]: an unreadable or negative one is
    /// recorded under `field`.
    pub fn amount(&mut self, field: impl FnOnce() -> String, value: &Option<Num>) -> Option<f64> {
        self.scalar(field, value, check_amount, "a number")
    }

    /// A boolean read by [`opt_flag`]; an unreadable one is recorded under `field`.
    pub fn flag(&mut self, field: impl FnOnce() -> String, value: &Option<Flag>) -> Option<bool> {
        self.scalar(field, value, Ok, "a boolean")
    }

    fn scalar<T: Copy>(
        &mut self,
        field: impl FnOnce() -> String,
        value: &Option<Scalar<T>>,
        check: impl Fn(T) -> Result<T, String>,
        kind: &str,
    ) -> Option<T> {
        let error = match value.as_ref()? {
            Scalar::Is(v) => match check(*v) {
                Ok(v) => return Some(v),
                Err(e) => e,
            },
            Scalar::Unreadable(text) => format!("{text:?} is not {kind}"),
        };
        self.push(|| format!("{}: {error}", field()));
        None
    }

    /// Checks a time in place, for a model read in several places: an unreadable or
    /// implausible one is recorded under `field` and dropped, so that it is told once.
    pub fn keep_time(&mut self, field: impl FnOnce() -> String, value: &mut Option<Time>) {
        let checked = self.time(field, value);
        *value = checked.map(Time::At);
    }

    /// Checks a size, byte count or count in place (see [`Warnings::keep_time`]).
    pub fn keep_amount(&mut self, field: impl FnOnce() -> String, value: &mut Option<Num>) {
        let checked = self.amount(field, value);
        *value = checked.map(Num::Is);
    }

    /// A time read by [`opt_time`]; an unreadable or implausible one (before 1990, more than a
    /// day ahead) is recorded under `field`.
    pub fn time(&mut self, field: impl FnOnce() -> String, value: &Option<Time>) -> Option<f64> {
        self.time_until(field, value, FUTURE_SLACK_SECONDS)
    }

    /// Like [`Warnings::time`] for a time that is planned, not past (a next scheduled run):
    /// it may be up to `ahead` seconds after now.
    pub fn time_until(
        &mut self,
        field: impl FnOnce() -> String,
        value: &Option<Time>,
        ahead: f64,
    ) -> Option<f64> {
        let error = match value.as_ref()? {
            Time::At(t) => match check_time(*t, self.now() + ahead - FUTURE_SLACK_SECONDS) {
                Ok(t) => return Some(t),
                Err(e) => e,
            },
            Time::Unreadable(text) => parse_time(text)
                .err()
                .unwrap_or_else(|| format!("{text:?} is not a time")),
        };
        self.push(|| format!("{}: {error}", field()));
        None
    }
}

impl fmt::Display for Warnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} value(s) unreadable or implausible", self.count)?;
        for (i, (field, count, example)) in self.fields().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{field}: {count}, e.g. {example}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    /// The fast path reads what chrono reads, to the same value, or leaves it to chrono:
    /// compared on the document's spellings and on many generated ones, in range and out.
    #[test]
    fn iso_fast_path_agrees_with_chrono() {
        fn chrono_reads(t: &str) -> Option<f64> {
            let parsed = chrono::DateTime::parse_from_rfc3339(t)
                .or_else(|_| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
                .ok()?;
            Some(parsed.timestamp() as f64 + f64::from(parsed.timestamp_subsec_millis()) / 1000.0)
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut fast = 0;
        let mut texts: Vec<String> = [
            "2008-10-28T10:58:47.632-05:00",
            "2010-03-30T18:36:10.221Z",
            "2008-10-28T10:58:47.632-0500",
            "2010-09-01T19:10:13-05:00",
            "2014-08-07T15:14:04.234-05:00",
            "2000-02-29T23:59:59.999999999+23:59",
            "1900-02-29T00:00:00Z",
            "1969-12-31T23:59:59.5Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999-00:00",
            "2016-12-31T23:59:60Z",
            "2010-09-01T19:10:13",
            "2010-09-01t19:10:13Z",
            "2010-09-01 19:10:13Z",
            "2010-09-01T19:10:13.Z",
            "2010-09-01T19:10:13.1234567890Z",
            "2010-09-01T19:10:13+5:00",
            "2010-09-01T19:10:13+24:00",
            "2010-9-01T19:10:13Z",
        ]
        .map(String::from)
        .to_vec();
        for _ in 0..20_000 {
            let sign = ["+", "-"][next(2) as usize];
            let offset = match next(4) {
                0 => "Z".to_owned(),
                1 => format!("{sign}{:02}:{:02}", next(26), next(62)),
                2 => format!("{sign}{:02}{:02}", next(26), next(62)),
                _ => format!("{sign}{:02}", next(26)),
            };
            let fraction = match next(3) {
                0 => String::new(),
                _ => format!(".{}", "7".repeat(next(11) as usize)),
            };
            texts.push(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}{offset}",
                next(10_000),
                next(14),
                next(33),
                next(25),
                next(61),
                next(62),
            ));
        }
        for t in &texts {
            if let Some(at) = parse_iso_fast(t.as_bytes()) {
                fast += 1;
                assert_eq!(Some(at), chrono_reads(t), "{t}");
            }
            assert_eq!(parse_time(t).ok(), chrono_reads(t), "{t}");
        }
        assert!(
            fast > 5_000,
            "the fast path read only {fast} of {}",
            texts.len()
        );
    }
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
        // Each item of a list read as text and split: numbers and booleans as written,
        // nothing for null, an empty text, an object or a list.
        let v: Lists = serde_json::from_str(
            r#"{"l": ["Blocked, Active", 7, -2, 1.5, true, null, "", " , ", [1, "x"], {"a": 1}, "OK\u0021"]}"#,
        )
        .unwrap();
        assert_eq!(
            v.l,
            vec!["Blocked", "Active", "7", "-2", "1.5", "true", "OK!"]
        );
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
    fn warnings_are_grouped_by_field_with_one_example() {
        let mut w = Warnings::default();
        for i in 0..8 {
            assert_eq!(
                w.read(|| format!("x[{i}].t"), Some("bad"), parse_time),
                None
            );
        }
        assert_eq!(
            w.read(|| "ok".into(), Some("2010-03-30T18:36:10.221Z"), parse_time),
            Some(1_269_974_170.221)
        );
        assert_eq!(w.read(|| "none".into(), None, parse_time), None);
        w.push(|| "usages[2]: no identity; skipped".into());
        assert_eq!(w.count, 9);
        assert_eq!(w.of("x.t"), 8);
        assert_eq!(w.of("usages"), 1);
        let fields: Vec<_> = w.fields().collect();
        assert_eq!(fields.len(), 2);
        assert_eq!(
            fields[1].2,
            "x[0].t: \"bad\" is not an ISO 8601 time with an offset"
        );
        let mut other = Warnings::default();
        other.push(|| "x[9].t: nope".into());
        w.merge(other);
        assert_eq!((w.count, w.of("x.t")), (10, 9));
        assert!(w
            .to_string()
            .starts_with("10 value(s) unreadable or implausible: usages: 1, e.g. usages[2]"));
    }

    #[derive(Deserialize)]
    struct Tolerant {
        #[serde(default, deserialize_with = "opt_num")]
        n: Option<Num>,
        #[serde(default, deserialize_with = "opt_flag")]
        b: Option<Flag>,
        #[serde(default, deserialize_with = "opt_time")]
        t: Option<Time>,
        #[serde(default, deserialize_with = "opt_text")]
        s: Option<String>,
        #[serde(default, deserialize_with = "string_list")]
        l: Vec<String>,
    }

    #[test]
    fn a_bad_scalar_of_any_type_is_unreadable_never_an_error() {
        let read = |json: &str| serde_json::from_str::<Tolerant>(json).unwrap();
        let v = read(
            r#"{"n": "lots", "b": "maybe", "t": "soon", "s": {"a": [1]}, "l": [{"x": 1}, "OK"]}"#,
        );
        assert_eq!(v.n, Some(Num::Unreadable("lots".into())));
        assert_eq!(v.b, Some(Flag::Unreadable("maybe".into())));
        assert_eq!(v.t, Some(Time::Unreadable("soon".into())));
        assert_eq!((v.s, v.l), (None, vec!["OK".to_owned()]));
        let v = read(r#"{"n": {"deep": [1, {"x": 2}]}, "b": [true], "t": {"when": 1}}"#);
        assert_eq!(v.n, Some(Num::Unreadable("an object".into())));
        assert_eq!(v.b, Some(Flag::Unreadable("a list".into())));
        assert_eq!(v.t, Some(Time::Unreadable("an object".into())));
        let v = read(r#"{"n": true, "b": 7, "t": false}"#);
        assert_eq!(v.n, Some(Num::Unreadable("true".into())));
        assert_eq!(v.b, Some(Flag::Unreadable("7".into())));
        assert_eq!(v.t, Some(Time::Unreadable("false".into())));
        // What decode_seed makes of an out-of-range number; "inf" and "NaN" are no numbers.
        for text in ["1e400", "-1e400", "inf", "NaN"] {
            let v = read(&format!(r#"{{"n": "{text}"}}"#));
            assert_eq!(v.n, Some(Num::Unreadable(text.into())), "{text}");
        }
        let v = read(r#"{"n": " 12.5 ", "b": "no", "t": -1}"#);
        assert_eq!(
            (v.n, v.b, v.t),
            (Some(Num::Is(12.5)), Some(Flag::Is(false)), None)
        );
        let v = read(r#"{"n": null, "b": "", "t": ""}"#);
        assert_eq!((v.n, v.b, v.t), (None, None, None));
    }

    #[test]
    fn implausible_values_are_counted_like_unreadable_ones() {
        let mut w = Warnings::default();
        let now = now_seconds();
        // 1990 to a day ahead.
        for ok in [EARLIEST_TIME, 1_357_817_400.0, now, now + 3600.0] {
            assert_eq!(w.time(|| "t".into(), &Some(Time::At(ok))), Some(ok));
        }
        assert_eq!(w.count, 0);
        let year_9999 = parse_time("9999-12-31T00:00:00Z").unwrap();
        for bad in [
            EARLIEST_TIME - 1.0,
            1.0,
            year_9999,
            1e297,
            now + 2.0 * 86_400.0,
        ] {
            assert_eq!(w.time(|| "t".into(), &Some(Time::At(bad))), None, "{bad}");
        }
        assert_eq!(w.of("t"), 5);
        assert!(w.fields().next().unwrap().2.contains("before 1990-01-01"));
        // A planned time may be further ahead.
        let next_week = Some(Time::At(now + 7.0 * 86_400.0));
        assert!(w
            .time_until(|| "next".into(), &next_week, 400.0 * 86_400.0)
            .is_some());
        assert_eq!(w.of("next"), 0);
        // Sizes and counts are never negative; deltas may be.
        assert_eq!(w.amount(|| "a".into(), &Some(Num::Is(-1.0))), None);
        assert_eq!(
            w.amount(|| "a".into(), &Some(Num::Unreadable("lots".into()))),
            None
        );
        assert_eq!(w.amount(|| "a".into(), &Some(Num::Is(0.0))), Some(0.0));
        assert_eq!(w.num(|| "d".into(), &Some(Num::Is(-5.0))), Some(-5.0));
        assert_eq!(
            w.read_amount(
                || "s".into(),
                Some("-3"),
                |t| t.parse::<f64>().map_err(|e| e.to_string())
            ),
            None
        );
        assert_eq!((w.of("a"), w.of("d"), w.of("s")), (2, 0, 1));
        assert_eq!(
            w.flag(|| "f".into(), &Some(Flag::Unreadable("maybe".into()))),
            None
        );
        assert_eq!(w.of("f"), 1);
        // "Never" placeholders are absent, not counted.
        assert_eq!(w.time(|| "never".into(), &None), None);
        assert_eq!(w.of("never"), 0);
    }
}
