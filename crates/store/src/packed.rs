//! The SSO baseline's aggregates per login, packed. The day baseline ([`crate::snapshot::SsoBaseline`])
//! keeps one for every login of the organisation that signed in to an AWS application within the
//! baseline window (30 days by default), so it grows with the organisation and its history, not
//! with the slice. As Rust values a login's aggregates are a map entry, the login, and one small
//! map per user key with small maps of its own; packed with postcard they take about 650 bytes less
//! (2.9 MB for the 4,464 logins of a simulated 10-day, 10,000-user store; BENCHMARKS.md).
//! Aggregating is exact in any order ([`PriorSsos::merge`]), so what is added is gathered unpacked,
//! a bounded number of logins at a time, and merged into the packed bytes in one go.
//!
//! The day baseline also keeps the whole organisation's SSOs of the last hours one by one
//! ([`PackedBriefs`]), each packed the same way: 1.2 MB less at 50,000 users (BENCHMARKS.md).

use crate::{Result, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trailproof_model::snapshot::PriorSsos;
use trailproof_model::{Idp, Millis};

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

/// An SSO's facts as the baseline reads them, borrowed: its time, provider, outcome, ASN, and
/// the folded login, e-mail, app user name and the country (see [`crate::snapshot::SsoBaseline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Brief<'a> {
    pub(crate) time_ms: Millis,
    pub(crate) provider: Idp,
    pub(crate) success: bool,
    pub(crate) asn: Option<u32>,
    pub(crate) parts: [Option<&'a str>; 4],
}

/// A brief as packed, its time aside. The e-mail is mostly the login: it is then written once.
#[derive(Serialize, Deserialize)]
struct BriefWire<'a> {
    provider: Idp,
    success: bool,
    asn: Option<u32>,
    email_is_login: bool,
    #[serde(borrow)]
    parts: [Option<&'a str>; 4],
}

/// Briefs one after the other, each a postcard byte string, for the baseline's SSOs of the last
/// hours: those of the whole organisation. As values, each with its strings in an allocation of
/// its own, they took 1.2 MB more at 50,000 users (BENCHMARKS.md).
#[derive(Debug, Default)]
pub(crate) struct PackedBriefs {
    /// Each brief's time and where its bytes end in `bytes`, in the order pushed.
    index: Vec<(Millis, usize)>,
    bytes: Vec<u8>,
}

impl PackedBriefs {
    pub(crate) fn push(&mut self, b: &Brief<'_>) -> Result<()> {
        let email_is_login = b.parts[0].is_some() && b.parts[1] == b.parts[0];
        let mut parts = b.parts;
        if email_is_login {
            parts[1] = None;
        }
        let wire = BriefWire { provider: b.provider, success: b.success, asn: b.asn, email_is_login, parts };
        self.bytes = postcard::to_extend(&wire, std::mem::take(&mut self.bytes))
            .map_err(|e| StoreError::Corrupt(format!("packing an SSO of the baseline: {e}")))?;
        self.index.push((b.time_ms, self.bytes.len()));
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The i-th brief's time and packed bytes (`i < len()`).
    fn packed(&self, i: usize) -> (Millis, &[u8]) {
        let start = if i == 0 { 0 } else { self.index[i - 1].1 };
        let (time_ms, end) = self.index[i];
        (time_ms, self.bytes.get(start..end).unwrap_or_default())
    }

    /// Appends `other`'s i-th brief as it is packed (`i < other.len()`).
    pub(crate) fn push_from(&mut self, other: &PackedBriefs, i: usize) {
        let (time_ms, bytes) = other.packed(i);
        self.bytes.extend_from_slice(bytes);
        self.index.push((time_ms, self.bytes.len()));
    }

    /// The time of the i-th brief pushed (`i < len()`).
    pub(crate) fn time(&self, i: usize) -> Millis {
        self.index[i].0
    }

    /// The i-th brief pushed (`i < len()`).
    pub(crate) fn get(&self, i: usize) -> Result<Brief<'_>> {
        let (time_ms, bytes) = self.packed(i);
        let w: BriefWire<'_> = postcard::from_bytes(bytes)
            .map_err(|e| StoreError::Corrupt(format!("unpacking an SSO of the baseline: {e}")))?;
        let mut parts = w.parts;
        if w.email_is_login {
            parts[1] = parts[0];
        }
        Ok(Brief { time_ms, provider: w.provider, success: w.success, asn: w.asn, parts })
    }

    /// The briefs in the order pushed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Result<Brief<'_>>> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// How many of the first briefs lie before `t` (pushed in time order).
    pub(crate) fn count_before(&self, t: Millis) -> usize {
        self.index.partition_point(|(time, _)| *time < t)
    }

    /// Removes the first `n` briefs, giving back most of their room.
    pub(crate) fn drop_first(&mut self, n: usize) {
        let n = n.min(self.len());
        if n == 0 {
            return;
        }
        let cut = self.index[n - 1].1;
        self.bytes.drain(..cut);
        self.index.drain(..n);
        for (_, end) in &mut self.index {
            *end -= cut;
        }
        if self.bytes.capacity() > 2 * self.bytes.len() + 65_536 {
            self.bytes.shrink_to_fit();
            self.index.shrink_to_fit();
        }
    }

    /// Appends `other`'s briefs, sorted by time (stable), to this list, grown to fit rather than
    /// doubled.
    pub(crate) fn append_sorted(&mut self, other: &PackedBriefs) {
        let mut order: Vec<usize> = (0..other.len()).collect();
        order.sort_by_key(|i| other.time(*i));
        self.bytes.reserve_exact(other.bytes.len());
        self.index.reserve_exact(other.len());
        for i in order {
            self.push_from(other, i);
        }
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
        /// Packed briefs give back what was pushed: none stays none, an empty string stays an
        /// empty string, an e-mail equal to the login is still given back; appended in time
        /// order, and after the first ones are dropped.
        #[test]
        fn packed_briefs_give_back_what_was_pushed(
            briefs in proptest::collection::vec(
                (0i64..1000, any::<bool>(), proptest::option::of(any::<u32>()), any::<bool>(),
                 proptest::array::uniform4(proptest::option::of(".{0,6}"))),
                0..60,
            ),
            drop in 0usize..70,
        ) {
            let owned: Vec<Owned> = briefs
                .into_iter()
                .map(|(t, success, asn, same, mut parts)| {
                    if same {
                        parts[1] = parts[0].clone();
                    }
                    let provider = if t % 2 == 0 { Idp::Okta } else { Idp::Google };
                    (t, provider, success, asn, parts)
                })
                .collect();
            type Owned = (i64, Idp, bool, Option<u32>, [Option<String>; 4]);
            fn view(b: &Owned) -> Brief<'_> {
                Brief { time_ms: b.0, provider: b.1, success: b.2, asn: b.3, parts: std::array::from_fn(|i| b.4[i].as_deref()) }
            }
            let mut unsorted = PackedBriefs::default();
            for b in &owned {
                unsorted.push(&view(b)).unwrap();
            }
            for (i, b) in owned.iter().enumerate() {
                prop_assert_eq!(unsorted.get(i).unwrap(), view(b));
            }
            let mut sorted = owned.clone();
            sorted.sort_by_key(|b| b.0);
            let mut packed = PackedBriefs::default();
            packed.append_sorted(&unsorted);
            let got: Vec<Brief<'_>> = packed.iter().collect::<Result<_>>().unwrap();
            let want: Vec<Brief<'_>> = sorted.iter().map(view).collect();
            prop_assert_eq!(&got, &want);
            let cut = sorted.get(drop).map_or(i64::MAX, |b| b.0);
            let n = packed.count_before(cut);
            prop_assert_eq!(n, sorted.iter().filter(|b| b.0 < cut).count());
            packed.drop_first(n);
            let got: Vec<Brief<'_>> = packed.iter().collect::<Result<_>>().unwrap();
            prop_assert_eq!(&got[..], &want[n..]);
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
