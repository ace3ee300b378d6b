//! Verdict records, versioned: a record whose content changes gets the next version, the old one
//! moves to `verdict_history`; an unchanged record keeps its version (so re-running the engine on
//! the same data writes nothing).

use crate::{Batch, Result, Store, StoreError};
use rusqlite::{OptionalExtension, params};
use trailproof_model::verdict::VerdictRecord;
use trailproof_model::{Millis, parse_time};

/// What storing a set of verdicts did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerdictChanges {
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Event ids of records that are new or changed, with their new version.
    pub written: Vec<(String, u32)>,
}

/// Migration 13 (issue 15, D3): a stored verdict record whose Google evidence ids are keys of
/// `map` (old id → `<application>/<old id>`), with those ids rewritten in `evidence` and where
/// they appear in the explanation; `None` when the record cites none of them, or cannot be read
/// as a verdict record of this version (left as it is: re-judging it gives a new version anyway).
/// The record is re-encoded as [`Batch::put_verdicts`] encodes records, so
/// [`record_sha256`] of the result is the hash re-judging computes.
pub(crate) fn migrate_google_evidence(record: &str, map: &std::collections::HashMap<String, String>) -> Option<String> {
    let mut rec: VerdictRecord = serde_json::from_str(record).ok()?;
    let mut changed = false;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for e in &mut rec.evidence {
        if e.source != trailproof_model::Source::Google {
            continue;
        }
        if let Some(new) = map.get(&e.id) {
            pairs.push((e.id.clone(), new.clone()));
            e.id = new.clone();
            changed = true;
        }
    }
    // Longest first, so an id that is a prefix of another (`…/1` and `…/1#0`) is not replaced
    // inside it.
    pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    pairs.dedup();
    for (old, new) in &pairs {
        rec.explanation = replace_id(&rec.explanation, old, new);
    }
    changed.then(|| serde_json::to_string(&rec).ok()).flatten()
}

/// Replaces the whole-word occurrences of the id `old` in `text`: not preceded by a character
/// that can be part of an id (`a-z`, `0-9`, `/`, `-`, `.`, `:`, `#`) and not followed by one.
fn replace_id(text: &str, old: &str, new: &str) -> String {
    let part = |c: char| c.is_ascii_alphanumeric() || "/-.:#_".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(old) {
        let before = rest[..i].chars().next_back().or_else(|| out.chars().next_back());
        let after = rest[i + old.len()..].chars().next();
        // A trailing `.` ends a sentence, not the id.
        let after_is_part = after.is_some_and(|c| part(c) && c != '.');
        out.push_str(&rest[..i]);
        if before.is_some_and(part) || after_is_part {
            out.push_str(old);
        } else {
            out.push_str(new);
        }
        rest = &rest[i + old.len()..];
    }
    out.push_str(rest);
    out
}

/// The content hash [`Batch::put_verdicts`] stores for this record (its JSON with version 0);
/// `None` when it cannot be read as a verdict record.
pub(crate) fn record_sha256(record: &str) -> Option<String> {
    let rec: VerdictRecord = serde_json::from_str(record).ok()?;
    encode_hashed(&rec).ok().map(|(_, hash)| hash)
}

fn encode(r: &VerdictRecord) -> Result<String> {
    serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(s: &str) -> Result<VerdictRecord> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("stored verdict: {e}")))
}

/// A record's JSON with version 0 and its content hash: the SHA-256 of that JSON, equal for
/// equal verdicts whatever their version.
fn encode_hashed(r: &VerdictRecord) -> Result<(String, String)> {
    use sha2::Digest;
    let json = if r.version == 0 { encode(r)? } else { encode(&VerdictRecord { version: 0, ..r.clone() })? };
    let hash = hex::encode(sha2::Sha256::digest(json.as_bytes()));
    Ok((json, hash))
}

/// The stored JSON of a record at `version`, from its JSON at version 0 (`version` is the
/// record's last field, so only the end differs); re-encoded if that JSON does not end so.
fn with_version(json0: String, rec: &VerdictRecord, version: u32) -> Result<String> {
    const END: &str = "\"version\":0}";
    match json0.strip_suffix(END) {
        Some(head) => Ok(format!("{head}\"version\":{version}}}")),
        None => encode(&VerdictRecord { version, ..rec.clone() }),
    }
}

