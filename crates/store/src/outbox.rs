//! The ticket outbox: every verdict version stored gets an `outbox` row in the same transaction
//! (see `Batch::put_verdicts`), so a verdict is never stored without its notification queued.
//! Each notify sink reads the rows after its cursor, and keeps one ticket per dedup key.

use crate::{Result, Store};
use rusqlite::{OptionalExtension, params};
use trailproof_model::Millis;

/// A queued notification: a session's verdict reached `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub console_login_event_id: String,
    pub version: u32,
}

/// What a sink has filed for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub dedup_key: String,
    pub console_login_event_id: String,
    /// The sink's id for it (Jira issue key, ServiceNow sys_id, PagerDuty dedup key…). For
    /// `gone`, and for `creating` after a ticket was gone, the id of the ticket that is gone (a
    /// search must not take it for the new one).
    pub external_id: Option<String>,
    /// `open`; `closed`; `rejected` (the service refused this version's content); `gone` (the
    /// ticket was deleted or hidden at the service); `creating` (a create was sent and its
    /// outcome is not known yet: look before creating again).
    pub state: String,
    /// The verdict version last sent.
    pub version: u32,
    pub verdict: String,
    /// The risk severity last sent (PagerDuty: the severity the alert was last triggered at).
    pub severity: Option<String>,
    /// Why the ticket is `rejected` or `gone`: the service's answer.
    pub note: Option<String>,
    /// When the row was last written (UTC ms; set by [`Store::put_ticket`], ignored there). For
    /// `creating`: when the create was sent.
    pub updated_ms: Millis,
}

