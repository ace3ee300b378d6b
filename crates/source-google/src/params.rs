//! Event parameters of a Reports API activity, with typed accessors.
//!
//! A parameter is `{"name": ..., <one value field>}` where the value field is one of `value`
//! (string), `multiValue` (string array), `boolValue`, `intValue` (int64, sent as a string by the
//! API, as a number by some exporters) or `multiIntValue` [formats.md 4.2]. `messageValue` and
//! `multiMessageValue` are nested parameter lists that no sign-in rule reads; they are skipped.
//! The accessors read across those forms: [`Parameters::strings`] gives the values of
//! `login_challenge_method` whether it was written as `value: "password"` or as
//! `multiValue: ["security_key"]`, and [`Parameters::bool`] reads `is_second_factor` whether it
//! is `boolValue: true` or the string `"true"`.

use crate::de::{OneOrMany, Scalar, Text};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// The value of one parameter, whichever field it was sent in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ParamValue<'a> {
    /// No value field, or only `null` / empty ones.
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Multi(Vec<Cow<'a, str>>),
    MultiInt(Vec<i64>),
}

impl<'a> ParamValue<'a> {
    /// The single string value (`value`, or a string sent in `boolValue`/`intValue`). Blank is
    /// absent. A `multiValue` with exactly one element also reads as that element.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => non_blank(s),
            ParamValue::Multi(v) if v.len() == 1 => v.first().and_then(|s| non_blank(s)),
            _ => None,
        }
    }

    /// All string values in order: `[value]` or the elements of `multiValue`, blanks dropped.
    pub fn strings(&self) -> Vec<&str> {
        match self {
            ParamValue::Str(s) => non_blank(s).into_iter().collect(),
            ParamValue::Multi(v) => v.iter().filter_map(|s| non_blank(s)).collect(),
            _ => Vec::new(),
        }
    }

    /// A boolean from `boolValue: true`, the strings `"true"`/`"false"` (any case), or 0/1.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ParamValue::Bool(b) => Some(*b),
            ParamValue::Str(s) => {
                let s = s.trim();
                if s.eq_ignore_ascii_case("true") || s == "1" {
                    Some(true)
                } else if s.eq_ignore_ascii_case("false") || s == "0" {
                    Some(false)
                } else {
                    None
                }
            }
            ParamValue::Int(1) => Some(true),
            ParamValue::Int(0) => Some(false),
            _ => None,
        }
    }

    /// An integer from `intValue` as a number or as a decimal string.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ParamValue::Int(i) => Some(*i),
            ParamValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// All integers: `[intValue]` or the elements of `multiIntValue`.
    pub fn ints(&self) -> Vec<i64> {
        match self {
            ParamValue::MultiInt(v) => v.clone(),
            other => other.as_i64().into_iter().collect(),
        }
    }

    fn is_absent(&self) -> bool {
        match self {
            ParamValue::Absent => true,
            ParamValue::Str(s) => s.trim().is_empty(),
            ParamValue::Multi(v) => v.iter().all(|s| s.trim().is_empty()),
            ParamValue::MultiInt(v) => v.is_empty(),
            ParamValue::Bool(_) | ParamValue::Int(_) => false,
        }
    }
}

fn non_blank(s: &str) -> Option<&str> {
    let t = s.trim();
    if t.is_empty() { None } else { Some(t) }
}

/// One named parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter<'a> {
    pub name: Cow<'a, str>,
    pub value: ParamValue<'a>,
}

/// The `parameters` of one event. Deserializes from the Reports API array of parameter objects
/// (also from a single parameter object, or `null`). Parameters without a name are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameters<'a> {
    pub list: Vec<Parameter<'a>>,
}

