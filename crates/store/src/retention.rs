//! Retention (issue 18): [`Store::prune`] removes the records no later judgement can need.
//!
//! The rules, each kept by this module:
//! - **Sealed sessions.** ConsoleLogins before the *seal* are never judged again
//!   ([`Store::sealed_before`]; `pipeline::judge` starts there): their verdicts stay as they were
//!   judged, with all the data they were judged with. The seal only moves forward, and never past
//!   a successful ConsoleLogin that has no verdict yet (it would be judged with less data).
//! - **What stays for the sessions after the seal.** A session at `t >= seal` reads records back
//!   to `t - reach` at most (the STS calls that issued it: 36 hours; its IdP sign-in window and an
//!   Identity Center portal session; the day's baseline anchor), and Google sign-ins a further
//!   look-back (`google_lookback`); the plan gives both reaches ([`PrunePlan`]). Records older
//!   than that go, except:
//!   - every record a stored verdict, or an earlier version of one, cites (`verdict_cites`,
//!     written by `put_verdicts`): `lookup` still shows it, for as long as the verdict exists;
//!   - the non-SSO events (session start, factors) of an IdP session that is still live (it has
//!     an event, or an SSO to an AWS application, inside the kept time): a later SSO of that
//!     session reads them.
//! - **Baselines.** Before a successful ConsoleLogin or SSO is removed, what the "new IP / user
//!   agent / role / ASN / country" signals read of it is folded into `aws_baseline` /
//!   `sso_baseline` (per identity and value, first and last seen). Every removed event lies
//!   before `seal - reach`, and every baseline read of a session after the seal reaches up to at
//!   least there, so "the last time a value was seen among the removed events" answers each read
//!   exactly as the events did (the snapshot adds these rows where it reads the events).
//! - **Facts read "at any time"** (known users, application names: `idp_users`, `idp_apps`, never
//!   pruned; the scopes of Identity Center sign-ins and the providers with events:
//!   `retained_facts`) outlive the events.
//! - **Verdicts** stay until removed on purpose: only a plan with `verdicts_before_ms`
//!   (`[retention] verdict_keep_days`) removes those of sessions before it, never past the seal,
//!   with their earlier versions, their ticket-queue rows and their citations; a verdict a
//!   notification sink has not sent yet stays. The records only they cited then go by the rules
//!   above (their chunks are noted to be visited again).
//! - **Coverage** before what is kept is removed (it would claim records that are gone), except
//!   back to the earliest kept event of a live IdP session (its start-to-SSO span stays covered).
//! - **Crash safety.** Work goes a chunk of 4,096 row ids at a time, each in one transaction
//!   that folds the baselines, removes the events and their raw records (and earlier versions),
//!   and notes the chunk done (`prune_chunks`): a kill loses nothing and a rerun finishes the
//!   job. The seal is written first, in its own transaction. The blocks a chunk thinned are
//!   noted (`prune_repack`) with it, as are those a writer left behind when it stored a later
//!   version of a record in another block; after the chunks each is removed if no record is
//!   left in it, or packed again, once, a few per transaction, each note removed with its
//!   packing: a prune killed before that leaves them for the next. Meanwhile the log is copied into the database on a thread
//!   of its own (`WalCopier`), as an import does.
//! - **Locks.** The same an import holds: the write lock per transaction (`BEGIN IMMEDIATE`), and
//!   the OS lock on `<db>.bulk-lock` for the whole prune, so no bulk import drops the indexes
//!   the prune reads by while it runs (a bulk import that starts meanwhile imports with them).
//! - **Space.** A store created since migration 16 has `auto_vacuum = INCREMENTAL`; freed pages
//!   go back to the file system in steps of [`PrunePlan::vacuum_step_pages`], one transaction each,
//!   never by rewriting the file. An older store (`auto_vacuum = NONE`; turning it on needs one
//!   `VACUUM`, which rewrites the whole file) keeps the freed pages for its later imports: the file
//!   stops growing once the window is full, but does not shrink (README, "Retention").

use crate::verdicts::{RAW_IDS_OF_IDP_EVENT, native_id_of};
use crate::{Result, Store, StoreError, raw};
use rusqlite::{OptionalExtension, params};
use std::collections::{BTreeSet, HashMap, HashSet};
use trailproof_model::{Millis, Source};

/// Row ids per chunk (one transaction each): `id >> CHUNK_SHIFT`.
const CHUNK_SHIFT: u32 = 12;

/// SSO frames visited per transaction of a prune (1,024 SSOs each at most).
const FRAMES_PER_STEP: usize = 8;

/// Verdicts removed per transaction (`PrunePlan::verdicts_before_ms`).
const VERDICT_BATCH: usize = 1_024;

/// What a prune removes. Built by `trailproof_pipeline::prune` from the configuration.
#[derive(Debug, Clone)]
pub struct PrunePlan {
    /// Sessions before this are sealed (`now - keep_days`), unless a session without a verdict
    /// holds the seal back.
    pub keep_from_ms: Millis,
    /// How far before a session its judgement reads records (Google sign-ins aside).
    pub reach_ms: Millis,
    /// How far before a session its judgement reads Google sign-ins (`login` events).
    pub google_reach_ms: Millis,
    /// The AWS applications at the IdPs (as the snapshot takes them): a live IdP session is one
    /// with an SSO to one of them inside the kept time.
    pub aws_apps: trailproof_model::AwsAppRule,
    /// Say what would go without removing anything: the prune runs in one transaction that is
    /// rolled back, holding the write lock until then.
    pub dry_run: bool,
    /// Pages returned to the file system per incremental-vacuum step (one transaction each).
    pub vacuum_step_pages: u32,
    /// Verdicts of sessions before this are removed (see the module docs); `None`: none is.
    pub verdicts_before_ms: Option<Millis>,
}

/// What a prune removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub dry_run: bool,
    /// Sessions before this are sealed; `None`: nothing stored to prune.
    pub sealed_before_ms: Option<Millis>,
    /// Records before this were removed (Google sign-ins: `google_before_ms`).
    pub pruned_before_ms: Option<Millis>,
    pub google_before_ms: Option<Millis>,
    /// The seal was held back (to `sealed_before_ms`) by this many sessions without a verdict.
    pub unjudged_sessions: u64,
    pub aws_events: u64,
    pub idp_events: u64,
    pub raw_records: u64,
    pub raw_blocks: u64,
    /// Blocks that kept a few records (a verdict's evidence, a live session's step) and were
    /// packed again with those records alone (see [`Store::prune`]).
    pub raw_blocks_repacked: u64,
    pub raw_history: u64,
    /// Strings (`idp_strings`) and origins (`raw_origins`) no row pointed at any more, removed.
    pub unused_strings: u64,
    pub unused_origins: u64,
    pub coverage_rows: u64,
    /// Events older than the cut kept because a verdict cites them / a live IdP session holds them.
    pub kept_evidence: u64,
    pub kept_live_sessions: u64,
    pub chunks: u64,
    /// Pages the removal freed inside the file, in bytes (dry: freed inside the transaction
    /// before it was rolled back).
    pub bytes_freed: u64,
    /// The file's size (database and log) before and after (after the incremental vacuum; dry:
    /// after the rollback).
    pub file_bytes_before: u64,
    pub file_bytes_after: u64,
    /// Whether the freed pages go back to the file system (`auto_vacuum = INCREMENTAL`).
    pub incremental_vacuum: bool,
    /// Verdicts of sessions before this were removed (`PrunePlan::verdicts_before_ms`, held to
    /// the seal); `None`: the plan removes none.
    pub verdicts_before_ms: Option<Millis>,
    /// Verdicts removed, their earlier versions removed with them, and the verdicts before the
    /// cut kept because a notification sink has not sent them yet.
    pub verdicts: u64,
    pub verdict_versions: u64,
    pub verdicts_unsent: u64,
    /// Vacuum steps run.
    pub vacuum_steps: u64,
}

