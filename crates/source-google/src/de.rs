//! Tolerant value-level deserializers for Reports API records.
//!
//! The Reports API is typed on paper (int64 as strings, booleans as JSON booleans), but records
//! that went through other tools arrive with numbers where strings were promised and the other
//! way round, single objects where arrays were promised, and `null` anywhere. These types accept
//! all of that while still borrowing strings from the input where serde_json allows it.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A string field that may also arrive as a number or a boolean (`uniqueQualifier: 1`,
/// `profileId: 1`): the workspace's one reading of scalars as text.
pub(crate) use trailproof_model::scalar::Text;

/// `Option<Text>` → the text as written, `None` when absent, null or blank.
pub(crate) fn text<'b>(t: &'b Option<Text<'_>>) -> Option<&'b str> {
    t.as_ref().and_then(Text::get)
}

/// Like [`text`] but trimmed, for values that are compared rather than reported verbatim.
pub(crate) fn trimmed<'b>(t: &'b Option<Text<'_>>) -> Option<&'b str> {
    text(t).map(str::trim)
}

/// Any JSON scalar, as found in parameter values. Objects and arrays in scalar position are
/// skipped (read as [`Scalar::Null`]) rather than failing the whole record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// Integers beyond `i64` and fractional numbers, kept as their decimal text.
    Number(String),
    Str(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a parameter value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(i64::try_from(v).map_or_else(|_| Scalar::Number(v.to_string()), Scalar::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Number(v.to_string()))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Null)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Null)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An array, or a single element where an array was expected (Elastic's test records carry
/// `events` as one object), or `null` (empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OneOrMany<T>(pub(crate) Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array or a single element")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(x) = seq.next_element()? {
                    out.push(x);
                }
                Ok(OneOrMany(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|x| OneOrMany(vec![x]))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                T::deserialize(de::value::BorrowedStrDeserializer::new(v)).map(|x| OneOrMany(vec![x]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.to_owned().into_deserializer()).map(|x| OneOrMany(vec![x]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|x| OneOrMany(vec![x]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|x| OneOrMany(vec![x]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|x| OneOrMany(vec![x]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|x| OneOrMany(vec![x]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|x| OneOrMany(vec![x]))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_accepts_strings_numbers_and_bools() {
        let t: Text = serde_json::from_str(r#""-42""#).unwrap();
        assert_eq!(t.0, "-42");
        let t: Text = serde_json::from_str("-42").unwrap();
        assert_eq!(t.0, "-42");
        let t: Text = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(t.0, "18446744073709551615");
        let t: Text = serde_json::from_str("true").unwrap();
        assert_eq!(t.0, "true");
        assert!(serde_json::from_str::<Text>("{}").is_err());
    }

    #[test]
    fn text_borrows_plain_strings_and_unescapes_others() {
        let src = r#""plain""#;
        let t: Text = serde_json::from_str(src).unwrap();
        assert!(matches!(t.0, Cow::Borrowed("plain")));
        let t: Text = serde_json::from_str(r#""a\"b""#).unwrap();
        assert_eq!(t.0, "a\"b");
    }

    #[test]
    fn blank_text_is_absent() {
        assert_eq!(text(&Some(Text(Cow::Borrowed("")))), None);
        assert_eq!(text(&Some(Text(Cow::Borrowed("  ")))), None);
        assert_eq!(text(&Some(Text(Cow::Borrowed(" x ")))), Some(" x "));
        assert_eq!(trimmed(&Some(Text(Cow::Borrowed(" x ")))), Some("x"));
        assert_eq!(text(&None), None);
    }

    #[test]
    fn one_or_many_accepts_array_object_scalar_and_null() {
        let v: OneOrMany<Scalar> = serde_json::from_str(r#"["a", 1, true, null]"#).unwrap();
        assert_eq!(v.0, vec![Scalar::Str(Cow::Borrowed("a")), Scalar::Int(1), Scalar::Bool(true), Scalar::Null]);
        let v: OneOrMany<Scalar> = serde_json::from_str(r#""security_key""#).unwrap();
        assert_eq!(v.0, vec![Scalar::Str(Cow::Borrowed("security_key"))]);
        let v: OneOrMany<Scalar> = serde_json::from_str("7").unwrap();
        assert_eq!(v.0, vec![Scalar::Int(7)]);
        let v: OneOrMany<Scalar> = serde_json::from_str("null").unwrap();
        assert!(v.0.is_empty());

        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct X {
            a: u8,
        }
        let v: OneOrMany<X> = serde_json::from_str(r#"{"a": 3}"#).unwrap();
        assert_eq!(v.0, vec![X { a: 3 }]);
        let v: OneOrMany<X> = serde_json::from_str(r#"[{"a": 3}, {"a": 4}]"#).unwrap();
        assert_eq!(v.0, vec![X { a: 3 }, X { a: 4 }]);
    }

    #[test]
    fn scalar_skips_nested_containers_and_keeps_big_numbers() {
        let v: Scalar = serde_json::from_str(r#"{"parameter": [{"name": "x"}]}"#).unwrap();
        assert_eq!(v, Scalar::Null);
        let v: Scalar = serde_json::from_str("[1, 2]").unwrap();
        assert_eq!(v, Scalar::Null);
        let v: Scalar = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(v, Scalar::Number("18446744073709551615".into()));
        let v: Scalar = serde_json::from_str("-5").unwrap();
        assert_eq!(v, Scalar::Int(-5));
    }
}