impl<'a> Parameters<'a> {
    /// The first parameter of that name that carries a value.
    pub fn get(&self, name: &str) -> Option<&ParamValue<'a>> {
        self.list.iter().filter(|p| p.name == name).map(|p| &p.value).find(|v| !v.is_absent())
    }

    /// The single string value of `name` (see [`ParamValue::as_str`]), trimmed.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(ParamValue::as_str)
    }

    /// Every string value of every parameter named `name`, in record order, trimmed.
    pub fn strings(&self, name: &str) -> Vec<&str> {
        self.list.iter().filter(|p| p.name == name).flat_map(|p| p.value.strings()).collect()
    }

    /// The boolean value of `name` (see [`ParamValue::as_bool`]).
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(ParamValue::as_bool)
    }

    /// The integer value of `name` (see [`ParamValue::as_i64`]).
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(ParamValue::as_i64)
    }

    /// Whether any parameter of that name is present with a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[derive(Deserialize)]
struct RawParameter<'a> {
    #[serde(borrow, default)]
    name: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Scalar<'a>>,
    #[serde(borrow, default, rename = "multiValue")]
    multi_value: Option<OneOrMany<Scalar<'a>>>,
    #[serde(borrow, default, rename = "boolValue")]
    bool_value: Option<Scalar<'a>>,
    #[serde(borrow, default, rename = "intValue")]
    int_value: Option<Scalar<'a>>,
    #[serde(borrow, default, rename = "multiIntValue")]
    multi_int_value: Option<OneOrMany<Scalar<'a>>>,
}