impl Batch<'_> {
    /// Stores verdict records, assigning versions (the `version` field of the input is ignored).
    /// Each record is encoded once (its JSON at version 0 gives the content hash and, with the
    /// version put in, the stored JSON); the records each cites are noted in `verdict_cites`
    /// with it, once per batch, in key order.
    pub fn put_verdicts(&mut self, records: &[VerdictRecord]) -> Result<VerdictChanges> {
        let mut out = VerdictChanges::default();
        let mut cited: Vec<(&'static str, &str, &str)> = Vec::new();
        let mut select =
            self.tx.prepare_cached("SELECT version, content_sha256 FROM verdicts WHERE console_login_event_id = ?1")?;
        let mut to_history = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO verdict_history (console_login_event_id, version, record, superseded_ms)
             SELECT console_login_event_id, version, record, ?2 FROM verdicts
             WHERE console_login_event_id = ?1",
        )?;
        let mut insert = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO verdicts (console_login_event_id, time_ms, account_id, arn, verdict, reason,
                severity, score, version, record, content_sha256, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        // The ticket outbox row, in the same transaction as the verdict it announces.
        let mut outbox = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO outbox (console_login_event_id, version, created_ms) VALUES (?1, ?2, ?3)",
        )?;
        for rec in records {
            let (json0, hash) = encode_hashed(rec)?;
            let old: Option<(i64, String)> =
                select.query_row([&rec.console_login_event_id], |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
            let version = match &old {
                Some((_, h)) if *h == hash => {
                    out.unchanged += 1;
                    continue;
                }
                Some((v, _)) => {
                    // The version it replaces goes to the history, as stored.
                    to_history.execute(params![rec.console_login_event_id, self.now])?;
                    out.changed += 1;
                    *v as u32 + 1
                }
                None => {
                    out.new += 1;
                    1
                }
            };
            let time_ms: Millis = parse_time(&rec.time).map_err(StoreError::Corrupt)?;
            insert.execute(params![
                rec.console_login_event_id,
                time_ms,
                rec.account_id,
                rec.arn,
                rec.verdict.as_str(),
                rec.reason.map(|r| r.as_str()),
                rec.risk.severity.as_str(),
                rec.risk.score,
                version,
                with_version(json0, rec, version)?,
                hash,
                self.now
            ])?;
            // The records it cites stay as long as it does (`retention.rs`); its earlier
            // versions' citations stay with it.
            let owner = rec.console_login_event_id.as_str();
            cited.extend(rec.evidence.iter().map(|ev| (ev.source.as_str(), ev.id.as_str(), owner)));
            outbox.execute(params![rec.console_login_event_id, version, self.now])?;
            out.written.push((rec.console_login_event_id.clone(), version));
        }
        cited.sort_unstable();
        cited.dedup();
        let mut cite = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO verdict_cites (source, event_id, console_login_event_id) VALUES (?1, ?2, ?3)",
        )?;
        for (source, id, owner) in cited {
            cite.execute(params![source, id, owner])?;
        }
        Ok(out)
    }
}

macro_rules! records_of_idp_event {
    () => {
        concat!(
            "native_key IN (trailproof_native_key(?1, ?2), trailproof_native_key(?1, ?3)) AND source = ?1 AND ",
            crate::blocks::native_id_sql!(),
            " IN (?2, ?3)"
        )
    };
}

/// SQL: the `raw_id`s an IdP event may belong to, given `?1` its provider, `?2` its event id and
/// `?3` [`native_id_of`] it: an event id is its record's native id, or that id and `#<n>`
/// (migrations 9 and 20), so (at most) two records.
pub(crate) const RAW_IDS_OF_IDP_EVENT: &str = concat!(
    "raw_id IN (SELECT id FROM raw_records AS r INDEXED BY raw_records_key WHERE ",
    records_of_idp_event!(),
    ")"
);

/// SQL: the `raw_records` rows an IdP event may belong to (see [`RAW_IDS_OF_IDP_EVENT`]), as a
/// condition on `raw_records AS r` sought by `raw_records_key`.
pub(crate) const RECORDS_OF_IDP_EVENT: &str = records_of_idp_event!();

