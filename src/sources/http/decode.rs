//! Decoding upstream answers: JSON that names the path of the first bad value, numbers
//! beyond f64 turned into unreadable values, lists under a key (with `metadata.count`), pages
//! whose unreadable items are left out, and URLs from an identity service's catalog.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use url::Url;

use crate::upstream::UpstreamError;

/// An http(s) URL with a host, as an identity service's catalog gives one; `what` names it in
/// the error (`the catalog's Freezer URL`).
pub fn catalog_url(
    text: Option<&str>,
    endpoint: &'static str,
    what: &str,
) -> Result<Url, UpstreamError> {
    let text = text.unwrap_or("").trim();
    Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| UpstreamError::Parse {
            endpoint,
            detail: format!("{what} {text:?} is not a URL"),
        })
}

/// Decodes a JSON document, naming the path of the first bad value.
pub fn decode<T: DeserializeOwned>(
    endpoint: &'static str,
    body: &[u8],
) -> Result<T, UpstreamError> {
    decode_seed(endpoint, body, || PhantomData::<T>)
}

/// Decodes the list under `key` of a JSON object (a `null` list is empty), skipping the other
/// keys without building them.
pub fn decode_list<T: DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<Vec<T>, UpstreamError> {
    decode_counted_list(endpoint, key, body).map(|(items, _)| items)
}

/// [`decode_list`], with the count the envelope's `metadata.count` announces (CrashPlan PRO's
/// lists), when it is a readable whole number.
pub fn decode_counted_list<T: DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<(Vec<T>, Option<u64>), UpstreamError> {
    decode_seed(endpoint, body, || ListUnder::<T> {
        key,
        item: PhantomData,
    })
}

/// One decoded page of an `offset`/`limit` list.
pub struct ListPage<T> {
    /// The items that read.
    pub items: Vec<T>,
    /// The list's count, where the envelope gives one (`metadata.count`).
    pub count: Option<u64>,
    /// Why each item that did not read failed (its identity unreadable, an object where a
    /// list belongs, ...): those items are left out, the rest of the page is kept.
    pub skipped: Vec<String>,
}

/// Decodes a page like [`decode_counted_list`]; when the page does not read as a whole, each
/// item is read on its own, and the ones that do not read are left out and reported in
/// [`ListPage::skipped`] instead of failing the list. A page that is not JSON, has no list
/// under `key` or is cut off still fails.
pub fn decode_list_page<T: DeserializeOwned>(
    endpoint: &'static str,
    key: &'static str,
    body: &[u8],
) -> Result<ListPage<T>, UpstreamError> {
    let whole = match decode_counted_list::<T>(endpoint, key, body) {
        Ok((items, count)) => {
            return Ok(ListPage {
                items,
                count,
                skipped: Vec::new(),
            })
        }
        Err(e) => e,
    };
    let Ok((raw, count)) =
        decode_counted_list::<Box<serde_json::value::RawValue>>(endpoint, key, body)
    else {
        return Err(whole);
    };
    let mut page = ListPage {
        items: Vec::with_capacity(raw.len()),
        count,
        skipped: Vec::new(),
    };
    for (i, item) in raw.iter().enumerate() {
        match decode::<T>(endpoint, item.get().as_bytes()) {
            Ok(v) => page.items.push(v),
            Err(e) => page.skipped.push(format!("{key}[{i}]: {e}")),
        }
    }
    Ok(page)
}

/// Decodes a JSON document with a vendor's own seed (an envelope reader, made by `seed`),
/// naming the path of the first bad value. The whole body must be one JSON value.
///
/// Tracking the path costs on every key, so a body is decoded without it first; only a body
/// that fails is decoded again, tracked, for the message.
///
/// serde_json's lexer refuses a number beyond the range of f64 (`1e400`) before any reader
/// sees it. Only when that is why the body failed, each such number (outside strings) is
/// rewritten as a string of the same text ([`quote_out_of_range_numbers`]) and the body decoded
/// again: the tolerant readers report it as one unreadable value, never a failed refresh.
pub fn decode_seed<S, V>(
    endpoint: &'static str,
    body: &[u8],
    seed: impl Fn() -> S,
) -> Result<V, UpstreamError>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    match decode_fast(body, &seed) {
        Ok(v) => return Ok(v),
        Err(e) if is_out_of_range(&e) => {
            if let Some(rewritten) = quote_out_of_range_numbers(body) {
                return match decode_fast(&rewritten, &seed) {
                    Ok(v) => Ok(v),
                    Err(_) => decode_tracked(endpoint, &rewritten, &seed),
                };
            }
        }
        Err(_) => {}
    }
    decode_tracked(endpoint, body, &seed)
}

