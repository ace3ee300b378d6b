//! Tolerant deserializers for Entra sign-in records.
//!
//! The three shapes name the same facts with camelCase (Graph, Azure Monitor `properties`),
//! PascalCase (Log Analytics columns), lower case (Panther's copy of the Azure Monitor envelope)
//! or snake_case (Elastic ECS documents); send numbers as strings and the other way round; send
//! Log Analytics `dynamic` columns either as JSON values or as strings holding JSON; and, as
//! published in the Graph docs, repeat keys. [`tolerant_struct!`] builds a struct whose
//! `Deserialize` accepts a list of spellings per field, lets the **last** occurrence of a
//! repeated key win (serde's derive refuses duplicates), reads `null` as absent and ignores
//! unknown keys. Errors name the key path they happened in.

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// Builds a struct of `Option` fields, each read from any of the listed keys.
///
/// `struct Name<'a> { .. }` borrows strings from the input (fields may use `'a`); the form
/// without a lifetime owns its data, so it can also be read from a string holding JSON.
macro_rules! tolerant_struct {
    (
        $(#[$meta:meta])*
        struct $name:ident<$lt:lifetime> {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = [$($key:literal),+ $(,)?] ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub(crate) struct $name<$lt> {
            $( $(#[$fmeta])* pub(crate) $field: Option<$ty>, )*
        }

        impl<'de: $lt, $lt> serde::Deserialize<'de> for $name<$lt> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<$lt>(std::marker::PhantomData<&$lt ()>);
                impl<'de: $lt, $lt> serde::de::Visitor<'de> for V<$lt> {
                    type Value = $name<$lt>;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(
                        self,
                        mut map: M,
                    ) -> Result<Self::Value, M::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::de::Key<'de>>()? {
                            match key.as_str() {
                                $(
                                    $($key)|+ => {
                                        out.$field = map
                                            .next_value::<Option<$ty>>()
                                            .map_err(|e| $crate::de::at::<M::Error>(key.as_str(), e))?;
                                    }
                                )*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V(std::marker::PhantomData))
            }
        }
    };
    (
        $(#[$meta:meta])*
        struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = [$($key:literal),+ $(,)?] ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default, Clone, PartialEq)]
        pub(crate) struct $name {
            $( $(#[$fmeta])* pub(crate) $field: Option<$ty>, )*
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(
                        self,
                        mut map: M,
                    ) -> Result<Self::Value, M::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::de::Key<'de>>()? {
                            match key.as_str() {
                                $(
                                    $($key)|+ => {
                                        out.$field = map
                                            .next_value::<Option<$ty>>()
                                            .map_err(|e| $crate::de::at::<M::Error>(key.as_str(), e))?;
                                    }
                                )*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}
pub(crate) use tolerant_struct;

/// Prefixes an error with the key it happened under, dropping serde_json's position suffix
/// from the inner message (the outer error gets its own).
pub(crate) fn at<E: de::Error>(key: &str, e: E) -> E {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => &msg[..i],
        _ => msg.as_str(),
    };
    E::custom(format_args!("in `{key}`: {msg}"))
}

/// An object key, borrowed when it has no escapes.
pub(crate) struct Key<'a>(Cow<'a, str>);

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string that may also arrive as a number or a boolean (`"errorCode": "0"` / `0`,
/// `"resultType": 0`, `"autonomousSystemNumber": "12345"`), and its owned twin for structures
/// read from a string holding JSON: the workspace's one reading of scalars as text.
pub(crate) use trailproof_model::scalar::{Text, TextBuf as Str};

/// `Option<Text>` → the text as written; `None` when absent, `null`, empty or only whitespace
/// (an empty string means absent).
pub(crate) fn text<'b>(t: &'b Option<Text<'_>>) -> Option<&'b str> {
    t.as_ref().and_then(Text::get)
}

/// `Option<Str>` → the text; `None` when absent or blank.
pub(crate) fn str_of(t: &Option<Str>) -> Option<&str> {
    t.as_ref().and_then(Str::get)
}

/// A boolean that may arrive as `true`, `"true"`, `"True"`, `1` (exports are not careful).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag(pub(crate) Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Flag(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                match v {
                    0 => Ok(Flag(Some(false))),
                    1 => Ok(Flag(Some(true))),
                    _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match v {
                    0 => Ok(Flag(Some(false))),
                    1 => Ok(Flag(Some(true))),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let t = v.trim();
                if t.is_empty() {
                    Ok(Flag(None))
                } else if ["true", "yes", "1"].iter().any(|w| t.eq_ignore_ascii_case(w)) {
                    Ok(Flag(Some(true)))
                } else if ["false", "no", "0"].iter().any(|w| t.eq_ignore_ascii_case(w)) {
                    Ok(Flag(Some(false)))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A Log Analytics `dynamic` column or a field some exporters stringify: either the JSON value
/// itself (object or array), or a string. A string whose text starts with `{` or `[` is parsed
/// as JSON; when that parse fails the text is kept as [`Dyn::Text`] rather than failing the whole
/// record (the column is then unreadable and the caller treats it as absent). Any other string
/// is kept as text (Log Analytics `Location` holds a bare country code).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dyn<T> {
    Value(T),
    Text(String),
}

impl<T> Dyn<T> {
    pub(crate) fn value(&self) -> Option<&T> {
        match self {
            Dyn::Value(v) => Some(v),
            Dyn::Text(_) => None,
        }
    }

    /// The plain text, when the field was a string that is not JSON (blank → `None`).
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Dyn::Text(s) if !s.trim().is_empty() => Some(s),
            _ => None,
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Dyn<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<T: DeserializeOwned> V<T> {
            fn from_text(v: &str) -> Dyn<T> {
                let t = v.trim_start();
                if t.starts_with('{') || t.starts_with('[') {
                    match serde_json::from_str::<T>(v) {
                        Ok(x) => Dyn::Value(x),
                        Err(_) => Dyn::Text(v.to_owned()),
                    }
                } else {
                    Dyn::Text(v.to_owned())
                }
            }
        }
        impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
            type Value = Dyn<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object or array, or a string holding one")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Dyn::Value)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Dyn::Value)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Self::from_text(v))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A list of strings: a JSON array (nulls and blanks dropped), a string holding a JSON array,
/// or a comma-separated string (`"Password, Mobile app notification"`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct StrList(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn keep(out: &mut Vec<String>, s: &str) {
            let t = s.trim();
            if !t.is_empty() {
                out.push(t.to_owned());
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings or a string")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<Option<Str>>()? {
                    if let Some(s) = x {
                        keep(&mut out, &s.0);
                    }
                }
                Ok(StrList(out))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let mut out = Vec::new();
                if v.trim_start().starts_with('[')
                    && let Ok(items) = serde_json::from_str::<Vec<Option<Str>>>(v)
                {
                    for s in items.into_iter().flatten() {
                        keep(&mut out, &s.0);
                    }
                    return Ok(StrList(out));
                }
                for part in v.split(',') {
                    keep(&mut out, part);
                }
                Ok(StrList(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    tolerant_struct! {
        struct Probe<'a> {
            a: Text<'a> = ["a", "A"],
            n: Box<Probe<'a>> = ["nested"],
        }
    }

    #[test]
    fn last_duplicate_wins_and_aliases_share_a_field() {
        let p: Probe = serde_json::from_str(r#"{"a":"1","x":{"y":[1]},"A":"2"}"#).unwrap();
        assert_eq!(text(&p.a), Some("2"));
        let p: Probe = serde_json::from_str(r#"{"a":"1","a":"3"}"#).unwrap();
        assert_eq!(text(&p.a), Some("3"));
        let p: Probe = serde_json::from_str(r#"{"a":"1","a":null}"#).unwrap();
        assert_eq!(text(&p.a), None);
    }

    #[test]
    fn errors_name_the_key_path() {
        let e = serde_json::from_str::<Probe>(r#"{"nested":{"a":{}}}"#).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("in `nested`: in `a`: invalid type: map"), "{msg}");
        assert_eq!(msg.matches(" at line ").count(), 1, "{msg}");
    }

    #[test]
    fn text_reads_numbers_and_borrows_plain_strings() {
        let t: Text = serde_json::from_str("50126").unwrap();
        assert_eq!(t.0, "50126");
        let t: Text = serde_json::from_str("50126.0").unwrap();
        assert_eq!(t.0, "50126");
        let t: Text = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(t.0, Cow::Borrowed("plain")));
        assert_eq!(text(&Some(Text(Cow::Borrowed("  ")))), None);
    }

    #[test]
    fn flag_reads_bools_strings_and_digits() {
        for (src, want) in [
            ("true", Some(true)),
            (r#""True""#, Some(true)),
            ("0", Some(false)),
            (r#""false""#, Some(false)),
            (r#""""#, None),
        ] {
            let f: Flag = serde_json::from_str(src).unwrap();
            assert_eq!(f.0, want, "{src}");
        }
        assert!(serde_json::from_str::<Flag>(r#""maybe""#).is_err());
    }

    #[test]
    fn dyn_reads_values_json_strings_and_plain_text() {
        let d: Dyn<Vec<u8>> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(d, Dyn::Value(vec![1, 2]));
        let d: Dyn<Vec<u8>> = serde_json::from_str(r#""[1,2]""#).unwrap();
        assert_eq!(d, Dyn::Value(vec![1, 2]));
        let d: Dyn<Vec<u8>> = serde_json::from_str(r#""US""#).unwrap();
        assert_eq!(d.text(), Some("US"));
        let d: Dyn<Vec<u8>> = serde_json::from_str(r#""[1,2""#).unwrap();
        assert_eq!(d, Dyn::Text("[1,2".into()));
        assert_eq!(d.value(), None);
    }

    #[test]
    fn str_list_reads_arrays_json_strings_and_commas() {
        let l: StrList = serde_json::from_str(r#"["SMS", null, "", "FIDO"]"#).unwrap();
        assert_eq!(l.0, ["SMS", "FIDO"]);
        let l: StrList = serde_json::from_str(r#""[\"SMS\",\"FIDO\"]""#).unwrap();
        assert_eq!(l.0, ["SMS", "FIDO"]);
        let l: StrList = serde_json::from_str(r#""Password, Mobile app notification""#).unwrap();
        assert_eq!(l.0, ["Password", "Mobile app notification"]);
    }
}