/// The retention boundaries stored in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionState {
    pub sealed_before_ms: Millis,
    pub pruned_before_ms: Millis,
    pub updated_ms: Millis,
    /// Verdicts of sessions before this were removed on purpose; `None`: none ever was.
    pub verdicts_before_ms: Option<Millis>,
}

/// `''` for none, `'='` and the value otherwise: the key columns of `sso_baseline` (SQL).
fn enc(col: &str) -> String {
    format!("CASE WHEN {col} IS NULL THEN '' ELSE '=' || {col} END")
}

/// The inverse of [`enc`].
pub(crate) fn dec(v: &str) -> Option<&str> {
    v.strip_prefix('=')
}

/// Every IdP event kind but `app_sso` (the session index holds no SSOs).
const SESSION_KINDS: &str =
    "'session_start', 'factor_verified', 'factor_failed', 'policy_evaluated', 'login', 'upstream_auth', 'session_end'";

/// What a stored verdict record cites (its `evidence`), as `put_verdicts` noted it in
/// `verdict_cites`.
#[derive(serde::Deserialize)]
struct Cites {
    #[serde(default)]
    evidence: Vec<Cited>,
}

#[derive(serde::Deserialize)]
struct Cited {
    source: String,
    id: String,
}

/// What [`Store::repack_noted`] did to the blocks noted.
#[derive(Default)]
struct Packed {
    removed: u64,
    repacked: u64,
}

/// What [`Store::repack_block`] did to a block.
enum Repack {
    Removed,
    Repacked,
    Kept,
}

/// Counts of one chunk.
#[derive(Default)]
struct ChunkCounts {
    deleted: u64,
    raw: u64,
    history: u64,
    evidence: u64,
    live: u64,
    /// Earliest time of a row kept for a live session.
    live_min: Option<Millis>,
    freed_pages: u64,
}

impl ChunkCounts {
    /// Adds what one step (a chunk of rows, or the SSO frames of one transaction) removed and
    /// kept to `rep`, but its events (the caller knows of which kind).
    fn add_to(&self, rep: &mut PruneReport, page_size: u64) {
        rep.chunks += 1;
        rep.raw_records += self.raw;
        rep.raw_history += self.history;
        rep.kept_evidence += self.evidence;
        rep.kept_live_sessions += self.live;
        rep.bytes_freed += self.freed_pages * page_size;
    }
}

impl Store {
    /// The retention boundaries, if this store was ever pruned.
    pub fn retention_state(&self) -> Result<Option<RetentionState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sealed_before_ms, pruned_before_ms, updated_ms, verdicts_before_ms FROM retention WHERE id = 1",
                [],
                |r| {
                    Ok(RetentionState {
                        sealed_before_ms: r.get(0)?,
                        pruned_before_ms: r.get(1)?,
                        updated_ms: r.get(2)?,
                        verdicts_before_ms: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// ConsoleLogins before this are sealed: never judged again (see the module docs).
    pub fn sealed_before(&self) -> Result<Option<Millis>> {
        Ok(self.retention_state()?.map(|s| s.sealed_before_ms))
    }

    /// The database file's size plus its write-ahead log's (0 in memory).
    fn file_bytes(&self) -> u64 {
        let Some(p) = &self.path else { return 0 };
        let wal = {
            let mut s = p.as_os_str().to_os_string();
            s.push("-wal");
            std::path::PathBuf::from(s)
        };
        [p.as_path(), wal.as_path()].iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum()
    }

    fn pragma_i64(&self, name: &str) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, name, |r| r.get(0))?)
    }

    /// Removes what `plan` says may go; see the module docs. Idempotent: a rerun (after a kill)
    /// finishes the job. A dry run is the same prune in one transaction, rolled back at the end
    /// (each step a savepoint in it), so its counts are the ones the prune would give.
    pub fn prune(&mut self, plan: &PrunePlan) -> Result<PruneReport> {
        let _lock = self.lock_like_import()?;
        let mut rep = PruneReport {
            dry_run: plan.dry_run,
            file_bytes_before: self.file_bytes(),
            incremental_vacuum: self.pragma_i64("auto_vacuum")? == 2,
            ..PruneReport::default()
        };
        if plan.dry_run {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let done = self.prune_steps(plan, &mut rep);
            if !self.conn.is_autocommit() {
                self.conn.execute_batch("ROLLBACK")?;
            }
            done?;
            // What the rolled-back transaction wrote to the log is not kept: start the log over.
            let _ = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        } else {
            self.prune_steps(plan, &mut rep)?;
            if rep.incremental_vacuum && rep.sealed_before_ms.is_some() {
                self.vacuum_in_steps(plan.vacuum_step_pages, &mut rep)?;
            }
        }
        rep.file_bytes_after = self.file_bytes();
        Ok(rep)
    }

    /// Runs `f` as one step of a prune: its own transaction, or (dry) a savepoint in the dry
    /// run's transaction; rolled back when it fails.
    fn prune_step<T>(&mut self, dry: bool, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let (begin, done, undo) = if dry {
            ("SAVEPOINT prune_step", "RELEASE prune_step", "ROLLBACK TO prune_step; RELEASE prune_step")
        } else {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        };
        self.conn.execute_batch(begin)?;
        let res = f(self);
        if res.is_ok() {
            self.conn.execute_batch(done)?;
        } else if !self.conn.is_autocommit() {
            self.conn.execute_batch(undo)?;
        }
        res
    }

