//! JSON scalars read as text, for the sources' parsers: a field the vendor documents as a string
//! may arrive as a number or a boolean once a record has been through other tools (Elastic,
//! SIEM exports), and the other way round. One reading for every parser:
//!
//! - a string is kept as written, borrowed from the input when it has no escapes;
//! - an integer keeps its decimal text; a float its shortest text, with a whole float in the
//!   exact range written as an integer (`50126.0` reads as `50126`, `-0.0` as `0`);
//! - a boolean reads `true` / `false`;
//! - an empty or whitespace-only text means absent ([`Text::get`], [`OptText::get`]).
//!
//! Two strictnesses: [`Text`] refuses `null`, objects and arrays (wrap it in `Option` where
//! `null` is allowed), for fields whose wrong type should quarantine the record; [`OptText`]
//! reads them as absent, for free-form or optional data that must never reject a record.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The text of a JSON number read as a float (see the module docs).
pub fn float_text(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 { format!("{}", v as i64) } else { v.to_string() }
}

/// Returns `s` unless it is empty or only whitespace (the sources' way of saying "absent").
pub fn non_empty(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

/// The one visitor: `LENIENT` reads `null`, objects and arrays as `None`; otherwise they are
/// refused with serde's "invalid type" error.
struct ScalarText<const LENIENT: bool>;

impl<'de, const LENIENT: bool> Visitor<'de> for ScalarText<LENIENT> {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if LENIENT { "a string, number, boolean or null" } else { "a string or a number" })
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(if v { "true" } else { "false" })))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(float_text(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if LENIENT { Ok(None) } else { Err(E::invalid_type(de::Unexpected::Unit, &self)) }
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if !LENIENT {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !LENIENT {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A string, number or boolean, as text; anything else is refused (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    /// The text as written, or `None` when it is empty or only whitespace.
    pub fn get(&self) -> Option<&str> {
        non_empty(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(ScalarText::<false>)? {
            Some(t) => Ok(Text(t)),
            None => Err(de::Error::invalid_type(de::Unexpected::Unit, &"a string or a number")),
        }
    }
}

/// [`Text`], owned: for structures read from a string that holds JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextBuf(pub String);

impl TextBuf {
    pub fn get(&self) -> Option<&str> {
        non_empty(&self.0)
    }
}

impl<'de> Deserialize<'de> for TextBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Text::deserialize(d).map(|t| TextBuf(t.0.into_owned()))
    }
}

/// Any JSON value as text where it is a scalar; `null`, objects and arrays read as absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OptText<'a>(pub Option<Cow<'a, str>>);

impl OptText<'_> {
    /// The text as written, or `None` when absent, `null`, empty or only whitespace.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref().and_then(non_empty)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for OptText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarText::<true>).map(OptText)
    }
}

/// [`OptText`], owned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OptTextBuf(pub Option<String>);

impl OptTextBuf {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref().and_then(non_empty)
    }
}

impl<'de> Deserialize<'de> for OptTextBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarText::<true>).map(|v| OptTextBuf(v.map(Cow::into_owned)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(json: &str) -> Result<Option<String>, String> {
        serde_json::from_str::<Text>(json).map(|t| t.get().map(str::to_string)).map_err(|e| e.to_string())
    }

    fn lenient(json: &str) -> Option<String> {
        serde_json::from_str::<OptText>(json).unwrap().get().map(str::to_string)
    }

    #[test]
    fn scalars_read_as_text_in_both_strictnesses() {
        for (json, want) in [
            (r#""plain""#, Some("plain")),
            (r#""with \"escapes\"""#, Some("with \"escapes\"")),
            ("50126", Some("50126")),
            ("-7", Some("-7")),
            ("18446744073709551615", Some("18446744073709551615")),
            ("50126.0", Some("50126")),
            ("-0.0", Some("0")),
            ("2.5", Some("2.5")),
            ("1e300", Some(&*1e300_f64.to_string())),
            ("true", Some("true")),
            ("false", Some("false")),
            (r#""""#, None),
            (r#"" \t ""#, None),
        ] {
            assert_eq!(strict(json).unwrap().as_deref(), want, "{json}");
            assert_eq!(lenient(json).as_deref(), want, "{json}");
        }
    }

    #[test]
    fn only_the_lenient_reading_takes_null_objects_and_arrays_as_absent() {
        for json in ["null", r#"{"a":[1,{"b":2}]}"#, "[1,2,[3]]"] {
            assert_eq!(lenient(json), None, "{json}");
            let err = strict(json).unwrap_err();
            assert!(err.starts_with("invalid type:") && err.contains("expected a string or a number"), "{json}: {err}");
        }
        let o: Option<Text> = serde_json::from_str("null").unwrap();
        assert_eq!(o, None, "null where an Option<Text> is allowed");
        let owned: OptTextBuf = serde_json::from_str(r#"{"x":1}"#).unwrap();
        assert_eq!(owned.get(), None);
        let owned: TextBuf = serde_json::from_str("7").unwrap();
        assert_eq!(owned.get(), Some("7"));
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let t: Text = serde_json::from_str(r#""abc""#).unwrap();
        assert!(matches!(t.0, Cow::Borrowed(_)));
        let t: OptText = serde_json::from_str(r#""abc""#).unwrap();
        assert!(matches!(t.0, Some(Cow::Borrowed(_))));
    }
}
