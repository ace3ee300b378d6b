//! `POST /_bulk`: NDJSON in, one result per action out.
//!
//! The Elastic page (elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk): the body is
//! action and source lines, each ending in a newline, the last one too, sent as
//! `application/x-ndjson`; the answer is `{"took","errors","items":[{"<action>":{"_index","_id",
//! "status","error":{"type","reason"}}}]}` in the order of the actions, and HTTP 200 even when
//! items failed. Data streams accept only `create` (elastic.co/docs/manage-data/data-store/data-streams/use-data-stream).
//!
//! Each item is classified ([`BulkOutcome`]): created; a `create` whose `_id` exists already
//! (409 `version_conflict_engine_exception`: the document is there, which is what an
//! append-only writer keyed by `_id` wants); retryable (429 `es_rejected_execution_exception`,
//! 5xx: send it again later); rejected (any other error, with its type and reason: sending it
//! again will fail the same way). A whole-request 429 or 5xx is retried by the HTTP layer,
//! `Retry-After` honoured.

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::{Client, ElasticError};

/// The bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Fails when the `_id` exists (the only action a data stream accepts).
    Create,
    /// Creates or replaces (plain indices only).
    Index,
}

impl BulkAction {
    fn name(self) -> &'static str {
        match self {
            BulkAction::Create => "create",
            BulkAction::Index => "index",
        }
    }
}

/// One action and its document.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOp {
    pub action: BulkAction,
    pub index: String,
    /// `None`: the cluster assigns one (then a retry may duplicate the document).
    pub id: Option<String>,
    pub doc: Value,
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOutcome {
    Created,
    /// `create` of an `_id` that exists (409 `version_conflict_engine_exception`).
    AlreadyExists,
    /// 429 or 5xx: send it again.
    Retryable {
        status: u16,
        error_type: String,
        reason: String,
    },
    /// Any other failure: sending it again will not help.
    Rejected {
        status: u16,
        error_type: String,
        reason: String,
    },
}

/// One item's result, in the order of the operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItem {
    pub index: String,
    pub id: String,
    pub status: u16,
    pub outcome: BulkOutcome,
}

/// The answer to one `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkResult {
    pub items: Vec<BulkItem>,
}

impl BulkResult {
    pub fn retryable(&self) -> impl Iterator<Item = (usize, &BulkItem)> {
        self.items.iter().enumerate().filter(|(_, i)| matches!(i.outcome, BulkOutcome::Retryable { .. }))
    }

    pub fn rejected(&self) -> impl Iterator<Item = (usize, &BulkItem)> {
        self.items.iter().enumerate().filter(|(_, i)| matches!(i.outcome, BulkOutcome::Rejected { .. }))
    }
}

