//! The parts of an Okta System Log `LogEvent` that trailproof reads, as borrowed serde structs.
//!
//! Every field is optional and `null`-tolerant; unknown fields are ignored. Scalar fields are
//! read through [`Text`], which accepts a string, a number or a boolean (kept as text) and
//! treats `null`, objects and arrays as absent, so a free-form value (`debugData`,
//! `detailEntry`) of an unexpected type never rejects the record.

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A scalar read as text: strings borrowed where possible, numbers and booleans rendered,
/// `null` / objects / arrays read as absent (the workspace's one reading of scalars as text).
pub(crate) use trailproof_model::scalar::OptText as Text;

/// `securityContext.asNumber`: a JSON number, a numeric string (optionally `AS`-prefixed), or
/// `null`. Anything that is not a whole number in `u32` range is read as absent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asn(pub(crate) Option<u32>);

impl<'de> Deserialize<'de> for Asn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Text::deserialize(d)?;
        Ok(Asn(t.get().and_then(parse_asn)))
    }
}

pub(crate) fn parse_asn(s: &str) -> Option<u32> {
    let s = s.trim();
    let digits = s.strip_prefix("AS").or_else(|| s.strip_prefix("as")).unwrap_or(s);
    if let Ok(n) = digits.parse::<u32>() {
        return Some(n);
    }
    // A float such as `7018.0` (a JSON number that went through a double somewhere).
    let f = digits.parse::<f64>().ok()?;
    if f.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&f) { Some(f as u32) } else { None }
}

/// A free-form object (`debugData`, `detailEntry`) read as `T` when it is an object, and as
/// absent when it is `null`, a string, a number or an array: Okta does not promise its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loose<T>(pub(crate) Option<T>);

impl<T> Default for Loose<T> {
    fn default() -> Self {
        Loose(None)
    }
}

impl<T> Loose<T> {
    pub(crate) fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(std::marker::PhantomData))
    }
}

struct LooseVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LooseVisitor<T> {
    type Value = Loose<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or any other JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Loose(Some(t)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct LogEvent<'a> {
    #[serde(borrow)]
    pub uuid: Text<'a>,
    #[serde(borrow)]
    pub published: Text<'a>,
    #[serde(borrow)]
    pub event_type: Text<'a>,
    #[serde(borrow)]
    pub actor: Option<Entity<'a>>,
    #[serde(borrow)]
    pub client: Option<Client<'a>>,
    #[serde(borrow)]
    pub outcome: Option<OutcomeRaw<'a>>,
    #[serde(borrow)]
    pub target: Option<Vec<Option<Entity<'a>>>>,
    #[serde(borrow)]
    pub authentication_context: Option<AuthContext<'a>>,
    #[serde(borrow)]
    pub security_context: Option<SecurityContext<'a>>,
    #[serde(borrow)]
    pub debug_context: Option<DebugContext<'a>>,
    #[serde(borrow)]
    pub request: Option<Request<'a>>,
}

/// `actor` and each `target[]` element.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Entity<'a> {
    #[serde(borrow)]
    pub id: Text<'a>,
    #[serde(borrow, rename = "type")]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub alternate_id: Text<'a>,
    #[serde(borrow)]
    pub display_name: Text<'a>,
    #[serde(borrow)]
    pub detail_entry: Loose<DetailEntry<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DetailEntry<'a> {
    #[serde(borrow)]
    pub method_type_used: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Client<'a> {
    #[serde(borrow)]
    pub ip_address: Text<'a>,
    #[serde(borrow)]
    pub user_agent: Option<UserAgent<'a>>,
    #[serde(borrow)]
    pub geographical_context: Option<Geo<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct UserAgent<'a> {
    #[serde(borrow)]
    pub raw_user_agent: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Geo<'a> {
    #[serde(borrow)]
    pub country: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct OutcomeRaw<'a> {
    #[serde(borrow)]
    pub result: Text<'a>,
    #[serde(borrow)]
    pub reason: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct AuthContext<'a> {
    #[serde(borrow)]
    pub credential_type: Text<'a>,
    #[serde(borrow)]
    pub external_session_id: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct SecurityContext<'a> {
    pub as_number: Asn,
    #[serde(borrow)]
    pub as_org: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DebugContext<'a> {
    #[serde(borrow)]
    pub debug_data: Loose<DebugData<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DebugData<'a> {
    #[serde(borrow)]
    pub factor: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Request<'a> {
    #[serde(borrow)]
    pub ip_chain: Option<Vec<Option<IpHop<'a>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct IpHop<'a> {
    #[serde(borrow)]
    pub ip: Text<'a>,
    #[serde(borrow)]
    pub geographical_context: Option<Geo<'a>>,
}