fn decode_fast<S, V>(body: &[u8], seed: &impl Fn() -> S) -> Result<V, serde_json::Error>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    // A body checked as UTF-8 once, whole, is read without checking each string again (a
    // sixth of the decoding of a Code42 computer page); one that is not UTF-8 is read as
    // bytes, so its error is the one serde_json gives there.
    match std::str::from_utf8(body) {
        Ok(text) => read_whole(serde_json::Deserializer::from_str(text), seed()),
        Err(_) => read_whole(serde_json::Deserializer::from_slice(body), seed()),
    }
}

/// What `seed` reads, when nothing but whitespace follows it.
fn read_whole<'de, R, S, V>(
    mut de: serde_json::Deserializer<R>,
    seed: S,
) -> Result<V, serde_json::Error>
where
    R: serde_json::de::Read<'de>,
    S: DeserializeSeed<'de, Value = V>,
{
    let v = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

fn decode_tracked<S, V>(
    endpoint: &'static str,
    body: &[u8],
    seed: &impl Fn() -> S,
) -> Result<V, UpstreamError>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    let de = &mut serde_json::Deserializer::from_slice(body);
    let mut track = serde_path_to_error::Track::new();
    let result = seed()
        .deserialize(serde_path_to_error::Deserializer::new(&mut *de, &mut track))
        .and_then(|v| de.end().map(|()| v));
    result.map_err(|e| {
        json_error(
            endpoint,
            body,
            serde_path_to_error::Error::new(track.path(), e),
        )
    })
}

fn is_out_of_range(e: &serde_json::Error) -> bool {
    e.is_syntax() && e.to_string().starts_with("number out of range")
}

/// Rewrites each number token outside strings whose value is beyond f64 (`1e400`, `-1e400`;
/// not `1e-400`, which is merely 0) as a JSON string of the same text. `None` when there is
/// none. Strings, escapes included, are copied untouched.
pub fn quote_out_of_range_numbers(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() + 16);
    let mut changed = false;
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b == b'"' {
            // Copy the string through its closing quote, skipping escaped characters.
            let start = i;
            i += 1;
            while i < body.len() && body[i] != b'"' {
                i += if body[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(body.len());
            out.extend_from_slice(&body[start..i]);
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < body.len()
                && matches!(body[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
            {
                i += 1;
            }
            let token = &body[start..i];
            let huge = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_infinite);
            if huge {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
                changed = true;
            } else {
                out.extend_from_slice(token);
            }
        } else if b.is_ascii_alphabetic() {
            // Literals (true, false, null) and stray words: copied whole, so that their
            // letters are never read as an exponent.
            let start = i;
            while i < body.len() && body[i].is_ascii_alphanumeric() {
                i += 1;
            }
            out.extend_from_slice(&body[start..i]);
        } else {
            out.push(b);
            i += 1;
        }
    }
    changed.then_some(out)
}

fn json_error(
    endpoint: &'static str,
    body: &[u8],
    e: serde_path_to_error::Error<serde_json::Error>,
) -> UpstreamError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let at = if path == "." {
        String::new()
    } else {
        format!(" at {path}")
    };
    let detail = if inner.is_eof() {
        format!(
            "{inner}{at} (the body ends early after {} bytes)",
            body.len()
        )
    } else {
        format!("{inner}{at}")
    };
    UpstreamError::Parse { endpoint, detail }
}

