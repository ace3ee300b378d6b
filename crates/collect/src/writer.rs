//! The single store writer: one thread owns the SQLite [`Store`] (a rusqlite connection is not
//! `Sync`), and the source tasks send it pages over a channel. Each page is one transaction:
//! records (parsed by `ingest_page`), the checkpoint that follows them and, when the page
//! completes a window, its coverage. A kill at any moment leaves either all of that or none.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use trailproof_ingest::{ImportOptions, PageReport, ingest_page};
use trailproof_model::{Millis, Source};
use trailproof_store::{ImportCounts, Store};

use crate::state::State;

/// Coverage to record when the page completes its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `None`: the scope the records named (learned).
    pub scope: Option<String>,
    pub from: Millis,
    /// Inclusive.
    pub to: Millis,
}

/// One page and what goes with it.
pub struct Job {
    pub source: Source,
    pub opts: Arc<ImportOptions>,
    /// Where the records came from (stored with each raw record).
    pub origin: String,
    pub body: Vec<u8>,
    pub ckpt_scope: String,
    pub stream: &'static str,
    /// The checkpoint after this page (the writer merges the quarantine taint and a learned
    /// scope into it).
    pub state: State,
    /// This page completes a unit of coverage (a window, a poll run).
    pub finishes: bool,
    pub claim: Option<Claim>,
}

/// What the writer did with a page.
#[derive(Debug, Clone)]
pub struct Done {
    pub report: PageReport,
    /// Coverage recorded: (scope, from, to inclusive).
    pub claimed: Option<(String, Millis, Millis)>,
    /// Why a claim was not recorded.
    pub withheld: Option<String>,
    /// The checkpoint as stored.
    pub state: State,
    pub ingest: Duration,
    pub commit: Duration,
}

enum Msg {
    Checkpoint {
        source: Source,
        scope: String,
        stream: &'static str,
        reply: oneshot::Sender<Result<Option<String>, String>>,
    },
    Page(Box<Job>, oneshot::Sender<Result<Done, String>>),
    Log {
        source: Source,
        origin: String,
        started_ms: Millis,
        counts: ImportCounts,
    },
}

pub struct Writer {
    tx: mpsc::Sender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A receipt for a page sent to the writer.
pub type Pending = oneshot::Receiver<Result<Done, String>>;

fn write_page(store: &mut Store, job: Job) -> Result<Done, String> {
    let t0 = Instant::now();
    let mut batch = store.batch().map_err(|e| e.to_string())?;
    let report = ingest_page(&mut batch, &job.opts, &job.origin, &job.body).map_err(|e| e.to_string())?;
    let ingest = t0.elapsed();
    let mut state = job.state;
    if state.scope.is_none()
        && let Some(s) = report.span.keys().find(|k| k.as_str() != "*")
    {
        state.scope = Some(s.clone());
    }
    let quarantined = report.counts.quarantined > 0;
    let mut claimed = None;
    let mut withheld = None;
    let closed = trailproof_ingest::checkpoint::close_page(&mut state.tainted, quarantined, job.finishes);
    if let (Some(clean), Some(c)) = (closed, job.claim) {
        let scope = c.scope.or_else(|| state.scope.clone());
        if !clean {
            withheld = Some(format!(
                "coverage {}..{} not recorded: records of that window were quarantined (see `trailproof status`)",
                trailproof_model::time::format_ms(c.from),
                trailproof_model::time::format_ms(c.to + 1)
            ));
        } else if let Some(scope) = scope {
            batch.add_coverage(job.source, &scope, c.from, c.to).map_err(|e| e.to_string())?;
            claimed = Some((scope, c.from, c.to));
        } else {
            withheld = Some(format!(
                "coverage {}..{} not recorded: the records did not name their customer/tenant yet; set it in the \
                 configuration",
                trailproof_model::time::format_ms(c.from),
                trailproof_model::time::format_ms(c.to + 1)
            ));
        }
    }
    batch.set_checkpoint(job.source, &job.ckpt_scope, job.stream, &state.to_json()).map_err(|e| e.to_string())?;
    let t1 = Instant::now();
    batch.commit().map_err(|e| e.to_string())?;
    Ok(Done { report, claimed, withheld, state, ingest, commit: t1.elapsed() })
}

fn run(mut store: Store, mut rx: mpsc::Receiver<Msg>) {
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            Msg::Checkpoint { source, scope, stream, reply } => {
                let _ = reply.send(store.checkpoint(source, &scope, stream).map_err(|e| e.to_string()));
            }
            Msg::Page(job, reply) => {
                let _ = reply.send(write_page(&mut store, *job));
            }
            Msg::Log { source, origin, started_ms, counts } => {
                let r = store.batch().and_then(|mut b| {
                    b.log_import(source, &origin, started_ms, &counts)?;
                    b.commit()
                });
                if let Err(e) = r {
                    tracing::warn!("could not write the import log line for {origin}: {e}");
                }
            }
        }
    }
}

impl Writer {
    /// Opens the store at `path` on the writer thread.
    pub fn spawn(path: &Path) -> Result<Writer, String> {
        let (tx, rx) = mpsc::channel::<Msg>(4);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let path: PathBuf = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("trailproof-store-writer".into())
            .spawn(move || match Store::open(&path) {
                Ok(store) => {
                    let _ = ready_tx.send(Ok(()));
                    run(store, rx);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                }
            })
            .map_err(|e| format!("cannot start the store writer: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Writer { tx, thread: Some(thread) }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the store writer stopped while opening the database".into()),
        }
    }

    pub async fn checkpoint(
        &self,
        source: Source,
        scope: &str,
        stream: &'static str,
    ) -> Result<Option<String>, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Checkpoint { source, scope: scope.to_string(), stream, reply })
            .await
            .map_err(|_| "the store writer stopped".to_string())?;
        rx.await.map_err(|_| "the store writer stopped".to_string())?
    }

    /// Queues a page; await the receipt for the outcome.
    pub async fn send(&self, job: Job) -> Result<Pending, String> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Msg::Page(Box::new(job), reply)).await.map_err(|_| "the store writer stopped".to_string())?;
        Ok(rx)
    }

    pub async fn log(&self, source: Source, origin: String, started_ms: Millis, counts: ImportCounts) {
        let _ = self.tx.send(Msg::Log { source, origin, started_ms, counts }).await;
    }

    /// Stops the writer after everything queued is written.
    pub async fn close(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Waits for a receipt.
pub async fn settle(p: Pending) -> Result<Done, String> {
    p.await.map_err(|_| "the store writer stopped".to_string())?
}