    /// Steps 1 to 3 of [`Store::prune`].
    fn prune_steps(&mut self, plan: &PrunePlan, rep: &mut PruneReport) -> Result<()> {
        let dry = plan.dry_run;
        let page_size = self.pragma_i64("page_size")?.max(0) as u64;

        // 1. The boundaries, in their own transaction.
        let Some((seal, before, google_before, unjudged)) = self.prune_step(dry, |s| s.boundaries(plan))? else {
            return Ok(());
        };
        rep.sealed_before_ms = Some(seal);
        rep.pruned_before_ms = Some(before);
        rep.google_before_ms = Some(google_before);
        rep.unjudged_sessions = unjudged;

        // 1b. Verdicts past their own window, a batch per transaction; what only they cited is
        // noted for step 2.
        if let Some(cut) = plan.verdicts_before_ms {
            let cut = cut.min(seal);
            rep.verdicts_before_ms = Some(cut);
            loop {
                let (verdicts, versions) = self.prune_step(dry, |s| s.remove_verdicts(cut, VERDICT_BATCH))?;
                rep.verdicts += verdicts;
                rep.verdict_versions += versions;
                if verdicts < VERDICT_BATCH as u64 {
                    break;
                }
            }
            rep.verdicts_unsent = self.conn.query_row(
                "SELECT count(*) FROM verdicts INDEXED BY verdicts_time WHERE time_ms < ?1",
                [cut],
                |r| r.get::<_, i64>(0),
            )? as u64;
        }

        // 2. The chunks, one transaction each, then the blocks they thinned packed again. The
        // log is copied into the database on a thread of its own meanwhile (as an import does:
        // `WalCopier`), so the chunks do not stop for SQLite's checkpoints.
        let copier = if dry { None } else { self.copy_wal_in_background()? };
        let done = self.prune_chunks(plan, before, google_before, copier.as_ref(), rep);
        let done = done.and_then(|live_min| Ok((live_min, self.repack_noted(dry, copier.as_ref())?)));
        if let Some(c) = copier {
            c.stop(self)?;
        }
        let (live_min, (packed, freed_pages)) = done?;
        rep.raw_blocks_repacked += packed.repacked;
        rep.raw_blocks += packed.removed;
        rep.bytes_freed += freed_pages * page_size;

        // 3. Coverage before what is kept, and the re-judge queue below the seal.
        let cov_cut = live_min.map_or(before, |m| m.min(before));
        let (idp_events, raw_records) = (rep.idp_events, rep.raw_records);
        let (coverage_rows, strings, origins, freed_pages) = self.prune_step(dry, |s| {
            let free0 = s.pragma_i64("freelist_count")?;
            let gone = s.conn.execute("DELETE FROM coverage WHERE end_ms < ?1", [cov_cut])?;
            let cut = s.conn.execute("UPDATE coverage SET start_ms = ?1 WHERE start_ms < ?1", [cov_cut])?;
            s.conn.execute("DELETE FROM rejudge_queue WHERE to_ms < ?1", [seal])?;
            let strings = if idp_events > 0 { remove_unused_strings(&s.conn)? } else { 0 };
            let origins = if raw_records > 0 {
                s.conn.execute(
                    "DELETE FROM raw_origins WHERE id NOT IN
                        (SELECT origin_id FROM raw_records WHERE origin_id IS NOT NULL
                         UNION SELECT origin_id FROM raw_facts WHERE origin_id IS NOT NULL)",
                    [],
                )? as u64
            } else {
                0
            };
            let freed = (s.pragma_i64("freelist_count")? - free0).max(0) as u64;
            Ok(((gone + cut) as u64, strings, origins, freed))
        })?;
        rep.coverage_rows = coverage_rows;
        rep.unused_strings = strings;
        rep.unused_origins = origins;
        rep.bytes_freed += freed_pages * page_size;
        Ok(())
    }

    /// Step 4 of [`Store::prune`]: the space back to the file system, in bounded steps.
    fn vacuum_in_steps(&mut self, step_pages: u32, rep: &mut PruneReport) -> Result<()> {
        let step = step_pages.max(1);
        while self.pragma_i64("freelist_count")? > 0 {
            self.prune_step(false, |s| {
                // Each step of the statement frees one page: run it to the end.
                let mut st = s.conn.prepare(&format!("PRAGMA incremental_vacuum({step})"))?;
                let mut rows = st.query([])?;
                while rows.next()?.is_some() {}
                Ok(())
            })?;
            rep.vacuum_steps += 1;
        }
        // The log holds the moved pages: copy it in and start it over, so the file shrinks.
        // Readers may hold it back (then it shrinks at a later checkpoint).
        let _ = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(())
    }