/// The native id an IdP event id may be derived from (see [`RAW_IDS_OF_IDP_EVENT`]).
pub(crate) fn native_id_of(event_id: &str) -> &str {
    event_id.rsplit_once('#').map_or(event_id, |(n, _)| n)
}

impl Store {
    /// Stored verdicts with `from_ms <= time < to_ms`, oldest first.
    pub fn verdicts(&self, from_ms: Millis, to_ms: Millis) -> Result<Vec<VerdictRecord>> {
        let mut st = self.conn.prepare(
            "SELECT record FROM verdicts WHERE time_ms >= ?1 AND time_ms < ?2 ORDER BY time_ms, console_login_event_id",
        )?;
        let rows = st.query_map(params![from_ms, to_ms], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode(&row?)?);
        }
        Ok(out)
    }

    /// Verdicts for a session ARN (newest first), or for a ConsoleLogin event id.
    pub fn verdicts_for(&self, arn_or_event_id: &str) -> Result<Vec<VerdictRecord>> {
        let mut st = self.conn.prepare(
            "SELECT record FROM verdicts WHERE arn = ?1 OR console_login_event_id = ?1
             ORDER BY time_ms DESC, console_login_event_id",
        )?;
        let rows = st.query_map([arn_or_event_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(decode(&row?)?);
        }
        Ok(out)
    }

    /// Earliest and latest ConsoleLogin times stored.
    pub fn console_login_span(&self) -> Result<Option<(Millis, Millis)>> {
        let r: (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT MIN(time_ms), MAX(time_ms) FROM aws_events WHERE kind = 'ConsoleLogin'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(match r {
            (Some(a), Some(b)) => Some((a, b)),
            _ => None,
        })
    }

    /// Where a slice of at most about `n` ConsoleLogins starting at `from` ends (exclusive),
    /// without passing `to`: the time of the `n`-th stored ConsoleLogin at or after `from`, or
    /// `to` when there are fewer. Logins of one millisecond are never split; when more than `n`
    /// share `from`, the slice ends just after them.
    pub fn console_login_slice_end(&self, from: Millis, to: Millis, n: u64) -> Result<Millis> {
        let n = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
        let mut st = self.conn.prepare_cached(
            "SELECT time_ms FROM aws_events INDEXED BY aws_events_kind_time
             WHERE kind = 'ConsoleLogin' AND time_ms >= ?1 AND time_ms < ?2 ORDER BY time_ms LIMIT 1 OFFSET ?3",
        )?;
        let nth: Option<Millis> = st.query_row(params![from, to, n], |r| r.get(0)).optional()?;
        Ok(match nth {
            None => to,
            Some(t) if t > from => t,
            Some(_) => {
                let mut st = self.conn.prepare_cached(
                    "SELECT min(time_ms) FROM aws_events INDEXED BY aws_events_kind_time
                     WHERE kind = 'ConsoleLogin' AND time_ms > ?1 AND time_ms < ?2",
                )?;
                st.query_row(params![from, to], |r| r.get::<_, Option<Millis>>(0))?.unwrap_or(to)
            }
        })
    }

    /// One stored AWS event by CloudTrail event id.
    pub fn aws_event(&self, event_id: &str) -> Result<Option<trailproof_model::AwsEvent>> {
        Ok(self.aws_query_pub("event_id = ?1", vec![event_id.to_string().into()])?.into_iter().next())
    }

    /// One stored IdP event by provider and event id.
    pub fn idp_event(
        &self,
        provider: trailproof_model::Idp,
        event_id: &str,
    ) -> Result<Option<trailproof_model::IdpEvent>> {
        // Found through its raw record: among its rows, or its SSOs (in their frame).
        let native = native_id_of(event_id);
        let found = self
            .idp_query_by_pub(
                "INDEXED BY idp_events_raw",
                &format!("provider = ?1 AND {RAW_IDS_OF_IDP_EVENT}"),
                vec![provider.as_str().to_string().into(), event_id.to_string().into(), native.to_string().into()],
            )?
            .into_iter()
            // The events of (at most) two records: the one asked for by its id.
            .find(|e| e.event_id == event_id);
        if found.is_some() {
            return Ok(found);
        }
        self.idp_sso(provider, event_id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::Store;
    use trailproof_model::verdict::{Risk, SessionPath, Severity, Verdict, VerdictRecord};

    pub(crate) fn rec(id: &str, verdict: Verdict) -> VerdictRecord {
        VerdictRecord {
            console_login_event_id: id.into(),
            account_id: Some("111122223333".into()),
            arn: None,
            session_name: None,
            time: "2026-11-02T10:00:00Z".into(),
            source_ip: None,
            user_agent: None,
            path: SessionPath::Saml,
            verdict,
            reason: None,
            identity: None,
            mfa: None,
            evidence: vec![],
            risk: Risk { score: 60, severity: Severity::High, signals: vec![] },
            explanation: String::new(),
            version: 0,
        }
    }

    fn put(s: &mut Store, r: VerdictRecord) -> super::VerdictChanges {
        let mut b = s.batch().unwrap();
        let c = b.put_verdicts(&[r]).unwrap();
        b.commit().unwrap();
        c
    }

    /// A record stored at version N is its JSON at version 0 with the version changed: the
    /// same bytes as encoding it at N, and the content hash is that of the version-0 JSON.
    #[test]
    fn a_stored_record_is_encoded_as_serde_encodes_it_at_its_version() {
        let mut r = rec("e\"1", Verdict::Unknown);
        r.explanation = "ends with \"version\":0}".into();
        for version in [1, 9, 10, 4_000_000_000] {
            let (json0, hash) = super::encode_hashed(&VerdictRecord { version: 5, ..r.clone() }).unwrap();
            assert_eq!(json0, serde_json::to_string(&r).unwrap());
            assert_eq!(Some(hash), super::record_sha256(&json0));
            let stored = super::with_version(json0, &r, version).unwrap();
            assert_eq!(stored, serde_json::to_string(&VerdictRecord { version, ..r.clone() }).unwrap());
        }
    }

    /// Each earlier version in the history, oldest first: its version, the version its stored
    /// record says, and its verdict.
    fn history(s: &Store, id: &str) -> Vec<(u32, u32, Verdict)> {
        let mut st = s
            .conn()
            .prepare("SELECT version, record FROM verdict_history WHERE console_login_event_id = ?1 ORDER BY version")
            .unwrap();
        st.query_map([id], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(|row| {
                let (v, record) = row.unwrap();
                let old: VerdictRecord = serde_json::from_str(&record).unwrap();
                (v, old.version, old.verdict)
            })
            .collect()
    }

    /// The version given with a record is ignored: an unchanged verdict keeps its version and
    /// adds nothing to the history; a changed one gets the next version, and the one it replaces
    /// goes to the history as it was stored.
    #[test]
    fn a_changed_verdict_gets_the_next_version_and_the_history_keeps_the_one_it_replaced() {
        let mut s = Store::open_in_memory().unwrap();
        let c = put(&mut s, VerdictRecord { version: 7, ..rec("e1", Verdict::Enforced) });
        assert_eq!((c.new, c.changed, c.unchanged), (1, 0, 0));
        let c = put(&mut s, VerdictRecord { version: 3, ..rec("e1", Verdict::Enforced) });
        assert_eq!((c.new, c.changed, c.unchanged), (0, 0, 1), "the same verdict, another input version");
        assert!(history(&s, "e1").is_empty());
        put(&mut s, rec("e1", Verdict::NotEnforced));
        let c = put(&mut s, rec("e1", Verdict::NoIdpLogin));
        assert_eq!((c.new, c.changed, c.unchanged), (0, 1, 0));
        assert_eq!(c.written, [("e1".to_string(), 3)]);
        let now = s.verdicts_for("e1").unwrap();
        assert_eq!(now.iter().map(|v| (v.version, v.verdict)).collect::<Vec<_>>(), [(3, Verdict::NoIdpLogin)]);
        assert_eq!(history(&s, "e1"), [(1, 1, Verdict::Enforced), (2, 2, Verdict::NotEnforced)]);
    }
}