struct ListUnder<T> {
    key: &'static str,
    item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ListUnder<T> {
    type Value = (Vec<T>, Option<u64>);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListUnder<T> {
    type Value = (Vec<T>, Option<u64>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with a list under {:?}", self.key)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut count = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if k == self.key && found.is_none() {
                found = Some(map.next_value::<Option<Vec<T>>>()?.unwrap_or_default());
            } else if k == "metadata" {
                count = map.next_value::<MetadataCount>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        found
            .map(|items| (items, count))
            .ok_or_else(|| serde::de::Error::missing_field(self.key))
    }
}

/// `metadata.count` of an envelope, when it is a whole non-negative number; anything else in
/// `metadata` (or a `metadata` that is no object) is skipped, never an error: the count only
/// checks the list.
struct MetadataCount(Option<u64>);

impl<'de> Deserialize<'de> for MetadataCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Meta;
        impl<'de> Visitor<'de> for Meta {
            type Value = MetadataCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the metadata object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetadataCount, A::Error> {
                let mut count = None;
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if k == "count" {
                        count = map.next_value::<Count>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(MetadataCount(count))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<MetadataCount, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MetadataCount(None))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<MetadataCount, E> {
                Ok(MetadataCount(None))
            }
        }
        d.deserialize_any(Meta)
    }
}

/// A count: a whole non-negative number, or a string of digits; anything else is no count.
struct Count(Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(Some(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Count, E> {
                Ok(Count(u64::try_from(v).ok()))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Count, E> {
                Ok(Count(v.trim().parse().ok()))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Count, E> {
                Ok(Count(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Count, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Count(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: u32,
    }

    #[test]
    fn list_under_a_key_skips_the_rest() {
        let body = br#"{"metadata": {"count": 2, "params": {}}, "computers": [{"id": 1}, {"id": 2}], "x": [1]}"#;
        let v: Vec<Item> = decode_list("computers", "computers", body).unwrap();
        assert_eq!(v, vec![Item { id: 1 }, Item { id: 2 }]);
        let v: Vec<Item> =
            decode_list("computers", "computers", br#"{"computers": null}"#).unwrap();
        assert!(v.is_empty());
    }

    #[test]
    fn an_item_that_does_not_read_is_left_out_of_its_page() {
        let body =
            br#"{"metadata": {"count": 3}, "computers": [{"id": 1}, {"id": {"x": 1}}, {"id": 3}]}"#;
        let page: ListPage<Item> = decode_list_page("computers", "computers", body).unwrap();
        assert_eq!(page.items, vec![Item { id: 1 }, Item { id: 3 }]);
        assert_eq!(page.count, Some(3));
        assert_eq!(page.skipped.len(), 1);
        assert!(
            page.skipped[0].starts_with("computers[1]"),
            "{:?}",
            page.skipped
        );
        // Structure still fails: no list, or a cut body.
        assert!(
            decode_list_page::<Item>("computers", "computers", br#"{"metadata": {}}"#).is_err()
        );
        assert!(
            decode_list_page::<Item>("computers", "computers", br#"{"computers": [{"id": 1}"#)
                .is_err()
        );
    }

    #[test]
    fn list_errors_name_the_path() {
        let err = decode_list::<Item>(
            "computers",
            "computers",
            br#"{"computers": [{"id": 1}, {"id": "x"}]}"#,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("computers[1].id"), "{msg}");
        assert_eq!(err.reason(), "parse");
        let err =
            decode_list::<Item>("computers", "computers", br#"{"metadata": {}}"#).unwrap_err();
        assert!(
            err.to_string().contains("missing field `computers`"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_numbers_become_strings_and_nothing_else_changes() {
        let q = |t: &str| {
            quote_out_of_range_numbers(t.as_bytes()).map(|b| String::from_utf8(b).unwrap())
        };
        assert_eq!(
            q(r#"{"a": 1e400, "b": -1e400, "c": 2E+309, "d": [1, 1e400]}"#).as_deref(),
            Some(r#"{"a": "1e400", "b": "-1e400", "c": "2E+309", "d": [1, "1e400"]}"#)
        );
        // Negative exponents underflow to 0: not out of range, left alone.
        assert_eq!(
            q(r#"{"a": 1e-400, "b": 1.5e308, "c": -0.5, "d": 12}"#),
            None
        );
        // Strings holding digits, exponents and escapes are copied untouched.
        let text = r#"{"s": "1e400", "t": "say \"1e400\" \\", "u": "\u00e9 9e999", "n": 3e999}"#;
        assert_eq!(
            q(text).as_deref(),
            Some(r#"{"s": "1e400", "t": "say \"1e400\" \\", "u": "\u00e9 9e999", "n": "3e999"}"#)
        );
        assert_eq!(
            q(r#"[true, false, null, 1e400]"#).as_deref(),
            Some(r#"[true, false, null, "1e400"]"#)
        );
        assert_eq!(q(r#"{"a": "1e400"}"#), None);
    }

    #[derive(Debug, Deserialize)]
    struct Tolerant {
        #[serde(deserialize_with = "crate::sources::values::opt_num")]
        n: Option<crate::sources::values::Num>,
    }

    #[test]
    fn an_out_of_range_number_is_one_unreadable_value() {
        use crate::sources::values::Num;
        let body = br#"{"items": [{"n": 1e400}, {"n": 5}, {"n": -1e400}]}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
        let v: Vec<Tolerant> = decode_list("items", "items", body).unwrap();
        assert_eq!(v[0].n, Some(Num::Unreadable("1e400".into())));
        assert_eq!(v[1].n, Some(Num::Is(5.0)));
        assert_eq!(v[2].n, Some(Num::Unreadable("-1e400".into())));
        // A reader that wants a number still fails, naming the path, as before.
        let err = decode_list::<Item>("items", "items", br#"{"items": [{"id": 1e400}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("items"), "{err}");
        // Structural problems still fail.
        assert!(decode_list::<Tolerant>("items", "items", br#"{"items": [{"n": 1e400}"#).is_err());
        assert!(
            decode_list::<Tolerant>("items", "items", br#"{"other": [{"n": 1e400}]}"#).is_err()
        );
    }

    #[test]
    fn truncated_bodies_say_so() {
        let err =
            decode_list::<Item>("usages", "usages", br#"{"usages": [{"id": 1}, {"i"#).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("ends early"), "{msg}");
        let err = decode::<Item>("serverStats", b"<html>oops</html>").unwrap_err();
        assert_eq!(err.reason(), "parse");
        let err =
            decode_list::<Item>("usages", "usages", br#"{"usages": []} trailing"#).unwrap_err();
        assert_eq!(err.reason(), "parse");
    }
}