/// The NDJSON body of `ops`.
pub fn ndjson(ops: &[BulkOp]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        let mut meta = serde_json::Map::new();
        meta.insert("_index".into(), Value::String(op.index.clone()));
        if let Some(id) = &op.id {
            meta.insert("_id".into(), Value::String(id.clone()));
        }
        let line = serde_json::json!({ op.action.name(): meta });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
        // serde_json writes one line: strings escape their newlines.
        out.extend_from_slice(op.doc.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

#[derive(Deserialize)]
struct RawError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(rename = "_index", default)]
    index: String,
    #[serde(rename = "_id", default)]
    id: String,
    status: u16,
    #[serde(default)]
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawResp {
    items: Vec<std::collections::BTreeMap<String, RawItem>>,
}

fn classify(action: BulkAction, item: RawItem) -> BulkItem {
    let outcome = match (item.status, item.error) {
        (200..=299, _) => BulkOutcome::Created,
        (409, Some(e)) if action == BulkAction::Create && e.kind == "version_conflict_engine_exception" => {
            BulkOutcome::AlreadyExists
        }
        (status, e) => {
            let (error_type, reason) = match e {
                Some(e) => (e.kind, trailproof_http::redact(e.reason.as_deref().unwrap_or(""))),
                None => (String::new(), String::new()),
            };
            if status == 429 || status >= 500 {
                BulkOutcome::Retryable { status, error_type, reason }
            } else {
                BulkOutcome::Rejected { status, error_type, reason }
            }
        }
    };
    BulkItem { index: item.index, id: item.id, status: item.status, outcome }
}

/// Reads a `_bulk` answer for `ops`.
pub fn parse_bulk(ops: &[BulkOp], body: &[u8]) -> Result<BulkResult, String> {
    let r: RawResp = serde_json::from_slice(body).map_err(|e| format!("unreadable bulk answer: {e}"))?;
    if r.items.len() != ops.len() {
        return Err(format!("the bulk answer has {} items for {} actions", r.items.len(), ops.len()));
    }
    let mut items = Vec::with_capacity(ops.len());
    for (op, mut entry) in ops.iter().zip(r.items) {
        let Some(item) = entry.remove(op.action.name()) else {
            return Err(format!("a bulk item does not answer the {} action", op.action.name()));
        };
        items.push(classify(op.action, item));
    }
    Ok(BulkResult { items })
}

impl Client {
    /// Sends `ops` in one `POST /_bulk`. Per-item failures are in the result (never an `Err`);
    /// an `Err` means the request as a whole failed after the retries.
    pub async fn bulk(&self, ops: &[BulkOp]) -> Result<BulkResult, ElasticError> {
        if ops.is_empty() {
            return Ok(BulkResult { items: Vec::new() });
        }
        let url = self.url("_bulk", &[]);
        let body = ndjson(ops);
        let n = ops.len();
        let validate = move |b: &[u8]| -> Result<(), String> {
            #[derive(Deserialize)]
            struct Count {
                items: Vec<serde::de::IgnoredAny>,
            }
            let c: Count = serde_json::from_slice(b).map_err(|e| e.to_string())?;
            if c.items.len() == n { Ok(()) } else { Err(format!("{} items for {n} actions", c.items.len())) }
        };
        let raw = self.call(Method::POST, &url, Some(("application/x-ndjson", &body)), &validate).await?;
        parse_bulk(ops, &raw).map_err(|why| ElasticError::Protocol { path: url.path().into(), why })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(id: &str) -> BulkOp {
        BulkOp {
            action: BulkAction::Create,
            index: "logs-trailproof.verdict-default".into(),
            id: Some(id.into()),
            doc: json!({"@timestamp": "2025-01-01T00:00:00Z", "message": "line\nbreak"}),
        }
    }

    #[test]
    fn ndjson_is_two_lines_per_action_with_a_final_newline() {
        let b = String::from_utf8(ndjson(&[op("a"), op("b")])).unwrap();
        let lines: Vec<&str> = b.split_terminator('\n').collect();
        assert_eq!(lines.len(), 4);
        assert!(b.ends_with('\n'));
        assert_eq!(lines[0], r#"{"create":{"_id":"a","_index":"logs-trailproof.verdict-default"}}"#);
        assert!(lines[1].contains("line\\nbreak"));
    }

    #[test]
    fn items_are_classified() {
        let ops = [op("a"), op("b"), op("c"), op("d"), op("e")];
        let body = br#"{"took":3,"errors":true,"items":[
          {"create":{"_index":".ds-x","_id":"a","status":201,"result":"created"}},
          {"create":{"_index":".ds-x","_id":"b","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[b]: version conflict, document already exists (current version [1])"}}},
          {"create":{"_index":".ds-x","_id":"c","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}},
          {"create":{"_index":".ds-x","_id":"d","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [@timestamp]"}}},
          {"create":{"_index":".ds-x","_id":"e","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}}]}"#;
        let r = parse_bulk(&ops, body).unwrap();
        assert_eq!(r.items[0].outcome, BulkOutcome::Created);
        assert_eq!(r.items[1].outcome, BulkOutcome::AlreadyExists);
        assert_eq!(r.retryable().map(|(i, _)| i).collect::<Vec<_>>(), vec![2, 4]);
        let rej: Vec<_> = r.rejected().collect();
        assert_eq!(rej.len(), 1);
        assert!(
            matches!(&rej[0].1.outcome, BulkOutcome::Rejected { status: 400, error_type, .. } if error_type == "mapper_parsing_exception")
        );
        assert!(parse_bulk(&ops[..2], body).is_err());
    }
}
