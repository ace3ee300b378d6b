//! Tolerant building blocks for deserializing CloudTrail records.
//!
//! Every optional field in a CloudTrail record can be absent, `null`, an empty string, or (in
//! some exporters) of another JSON type than the documentation says. These wrappers read what
//! they can and treat the rest as absent, so one odd field never makes a whole record unusable:
//!
//! - [`Str`]: a scalar as text, borrowed from the input when it has no escapes. Numbers and
//!   booleans become their JSON text; objects and arrays are skipped and read as absent.
//! - [`OStr`]: the same, owned (for sub-objects that may arrive as a JSON string, see [`Obj`]).
//! - [`Obj`]: a nested object; a JSON *string* holding an object (some exporters serialize
//!   `responseElements` that way) is parsed as that object; anything else is absent.
//! - [`Seq`]: a lenient array of [`Obj`] items.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::marker::PhantomData;

/// Scalars as text, borrowed ([`Str`]) or owned ([`OStr`]); `null`, objects and arrays read as
/// absent: the workspace's one reading of scalars as text.
pub(crate) use trailproof_model::scalar::{OptText as Str, OptTextBuf as OStr, non_empty};

/// A nested object that may also arrive as a string holding JSON. Anything unreadable is absent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Obj<T>(pub(crate) Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

/// Parses a string that holds a JSON object; `None` for anything else.
fn from_json_text<T: DeserializeOwned>(s: &str) -> Option<T> {
    if !s.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str::<T>(s).ok()
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for ObjVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(from_json_text(v))
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData)).map(Obj)
    }
}

/// A lenient array: each element read as an [`Obj`]; a non-array is an empty list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seq<T>(pub(crate) Vec<T>);

impl<T> Default for Seq<T> {
    fn default() -> Self {
        Seq(Vec::new())
    }
}

struct SeqVisitor<T>(PhantomData<T>);

impl<'de, T: DeserializeOwned> Visitor<'de> for SeqVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Obj<T>>()? {
            out.extend(item.0);
        }
        Ok(out)
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if !v.trim_start().starts_with('[') {
            return Ok(Vec::new());
        }
        Ok(serde_json::from_str::<Seq<T>>(v).map(|s| s.0).unwrap_or_default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Seq<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SeqVisitor(PhantomData)).map(Seq)
    }
}

/// Reads a sub-object captured raw (object, or string holding an object); absent if unreadable.
pub(crate) fn obj_from_raw<T: DeserializeOwned>(raw: Option<&RawValue>) -> Option<T> {
    serde_json::from_str::<Obj<T>>(raw?.get()).ok().and_then(|o| o.0)
}

/// Reads an array captured raw; empty if unreadable.
pub(crate) fn seq_from_raw<T: DeserializeOwned>(raw: Option<&RawValue>) -> Vec<T> {
    raw.and_then(|r| serde_json::from_str::<Seq<T>>(r.get()).ok()).map(|s| s.0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Inner {
        a: OStr,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct Outer<'a> {
        #[serde(borrow)]
        s: Str<'a>,
        o: Obj<Inner>,
        q: Seq<Inner>,
    }

    fn outer(json: &str) -> Outer<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn scalars_of_any_type_read_as_text() {
        assert_eq!(outer(r#"{"s":"x"}"#).s.get(), Some("x"));
        assert!(matches!(outer(r#"{"s":"x"}"#).s.0, Some(std::borrow::Cow::Borrowed(_))));
        assert_eq!(outer(r#"{"s":"a\"b"}"#).s.get(), Some("a\"b"));
        assert_eq!(outer(r#"{"s":12}"#).s.get(), Some("12"));
        assert_eq!(outer(r#"{"s":1.5}"#).s.get(), Some("1.5"));
        assert_eq!(outer(r#"{"s":true}"#).s.get(), Some("true"));
        assert_eq!(outer(r#"{"s":null}"#).s.get(), None);
        assert_eq!(outer(r#"{"s":""}"#).s.get(), None);
        assert_eq!(outer(r#"{"s":"  "}"#).s.get(), None);
        assert_eq!(outer(r#"{"s":{"x":[1,2]}}"#).s.get(), None);
        assert_eq!(outer(r#"{"s":[1,{"y":2}]}"#).s.get(), None);
        assert_eq!(outer(r#"{}"#).s.get(), None);
    }

    #[test]
    fn objects_may_be_json_strings_or_junk() {
        assert_eq!(outer(r#"{"o":{"a":"1"}}"#).o.0.as_ref().and_then(|i| i.a.get()), Some("1"));
        assert_eq!(outer(r#"{"o":"{\"a\":\"2\"}"}"#).o.0.as_ref().and_then(|i| i.a.get()), Some("2"));
        assert!(outer(r#"{"o":"{ConsoleLogin=Success}"}"#).o.0.as_ref().is_none());
        assert!(outer(r#"{"o":"{not json"}"#).o.0.as_ref().is_none());
        assert!(outer(r#"{"o":[1]}"#).o.0.as_ref().is_none());
        assert!(outer(r#"{"o":7}"#).o.0.as_ref().is_none());
        assert!(outer(r#"{"o":null}"#).o.0.as_ref().is_none());
        assert_eq!(outer(r#"{"q":[{"a":"1"},2,null,{"a":"3"}]}"#).q.0.len(), 2);
        assert!(outer(r#"{"q":{"a":"1"}}"#).q.0.is_empty());
        assert_eq!(outer(r#"{"q":"[{\"a\":\"1\"}]"}"#).q.0.len(), 1);
    }
}
