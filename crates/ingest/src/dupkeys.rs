//! Duplicate keys in a kept record.
//!
//! JSON does not say which of two values of one key counts (RFC 8259 §4: "the names within an
//! object SHOULD be unique"; behaviour otherwise is "unpredictable"), and readers differ: some
//! keep the first, most the last, some refuse. A sign-in record with two `id`s, two times or
//! two user names would mean one thing to trailproof and another to the SIEM next to it. So a
//! record that is kept (its events stored and judged) is checked for a key that appears twice in
//! one object, at any depth; when it has one, the record is read both ways (each duplicated key
//! with its first value, and with its last) and quarantined if the two readings give other
//! events: which value counts would be a guess. A duplicate that changes nothing trailproof reads
//! is harmless and the record is kept (Microsoft's published Graph sign-in example repeats
//! `homeTenantId` with two values, `fixtures/real/entra/graph-docs-beta-signin-list-example1`).
//! Skipped records are not checked (no event of theirs is stored).

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// The first key found twice in one object of `raw`, at any depth; `None` when every object's
/// keys are unique (or `raw` cannot be read: the parser already said what it makes of it).
pub(crate) fn duplicate_key(raw: &[u8]) -> Option<String> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_slice(raw);
    let _ = Walk(&mut found).deserialize(&mut de);
    found
}

/// When `raw` has a duplicate key: the key, and `raw` re-written with each duplicated key's first
/// value and with its last (object key order is not kept; nothing reads it).
pub(crate) fn both_readings(raw: &[u8]) -> Option<(String, Vec<u8>, Vec<u8>)> {
    let key = duplicate_key(raw)?;
    let reading = |first: bool| -> Option<Vec<u8>> {
        let mut de = serde_json::Deserializer::from_slice(raw);
        let v = Keep { first }.deserialize(&mut de).ok()?;
        serde_json::to_vec(&v).ok()
    };
    Some((key, reading(true)?, reading(false)?))
}

/// A JSON value in which a duplicated key keeps its first (`first`) or its last value.
#[derive(Clone, Copy)]
struct Keep {
    first: bool,
}

impl<'de> DeserializeSeed<'de> for Keep {
    type Value = serde_json::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keep {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<serde_json::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let v = map.next_value_seed(self)?;
            if !(self.first && out.contains_key(k.as_ref())) {
                out.insert(k.into_owned(), v);
            }
        }
        Ok(serde_json::Value::Object(out))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<serde_json::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(serde_json::Value::Array(out))
    }
    fn visit_bool<E>(self, v: bool) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<serde_json::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }
}

struct Walk<'f>(&'f mut Option<String>);

/// A key, borrowed from the input when it holds no escape.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Objects with more keys than this are checked with a hash set instead of a scan.
const SMALL: usize = 24;

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut small: Vec<Cow<'de, str>> = Vec::new();
        let mut large: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            if self.0.is_some() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let seen = if large.is_empty() && small.len() < SMALL {
                small.contains(&k)
            } else {
                if large.is_empty() {
                    large.extend(small.drain(..));
                }
                large.contains(&k)
            };
            if seen {
                *self.0 = Some(k.into_owned());
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if large.is_empty() {
                small.push(k);
            } else {
                large.insert(k);
            }
            map.next_value_seed(Walk(&mut *self.0))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_at_any_depth_and_nothing_else() {
        assert_eq!(duplicate_key(br#"{"id":"a","x":1,"id":"b"}"#).as_deref(), Some("id"));
        assert_eq!(duplicate_key(br#"{"s":{"errorCode":0,"errorCode":50074}}"#).as_deref(), Some("errorCode"));
        assert_eq!(duplicate_key(br#"{"a":[{"k":1},{"k":2,"k":3}]}"#).as_deref(), Some("k"));
        // Escaped and plain spellings of one key are the same key.
        assert_eq!(duplicate_key(br#"{"id":1,"i\u0064":2}"#).as_deref(), Some("id"));
        assert_eq!(duplicate_key(br#"{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":1}]}"#), None);
        let many: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        assert_eq!(duplicate_key(format!("{{{}}}", many.join(",")).as_bytes()), None);
        assert_eq!(duplicate_key(format!("{{{},\"k7\":0}}", many.join(",")).as_bytes()).as_deref(), Some("k7"));
        assert_eq!(duplicate_key(b"not json"), None);
    }

    #[test]
    fn both_readings_keep_the_first_and_the_last_value() {
        let (k, first, last) = both_readings(br#"{"id":"a","n":{"t":1,"t":2},"id":"b"}"#).unwrap();
        assert_eq!(k, "t", "the first found in document order");
        assert_eq!(String::from_utf8(first).unwrap(), r#"{"id":"a","n":{"t":1}}"#);
        assert_eq!(String::from_utf8(last).unwrap(), r#"{"id":"b","n":{"t":2}}"#);
        assert!(both_readings(br#"{"id":"a"}"#).is_none());
    }
}