    /// Step 2 of [`Store::prune`]: every chunk holding a row older than its cut, one transaction
    /// each; adds the counts to `rep` and returns the earliest time of a row kept for a live
    /// session.
    fn prune_chunks(
        &mut self,
        plan: &PrunePlan,
        before: Millis,
        google_before: Millis,
        copier: Option<&crate::WalCopier>,
        rep: &mut PruneReport,
    ) -> Result<Option<Millis>> {
        let page_size = self.pragma_i64("page_size")?.max(0) as u64;
        let mut live_min: Option<Millis> = None;
        let mut live_cache: HashMap<(String, String), bool> = HashMap::new();
        let mut live_ssos: Option<BTreeSet<(String, String)>> = None;
        for tbl in ["aws_events", "idp_events"] {
            for (chunk, min_ms) in self.chunks_to_visit(tbl, plan.dry_run)? {
                // Google sign-ins are kept further back (`google_before <= before`): a chunk
                // holding one is read again until its own cut passes it.
                if min_ms.is_none_or(|m| m >= before) {
                    continue;
                }
                // One transaction a chunk (a savepoint when dry): decide first (reads only), then
                // write. The write lock is taken at the start so nothing changes in between.
                let c = self.prune_step(plan.dry_run, |s| {
                    s.prune_chunk(tbl, chunk, before, google_before, plan, &mut live_cache, &mut live_ssos)
                })?;
                if let Some(copier) = copier {
                    copier.restart_if_long(self, crate::walcopy::RESTART_BYTES)?;
                }
                if tbl == "aws_events" {
                    rep.aws_events += c.deleted;
                } else {
                    rep.idp_events += c.deleted;
                }
                c.add_to(rep, page_size);
                live_min = match (live_min, c.live_min) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        }
        self.prune_frames(plan, before, copier, rep)?;
        Ok(live_min)
    }

    /// Takes `<db>.bulk-lock` as a bulk import does, waiting for one that holds it.
    fn lock_like_import(&self) -> Result<Option<std::fs::File>> {
        let Some(db) = &self.path else { return Ok(None) };
        let started = std::time::Instant::now();
        loop {
            if let Some(f) = crate::bulk::try_lock(db)? {
                return Ok(Some(f));
            }
            if started.elapsed() > std::time::Duration::from_secs(3600) {
                return Err(StoreError::Corrupt(
                    "a bulk import has held this database's lock for an hour: prune again when it has finished".into(),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Removes up to `limit` verdicts of sessions before `cut` (oldest first) that every
    /// notification sink has sent, each with its earlier versions, its ticket-queue rows and its
    /// citations; a record no verdict cites any more has its chunk noted for step 2. Notes the
    /// cut in `retention`. In the caller's transaction; returns (verdicts, earlier versions).
    fn remove_verdicts(&mut self, cut: Millis, limit: usize) -> Result<(u64, u64)> {
        self.conn.execute(
            "UPDATE retention SET verdicts_before_ms = max(coalesce(verdicts_before_ms, ?1), ?1) WHERE id = 1",
            [cut],
        )?;
        // A sink's cursor is the last outbox row it has handled: a row after the lowest cursor
        // is not sent yet by some sink. (No sink has run: nothing waits.)
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT v.console_login_event_id FROM verdicts AS v INDEXED BY verdicts_time
                 WHERE v.time_ms < ?1 AND NOT EXISTS (SELECT 1 FROM outbox AS o
                     WHERE o.console_login_event_id = v.console_login_event_id
                       AND o.id > (SELECT min(outbox_id) FROM notify_cursors))
                 ORDER BY v.time_ms, v.console_login_event_id LIMIT ?2",
            )?
            .query_map(params![cut, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut versions = 0u64;
        let mut released: BTreeSet<(String, String)> = BTreeSet::new();
        for id in &ids {
            // What it cites, from its records (the current one and the earlier versions).
            let records: Vec<String> = self
                .conn
                .prepare_cached(
                    "SELECT record FROM verdicts WHERE console_login_event_id = ?1
                     UNION ALL SELECT record FROM verdict_history WHERE console_login_event_id = ?1",
                )?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let cited: Option<BTreeSet<(String, String)>> = records
                .iter()
                .map(|r| serde_json::from_str::<Cites>(r).map(|c| c.evidence))
                .try_fold(BTreeSet::new(), |mut all, ev| {
                    all.extend(ev.ok()?.into_iter().map(|e| (e.source, e.id)));
                    Some(all)
                });
            match cited {
                Some(cited) => {
                    let mut st = self.conn.prepare_cached(
                        "DELETE FROM verdict_cites WHERE source = ?1 AND event_id = ?2 AND console_login_event_id = ?3",
                    )?;
                    for (source, event_id) in cited {
                        if st.execute(params![source, event_id, id])? > 0 {
                            released.insert((source, event_id));
                        }
                    }
                }
                // A record that does not read back: its rows are found the long way (no index
                // on the verdict's id).
                None => {
                    let mut st = self.conn.prepare_cached(
                        "DELETE FROM verdict_cites WHERE console_login_event_id = ?1 RETURNING source, event_id",
                    )?;
                    for c in st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))? {
                        released.insert(c?);
                    }
                }
            }
            versions += self
                .conn
                .prepare_cached("DELETE FROM verdict_history WHERE console_login_event_id = ?1")?
                .execute([id])? as u64;
            self.conn.prepare_cached("DELETE FROM outbox WHERE console_login_event_id = ?1")?.execute([id])?;
            self.conn.prepare_cached("DELETE FROM verdicts WHERE console_login_event_id = ?1")?.execute([id])?;
        }
        for (source, event_id) in &released {
            let still = self
                .conn
                .prepare_cached("SELECT 1 FROM verdict_cites WHERE source = ?1 AND event_id = ?2")?
                .exists(params![source, event_id])?;
            if !still {
                self.note_released(source, event_id)?;
            }
        }
        Ok((ids.len() as u64, versions))
    }

    /// Notes the chunk of the event `source` / `event_id` (no verdict cites it any more) to be
    /// visited by step 2 from its time on: a chunk visited before kept it as evidence and noted
    /// only the time of what else it kept. A chunk not noted yet is summarized from all its rows.
    fn note_released(&mut self, source: &str, event_id: &str) -> Result<()> {
        let rows: Vec<(i64, Millis)> = if source == Source::Cloudtrail.as_str() {
            self.conn
                .prepare_cached("SELECT id, time_ms FROM aws_events WHERE event_id = ?1")?
                .query_map([event_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        } else {
            // Through its raw record, as `Store::idp_event` finds it.
            self.conn
                .prepare_cached(&format!(
                    "SELECT e.id, e.time_ms FROM idp_events AS e INDEXED BY idp_events_raw
                     JOIN raw_records AS r ON r.id = e.raw_id
                     WHERE e.{RAW_IDS_OF_IDP_EVENT}
                       AND e.provider = ?1 AND {} || coalesce(e.event_suffix, '') = ?2",
                    crate::blocks::NATIVE_ID_SQL
                ))?
                .query_map(params![source, event_id, native_id_of(event_id)], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        if source != Source::Cloudtrail.as_str() {
            // An SSO: its frame is visited again from its time on.
            for (block, _, r) in crate::sso::rows_of_event(&self.conn, source, event_id)? {
                self.conn
                    .prepare_cached(
                        "UPDATE sso_blocks SET prune_from_ms = min(coalesce(prune_from_ms, ?2), ?2) WHERE id = ?1",
                    )?
                    .execute(params![block, r.time_ms])?;
            }
        }
        let tbl = if source == Source::Cloudtrail.as_str() { "aws_events" } else { "idp_events" };
        for (id, t) in rows {
            self.conn
                .prepare_cached(
                    "UPDATE prune_chunks SET min_ms = CASE WHEN min_ms IS NULL OR min_ms > ?3 THEN ?3 ELSE min_ms END
                     WHERE tbl = ?1 AND chunk = ?2",
                )?
                .execute(params![tbl, id >> CHUNK_SHIFT, t])?;
        }
        Ok(())
    }

    /// The seal and the cut, stored (in the caller's transaction): `None` when no event is stored.
    fn boundaries(&mut self, plan: &PrunePlan) -> Result<Option<(Millis, Millis, Millis, u64)>> {
        let tx = &self.conn;
        let prev: Option<(Millis, Millis)> = tx
            .query_row("SELECT sealed_before_ms, pruned_before_ms FROM retention WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let floor = prev.map_or(Millis::MIN, |p| p.0);
        // A session without a verdict holds the seal back: it must be judged with all its data.
        let (oldest, unjudged): (Option<Millis>, u64) = tx.query_row(
            "SELECT min(a.time_ms), count(*) FROM aws_events AS a INDEXED BY aws_events_kind_time
             WHERE a.kind = 'ConsoleLogin' AND a.outcome = 'success' AND a.time_ms >= ?1 AND a.time_ms < ?2
               AND NOT EXISTS (SELECT 1 FROM verdicts WHERE console_login_event_id = a.event_id)",
            params![floor, plan.keep_from_ms],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
        )?;
        let seal = oldest.map_or(plan.keep_from_ms, |o| o.min(plan.keep_from_ms)).max(floor);
        let before = seal.saturating_sub(plan.reach_ms.max(0));
        let before = prev.map_or(before, |p| before.max(p.1));
        let google_before = seal.saturating_sub(plan.google_reach_ms.max(plan.reach_ms).max(0));
        tx.execute(
            "INSERT INTO retention (id, sealed_before_ms, pruned_before_ms, updated_ms) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET sealed_before_ms = excluded.sealed_before_ms,
                 pruned_before_ms = excluded.pruned_before_ms, updated_ms = excluded.updated_ms",
            params![seal, before, trailproof_model::now_ms()],
        )?;
        Ok(Some((seal, before, google_before, unjudged)))
    }

    /// The chunks of `tbl` with the earliest time a prune may still remove in each: the ones
    /// noted, with those written since the last prune summarized (and noted).
    fn chunks_to_visit(&mut self, tbl: &str, dry: bool) -> Result<Vec<(i64, Option<Millis>)>> {
        let max_id: i64 = self.conn.query_row(&format!("SELECT coalesce(max(id), 0) FROM {tbl}"), [], |r| r.get(0))?;
        let last: Option<i64> =
            self.conn.query_row("SELECT max(chunk) FROM prune_chunks WHERE tbl = ?1", [tbl], |r| r.get(0))?;
        let top = max_id >> CHUNK_SHIFT;
        // The last chunk noted may have grown since; a chunk above the largest id (rows removed,
        // ids reused) is summarized again from there.
        let from = last.map_or(0, |l| l.min(top));
        let mut fresh: Vec<(i64, Option<Millis>)> = Vec::new();
        {
            let mut st = self.conn.prepare(&format!("SELECT min(time_ms) FROM {tbl} WHERE id >= ?1 AND id < ?2"))?;
            for c in from..=top {
                let m: Option<Millis> = st.query_row([c << CHUNK_SHIFT, (c + 1) << CHUNK_SHIFT], |r| r.get(0))?;
                fresh.push((c, m));
            }
        }
        self.prune_step(dry, |s| {
            let mut up =
                s.conn.prepare("INSERT OR REPLACE INTO prune_chunks (tbl, chunk, min_ms) VALUES (?1, ?2, ?3)")?;
            for (c, m) in &fresh {
                up.execute(params![tbl, c, m])?;
            }
            Ok(())
        })?;
        let mut st = self.conn.prepare("SELECT chunk, min_ms FROM prune_chunks WHERE tbl = ?1 AND chunk < ?2")?;
        let mut out: Vec<(i64, Option<Millis>)> =
            st.query_map(params![tbl, from], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        out.extend(fresh);
        Ok(out)
    }

    /// Whether IdP session `sid` of `provider` is live: it has a non-SSO event, or an SSO to an
    /// AWS application, at or after `before`.
    fn session_live(
        &self,
        provider: &str,
        sid: &str,
        before: Millis,
        plan: &PrunePlan,
        live_ssos: &mut Option<BTreeSet<(String, String)>>,
    ) -> Result<bool> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT 1 FROM idp_events INDEXED BY idp_events_session WHERE provider = ?1
                 AND session_ref = (SELECT id FROM idp_strings INDEXED BY idp_strings_key WHERE key = ?4 AND value = ?2)
                 AND kind <> 'app_sso' AND kind IN ({SESSION_KINDS}) AND time_ms >= ?3 LIMIT 1"
            ))
            .map_err(crate::bulk::explain_missing_index)?;
        if st.exists(params![provider, sid, before, crate::string_key(sid)])? {
            return Ok(true);
        }
        if live_ssos.is_none() {
            let mut set = BTreeSet::new();
            let mut reader = crate::snapshot::IdpReader::new(self)?;
            self.for_each_aws_app_sso(&plan.aws_apps, before, Millis::MAX, &mut |r| {
                if let Some(s) = reader.string(r.session)? {
                    set.insert((r.provider.clone(), s.to_string()));
                }
                Ok(())
            })?;
            *live_ssos = Some(set);
        }
        Ok(live_ssos.as_ref().is_some_and(|s| s.contains(&(provider.to_string(), sid.to_string()))))
    }

    /// One chunk of `tbl`, inside the transaction [`Store::prune_step`] opened for it.
    #[allow(clippy::too_many_arguments)]
    fn prune_chunk(
        &mut self,
        tbl: &str,
        chunk: i64,
        before: Millis,
        google_before: Millis,
        plan: &PrunePlan,
        live_cache: &mut HashMap<(String, String), bool>,
        live_ssos: &mut Option<BTreeSet<(String, String)>>,
    ) -> Result<ChunkCounts> {
        let (lo, hi) = (chunk << CHUNK_SHIFT, (chunk + 1) << CHUNK_SHIFT);
        let idp = tbl == "idp_events";
        let free0 = self.pragma_i64("freelist_count")?;
        // An IdP event's id is its record's native id (through its block's facts, read once per
        // block) and its suffix: made only for the rows the cut reaches.
        type RowInfo = (i64, Millis, String, Option<String>, (i64, Option<String>), String, Option<String>);
        let rows: Vec<RowInfo> = {
            let sql = if idp {
                "SELECT e.id, e.time_ms, e.provider, NULL, e.raw_id, e.event_suffix, e.kind, s.value
                 FROM idp_events AS e LEFT JOIN idp_strings AS s ON s.id = e.session_ref WHERE e.id >= ?1 AND e.id < ?2"
            } else {
                "SELECT id, time_ms, 'cloudtrail', event_id, raw_id, NULL, kind, NULL FROM aws_events WHERE id >= ?1 AND id < ?2"
            };
            let mut st = self.conn.prepare_cached(sql)?;
            st.query_map([lo, hi], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, (r.get(4)?, r.get(5)?), r.get(6)?, r.get(7)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mut ids = crate::blocks::NativeIds::default();
        let mut c = ChunkCounts::default();
        let mut doomed: Vec<i64> = Vec::new();
        let mut remaining_min: Option<Millis> = None;
        let note = |m: &mut Option<Millis>, t: Millis| *m = Some(m.map_or(t, |x| x.min(t)));
        for (id, t, provider, event_id, (raw_id, suffix), kind, sid) in &rows {
            let cut = if idp && provider == "google" && kind != "app_sso" { google_before } else { before };
            if *t >= cut {
                note(&mut remaining_min, *t);
                continue;
            }
            let event_id = match event_id {
                Some(e) => e.clone(),
                None => ids.of(&self.conn, *raw_id)? + suffix.as_deref().unwrap_or(""),
            };
            let cited = self
                .conn
                .prepare_cached("SELECT 1 FROM verdict_cites WHERE source = ?1 AND event_id = ?2")?
                .exists(params![provider, event_id])?;
            if cited {
                c.evidence += 1;
                continue;
            }
            if idp
                && kind != "app_sso"
                && let Some(sid) = sid
            {
                let key = (provider.clone(), sid.clone());
                let live = match live_cache.get(&key) {
                    Some(l) => *l,
                    None => {
                        let l = self.session_live(provider, sid, before, plan, live_ssos)?;
                        live_cache.insert(key, l);
                        l
                    }
                };
                if live {
                    c.live += 1;
                    note(&mut remaining_min, *t);
                    note(&mut c.live_min, *t);
                    continue;
                }
            }
            doomed.push(*id);
        }
        self.reset_prune_tables()?;
        {
            let mut ins = self.conn.prepare_cached("INSERT INTO temp.prune_ids (id) VALUES (?1)")?;
            for id in &doomed {
                ins.execute([id])?;
            }
        }
        if !doomed.is_empty() {
            if idp {
                self.fold_idp_baselines()?;
            } else {
                self.fold_aws_baselines()?;
            }
            self.conn.execute(
                    &format!("INSERT OR IGNORE INTO temp.prune_raw (id) SELECT raw_id FROM {tbl} WHERE id IN (SELECT id FROM temp.prune_ids)"),
                    [],
                )?;
            c.deleted =
                self.conn.execute(&format!("DELETE FROM {tbl} WHERE id IN (SELECT id FROM temp.prune_ids)"), [])?
                    as u64;
            self.release_raw(&mut c)?;
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO prune_chunks (tbl, chunk, min_ms) VALUES (?1, ?2, ?3)",
            params![tbl, chunk, remaining_min],
        )?;
        c.freed_pages = (self.pragma_i64("freelist_count")? - free0).max(0) as u64;
        Ok(c)
    }

    /// The temporary tables a chunk or frame of a prune fills, emptied. Each statement is
    /// prepared once per connection: a prune runs this for every chunk and every SSO frame.
    fn reset_prune_tables(&self) -> Result<()> {
        for sql in [
            "CREATE TEMP TABLE IF NOT EXISTS prune_ids (id INTEGER PRIMARY KEY)",
            "CREATE TEMP TABLE IF NOT EXISTS prune_raw (id INTEGER PRIMARY KEY)",
            "CREATE TEMP TABLE IF NOT EXISTS prune_blocks (id INTEGER PRIMARY KEY)",
            "CREATE TEMP TABLE IF NOT EXISTS prune_ssos (provider TEXT, time_ms INTEGER, outcome TEXT,
                 login_ref INTEGER, email_ref INTEGER, app_username_ref INTEGER, app_ref INTEGER, asn INTEGER,
                 country TEXT)",
            "DELETE FROM temp.prune_ids",
            "DELETE FROM temp.prune_raw",
            "DELETE FROM temp.prune_blocks",
            "DELETE FROM temp.prune_ssos",
        ] {
            self.conn.prepare_cached(sql)?.execute([])?;
        }
        Ok(())
    }

    /// Removes the raw records of `temp.prune_raw` that no event points at any more (an
    /// updated record's events, a record of several events split across chunks, or its SSOs in
    /// their frame may still), with their earlier versions and the blocks they leave empty;
    /// notes the blocks they thinned to be packed again.
    fn release_raw(&self, c: &mut ChunkCounts) -> Result<()> {
        {
            self.conn.execute(
                "DELETE FROM temp.prune_raw WHERE
                        EXISTS (SELECT 1 FROM idp_events INDEXED BY idp_events_raw WHERE raw_id = prune_raw.id)
                        OR EXISTS (SELECT 1 FROM aws_events INDEXED BY aws_events_raw WHERE raw_id = prune_raw.id)
                        OR EXISTS (SELECT 1 FROM raw_records WHERE id = prune_raw.id AND sso_block IS NOT NULL)",
                [],
            )?;
            self.conn.execute(
                "INSERT OR IGNORE INTO temp.prune_blocks (id) SELECT block_id FROM raw_records
                     WHERE id IN (SELECT id FROM temp.prune_raw) AND block_id IS NOT NULL",
                [],
            )?;
            // Sought by record (`raw_history_raw`, migration 25), the prune's records first:
            // without the index, `raw_id IN (...)` scans every earlier version at each call.
            c.history += self.conn.execute(
                "DELETE FROM raw_history WHERE rowid IN (SELECT h.rowid FROM temp.prune_raw AS p
                     CROSS JOIN raw_history AS h INDEXED BY raw_history_raw WHERE h.raw_id = p.id)",
                [],
            )? as u64;
            c.raw +=
                self.conn.execute("DELETE FROM raw_records WHERE id IN (SELECT id FROM temp.prune_raw)", [])? as u64;
            // Removed if left empty, or packed again, once each after the chunks
            // (`repack_noted`). Each noted block is sought by
            // id: `id IN (SELECT id FROM raw_blocks)` read every block's row at each call, a
            // page each, and a prune calls this for every chunk and SSO frame (on a 10,000-user
            // store pruned daily, 9,166 blocks and 8 s of the day's prune by day 10).
            self.conn.execute(
                "INSERT OR IGNORE INTO prune_repack (block_id)
                     SELECT b.id FROM temp.prune_blocks AS b WHERE EXISTS (SELECT 1 FROM raw_blocks WHERE raw_blocks.id = b.id)",
                [],
            )?;
        }
        Ok(())
    }

    /// Frames of SSOs (sso.rs) holding an SSO a prune may remove (`prune_from_ms` before the
    /// cut), [`FRAMES_PER_STEP`] per transaction: their SSOs before `before` go (folded into
    /// `sso_baseline` first) but those a verdict cites, and then the raw records left without
    /// events. Adds the counts to `rep`.
    fn prune_frames(
        &mut self,
        plan: &PrunePlan,
        before: Millis,
        copier: Option<&crate::WalCopier>,
        rep: &mut PruneReport,
    ) -> Result<()> {
        let page_size = self.pragma_i64("page_size")?.max(0) as u64;
        let frames: Vec<i64> = self
            .conn
            .prepare("SELECT id FROM sso_blocks INDEXED BY sso_blocks_prune WHERE prune_from_ms < ?1 ORDER BY id")?
            .query_map([before], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for step in frames.chunks(FRAMES_PER_STEP) {
            let c = self.prune_step(plan.dry_run, |s| {
                let free0 = s.pragma_i64("freelist_count")?;
                let mut c = ChunkCounts::default();
                // One transaction: no block is written meanwhile, so its facts, read once, hold
                // for every frame of the step (consecutive frames meet the same blocks).
                let mut ids = crate::blocks::NativeIds::default();
                for id in step {
                    s.prune_frame(*id, before, &mut ids, &mut c)?;
                }
                c.freed_pages = (s.pragma_i64("freelist_count")? - free0).max(0) as u64;
                Ok(c)
            })?;
            if let Some(copier) = copier {
                copier.restart_if_long(self, crate::walcopy::RESTART_BYTES)?;
            }
            rep.idp_events += c.deleted;
            c.add_to(rep, page_size);
        }
        Ok(())
    }

    /// One frame of [`Store::prune_frames`], in its transaction.
    fn prune_frame(
        &mut self,
        id: i64,
        before: Millis,
        ids: &mut crate::blocks::NativeIds,
        c: &mut ChunkCounts,
    ) -> Result<()> {
        let Some((provider, rows)) = crate::sso::read_block(&self.conn, id)? else { return Ok(()) };
        let held = crate::sso::apps_of(&rows);
        self.reset_prune_tables()?;
        let (mut kept, mut doomed) = (Vec::new(), Vec::new());
        // The earliest time a later prune may still remove: of the SSOs kept but not cited.
        let mut from: Option<Millis> = None;
        {
            let mut cites =
                self.conn.prepare_cached("SELECT 1 FROM verdict_cites WHERE source = ?1 AND event_id = ?2")?;
            for r in rows {
                if r.time_ms >= before {
                    from = Some(from.map_or(r.time_ms, |f| f.min(r.time_ms)));
                    kept.push(r);
                    continue;
                }
                if cites.exists(params![provider, crate::sso::event_id_of(&self.conn, ids, &r)?])? {
                    c.evidence += 1;
                    kept.push(r);
                } else {
                    doomed.push(r);
                }
            }
        }
        if !doomed.is_empty() {
            {
                let mut ins = self.conn.prepare_cached(
                    "INSERT INTO temp.prune_ssos (provider, time_ms, outcome, login_ref, email_ref, app_username_ref,
                        app_ref, asn, country) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                for r in &doomed {
                    ins.execute(params![
                        provider,
                        r.time_ms,
                        r.outcome,
                        r.login,
                        r.email,
                        r.app_username,
                        r.app,
                        r.asn,
                        r.country
                    ])?;
                }
            }
            self.fold_sso_baselines()?;
            c.deleted += doomed.len() as u64;
            crate::sso::store_block(&self.conn, id, &held, &mut kept)?;
            let still: HashSet<i64> = kept.iter().map(|r| r.raw_id).collect();
            let gone: BTreeSet<i64> = doomed.iter().map(|r| r.raw_id).filter(|r| !still.contains(r)).collect();
            let mut unnote =
                self.conn.prepare_cached("UPDATE raw_records SET sso_block = NULL WHERE id = ?1 AND sso_block = ?2")?;
            let mut note = self.conn.prepare_cached("INSERT OR IGNORE INTO temp.prune_raw (id) VALUES (?1)")?;
            for raw_id in gone {
                unnote.execute(params![raw_id, id])?;
                note.execute([raw_id])?;
            }
        }
        self.conn
            .prepare_cached("UPDATE sso_blocks SET prune_from_ms = ?2 WHERE id = ?1")?
            .execute(params![id, from])?;
        if !doomed.is_empty() {
            self.release_raw(c)?;
        }
        Ok(())
    }

    /// Packs again, each once, the blocks noted in `prune_repack` (by this prune's chunks, a
    /// killed prune's, or an import that stored a later version of a record elsewhere): a block
    /// no record points into any more is removed; where the records a block still holds are
    /// less than half of its bytes, they go into a new block of their own and the old block is
    /// deleted. Without it, one cited record (or a live session's step) keeps its whole block on
    /// disk, pruned records included: with a verdict's evidence spread over most blocks, a store
    /// pruned daily kept growing by half the rate of one never pruned (`scripts/bench-month.sh`).
    /// The bytes of every record stay as they were. A few blocks per transaction, each block's
    /// note removed with its packing. Returns the blocks removed and packed again, and the pages
    /// freed.
    fn repack_noted(&mut self, dry: bool, copier: Option<&crate::WalCopier>) -> Result<(Packed, u64)> {
        let (mut packed, mut freed) = (Packed::default(), 0);
        while let Some((p, f)) = self.prune_step(dry, |s| s.repack_noted_page())? {
            packed.removed += p.removed;
            packed.repacked += p.repacked;
            freed += f;
            if let Some(c) = copier {
                c.restart_if_long(self, crate::walcopy::RESTART_BYTES)?;
            }
        }
        Ok((packed, freed))
    }

    /// One transaction's worth of [`Store::repack_noted`]: `None` when no block is noted.
    fn repack_noted_page(&self) -> Result<Option<(Packed, u64)>> {
        const PER_TRANSACTION: i64 = 16;
        let free0 = self.pragma_i64("freelist_count")?;
        let ids: Vec<i64> = self
            .conn
            .prepare_cached("SELECT block_id FROM prune_repack ORDER BY block_id LIMIT ?1")?
            .query_map([PER_TRANSACTION], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if ids.is_empty() {
            return Ok(None);
        }
        let mut packed = Packed::default();
        for id in &ids {
            match self.repack_block(*id)? {
                Repack::Removed => packed.removed += 1,
                Repack::Repacked => packed.repacked += 1,
                Repack::Kept => {}
            }
            self.conn.prepare_cached("DELETE FROM prune_repack WHERE block_id = ?1")?.execute([id])?;
        }
        let freed = (self.pragma_i64("freelist_count")? - free0).max(0) as u64;
        Ok(Some((packed, freed)))
    }

    /// Removes block `id` when no record points into it any more, packs it again with its
    /// remaining records alone when they are less than half of its bytes (see
    /// [`Store::repack_noted`]), else leaves it as it is (or it is gone).
    fn repack_block(&self, id: i64) -> Result<Repack> {
        let Some((facts, stored_ms)) = crate::blocks::facts_of_any(&self.conn, id)? else { return Ok(Repack::Kept) };
        let live = crate::blocks::live_records(&self.conn, id, &facts)?;
        if live.is_empty() {
            // An import writes a block and its records in one transaction, and holds the lock
            // this prune holds: a block without records is one whose records all went.
            self.conn.execute("DELETE FROM raw_blocks WHERE id = ?1", [id])?;
            return Ok(Repack::Removed);
        }
        let blob: Vec<u8> =
            self.conn.prepare_cached("SELECT data FROM raw_blocks WHERE id = ?1")?.query_row([id], |r| r.get(0))?;
        let data = raw::decompress_block(&blob, Some(&facts))
            .map_err(|e| StoreError::Corrupt(format!("raw block {id}: {e}")))?;
        let mut kept = Vec::with_capacity(live.len());
        for (rid, slot) in live {
            let fact = facts
                .get(slot)
                .ok_or_else(|| StoreError::Corrupt(format!("raw record {rid}: its block {id} has no slot {slot}")))?;
            kept.push((rid, fact));
        }
        let live_bytes: u64 = kept.iter().map(|(_, f)| f.len_in(data.len())).sum();
        if live_bytes.saturating_mul(2) >= data.len() as u64 {
            return Ok(Repack::Kept);
        }
        let mut block = raw::Block::default();
        let mut new_facts = raw::Facts::default();
        let mut moved = Vec::with_capacity(kept.len());
        for (rid, fact) in kept {
            let bytes = fact.bytes(&data).map_err(|why| StoreError::Corrupt(format!("raw record {rid}: {why}")))?;
            let (start, len) = block.push_id(bytes, &fact.native_id.text());
            let slot = new_facts.push(raw::Fact {
                source: fact.source,
                native_id: fact.native_id.clone(),
                span: Some((start as u64, len as u64)),
                loc: fact.loc.clone(),
            });
            moved.push((rid, slot));
        }
        self.conn.execute("INSERT INTO raw_blocks (data) VALUES (?1)", [block.finish()])?;
        let new_id = self.conn.last_insert_rowid();
        // The new block's records come from the old one: so does its origin.
        let origin: Option<i64> = self
            .conn
            .prepare_cached("SELECT origin_id FROM raw_facts WHERE block_id = ?1")?
            .query_row([id], |r| r.get(0))?;
        crate::blocks::insert_facts(&self.conn, new_id, stored_ms, &new_facts, origin)?;
        let mut up = self.conn.prepare_cached("UPDATE raw_records SET block_id = ?2, block_slot = ?3 WHERE id = ?1")?;
        for (rid, slot) in moved {
            up.execute(params![rid, new_id, slot])?;
        }
        self.conn.execute("DELETE FROM raw_blocks WHERE id = ?1", [id])?;
        Ok(Repack::Repacked)
    }

    /// Folds the successful ConsoleLogins among `temp.prune_ids` into `aws_baseline`, as the
    /// snapshot's baseline query reads them (by ARN for IAM users and root, by folded session
    /// name for the others), and the scopes of Identity Center sign-ins into `retained_facts`.
    fn fold_aws_baselines(&self) -> Result<()> {
        let mut parts = Vec::new();
        for (kind, col) in [("session", "''"), ("ip", "source_ip"), ("user_agent", "user_agent"), ("role", "role_name")]
        {
            parts.push(format!(
                "SELECT CASE WHEN principal_type IN ('IAMUser', 'Root') THEN 'arn' ELSE 'session' END AS lookup,
                        CASE WHEN principal_type IN ('IAMUser', 'Root') THEN arn ELSE session_name_fold END AS principal,
                        '{kind}' AS kind, {col} AS value, time_ms
                 FROM aws_events WHERE id IN (SELECT id FROM temp.prune_ids)
                   AND kind = 'ConsoleLogin' AND outcome = 'success' AND {col} IS NOT NULL"
            ));
        }
        self.conn.execute(
            &format!(
                "INSERT INTO aws_baseline (lookup, principal, kind, value, first_ms, last_ms)
                 SELECT lookup, principal, kind, value, min(time_ms), max(time_ms) FROM ({})
                 WHERE principal IS NOT NULL GROUP BY lookup, principal, kind, value
                 ON CONFLICT (lookup, principal, kind, value) DO UPDATE SET
                     first_ms = min(first_ms, excluded.first_ms), last_ms = max(last_ms, excluded.last_ms)",
                parts.join(" UNION ALL ")
            ),
            [],
        )?;
        self.conn.execute(
            "INSERT OR IGNORE INTO retained_facts (kind, value)
             SELECT DISTINCT 'ic_scope', CASE WHEN account_id IS NOT NULL AND region IS NOT NULL
                    THEN trim(account_id) || '/' || trim(region) ELSE '*' END
             FROM aws_events WHERE id IN (SELECT id FROM temp.prune_ids)
               AND kind IN ('UserAuthentication', 'CredentialChallenge', 'CredentialVerification')",
            [],
        )?;
        Ok(())
    }

    /// Notes the providers of the events other than SSOs among `temp.prune_ids` in
    /// `retained_facts`.
    fn fold_idp_baselines(&self) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO retained_facts (kind, value)
             SELECT DISTINCT 'idp_provider', provider FROM idp_events
             WHERE id IN (SELECT id FROM temp.prune_ids) AND kind <> 'app_sso'",
            [],
        )?;
        Ok(())
    }

    /// Folds the successful SSOs with a login among `temp.prune_ssos` into `sso_baseline` (keys
    /// as the snapshot's SSO baseline reads them).
    fn fold_sso_baselines(&self) -> Result<()> {
        let keys = format!(
            "provider, trailproof_fold(user_login) AS login_fold, {} AS email_fold, {} AS app_user_fold,
             {} AS app_id_enc, {} AS app_name_enc",
            enc("trailproof_fold(user_email)"),
            enc("lower(trim(app_username))"),
            enc("app_id"),
            enc("app_name"),
        );
        // One row per user keys, application, ASN and country (migration 22). Prepared once per
        // connection (it runs for every frame a prune thins).
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO sso_baseline (provider, login_fold, email_fold, app_user_fold, app_id, app_name, asn,
                     country, first_ms, last_ms)
                 SELECT provider, login_fold, email_fold, app_user_fold, app_id_enc, app_name_enc, asn_enc, country_enc,
                     min(time_ms), max(time_ms)
                 FROM (SELECT {keys}, {} AS asn_enc, {} AS country_enc, time_ms FROM (
                           SELECT p.provider, p.time_ms, p.outcome, login.value AS user_login,
                               email.value AS user_email, app_user.value AS app_username, app.app_id, app.app_name,
                               p.asn, p.country
                           FROM temp.prune_ssos AS p
                               LEFT JOIN idp_strings AS login ON login.id = p.login_ref
                               LEFT JOIN idp_strings AS email ON email.id = p.email_ref
                               LEFT JOIN idp_strings AS app_user ON app_user.id = p.app_username_ref
                               LEFT JOIN idp_app_refs AS app ON app.id = p.app_ref)
                       WHERE outcome = 'success' AND user_login IS NOT NULL)
                 WHERE 1
                 GROUP BY provider, login_fold, email_fold, app_user_fold, app_id_enc, app_name_enc, asn_enc, country_enc
                 ON CONFLICT (provider, login_fold, email_fold, app_user_fold, app_id, app_name, asn, country)
                 DO UPDATE SET first_ms = min(first_ms, excluded.first_ms), last_ms = max(last_ms, excluded.last_ms)",
                enc("CASE WHEN asn BETWEEN 0 AND 4294967295 THEN CAST(asn AS TEXT) END"),
                enc("country"),
            ))?
            .execute([])?;
        Ok(())
    }
}

/// The `idp_events` columns holding an `idp_strings` id (migration 17).
const STRING_REFS: [&str; 15] = [
    "session_ref",
    "user_login_ref",
    "user_email_ref",
    "user_id_ref",
    "display_name_ref",
    "app_username_ref",
    "source_ip_ref",
    "user_agent_ref",
    "tenant_ref",
    "native_type_ref",
    "outcome_reason_ref",
    "as_org_ref",
    "mfa_ref",
    "factors_ref",
    "auth_requirement_ref",
];

/// Removes the strings no IdP event points at (the events that did were pruned) and, when it
/// removed any, adds one to `retention.strings_gc` in the same transaction, so that writers
/// forget the string ids they remember (see `Store::batch`). One scan of the events' rows and
/// frames.
fn remove_unused_strings(tx: &rusqlite::Connection) -> Result<u64> {
    let mut used: HashSet<i64> = HashSet::new();
    {
        let mut st = tx.prepare("SELECT id, frame FROM sso_blocks")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let (id, frame): (i64, Vec<u8>) = (r.get(0)?, r.get(1)?);
            if frame.is_empty() {
                continue;
            }
            for sso in crate::sso::decode(&frame, id)? {
                used.extend(sso.string_refs().into_iter().flatten());
            }
        }
    }
    {
        let mut st = tx.prepare(&format!("SELECT {} FROM idp_events", STRING_REFS.join(", ")))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            for i in 0..STRING_REFS.len() {
                if let Some(id) = r.get::<_, Option<i64>>(i)? {
                    used.insert(id);
                }
            }
        }
    }
    let unused: Vec<i64> = {
        let mut st = tx.prepare("SELECT id FROM idp_strings")?;
        let ids = st.query_map([], |r| r.get::<_, i64>(0))?;
        let mut out = Vec::new();
        for id in ids {
            let id = id?;
            if !used.contains(&id) {
                out.push(id);
            }
        }
        out
    };
    if unused.is_empty() {
        return Ok(0);
    }
    let mut del = tx.prepare_cached("DELETE FROM idp_strings WHERE id = ?1")?;
    for id in &unused {
        del.execute([id])?;
    }
    tx.execute("UPDATE retention SET strings_gc = strings_gc + 1 WHERE id = 1", [])?;
    Ok(unused.len() as u64)
}
