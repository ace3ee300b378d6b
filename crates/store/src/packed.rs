//! The SSO baseline's aggregates per login, packed. The day baseline ([`crate::snapshot::SsoBaseline`])
//! keeps one for every login of the organisation that signed in to an AWS application within the
//! baseline window (30 days by default), so it grows with the organisation and its history, not
//! with the slice. As Rust values a login's aggregates are a map entry, the login, and one small
//! map per user key with small maps of its own; packed with postcard they take about 650 bytes less
//! (2.9 MB for the 4,464 logins of a simulated 10-day, 10,000-user store; BENCHMARKS.md).
//! Aggregating is exact in any order ([`PriorSsos::merge`]), so what is added is gathered unpacked,
//! a bounded number of logins at a time, and merged into the packed bytes in one go.

use crate::{Result, StoreError};
use std::collections::BTreeMap;
use trailproof_model::Idp;
use trailproof_model::snapshot::PriorSsos;

/// One login's aggregates, per (provider, user key): its login, e-mail and app user name.
pub(crate) type LoginAggregates = litemap::LiteMap<(Idp, String), PriorSsos>;

/// How many logins' additions are held unpacked before they are merged into the packed bytes.
const PENDING_LOGINS: usize = 1024;

/// Per (provider, folded login), its [`LoginAggregates`] (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct PackedLogins {
    packed: BTreeMap<Idp, BTreeMap<Box<str>, Box<[u8]>>>,
    pending: BTreeMap<(Idp, String), LoginAggregates>,
}

/// A login's aggregates as written: each user key with its aggregate, the login's own key as
/// `None` (the login is the map's key already). Every key of a login shares its provider.
type Wire<'a> = Vec<(Option<&'a str>, &'a PriorSsos)>;
type WireOwned = Vec<(Option<String>, PriorSsos)>;

fn pack(login: &str, aggs: &LoginAggregates) -> Result<Box<[u8]>> {
    let wire: Wire<'_> = aggs.iter().map(|((_, k), p)| (Some(k.as_str()).filter(|k| *k != login), p)).collect();
    postcard::to_allocvec(&wire)
        .map(Vec::into_boxed_slice)
        .map_err(|e| StoreError::Corrupt(format!("packing a login's SSO baseline: {e}")))
}

fn unpack(provider: Idp, login: &str, bytes: &[u8]) -> Result<LoginAggregates> {
    let wire: WireOwned = postcard::from_bytes(bytes)
        .map_err(|e| StoreError::Corrupt(format!("unpacking a login's SSO baseline: {e}")))?;
    Ok(wire.into_iter().map(|(k, p)| ((provider, k.unwrap_or_else(|| login.to_string())), p)).collect())
}

/// Adds everything `from` holds to `into`.
fn merge_into(into: &mut LoginAggregates, from: &LoginAggregates) {
    for (k, p) in from.iter() {
        match into.get_mut(k) {
            Some(q) => q.merge(p),
            None => {
                into.insert(k.clone(), p.clone());
            }
        }
    }
}

impl PackedLogins {
    /// The aggregates of `login` (provider, folded login) to add to; merged into the packed
    /// bytes later.
    pub(crate) fn add(&mut self, login: (Idp, &str), f: impl FnOnce(&mut LoginAggregates)) -> Result<()> {
        let key = (login.0, login.1.to_string());
        if self.pending.len() >= PENDING_LOGINS && !self.pending.contains_key(&key) {
            self.settle()?;
        }
        f(self.pending.entry(key).or_default());
        Ok(())
    }

    /// Merges what was added into the packed bytes.
    pub(crate) fn settle(&mut self) -> Result<()> {
        for ((provider, login), aggs) in std::mem::take(&mut self.pending) {
            let logins = self.packed.entry(provider).or_default();
            let merged = match logins.get(login.as_str()) {
                Some(bytes) => {
                    let mut old = unpack(provider, &login, bytes)?;
                    merge_into(&mut old, &aggs);
                    old
                }
                None => aggs,
            };
            let bytes = pack(&login, &merged)?;
            logins.insert(login.into_boxed_str(), bytes);
        }
        Ok(())
    }

    /// The aggregates of `login` (provider, folded login), `None` if nothing was added for it.
    pub(crate) fn get(&self, login: &(Idp, String)) -> Result<Option<LoginAggregates>> {
        let packed = self.packed.get(&login.0).and_then(|m| m.get(login.1.as_str()));
        let pending = self.pending.get(login);
        Ok(match (packed, pending) {
            (None, None) => None,
            (None, Some(p)) => Some(p.clone()),
            (Some(bytes), p) => {
                let mut aggs = unpack(login.0, &login.1, bytes)?;
                if let Some(p) = p {
                    merge_into(&mut aggs, p);
                }
                Some(aggs)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An SSO as the baseline adds it: which login, under which of its keys, when, ASN, country.
    fn sso() -> impl Strategy<Value = (u8, u8, i64, Option<u32>, Option<String>)> {
        (0u8..3, 0u8..3, 0i64..1_000_000, proptest::option::of(0u32..40), proptest::option::of("[A-Z]{2}|"))
    }

    proptest! {
        /// Packed or not, added in one go or settled at any point, a login's aggregates are
        /// what adding each SSO to plain maps gives; with more than `SeenMap::SMALL` ASNs too.
        #[test]
        fn packed_logins_give_back_what_was_added(
            ssos in proptest::collection::vec(sso(), 0..300),
            settle_every in 1usize..50,
        ) {
            let logins = ["alice@example.com", "bob", ""];
            let keys = |l: &str| [l.to_string(), format!("{l}.mail"), "shared".to_string()];
            let mut plain: BTreeMap<(Idp, String), LoginAggregates> = BTreeMap::new();
            let mut packed = PackedLogins::default();
            for (i, (login, key, t, asn, country)) in ssos.iter().enumerate() {
                let login = logins[*login as usize];
                let provider = if login == "bob" { Idp::Entra } else { Idp::Okta };
                let key = (provider, keys(login)[*key as usize].clone());
                let key2 = key.clone();
                plain.entry((provider, login.to_string())).or_default().entry(key).or_default().add(*t, *asn, country.as_deref());
                packed.add((provider, login), |a| a.entry(key2).or_default().add(*t, *asn, country.as_deref())).unwrap();
                if i % settle_every == 0 {
                    packed.settle().unwrap();
                }
            }
            for l in logins {
                for provider in [Idp::Okta, Idp::Entra] {
                    let k = (provider, l.to_string());
                    prop_assert_eq!(packed.get(&k).unwrap(), plain.get(&k).cloned());
                }
            }
            packed.settle().unwrap();
            for (k, v) in &plain {
                prop_assert_eq!(packed.get(k).unwrap(), Some(v.clone()));
            }
        }
    }

    #[test]
    fn a_packed_login_is_smaller_than_its_values() {
        let mut packed = PackedLogins::default();
        let login = "first.last@example.com";
        packed
            .add((Idp::Okta, login), |a| {
                for key in [login, "first.last@corp.example.com"] {
                    a.entry((Idp::Okta, key.to_string())).or_default().add(1_780_000_000_000, Some(64496), Some("NL"));
                }
            })
            .unwrap();
        packed.settle().unwrap();
        let bytes = &packed.packed[&Idp::Okta][login];
        // Two keys, each with a count, a time, one ASN and one country, and the e-mail spelled
        // out: under 100 bytes, against two `(Idp, String)` keys and `PriorSsos` values of 112
        // bytes each before any of their allocations.
        assert!(bytes.len() < 100, "{} bytes", bytes.len());
    }
}