fn scalar_value(s: Scalar<'_>) -> ParamValue<'_> {
    match s {
        Scalar::Null => ParamValue::Absent,
        Scalar::Bool(b) => ParamValue::Bool(b),
        Scalar::Int(i) => ParamValue::Int(i),
        Scalar::Number(n) => ParamValue::Str(Cow::Owned(n)),
        Scalar::Str(s) => ParamValue::Str(s),
    }
}

fn scalar_text(s: Scalar<'_>) -> Option<Cow<'_, str>> {
    match s {
        Scalar::Null => None,
        Scalar::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
        Scalar::Int(i) => Some(Cow::Owned(i.to_string())),
        Scalar::Number(n) => Some(Cow::Owned(n)),
        Scalar::Str(s) => Some(s),
    }
}

fn scalar_int(s: &Scalar<'_>) -> Option<i64> {
    match s {
        Scalar::Int(i) => Some(*i),
        Scalar::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl<'a> RawParameter<'a> {
    fn into_parameter(self) -> Option<Parameter<'a>> {
        let name = match self.name {
            Some(Text(n)) if !n.trim().is_empty() => match n {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
            },
            _ => return None,
        };
        // The API sends exactly one value field; take the first that holds something.
        let candidates = [
            self.value.map(scalar_value),
            self.multi_value.map(|m| ParamValue::Multi(m.0.into_iter().filter_map(scalar_text).collect())),
            self.bool_value.map(scalar_value),
            self.int_value.map(|s| match scalar_int(&s) {
                Some(i) => ParamValue::Int(i),
                None => scalar_value(s),
            }),
            self.multi_int_value.map(|m| ParamValue::MultiInt(m.0.iter().filter_map(scalar_int).collect())),
        ];
        let value = candidates.into_iter().flatten().find(|v| !v.is_absent()).unwrap_or_default();
        Some(Parameter { name, value })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Parameters<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: OneOrMany<RawParameter<'a>> = OneOrMany::deserialize(d)?;
        Ok(Parameters { list: raw.0.into_iter().filter_map(RawParameter::into_parameter).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(json: &str) -> Parameters<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn login_challenge_method_as_value_and_as_multivalue() {
        let p = params(r#"[{"name":"login_challenge_method","value":"password"}]"#);
        assert_eq!(p.strings("login_challenge_method"), vec!["password"]);
        let p = params(r#"[{"name":"login_challenge_method","multiValue":["security_key"]}]"#);
        assert_eq!(p.strings("login_challenge_method"), vec!["security_key"]);
        let p = params(r#"[{"name":"login_challenge_method","multiValue":["password","google_prompt"]}]"#);
        assert_eq!(p.strings("login_challenge_method"), vec!["password", "google_prompt"]);
    }

    #[test]
    fn repeated_parameter_names_are_concatenated_in_order() {
        let p = params(
            r#"[{"name":"login_challenge_method","value":"password"},
                {"name":"login_type","value":"google_password"},
                {"name":"login_challenge_method","multiValue":["security_key", ""]}]"#,
        );
        assert_eq!(p.strings("login_challenge_method"), vec!["password", "security_key"]);
    }

    #[test]
    fn is_second_factor_as_boolvalue_and_as_string() {
        let p = params(r#"[{"name":"is_second_factor","boolValue":true}]"#);
        assert_eq!(p.bool("is_second_factor"), Some(true));
        let p = params(r#"[{"name":"is_second_factor","boolValue":false}]"#);
        assert_eq!(p.bool("is_second_factor"), Some(false));
        let p = params(r#"[{"name":"is_second_factor","value":"true"}]"#);
        assert_eq!(p.bool("is_second_factor"), Some(true));
        let p = params(r#"[{"name":"is_second_factor","boolValue":"TRUE"}]"#);
        assert_eq!(p.bool("is_second_factor"), Some(true));
        let p = params(r#"[{"name":"is_second_factor","value":"maybe"}]"#);
        assert_eq!(p.bool("is_second_factor"), None);
        let p = params(r#"[{"name":"is_second_factor","boolValue":null}]"#);
        assert_eq!(p.bool("is_second_factor"), None);
    }

    #[test]
    fn int_value_as_string_and_as_number() {
        let p = params(r#"[{"name":"login_timestamp","intValue":"1714554004123456"}]"#);
        assert_eq!(p.int("login_timestamp"), Some(1_714_554_004_123_456));
        let p = params(r#"[{"name":"login_timestamp","intValue":1714554004123456}]"#);
        assert_eq!(p.int("login_timestamp"), Some(1_714_554_004_123_456));
        let p = params(r#"[{"name":"n","intValue":"-7"}]"#);
        assert_eq!(p.int("n"), Some(-7));
        let p = params(r#"[{"name":"n","intValue":"seven"}]"#);
        assert_eq!(p.int("n"), None);
        assert_eq!(p.str("n"), Some("seven"));
    }

    #[test]
    fn multi_int_value_mixed_forms() {
        let p = params(r#"[{"name":"ids","multiIntValue":["1", 2, "x", null]}]"#);
        assert_eq!(p.get("ids").map(ParamValue::ints), Some(vec![1, 2]));
    }

    #[test]
    fn empty_and_null_values_are_absent() {
        let p = params(
            r#"[{"name":"login_type","value":""},{"name":"login_type","value":null,"multiValue":["saml"]},
                {"name":"a","value":null},{"name":"","value":"x"},{"value":"y"}]"#,
        );
        assert_eq!(p.str("login_type"), Some("saml"));
        assert_eq!(p.get("a"), None);
        assert!(!p.has("a"));
        assert_eq!(p.list.len(), 3, "nameless parameters are dropped");
    }

    #[test]
    fn message_values_are_skipped_and_unknown_fields_ignored() {
        let p = params(
            r#"[{"name":"m","messageValue":{"parameter":[{"name":"x","value":"1"}]}},
                {"name":"k","value":"v","futureField":{"a":1}}]"#,
        );
        assert_eq!(p.get("m"), None);
        assert_eq!(p.str("k"), Some("v"));
    }

    #[test]
    fn parameters_as_single_object_or_null() {
        let p = params(r#"{"name":"login_type","value":"saml"}"#);
        assert_eq!(p.str("login_type"), Some("saml"));
        let p = params("null");
        assert!(p.list.is_empty());
    }

    #[test]
    fn names_and_values_are_trimmed() {
        let p = params(r#"[{"name":" login_type ","value":" saml "}]"#);
        assert_eq!(p.str("login_type"), Some("saml"));
    }
}