impl Store {
    /// The sink's cursor: the last outbox id it has handled. `None` before its first run.
    pub fn notify_cursor(&self, sink: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row("SELECT outbox_id FROM notify_cursors WHERE sink = ?1", [sink], |r| r.get(0))
            .optional()?)
    }

    /// Sets the sink's cursor (never moves it back).
    pub fn set_notify_cursor(&self, sink: &str, outbox_id: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO notify_cursors (sink, outbox_id, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (sink) DO UPDATE SET outbox_id = max(outbox_id, excluded.outbox_id), updated_ms = excluded.updated_ms",
            params![sink, outbox_id, trailproof_model::now_ms()],
        )?;
        Ok(())
    }

    /// The newest outbox id (0 when empty).
    pub fn outbox_head(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(id), 0) FROM outbox", [], |r| r.get(0))?)
    }

    /// The cursor that starts a sink at the rows created at or after `t`: the id before the first
    /// such row, or the newest id when there is none.
    pub fn outbox_before_ms(&self, t: Millis) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT coalesce((SELECT min(id) - 1 FROM outbox WHERE created_ms >= ?1), (SELECT coalesce(max(id), 0) FROM outbox))",
            [t],
            |r| r.get(0),
        )?)
    }

    /// Outbox rows after `after`, oldest first, at most `limit`.
    pub fn outbox_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxRow>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, console_login_event_id, version FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after, limit as i64], |r| {
            Ok(OutboxRow { id: r.get(0)?, console_login_event_id: r.get(1)?, version: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The verdict record of one session at one version: the current one, or an earlier one kept
    /// in `verdict_history`. `None` when it is no longer stored. For sinks that send every
    /// version an outbox row announces, not only the latest.
    pub fn verdict_version(
        &self,
        console_login_event_id: &str,
        version: u32,
    ) -> Result<Option<trailproof_model::verdict::VerdictRecord>> {
        let rec: Option<String> = self
            .conn
            .query_row(
                "SELECT record FROM verdicts WHERE console_login_event_id = ?1 AND version = ?2
                 UNION ALL
                 SELECT record FROM verdict_history WHERE console_login_event_id = ?1 AND version = ?2
                 LIMIT 1",
                params![console_login_event_id, version],
                |r| r.get(0),
            )
            .optional()?;
        rec.map(|s| serde_json::from_str(&s).map_err(|e| crate::StoreError::Corrupt(format!("stored verdict: {e}"))))
            .transpose()
    }

    pub fn ticket(&self, sink: &str, dedup_key: &str) -> Result<Option<Ticket>> {
        Ok(self
            .conn
            .query_row(
                "SELECT t.dedup_key, t.console_login_event_id, t.external_id, t.state, t.version, t.verdict, d.severity,
                        d.note, t.updated_ms
                 FROM tickets AS t LEFT JOIN ticket_details AS d ON d.sink = t.sink AND d.dedup_key = t.dedup_key
                 WHERE t.sink = ?1 AND t.dedup_key = ?2",
                params![sink, dedup_key],
                |r| {
                    Ok(Ticket {
                        dedup_key: r.get(0)?,
                        console_login_event_id: r.get(1)?,
                        external_id: r.get(2)?,
                        state: r.get(3)?,
                        version: r.get(4)?,
                        verdict: r.get(5)?,
                        severity: r.get(6)?,
                        note: r.get(7)?,
                        updated_ms: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records what the sink now holds for a session (after the remote call succeeded, or, for
    /// `creating`, right before the create is sent).
    pub fn put_ticket(&self, sink: &str, t: &Ticket) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO tickets (sink, dedup_key, console_login_event_id, external_id, state, version, verdict, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![sink, t.dedup_key, t.console_login_event_id, t.external_id, t.state, t.version, t.verdict, trailproof_model::now_ms()],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO ticket_details (sink, dedup_key, severity, note) VALUES (?1, ?2, ?3, ?4)",
            params![sink, t.dedup_key, t.severity, t.note],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets a session's ticket row (a `creating` mark whose create never reached the service).
    pub fn delete_ticket(&self, sink: &str, dedup_key: &str) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM tickets WHERE sink = ?1 AND dedup_key = ?2", params![sink, dedup_key])?;
        tx.execute("DELETE FROM ticket_details WHERE sink = ?1 AND dedup_key = ?2", params![sink, dedup_key])?;
        tx.commit()?;
        Ok(())
    }

    /// Tickets per sink and state, for `status`-like summaries.
    pub fn ticket_counts(&self, sink: &str) -> Result<(u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT coalesce(sum(state = 'open'), 0), coalesce(sum(state = 'closed'), 0) FROM tickets WHERE sink = ?1",
            [sink],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;
    use crate::verdicts::tests::rec;
    use trailproof_model::verdict::Verdict;

    /// A verdict and its outbox row commit together; an unchanged verdict queues nothing; a
    /// changed one queues its new version.
    #[test]
    fn every_stored_verdict_version_is_queued_once_in_its_transaction() {
        let mut s = Store::open_in_memory().unwrap();
        let mut b = s.batch().unwrap();
        b.put_verdicts(&[rec("e1", Verdict::NotEnforced), rec("e2", Verdict::Enforced)]).unwrap();
        drop(b); // rolled back: neither the verdicts nor their outbox rows exist
        assert_eq!(s.outbox_head().unwrap(), 0);
        let mut b = s.batch().unwrap();
        b.put_verdicts(&[rec("e1", Verdict::NotEnforced), rec("e2", Verdict::Enforced)]).unwrap();
        b.commit().unwrap();
        let mut b = s.batch().unwrap();
        b.put_verdicts(&[rec("e1", Verdict::NotEnforced), rec("e2", Verdict::NoIdpLogin)]).unwrap();
        b.commit().unwrap();
        let rows: Vec<(String, u32)> =
            s.outbox_after(0, 100).unwrap().into_iter().map(|r| (r.console_login_event_id, r.version)).collect();
        assert_eq!(rows, [("e1".into(), 1), ("e2".into(), 1), ("e2".into(), 2)]);
        assert_eq!(s.notify_cursor("jira").unwrap(), None);
        s.set_notify_cursor("jira", 2).unwrap();
        s.set_notify_cursor("jira", 1).unwrap();
        assert_eq!(s.notify_cursor("jira").unwrap(), Some(2), "a cursor never moves back");
        assert_eq!(s.outbox_after(2, 100).unwrap().len(), 1);
        // Each version an outbox row announces can be read back, the superseded one too.
        assert_eq!(s.verdict_version("e2", 1).unwrap().map(|r| (r.verdict, r.version)), Some((Verdict::Enforced, 1)));
        assert_eq!(s.verdict_version("e2", 2).unwrap().map(|r| (r.verdict, r.version)), Some((Verdict::NoIdpLogin, 2)));
        assert_eq!(s.verdict_version("e2", 3).unwrap(), None);
    }

    /// A ticket row keeps the severity last sent and the reason of a refusal; a `creating` mark
    /// carries when it was written, and can be forgotten.
    #[test]
    fn tickets_keep_severity_note_and_the_time_of_a_create() {
        let s = Store::open_in_memory().unwrap();
        let before = trailproof_model::now_ms();
        let t = super::Ticket {
            dedup_key: "111122223333:e1".into(),
            console_login_event_id: "e1".into(),
            external_id: Some("SEC-1".into()),
            state: "gone".into(),
            version: 2,
            verdict: "not_enforced".into(),
            severity: Some("high".into()),
            note: Some("HTTP 404: Issue does not exist".into()),
            updated_ms: 0,
        };
        s.put_ticket("jira", &t).unwrap();
        let got = s.ticket("jira", "111122223333:e1").unwrap().unwrap();
        assert!(got.updated_ms >= before, "{got:?}");
        assert_eq!(super::Ticket { updated_ms: 0, ..got }, t);
        s.delete_ticket("jira", "111122223333:e1").unwrap();
        assert_eq!(s.ticket("jira", "111122223333:e1").unwrap(), None);
    }

    /// Regression: two connections writing batches that read before they write (as verdicts,
    /// checkpoints and the collectors do) failed now and then with "database is locked",
    /// without waiting: a deferred transaction cannot upgrade to a writer once another
    /// connection has committed after its read.
    #[test]
    fn concurrent_writers_wait_for_each_other_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        drop(Store::open(&db).unwrap());
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let mut s = Store::open(&db).unwrap();
                    for i in 0..150 {
                        let mut b = s.batch().unwrap();
                        b.put_verdicts(&[rec(&format!("w{w}-{i}"), Verdict::Enforced)]).unwrap();
                        b.commit().unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("a writer failed");
        }
        assert_eq!(Store::open(&db).unwrap().outbox_head().unwrap(), 300);
    }

    /// Regression: processes opening a database that needs a migration at once (after an
    /// upgrade) each applied it; all but the first failed on what the first had just done.
    #[test]
    fn concurrent_opens_migrate_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let before = 6; // migration 7 adds columns: applying it twice fails
        Store::create_at_version(&db, before).unwrap();
        rusqlite::Connection::open(&db).unwrap().pragma_update(None, "journal_mode", "WAL").unwrap();
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || Store::open(&db).map(|_| ()).map_err(|e| e.to_string()))
            })
            .collect();
        for o in opens {
            o.join().unwrap().unwrap();
        }
        let s = Store::open(&db).unwrap();
        assert_eq!(s.schema_version().unwrap(), crate::schema::MIGRATIONS.len() as i64);
    }
}
